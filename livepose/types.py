"""Data passed between pipeline stages: small frozen dataclasses of numpy arrays.

Glossary of shapes (the same letters everywhere in livepose):

====  ==========================================================
P     parts of the network's skeleton (18 for the default card)
L     limbs (pairs of parts, each with two PAF channels)
N     poses (people) in one frame
H, W  rows and columns of a network output grid
====  ==========================================================

Coordinates are (x, y) in image pixels, pixel centres at integer values, as
float32, unless a field says otherwise.  A missing keypoint is NaN in ``xy``
and 0 in ``conf``; never (0, 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# COCO-17 keypoint order, as in COCO's person_keypoints annotations.
COCO17_NAMES: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)


@dataclass(frozen=True)
class Letterbox:
    """How an image was placed into the network input (one value, inverted in one place).

    The image of ``image_size`` (w, h) was resized by ``scale`` and put at the top-left
    corner of a ``net_size`` (w, h) input; the rest is padding.
    """

    image_size: tuple[int, int]
    net_size: tuple[int, int]
    scale: float

    @property
    def content_size(self) -> tuple[int, int]:
        """(w, h) of the resized image inside the network input."""
        w, h = self.image_size
        return (max(1, round(w * self.scale)), max(1, round(h * self.scale)))

    def net_to_image(self, xy: np.ndarray) -> np.ndarray:
        """Map network-input pixel coordinates (..., 2) to image pixel coordinates.

        Pixel centres are at integers in both frames, so the map is
        ``image = (net + 0.5) / scale - 0.5`` (the convention of cv2.resize).
        """
        return (xy + np.float32(0.5)) * np.float32(1.0 / self.scale) - np.float32(0.5)

    def image_to_net(self, xy: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`net_to_image`."""
        return (xy + np.float32(0.5)) * np.float32(self.scale) - np.float32(0.5)


@dataclass(frozen=True)
class NetOutput:
    """The network's two maps for one image, as channels-last float32 views.

    ``heatmaps``: (H, W, P) part confidence maps; ``pafs``: (H, W, 2L) part affinity
    fields.  Grid cell (i, j) covers network-input pixels around
    ``((j + 0.5) * stride - 0.5, (i + 0.5) * stride - 0.5)``.
    """

    heatmaps: np.ndarray
    pafs: np.ndarray
    stride: float
    letterbox: Letterbox

    def __post_init__(self) -> None:
        if self.heatmaps.ndim != 3 or self.pafs.ndim != 3:
            raise ValueError("heatmaps and pafs must be (H, W, C) arrays")
        if self.heatmaps.shape[:2] != self.pafs.shape[:2]:
            raise ValueError(
                f"heatmaps grid {self.heatmaps.shape[:2]} differs from pafs grid {self.pafs.shape[:2]}"
            )


@dataclass(frozen=True)
class Poses:
    """The people found in one image.

    ``xy``: (N, P, 2) float32 image coordinates, NaN where a part is missing.
    ``conf``: (N, P) float32 part confidence (heatmap peak value), 0 where missing.
    ``score``: (N,) float32 person score in [0, 1] (used to rank detections).
    ``part_names``: the P part names, in the network's order.
    """

    xy: np.ndarray
    conf: np.ndarray
    score: np.ndarray
    part_names: tuple[str, ...]

    def __post_init__(self) -> None:
        n, p = self.conf.shape if self.conf.ndim == 2 else (-1, -1)
        if self.xy.shape != (n, p, 2) or self.score.shape != (n,) or p != len(self.part_names):
            raise ValueError(
                f"inconsistent Poses shapes: xy {self.xy.shape}, conf {self.conf.shape}, "
                f"score {self.score.shape}, {len(self.part_names)} part names"
            )

    @classmethod
    def empty(cls, part_names: tuple[str, ...]) -> "Poses":
        p = len(part_names)
        return cls(
            xy=np.zeros((0, p, 2), np.float32),
            conf=np.zeros((0, p), np.float32),
            score=np.zeros((0,), np.float32),
            part_names=tuple(part_names),
        )

    def __len__(self) -> int:
        return int(self.score.shape[0])

    @property
    def visible(self) -> np.ndarray:
        """(N, P) bool: which parts were found."""
        return self.conf > 0

    def flat_triples(self) -> np.ndarray:
        """(N, 3P) float32 rows of x, y, c with 0, 0, 0 for missing parts (OpenPose JSON)."""
        out = np.zeros((len(self), self.conf.shape[1], 3), np.float32)
        vis = self.visible
        out[..., :2] = np.where(vis[..., None], self.xy, 0.0)
        out[..., 2] = np.where(vis, self.conf, 0.0)
        return out.reshape(len(self), 3 * self.conf.shape[1])

    def to_coco17(self) -> "Poses":
        """The same people in COCO-17 order (parts matched by name; e.g. neck is dropped)."""
        try:
            index = [self.part_names.index(name) for name in COCO17_NAMES]
        except ValueError as exc:
            missing = [n for n in COCO17_NAMES if n not in self.part_names]
            raise ValueError(f"these parts cannot give COCO-17 keypoints, missing: {missing}") from exc
        return Poses(
            xy=np.ascontiguousarray(self.xy[:, index]),
            conf=np.ascontiguousarray(self.conf[:, index]),
            score=self.score.copy(),
            part_names=COCO17_NAMES,
        )


