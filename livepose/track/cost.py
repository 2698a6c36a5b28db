"""Costs between predicted track skeletons and detected poses (pure functions of arrays).

Shapes: T tracks, D detections, P parts; coordinates (x, y) image pixels.  A joint takes part
only where it is present on both sides (``known`` for a track, ``visible`` for a detection);
coordinates of absent joints are ignored, whatever they hold (NaN included).

Keypoint cost (OKS style, as COCO's object keypoint similarity with one constant for all
joints)::

    tol_t       = tolerance of track t in pixels (kappa x person size, widened while unseen)
    sim(t, d)   = mean over joints j present on both sides of exp(-|x_tj - x_dj|^2 / (2 tol_t^2))
    cost(t, d)  = 1 - sim(t, d)                  in [0, 1]; +inf when no joint is shared

Box cost: ``1 - IoU`` of the boxes around the present joints.  ``pose_cost`` mixes the two:
``(1 - w) * keypoint cost + w * box cost`` (+inf stays +inf), and with a gate skips the pairs
whose boxes lie too far apart to pass it.

Mirror tolerance: bottom-up networks often label a person seen from the side or the back
mirrored (every left part called right and the reverse) in some frames.  Given ``mirror``, a (P,)
permutation swapping the left and right parts (an involution: a card's ``flip.parts``, or
:func:`mirror_from_names`), the keypoint cost of a pair is the smaller of the cost against the
detection as labelled and against the detection with its parts swapped, ``det[:, mirror]``::

    cost(t, d)  = min(cost(t, d as labelled), cost(t, d mirrored))

and ``mirrored_pose_cost`` also says which one was smaller (ties: as labelled; with a ``margin``,
mirrored only where smaller by more than it).  The box of a
mirrored pose is its box, so the box cost and the gate's pruning are the same for both.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

_SIDE = re.compile(r"(?<![a-z])(left|right)(?![a-z])", re.IGNORECASE)
_OTHER_SIDE = {"left": "right", "right": "left", "Left": "Right", "Right": "Left", "LEFT": "RIGHT", "RIGHT": "LEFT"}


def mirror_from_names(part_names: Sequence[str]) -> np.ndarray | None:
    """(P,) int64 the permutation swapping parts whose names differ only by the word left / right
    (``left_shoulder`` <-> ``right_shoulder``, ``hip_left`` <-> ``hip_right``); the other parts map
    to themselves.  None when no part has a partner (nothing to mirror)."""
    names = list(part_names)
    index = {n: i for i, n in enumerate(names)}
    perm = np.arange(len(names), dtype=np.int64)
    for i, name in enumerate(names):
        other = _SIDE.sub(lambda m: _OTHER_SIDE.get(m.group(1), m.group(1)), name)
        if other != name and other in index:
            perm[i] = index[other]
    if (perm == np.arange(len(names))).all() or (perm[perm] != np.arange(len(names))).any():
        return None
    return perm


def check_mirror(mirror, num_parts: int) -> np.ndarray:
    """``mirror`` as a (P,) int64 array, checked to be an involution of ``num_parts`` parts."""
    perm = np.asarray(mirror)
    if perm.shape != (num_parts,) or not np.issubdtype(perm.dtype, np.integer):
        raise ValueError(f"mirror must be {num_parts} part indices, got {perm.dtype} array of shape {perm.shape}")
    perm = perm.astype(np.int64)
    if perm.min(initial=0) < 0 or perm.max(initial=0) >= num_parts or (perm[perm] != np.arange(num_parts)).any():
        raise ValueError(f"mirror must be a permutation of the {num_parts} parts that is its own inverse, "
                         f"got {perm.tolist()}")
    return perm


def pose_boxes(xy: np.ndarray, present: np.ndarray) -> np.ndarray:
    """(N, 4) x0, y0, x1, y1 around each pose's present joints; NaN rows for poses with none."""
    masked = np.where(present[..., None], xy, np.nan)
    # fmin / fmax skip NaN, and give NaN only where every joint is absent.
    return np.concatenate([np.fmin.reduce(masked, axis=1), np.fmax.reduce(masked, axis=1)], axis=1)


