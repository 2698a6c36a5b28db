"""Suppressing false people before tracking: ``suppress(poses, limbs, settings) -> Poses``.

Bottom-up decoding finds, besides the real people, weak partial skeletons (a few parts found
inside or on a real person: a duplicate of its head, its legs not linked to its body) and
objects taken for a person; each lives a few frames and takes a new track id.  Three rules,
each one can be turned off (:class:`SuppressSettings`):

1. Person score (``min_person_score``): a pose whose ``Poses.score`` is below it is dropped.
2. Pose non-maximum suppression (``pose_nms``): poses are ranked by their number of parts, then
   their score; a pose is dropped when a pose ranked above it and kept (the larger one) covers
   it, either

   * same parts: at least ``pose_nms_overlap`` of its parts have the same part of the larger pose
     within ``pose_nms_distance`` x the larger person's size (sqrt of the area of the box around its
     parts), or
   * few parts inside its box: it has at most ``pose_nms_box_parts`` parts (0: never), fewer than the
     larger pose, and all of them lie inside the larger pose's box widened by ``pose_nms_box_margin``
     x its size on every side.

3. Implausible limbs (``max_limb_ratio``): each limb's length is turned into the body height it
   implies, with the proportions of a standing adult (:data:`BODY_TEMPLATE`, by part name; limbs
   between parts it does not name are not checked).  A limb implying more than
   ``max_limb_ratio`` x the median of what the pose's other limbs imply (at least
   ``limb_min_others`` of them) is implausible, e.g. an arm reaching a part of another person.
   ``limb_action``: "cut" removes the limb's side holding fewer parts (the parts then
   connected to its far end; of a limb on a loop, its end with fewer limbs), "drop" drops the
   pose.  A pose left with fewer than 2 parts is dropped.

The rules run in the order 1, 3, 2 (a pose is ranked and boxed by the parts it keeps); a pose
without any part found is dropped too.  The rows kept keep their order, their score and the
values of the parts kept (new arrays).

Every command and the Python API apply it, on by default, as the last step of decoding
(:class:`livepose.stages.DecodeStage` holds a :class:`Suppressor`; its time counts in the decode
timing), so photos, COCO evaluation and tracking all see the same people.  The settings are the
``suppress`` section of the run (:class:`livepose.settings.SuppressSettings`, re-exported here);
``--no-suppress``, ``suppress=False`` or :data:`SUPPRESS_OFF` turn every rule off, and the
decoder's poses then pass untouched.  The defaults are measured by
benchmarks/bench_suppress.py (benchmarks/README.md): on the COCO dev photos they lose no matched
person and no AP; on the shared videos they cut the distinct track ids by 10 to 70 % (per video
and network there).
"""

from __future__ import annotations

import functools

import numpy as np

# the settings live in the settings tree (RunConfig.suppress); imported from here too
from livepose.settings import LIMB_ACTIONS, SUPPRESS_OFF, SettingError, SuppressSettings
from livepose.types import Poses

__all__ = ["BODY_TEMPLATE", "LIMB_ACTIONS", "SUPPRESS_OFF", "SuppressSettings", "Suppressor", "limb_ratios",
           "limb_reference", "suppress"]

#: A standing adult seen from the front, (x, y) in body heights (y down from the top of the
#: head), by part name (OpenPose's and COCO's names).  Only the distances between parts are
#: used: a limb's length over the distance of its two parts here is the body height it implies.
BODY_TEMPLATE: dict[str, tuple[float, float]] = {
    "nose": (0.0, 0.09), "neck": (0.0, 0.18),
    "right_eye": (-0.03, 0.065), "left_eye": (0.03, 0.065),
    "right_ear": (-0.07, 0.075), "left_ear": (0.07, 0.075),
    "right_shoulder": (-0.13, 0.18), "left_shoulder": (0.13, 0.18),
    "right_elbow": (-0.15, 0.365), "left_elbow": (0.15, 0.365),
    "right_wrist": (-0.16, 0.51), "left_wrist": (0.16, 0.51),
    "right_hip": (-0.095, 0.47), "left_hip": (0.095, 0.47),
    "right_knee": (-0.095, 0.715), "left_knee": (0.095, 0.715),
    "right_ankle": (-0.095, 0.96), "left_ankle": (0.095, 0.96),
}