@dataclass(frozen=True)
class Carried:
    """The people of the last result moved to a frame the network did not see (:mod:`livepose.carry`).

    ``poses``: N rows, the last result's people in its order, with ``xy`` where each keypoint was
    carried to (NaN where lost: failed tracking, out of the frame, occluded, too long without
    the network), ``conf`` the confidence it had (0 where lost) and ``score`` as before.
    ``ids``: (N,) int64 the people's track ids (None without tracking).  ``cut``: more than the
    settings' ``cut_fraction`` of the points were lost at once (a cut or a flash): every keypoint
    is lost and the next frame should run the network.
    """

    poses: Poses
    ids: np.ndarray | None = None
    cut: bool = False

    def __post_init__(self) -> None:
        if self.ids is not None and self.ids.shape != (len(self.poses),):
            raise ValueError(f"Carried: ids of shape {self.ids.shape} for {len(self.poses)} poses")

    def __len__(self) -> int:
        return len(self.poses)

    @property
    def visible(self) -> np.ndarray:
        """(N, P) bool: the keypoints carried (not lost)."""
        return self.poses.visible

    @classmethod
    def empty(cls, part_names: tuple[str, ...], *, tracked: bool = True) -> "Carried":
        return cls(Poses.empty(part_names), np.zeros(0, np.int64) if tracked else None)


@dataclass(frozen=True)
class Frame:
    """One picture from a source.

    ``index``: position in the source, counting every frame the source produced (a live
    source's dropped frames leave gaps).  ``timestamp``: seconds on the source's clock (a
    file: index / fps; a live source: capture time since the run started).
    ``captured_at``: ``time.perf_counter()`` when it was read, for latency.
    ``image``: BGR uint8 (h, w, 3).
    """

    index: int
    timestamp: float
    captured_at: float
    image: np.ndarray

    @property
    def size(self) -> tuple[int, int]:
        """(w, h)."""
        return (int(self.image.shape[1]), int(self.image.shape[0]))


TRACK_TENTATIVE, TRACK_CONFIRMED = 0, 1
TRACK_STATES = {TRACK_TENTATIVE: "tentative", TRACK_CONFIRMED: "confirmed"}