def box_size(boxes: np.ndarray, min_size: float) -> np.ndarray:
    """(N,) sqrt of the area of x0, y0, x1, y1 boxes, at least ``min_size`` (also for NaN boxes)."""
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return np.fmax(np.sqrt(area), float(min_size))  # fmax: a NaN box gives min_size


def person_size(xy: np.ndarray, present: np.ndarray, min_size: float) -> np.ndarray:
    """(N,) sqrt of the area of the box around the present joints, at least ``min_size`` pixels."""
    return box_size(pose_boxes(xy, present), min_size)


def keypoint_cost(track_xy: np.ndarray, track_known: np.ndarray, det_xy: np.ndarray,
                  det_visible: np.ndarray, tolerance: np.ndarray) -> np.ndarray:
    """(T, D) OKS-style keypoint cost (module docstring); ``tolerance`` (T,) pixels, > 0."""
    track_known = np.asarray(track_known, dtype=bool)
    det_visible = np.asarray(det_visible, dtype=bool)
    n_tracks, n_dets = track_known.shape[0], det_visible.shape[0]
    t = np.repeat(np.arange(n_tracks), n_dets)
    d = np.tile(np.arange(n_dets), n_tracks)
    tol = np.asarray(tolerance, dtype=np.float64)
    return keypoint_cost_pairs(track_xy[t], track_known[t], det_xy[d], det_visible[d], tol[t]).reshape(n_tracks, n_dets)


def keypoint_cost_pairs(a_xy: np.ndarray, a_known: np.ndarray, b_xy: np.ndarray, b_visible: np.ndarray,
                        tolerance: np.ndarray) -> np.ndarray:
    """(K,) the keypoint cost of K given pairs: skeletons a (K, P, 2) against b (K, P, 2)."""
    shared = a_known & b_visible  # (K, P)
    diff = np.where(shared[..., None], np.asarray(a_xy, np.float64) - b_xy, 0.0)  # absent joints: no NaN flows
    d2 = np.einsum("kpc,kpc->kp", diff, diff)
    tol = np.asarray(tolerance, dtype=np.float64)
    similarity = np.exp(d2 * (-0.5 / (tol * tol))[:, None])
    n_shared = shared.sum(axis=1)
    total = np.einsum("kp,kp->k", similarity, shared.astype(np.float64))
    cost = 1.0 - total / np.maximum(n_shared, 1)
    cost[n_shared == 0] = np.inf
    return cost


def box_gap(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """(A, B) shortest distance between the boxes (0 when they overlap; NaN when one is NaN)."""
    a = boxes_a[:, None]
    b = boxes_b[None]
    gx = np.maximum(np.maximum(a[..., 0] - b[..., 2], b[..., 0] - a[..., 2]), 0.0)
    gy = np.maximum(np.maximum(a[..., 1] - b[..., 3], b[..., 1] - a[..., 3]), 0.0)
    return np.sqrt(gx * gx + gy * gy)


def box_iou(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """(A, B) intersection over union of x0, y0, x1, y1 boxes; 0 where a box is NaN or both are empty."""
    a = np.asarray(boxes_a, dtype=np.float64)[:, None]
    b = np.asarray(boxes_b, dtype=np.float64)[None]
    iw = np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0])
    ih = np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1])
    inter = np.clip(iw, 0.0, None) * np.clip(ih, 0.0, None)
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    union = area_a + area_b - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = inter / union
    return np.where(np.isfinite(iou), iou, 0.0)