#: Limbs shorter than this in :data:`BODY_TEMPLATE` (body heights: the face's) are neither judged nor
#: used to judge others: small and turned with the head, their length says little of the body's size.
MIN_TEMPLATE_LIMB = 0.1

MIN_SIZE = 16.0  # pixels: the smallest person size used for scaling (as the tracker's min_person_size)


def _check_limbs(limbs, num_parts: int) -> np.ndarray:
    limbs = np.asarray(limbs)
    if limbs.size == 0:
        return np.zeros((0, 2), np.intp)
    if limbs.ndim != 2 or limbs.shape[1] != 2 or not np.issubdtype(limbs.dtype, np.integer) \
            or limbs.min() < 0 or limbs.max() >= num_parts:
        raise ValueError(f"limbs must be (L, 2) part indices below {num_parts}, got an array of shape {limbs.shape}")
    return limbs.astype(np.intp, copy=False)


def _boxes(xy: np.ndarray, present: np.ndarray) -> np.ndarray:
    """(N, 4) x0, y0, x1, y1 around the present parts (NaN for a pose without any)."""
    x, y = xy[..., 0], xy[..., 1]
    inf = np.float32(np.inf)
    out = np.stack([np.where(present, x, inf).min(axis=1), np.where(present, y, inf).min(axis=1),
                    np.where(present, x, -inf).max(axis=1), np.where(present, y, -inf).max(axis=1)], axis=1)
    out[~present.any(axis=1)] = np.nan
    return out


def _sizes(boxes: np.ndarray) -> np.ndarray:
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return np.fmax(np.sqrt(np.fmax(area, 0.0)), MIN_SIZE)


def limb_reference(part_names, limbs) -> np.ndarray:
    """(L,) each limb's length in body heights in :data:`BODY_TEMPLATE` (NaN: a part it does not name,
    or shorter than :data:`MIN_TEMPLATE_LIMB`)."""
    limbs = np.asarray(limbs).reshape(-1, 2)
    return _limb_reference(tuple(part_names), tuple(map(tuple, limbs.tolist()))).copy()


@functools.lru_cache(maxsize=32)
def _limb_reference(part_names: tuple[str, ...], limbs: tuple[tuple[int, int], ...]) -> np.ndarray:
    ref = np.full(len(limbs), np.nan)
    for k, (a, b) in enumerate(limbs):
        pa, pb = BODY_TEMPLATE.get(part_names[a]), BODY_TEMPLATE.get(part_names[b])
        if pa is not None and pb is not None:
            d = float(np.hypot(pa[0] - pb[0], pa[1] - pb[1]))
            ref[k] = d if d >= MIN_TEMPLATE_LIMB else np.nan
    ref.flags.writeable = False
    return ref