@dataclass(frozen=True)
class Tracks:
    """The tracker's view of one frame: one row per track that took a detection this frame.

    A track that is not seen in a frame is not reported for that frame: the tracker keeps
    predicting it internally (for up to ``max_lost_seconds``) so that the person gets the same
    id back on returning, but a frame's results only ever hold people detected in that frame.

    ``ids``: (T,) int64, unique in a run and never reused.
    ``xy``: (T, P, 2) float32 smoothed image coordinates; NaN where the joint is unknown.
    ``xy_raw``: (T, P, 2) float32 the detection's coordinates this frame; NaN where not measured.
    ``conf``: (T, P) float32 the detection's confidence this frame; 0 where not measured.
    ``predicted``: (T, P) bool: ``xy`` is a prediction (joint not measured this frame).
    ``state``: (T,) int8 TRACK_TENTATIVE or TRACK_CONFIRMED.
    ``det_index``: (T,) int32 row of this frame's Poses the track took.
    ``score``: (T,) float32 the detection's score.
    ``carried``: (T, P) bool or None: on a carried frame (:mod:`livepose.carry`, the network not run)
    the joints whose ``xy_raw`` and ``conf`` were carried from the last frame by optical flow (the
    tracker took them as measurements with more noise); ``det_index`` is then -1.  None: a network
    frame (every measurement is a detection's).

    Every per-part array is in the track's own left/right labelling: where the tracker's vote
    says the network labelled the person mirrored this frame (:mod:`livepose.track.tracker`),
    ``xy_raw`` and ``conf`` are the detection's with its left and right parts swapped.
    """

    ids: np.ndarray
    xy: np.ndarray
    xy_raw: np.ndarray
    conf: np.ndarray
    predicted: np.ndarray
    state: np.ndarray
    det_index: np.ndarray
    score: np.ndarray
    part_names: tuple[str, ...]
    carried: np.ndarray | None = None

    def __post_init__(self) -> None:
        t, p = len(self.ids), len(self.part_names)
        shapes = {"xy": (t, p, 2), "xy_raw": (t, p, 2), "conf": (t, p), "predicted": (t, p), "state": (t,),
                  "det_index": (t,), "score": (t,)}
        if self.carried is not None:
            shapes["carried"] = (t, p)
        for name, shape in shapes.items():
            if getattr(self, name).shape != shape:
                raise ValueError(f"Tracks.{name} has shape {getattr(self, name).shape}, expected {shape}")

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @classmethod
    def empty(cls, part_names: tuple[str, ...]) -> "Tracks":
        p = len(part_names)
        return cls(ids=np.zeros(0, np.int64), xy=np.zeros((0, p, 2), np.float32),
                   xy_raw=np.zeros((0, p, 2), np.float32), conf=np.zeros((0, p), np.float32),
                   predicted=np.zeros((0, p), np.bool_), state=np.zeros(0, np.int8),
                   det_index=np.zeros(0, np.int32), score=np.zeros(0, np.float32), part_names=tuple(part_names))

    def smoothed_poses(self) -> Poses:
        """The tracks as Poses with smoothed coordinates for the joints measured this frame.

        Predicted joints are left out here (NaN, confidence 0) so that files holding poses never
        present a guess as a detection; they are in ``xy`` with ``predicted`` set.
        """
        measured = (self.conf > 0) & np.isfinite(self.xy[..., 0])
        xy = np.where(measured[..., None], self.xy, np.float32(np.nan)).astype(np.float32)
        conf = np.where(measured, self.conf, np.float32(0.0)).astype(np.float32)
        return Poses(xy=xy, conf=conf, score=self.score.copy(), part_names=self.part_names)


