"""Where keypoints are carried between network frames: the stage between decoding and tracking
for the frames the network does not see (``--keyframe-every K``: it runs on every K-th frame).

    decode (key frames) ─┐
                         ├─> track -> render -> outputs
    carry  (the others) ─┘

:class:`CarryStage` sees every frame.  On each it makes one small grey copy of the picture
(``cv2.cvtColor`` and ``cv2.resize`` into two buffers it reuses in turn; the longest side
``flow_size`` pixels).  On a carried frame it moves each person of the last result (network or
carried) from the previous grey frame to this one, all people's keypoints in one call of
``cv2.calcOpticalFlowPyrLK`` (sparse pyramidal Lucas-Kanade), then back again in one more, and
keeps only the points that pass every test (:class:`livepose.settings.CarrySettings`):

* tracking succeeded both ways (``status``) and the forward-backward error, the distance between a
  point and where it comes back to, is at most ``fb_threshold`` flow-image pixels;
* the window around the point where it lands looks like the one it came from (mean absolute
  grey-level difference, LK's ``err``, at most ``patch_error``): a point something else now
  covers is lost even when the flow around it carries it back;
* the point is still inside the frame;
* occlusion: a point that ends within ``converge_px`` of another person's point, having started
  further apart than that, was dragged by the other person's texture: the point of the smaller
  person (further from the camera, so the one hidden) is lost, both when they are as large;
* it has not been carried more than ``max_carry_frames`` frames in a row.

A lost point is missing (NaN, confidence 0), never guessed.  When more than ``cut_fraction`` of
the points are lost at once the frame is a cut or a flash: everything is lost
(:attr:`livepose.types.Carried.cut`) and the pipeline runs the network on the next frame.

A live stream (:meth:`livepose.pipeline.PoseStream._live_carry`) keeps more grey copies
(``history``): a network result for an older frame is moved to the newest by :meth:`CarryStage.move`.

The other two ``carry_mode`` values are the baselines this is measured against
(benchmarks/bench_carry.py): "hold" gives the last keypoints unchanged, "predict" carries nothing
(the tracker's prediction alone).

Coordinates: image pixels with pixel centres at integers (:mod:`livepose.types`); the flow image
of scale ``s`` has ``flow = (image + 0.5) * s - 0.5``.
"""

from __future__ import annotations

import numpy as np

from livepose.settings import CarrySettings
from livepose.types import Carried, People, Poses

try:  # OpenCV is a dependency of the package; imported here so that the module can say so plainly
    import cv2
except ImportError:  # pragma: no cover
    cv2 = None


