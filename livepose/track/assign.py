"""Optimal one-to-one assignment of tracks to detections under a gate (a pure function).

``assign(cost, gate) -> (matches, unmatched_tracks, unmatched_dets)``: the Hungarian method
(``scipy.optimize.linear_sum_assignment``) over a (T, D) cost matrix in which every pair
costing more than ``gate`` (or not finite) is forbidden.  The result has one type whatever
the input: ``matches`` (K, 2) int64 rows of (track row, detection column), sorted by track
row, and two sorted int64 index arrays, also when T or D is 0 or every pair is gated out.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import linear_sum_assignment


def assign(cost: np.ndarray, gate: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum-cost matching of rows (tracks) to columns (detections); pairs above ``gate`` never match.

    A forbidden pair is given the cost ``gate`` (just above it) for the solver, and dropped
    from its answer: so a pair is taken only when it is no worse than leaving its track and its
    detection unmatched, and among such matchings the total cost is minimal.  With an infinite
    gate every finite pair is allowed.
    """
    cost = np.asarray(cost, dtype=np.float64)
    if cost.ndim != 2:
        raise ValueError(f"cost must be a (T, D) matrix, got shape {cost.shape}")
    if math.isnan(gate):
        raise ValueError("gate must be a number, got NaN")
    n_tracks, n_dets = cost.shape
    allowed = cost <= gate  # False for NaN; +inf passes only an infinite gate
    if math.isinf(gate):
        allowed &= np.isfinite(cost)
    if n_tracks == 0 or n_dets == 0 or not allowed.any():
        return _empty_matches(), np.arange(n_tracks, dtype=np.int64), np.arange(n_dets, dtype=np.int64)
    if math.isinf(gate):
        forbidden = float(cost[allowed].max()) + 1.0
    else:
        forbidden = math.nextafter(float(gate), math.inf)
    rows, cols = linear_sum_assignment(np.where(allowed, cost, forbidden))
    keep = allowed[rows, cols]
    rows, cols = rows[keep], cols[keep]
    track_free = np.ones(n_tracks, np.bool_)
    track_free[rows] = False
    det_free = np.ones(n_dets, np.bool_)
    det_free[cols] = False
    matches = np.stack([rows, cols], axis=1).astype(np.int64, copy=False)
    return matches, np.flatnonzero(track_free), np.flatnonzero(det_free)


def _empty_matches() -> np.ndarray:
    return np.zeros((0, 2), dtype=np.int64)