def pose_cost(track_xy: np.ndarray, track_known: np.ndarray, det_xy: np.ndarray, det_visible: np.ndarray,
              tolerance: np.ndarray, iou_weight: float = 0.0, gate: float | None = None,
              track_boxes: np.ndarray | None = None, det_boxes: np.ndarray | None = None,
              mirror: np.ndarray | None = None) -> np.ndarray:
    """(T, D) ``(1 - iou_weight) * keypoint_cost + iou_weight * (1 - box IoU)``.

    With a ``gate``, pairs whose cost is sure to exceed it are +inf and not computed: every
    joint of a track lies in its box and every joint of a detection in its own, so the keypoint
    cost of a pair is at least ``1 - exp(-gap^2 / (2 tol^2))``, gap the distance between the
    boxes.  Crowds then cost little more than a few people.  The boxes (``pose_boxes``) may be
    given when already known.  With ``mirror`` (P,) the keypoint cost is the smaller of the
    detection's as labelled and mirrored (module docstring; :func:`mirrored_pose_cost` also says
    which).
    """
    return mirrored_pose_cost(track_xy, track_known, det_xy, det_visible, tolerance, iou_weight, gate,
                              track_boxes, det_boxes, mirror)[0]


def mirrored_pose_cost(track_xy: np.ndarray, track_known: np.ndarray, det_xy: np.ndarray, det_visible: np.ndarray,
                       tolerance: np.ndarray, iou_weight: float = 0.0, gate: float | None = None,
                       track_boxes: np.ndarray | None = None, det_boxes: np.ndarray | None = None,
                       mirror: np.ndarray | None = None, margin: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """``pose_cost`` and (T, D) bool: the detection mirrored (``det[:, mirror]``) cost less than as
    labelled by more than ``margin`` (keypoint cost; 0: strictly less; all False without ``mirror``).
    The cost is the smaller of the two either way."""
    track_known = np.asarray(track_known, dtype=bool)
    det_visible = np.asarray(det_visible, dtype=bool)
    n_tracks, n_dets = track_known.shape[0], det_visible.shape[0]
    mirrored = np.zeros((n_tracks, n_dets), np.bool_)
    if n_tracks == 0 or n_dets == 0:
        return np.zeros((n_tracks, n_dets), np.float64), mirrored
    tol = np.asarray(tolerance, dtype=np.float64)
    tb = db = None
    if gate is not None or iou_weight > 0.0:
        tb = pose_boxes(track_xy, track_known) if track_boxes is None else track_boxes
        db = pose_boxes(det_xy, det_visible) if det_boxes is None else det_boxes
    box_cost = 1.0 - box_iou(tb, db) if iou_weight > 0.0 else 0.0
    if gate is None:
        cost = keypoint_cost(track_xy, track_known, det_xy, det_visible, tol)
        if mirror is not None:
            other = keypoint_cost(track_xy, track_known, det_xy[:, mirror], det_visible[:, mirror], tol)
            mirrored = other < cost - margin
            cost = np.minimum(other, cost)
    else:
        gap = box_gap(tb, db)
        lower = (1.0 - iou_weight) * (1.0 - np.exp(-0.5 * (gap / tol[:, None]) ** 2)) + iou_weight * box_cost
        t, d = np.nonzero(lower <= gate)  # NaN (a pose without joints) is never a candidate
        cost = np.full((n_tracks, n_dets), np.inf)
        a_xy, a_known, b_xy, b_vis, a_tol = track_xy[t], track_known[t], det_xy[d], det_visible[d], tol[t]
        pair = keypoint_cost_pairs(a_xy, a_known, b_xy, b_vis, a_tol)
        if mirror is not None:  # the mirrored pose has the same box: the same candidates
            other = keypoint_cost_pairs(a_xy, a_known, b_xy[:, mirror], b_vis[:, mirror], a_tol)
            mirrored[t, d] = other < pair - margin
            pair = np.minimum(other, pair)
        cost[t, d] = pair
    if iou_weight > 0.0:
        cost = (1.0 - iou_weight) * cost + iou_weight * box_cost
    return cost, mirrored