@dataclass(frozen=True)
class People:
    """The people of one frame as every output reads them: N rows, the same order everywhere.

    ``poses``: what is written and drawn: the smoothed keypoints with tracking on (joints
    measured this frame only), the detections as found without tracking.
    With tracking (``tracked``), also: ``ids`` (N,) int64 track ids; ``state`` (N,) int8
    TRACK_TENTATIVE / TRACK_CONFIRMED; ``raw`` the detections as found (same rows); ``predicted_xy``
    (N, P, 2) float32 the tracker's prediction for joints not measured this frame, NaN elsewhere.
    Without tracking these four are None.

    Carrying (:mod:`livepose.carry`, the network on every k-th frame only): ``keyframe`` False on a
    frame the network did not see; ``carried`` (N, P) bool the keypoints of ``poses`` (and ``raw``)
    that were carried there from the last frame by optical flow instead of measured by the network
    (all False on a network frame).  ``carried`` None: carrying is off (every keypoint is the
    network's).
    """

    poses: Poses
    ids: np.ndarray | None = None
    state: np.ndarray | None = None
    raw: Poses | None = None
    predicted_xy: np.ndarray | None = None
    carried: np.ndarray | None = None
    keyframe: bool = True

    def __post_init__(self) -> None:
        n = len(self.poses)
        if self.carried is not None and self.carried.shape != (n, len(self.poses.part_names)):
            raise ValueError(f"People: carried has shape {self.carried.shape}, expected {(n, len(self.poses.part_names))}")
        given = [x is not None for x in (self.ids, self.state, self.raw, self.predicted_xy)]
        if any(given) and not all(given):
            raise ValueError("People: ids, state, raw and predicted_xy come together (tracking) or not at all")
        if self.ids is not None:
            p = len(self.poses.part_names)
            if self.ids.shape != (n,) or self.state.shape != (n,) or len(self.raw) != n \
                    or self.predicted_xy.shape != (n, p, 2):
                raise ValueError(f"People: tracking fields do not match {n} poses")

    def __len__(self) -> int:
        return len(self.poses)

    @property
    def tracked(self) -> bool:
        return self.ids is not None

    @property
    def part_names(self) -> tuple[str, ...]:
        return self.poses.part_names

    @classmethod
    def detected(cls, poses: Poses) -> "People":
        """Untracked people: the detections as they are."""
        return cls(poses)

    @classmethod
    def from_tracks(cls, tracks: Tracks) -> "People":
        """Tracked people from the tracker's view of a frame (a carried frame when ``tracks.carried``
        is given: ``keyframe`` False)."""
        predicted = tracks.predicted & np.isfinite(tracks.xy[..., 0])
        predicted_xy = np.where(predicted[..., None], tracks.xy, np.float32(np.nan)).astype(np.float32)
        raw = Poses(xy=tracks.xy_raw, conf=tracks.conf, score=tracks.score, part_names=tracks.part_names)
        carried = None if tracks.carried is None else tracks.carried & (tracks.conf > 0)
        return cls(tracks.smoothed_poses(), ids=tracks.ids, state=tracks.state, raw=raw, predicted_xy=predicted_xy,
                   carried=carried, keyframe=tracks.carried is None)


@dataclass(frozen=True)
class StageTimings:
    """Milliseconds one frame spent in each stage (None: the stage did not run).

    ``inference`` of a batched frame is its share of the batch's time."""

    preprocess: float = 0.0
    inference: float = 0.0
    decode: float = 0.0
    track: float | None = None
    render: float | None = None
    carry: float | None = None

    @property
    def total(self) -> float:
        return sum(v for v in (self.preprocess, self.inference, self.decode, self.track, self.render, self.carry)
                   if v is not None)

    def as_dict(self) -> dict[str, float]:
        """Stage -> milliseconds, for the stages that ran."""
        return {k: v for k, v in (("preprocess", self.preprocess), ("inference", self.inference),
                                  ("decode", self.decode), ("carry", self.carry), ("track", self.track),
                                  ("render", self.render))
                if v is not None}


@dataclass(frozen=True)
class FrameResult:
    """Everything known about one frame after decoding (and tracking, when on).

    ``people``: the one view of the frame's people that every output reads (:class:`People`).
    ``timings``: milliseconds per stage.  ``picture``: the frame with the skeletons drawn, made
    once by the render stage when an output shows or writes pictures (else None); it belongs to
    a ring of buffers and stays valid while the result is being written.
    ``record``: the frame's serialisable record (:class:`livepose.records.FrameRecord`), made
    once by the pipeline and shared by every output (outputs call ``livepose.records.record_of``,
    which makes it when a result was built by hand).
    ``poses`` and ``person_ids`` are shortcuts for ``people.poses`` and ``people.ids``.
    """

    frame: Frame
    people: People
    timings: StageTimings = StageTimings()
    picture: np.ndarray | None = None
    record: object | None = None

    @property
    def poses(self) -> Poses:
        return self.people.poses

    @property
    def person_ids(self) -> np.ndarray | None:
        return self.people.ids

    @property
    def timings_ms(self) -> dict[str, float]:
        return self.timings.as_dict()


@dataclass(frozen=True)
class StreamInfo:
    """What sinks need to know before the first frame: the source and the network."""

    source: str
    size: tuple[int, int]
    fps: float
    frame_count: int | None
    is_live: bool
    model: str
    part_names: tuple[str, ...]
    limbs: np.ndarray  # (L, 2) part indices, for drawing