class CarryStage:
    """Carries the last result's keypoints to each frame the network skips (module docstring).

    One instance per stream (it keeps the previous frame's grey copy; not thread-safe).  Call
    :meth:`see` with every network frame's picture and :meth:`__call__` with every other frame's;
    both cost one grey conversion and resize, the carry one LK call each way.
    """

    def __init__(self, settings: CarrySettings | None = None, *, history: int = 2):
        if settings is not None and not isinstance(settings, CarrySettings):
            raise ValueError(f"settings must be a CarrySettings, got {type(settings).__name__}")
        self.settings = settings if settings is not None else CarrySettings()
        s = self.settings
        self._criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03)
        self._window = (s.flow_window, s.flow_window)
        # a ring of ``history`` grey copies (2 for files: the previous frame and this one; a live
        # stream keeps more, to carry a network result from its older frame to the newest: move())
        self._ring = max(2, int(history))
        self._grey: list[np.ndarray | None] = [None] * self._ring  # full-size grey (one, shared, when resized)
        self._small: list[np.ndarray | None] = [None] * self._ring  # flow image, reused
        self._index: list[int | None] = [None] * self._ring  # the frame each buffer holds
        self._turn = 0  # which buffer holds the newest frame
        self._have_previous = False
        self._image_size: tuple[int, int] | None = None
        self._scale = 1.0
        self._age: np.ndarray | None = None  # (N, P) frames each of the last result's points was carried
        self.carried_frames = 0  # frames carried since the last network frame

    # -- the grey copies ----------------------------------------------------------------------
    def _plan(self, w: int, h: int) -> tuple[int, int]:
        s = min(1.0, self.settings.flow_size / max(w, h))
        self._scale = s
        return max(1, round(w * s)), max(1, round(h * s))

    def _grey_of(self, image: np.ndarray, index: int | None = None) -> np.ndarray:
        """The flow image of ``image`` (frame ``index``) in the next buffer (made once per size)."""
        h, w = image.shape[:2]
        k = (self._turn + 1) % self._ring
        if self._image_size != (w, h):
            self._image_size = (w, h)
            fw, fh = self._plan(w, h)
            if (fw, fh) != (w, h):  # one full-size grey to resize from; the ring holds the small copies
                self._grey = [np.empty((h, w), np.uint8)] * self._ring
                self._small = [np.empty((fh, fw), np.uint8) for _ in range(self._ring)]
            else:  # the grey copy is the flow image
                self._grey = [np.empty((h, w), np.uint8) for _ in range(self._ring)]
                self._small = self._grey
            self._index = [None] * self._ring
            self._have_previous = False
        self._index[k] = index
        grey = self._grey[k]
        if image.ndim == 2:
            np.copyto(grey, image)
        else:
            cv2.cvtColor(image, cv2.COLOR_BGR2GRAY, dst=grey)
        small = self._small[k]
        if small is not grey:
            cv2.resize(grey, (small.shape[1], small.shape[0]), dst=small, interpolation=cv2.INTER_AREA)
        self._turn = k
        return small

    def see(self, image: np.ndarray, index: int | None = None) -> None:
        """A network frame (frame ``index``): keep its grey copy (the next carry starts from it)."""
        self._grey_of(image, index)
        self._have_previous = True
        self._age = None
        self.carried_frames = 0

    def forget(self) -> None:
        """Nothing to carry from any more (e.g. after a cut: the next frame must run the network)."""
        self._have_previous = False
        self._age = None

    # -- carrying ------------------------------------------------------------------------------
    def __call__(self, image: np.ndarray, last: People, index: int | None = None) -> Carried:
        """Carry ``last`` (the previous frame's result's people) to ``image`` (frame ``index``).  The
        points carried from are the people's detections as measured or carried (``last.raw``;
        ``last.poses`` without tracking)."""
        s = self.settings
        start = last.raw if last.raw is not None else last.poses
        had_previous = self._have_previous and self._image_size == (int(image.shape[1]), int(image.shape[0]))
        prev = self._small[self._turn] if had_previous else None
        cur = self._grey_of(image, index)
        self._have_previous = True
        self.carried_frames += 1
        xy = np.asarray(start.xy, np.float32)
        vis = start.visible & np.isfinite(xy).all(axis=2)
        age = self._age if self._age is not None and self._age.shape == vis.shape else np.zeros(vis.shape, np.int32)
        n = int(vis.sum())
        if s.carry_mode == "predict" or n == 0:
            kept = np.zeros(vis.shape, np.bool_)
            out_xy = xy
            cut = False
        elif s.carry_mode == "hold":
            kept = vis.copy()
            out_xy = xy
            cut = False
        elif not had_previous:  # no grey copy of the previous frame: nothing can be carried
            kept = np.zeros(vis.shape, np.bool_)
            out_xy = xy
            cut = True
        else:
            out_xy, kept = self._flow(prev, cur, xy, vis)
            cut = bool(kept.sum() < (1.0 - s.cut_fraction) * n) if s.cut_fraction < 1.0 else False
            if cut:
                kept[:] = False
        age = np.where(kept, age + 1, 0)
        kept &= age <= s.max_carry_frames
        self._age = age
        conf = np.where(kept, start.conf, np.float32(0.0)).astype(np.float32)
        out = np.where(kept[..., None], out_xy, np.float32(np.nan)).astype(np.float32)
        poses = Poses(xy=out, conf=conf, score=np.asarray(start.score, np.float32).copy(), part_names=start.part_names)
        return Carried(poses, None if last.ids is None else np.asarray(last.ids, np.int64).copy(), cut)

    def move(self, poses: Poses, from_index: int) -> Poses | None:
        """A live stream: ``poses`` the network found on frame ``from_index`` (older than the newest
        frame seen, whose grey copy the ring still holds) moved by the flow to the newest frame, the
        points that fail its tests lost; None when that frame's copy is gone (too old)."""
        if from_index not in self._index or self._index[self._turn] is None:
            return None
        if from_index == self._index[self._turn]:
            return poses
        prev, cur = self._small[self._index.index(from_index)], self._small[self._turn]
        xy = np.asarray(poses.xy, np.float32)
        vis = poses.visible & np.isfinite(xy).all(axis=2)
        if not vis.any():
            return poses
        moved, kept = self._flow(prev, cur, xy, vis)
        return Poses(xy=np.where(kept[..., None], moved, np.float32(np.nan)).astype(np.float32),
                     conf=np.where(kept, poses.conf, np.float32(0.0)).astype(np.float32), score=poses.score,
                     part_names=poses.part_names)

    def _flow(self, prev: np.ndarray, cur: np.ndarray, xy: np.ndarray, vis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(xy moved (N, P, 2) image pixels, kept (N, P) bool): one LK call forward, one backward,
        for every visible point of every person."""
        s = self.settings
        rows, parts = np.nonzero(vis)
        scale = np.float32(self._scale)
        p0 = ((xy[rows, parts] + 0.5) * scale - 0.5).astype(np.float32).reshape(-1, 1, 2)
        p1, st1, err = cv2.calcOpticalFlowPyrLK(prev, cur, p0, None, winSize=self._window, maxLevel=s.flow_levels,
                                              criteria=self._criteria)
        back, st2, _ = cv2.calcOpticalFlowPyrLK(cur, prev, p1, None, winSize=self._window, maxLevel=s.flow_levels,
                                                criteria=self._criteria)
        p0, p1, back = p0.reshape(-1, 2), p1.reshape(-1, 2), back.reshape(-1, 2)
        fb = np.linalg.norm(back - p0, axis=1)
        fh, fw = cur.shape[:2]
        inside = (p1[:, 0] >= -0.5) & (p1[:, 0] <= fw - 0.5) & (p1[:, 1] >= -0.5) & (p1[:, 1] <= fh - 0.5)
        good = (st1.reshape(-1) == 1) & (st2.reshape(-1) == 1) & (fb <= s.fb_threshold) & inside
        good &= err.reshape(-1) <= s.patch_error  # the window looks like where it came from
        good &= np.isfinite(p1).all(axis=1)
        if s.converge_px > 0 and good.any():
            good &= ~converging(p0, p1, rows, good, person_sizes(xy, vis) * scale, s.converge_px)
        moved = xy.copy()
        moved[rows, parts] = (p1 + 0.5) / scale - 0.5
        kept = np.zeros(vis.shape, np.bool_)
        kept[rows, parts] = good
        return moved, kept


def person_sizes(xy: np.ndarray, vis: np.ndarray) -> np.ndarray:
    """(N,) sqrt of the area of each person's keypoint box (0 with fewer than two points)."""
    big = np.float32(np.inf)
    lo = np.where(vis[..., None], xy, big).min(axis=1)
    hi = np.where(vis[..., None], xy, -big).max(axis=1)
    span = np.where(np.isfinite(hi - lo), hi - lo, 0.0)
    return np.sqrt(np.maximum(span[:, 0], 0.0) * np.maximum(span[:, 1], 0.0))


def converging(p0: np.ndarray, p1: np.ndarray, owner: np.ndarray, good: np.ndarray, sizes: np.ndarray,
               radius: float) -> np.ndarray:
    """(M,) bool: the points (``p0`` -> ``p1``, (M, 2), of person ``owner`` (M,)) that ended within
    ``radius`` of a point of another person, having started further apart than ``radius``, and whose
    person is not the larger of the two (``sizes`` (N,)): the point a nearer person's texture took.
    Only points ``good`` so far take part."""
    idx = np.flatnonzero(good)
    out = np.zeros(len(p0), np.bool_)
    if len(idx) < 2:
        return out
    a0, a1, who = p0[idx], p1[idx], owner[idx]
    diff = a1[:, None, :] - a1[None, :, :]
    near = np.einsum("ijk,ijk->ij", diff, diff) <= radius * radius  # squared distances: no square roots
    near &= who[:, None] != who[None, :]
    if not near.any():
        return out
    i, j = np.nonzero(near)  # the few pairs that end close: did they start further apart?
    start = a0[i] - a0[j]
    pair = np.einsum("ij,ij->i", start, start) > radius * radius
    i, j = i[pair], j[pair]
    size = sizes[who]
    loses = i[size[i] <= size[j]]  # i is not the larger one of the pair
    idx_lost = idx[loses]
    out[idx_lost] = True
    return out


def keyframe_people(people: People) -> People:
    """A network frame's people with the carrying fields set (nothing carried), for a stream that carries."""
    from dataclasses import replace

    return replace(people, carried=np.zeros((len(people), len(people.part_names)), np.bool_), keyframe=True)


def carried_people(carried: Carried) -> People:
    """The people of a carried frame without tracking: the carried keypoints as they are."""
    return People(carried.poses, carried=carried.visible.copy(), keyframe=False)


__all__ = ["CarryStage", "carried_people", "converging", "keyframe_people", "person_sizes"]