def limb_ratios(xy: np.ndarray, present: np.ndarray, limbs: np.ndarray, reference: np.ndarray,
                min_others: int) -> np.ndarray:
    """(N, L) each limb's implied body height over the median of the pose's other limbs'; NaN
    where the limb is not measured, not in the template, or fewer than ``min_others`` others are."""
    n, num_limbs = present.shape[0], len(limbs)
    if n == 0 or num_limbs == 0:
        return np.zeros((n, num_limbs))
    a, b = limbs[:, 0], limbs[:, 1]
    measured = present[:, a] & present[:, b] & np.isfinite(reference)[None]
    d = np.asarray(xy[:, a], np.float64) - xy[:, b]
    with np.errstate(invalid="ignore", divide="ignore"):
        height = np.where(measured, np.hypot(d[..., 0], d[..., 1]) / reference[None], np.nan)  # (N, L)
    # The median of the others for every limb at once: each row sorted once (NaN last); without
    # limb k (at rank r_k) the others' t-th value is the row's t-th when t < r_k, else its (t+1)-th.
    order = np.argsort(height, axis=1)
    row = np.arange(n)[:, None]
    ranked = height[row, order]
    rank = np.empty_like(order)
    rank[row, order] = np.arange(num_limbs)
    others = measured.sum(axis=1, keepdims=True) - 1  # (N, 1)
    t_lo, t_hi = np.clip((others - 1) // 2, 0, None), np.clip(others // 2, 0, None)
    last = num_limbs - 1
    lo = ranked[row, np.minimum(t_lo + (t_lo >= rank), last)]
    hi = ranked[row, np.minimum(t_hi + (t_hi >= rank), last)]
    median = 0.5 * (lo + hi)
    ok = measured & (others >= min_others) & (median > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok, height / np.where(ok, median, 1.0), np.nan)


def _cut(present_row: np.ndarray, limbs: np.ndarray, limb: int) -> np.ndarray:
    """(P,) bool: the parts to remove when ``limb`` of a pose with parts ``present_row`` is cut."""
    a0, b0 = int(limbs[limb, 0]), int(limbs[limb, 1])
    live = present_row[limbs[:, 0]] & present_row[limbs[:, 1]]
    live[limb] = False
    edges = limbs[live]
    # Grow the part set reachable from each end without the cut limb (P is small: a few passes).
    sides = []
    for start in (a0, b0):
        reach = np.zeros(present_row.shape[0], bool)
        reach[start] = True
        while True:
            grown = reach.copy()
            grown[edges[:, 1]] |= reach[edges[:, 0]]
            grown[edges[:, 0]] |= reach[edges[:, 1]]
            if (grown == reach).all():
                break
            reach = grown
        sides.append(reach)
    ra, rb = sides
    if not (ra & rb).any():  # the limb held two parts of the skeleton together: drop the smaller side
        return rb if rb.sum() < ra.sum() or (rb.sum() == ra.sum() and b0 > a0) else ra
    # On a loop: remove the end with fewer limbs (the far end, b, on a tie).
    degree = np.bincount(edges.ravel(), minlength=present_row.shape[0])
    out = np.zeros(present_row.shape[0], bool)
    out[a0 if degree[a0] < degree[b0] else b0] = True
    return out


class Suppressor:
    """The rules of ``settings`` for one skeleton (``part_names`` and ``limbs``, (L, 2) part indices:
    a model card's), checked and prepared once; call it on each frame's poses.  The decode stage
    (:class:`livepose.stages.DecodeStage`) holds one."""

    def __init__(self, part_names, limbs, settings: SuppressSettings | None = None):
        cfg = settings if settings is not None else SuppressSettings()
        if not isinstance(cfg, SuppressSettings):
            raise SettingError(f"setting suppress: must be a SuppressSettings; got {type(cfg).__name__}")
        self.settings = cfg
        self.part_names = tuple(part_names)
        self.limbs = _check_limbs(limbs, len(self.part_names))
        self._reference = _limb_reference(self.part_names, tuple(map(tuple, self.limbs.tolist())))

    @property
    def active(self) -> bool:
        """Some rule is on (:attr:`SuppressSettings.active`)."""
        return self.settings.active

    def __call__(self, poses: Poses, *, copy: bool = True) -> Poses:
        """The poses the rules keep (module docstring), in their order, as new arrays; with
        ``copy=False``, ``poses`` itself when the rules keep every pose whole."""
        cfg, limbs = self.settings, self.limbs
        num_parts = len(self.part_names)
        xy = np.asarray(poses.xy, np.float32)
        conf = np.asarray(poses.conf, np.float32)
        score = np.asarray(poses.score, np.float32)
        if conf.ndim != 2 or conf.shape[1] != num_parts:
            raise ValueError(f"poses of {conf.shape[-1] if conf.ndim else 0} parts for a skeleton of {num_parts}")
        n = len(score)
        if n == 0:
            return poses if not copy else Poses(xy=xy.copy(), conf=conf.copy(), score=score.copy(),
                                                 part_names=tuple(poses.part_names))
        present = (conf > 0) & np.isfinite(xy).all(axis=2)
        keep = present.any(axis=1)
        cut_any = False

        # 1. person score
        if cfg.min_person_score > 0.0:
            keep &= score >= np.float32(cfg.min_person_score)

        # 3. implausible limbs (before the NMS, so that a pose is ranked and boxed by its own parts)
        if cfg.max_limb_ratio > 0.0 and len(limbs):
            ratio = limb_ratios(xy, present & keep[:, None], limbs, self._reference, cfg.limb_min_others)
            bad = np.nan_to_num(ratio, nan=0.0) > cfg.max_limb_ratio  # (N, L)
            flagged = np.flatnonzero(bad.any(axis=1))
            if len(flagged):
                was = present.copy()
                for i in flagged:  # only the flagged poses (a few per video), never the pixels
                    if cfg.limb_action == "drop":
                        keep[i] = False
                        continue
                    for k in np.argsort(-ratio[i]):  # the worst limb first; a limb cut away is no longer judged
                        if not bad[i, k] or not (present[i, limbs[k, 0]] and present[i, limbs[k, 1]]):
                            continue
                        present[i] &= ~_cut(present[i], limbs, int(k))
                    if present[i].sum() < 2:
                        keep[i] = False
                cut = was & ~present
                if cut.any():
                    cut_any = True
                    xy, conf = xy.copy(), conf.copy()  # the caller's arrays stay as they are
                    xy[cut] = np.nan
                    conf[cut] = 0.0

        # 2. pose non-maximum suppression
        if cfg.pose_nms and keep.sum() > 1:
            keep = _nms(xy, present, score, keep, cfg)

        if not copy and not cut_any and keep.all():
            return poses
        rows = np.flatnonzero(keep)
        return Poses(xy=xy[rows], conf=conf[rows], score=score[rows], part_names=tuple(poses.part_names))


def suppress(poses: Poses, limbs, settings: SuppressSettings | None = None) -> Poses:
    """The poses the rules keep (module docstring), in their order, as new arrays.

    ``limbs``: (L, 2) part indices of the skeleton (a model card's ``limbs``).  For a stream of
    frames, make one :class:`Suppressor` and call it instead.
    """
    return Suppressor(poses.part_names, limbs, settings)(poses)


def _nms(xy: np.ndarray, present: np.ndarray, score: np.ndarray, keep: np.ndarray,
         cfg: SuppressSettings) -> np.ndarray:
    """``keep`` with the poses that a larger, kept pose covers turned off (rule 2)."""
    rows = np.flatnonzero(keep)
    m = len(rows)
    xy = np.where(present[rows][..., None], xy[rows], np.float32(np.nan))  # absent parts NaN: never near
    present = present[rows]
    count = present.sum(axis=1)
    boxes = _boxes(xy, present)
    size = _sizes(boxes)
    covers = np.zeros((m, m), bool)  # covers[j, i]: pose j (the larger) covers pose i
    if cfg.pose_nms_distance > 0.0:
        x, y = xy[..., 0], xy[..., 1]
        dx, dy = x[None] - x[:, None], y[None] - y[:, None]  # (J, I, P): i's part minus j's
        with np.errstate(invalid="ignore"):
            near = (dx * dx + dy * dy <= ((cfg.pose_nms_distance * size) ** 2)[:, None, None]).sum(axis=2)
        covers |= near >= cfg.pose_nms_overlap * count[None]
    if cfg.pose_nms_box_parts > 0:
        # All of i's parts inside j's widened box is i's own box inside it.
        margin = cfg.pose_nms_box_margin * size
        lo, hi = boxes[:, :2] - margin[:, None], boxes[:, 2:] + margin[:, None]  # (J, 2)
        with np.errstate(invalid="ignore"):
            inside = ((boxes[None, :, :2] >= lo[:, None]) & (boxes[None, :, 2:] <= hi[:, None])).all(axis=2)
        few = (count <= cfg.pose_nms_box_parts)[None] & (count[None] < count[:, None])
        covers |= inside & few
    # Greedy, strongest first: more parts, then the higher score, then the earlier row.
    order = np.lexsort((np.arange(m), -score[rows], -count))
    rank = np.empty(m, np.intp)
    rank[order] = np.arange(m)
    covers &= rank[:, None] < rank[None]  # only a pose ranked above may cover
    alive = np.ones(m, bool)
    candidates = covers.any(axis=0)
    for i in order[candidates[order]]:
        if (covers[:, i] & alive).any():
            alive[i] = False
    out = keep.copy()
    out[rows[~alive]] = False
    return out
