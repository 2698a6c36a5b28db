"""Repetition counting on one angle series, with hysteresis (``livepose analyze --reps``).

A repetition is an excursion of the angle from below LOW to above HIGH and back below LOW
(for a squat on ``knee_right``: standing, knee bent past HIGH, standing again).  Between the
two thresholds nothing changes state, so noise around one threshold cannot count twice.

* Thresholds: given (``--reps-thresholds LOW,HIGH``, degrees), or from the series' own range:
  with ``lo`` and ``hi`` its 2nd and 98th percentiles (robust to a few wild frames),
  ``LOW = lo + 0.3 (hi - lo)`` and ``HIGH = lo + 0.7 (hi - lo)``; when ``hi - lo`` is under
  ``min_range`` degrees (default 20) nothing is counted: the person did not move that joint.
* Missing samples (NaN) are skipped; a gap longer than ``max_gap_s`` (default 0.5 s) forgets
  the state (a repetition across it is not counted: the angle must be seen below LOW again).
* Each repetition has ``start`` (the time the angle last rose through LOW before passing HIGH),
  ``peak`` (the time of its highest sample), ``end`` (the time it fell back through LOW),
  crossing times interpolated linearly between the two samples around the threshold, and
  ``peak_deg``.  A repetition still going at the end of the series is not counted.
"""

from __future__ import annotations

import math

import numpy as np

LOW_FRACTION = 0.3
HIGH_FRACTION = 0.7
DEFAULT_MIN_RANGE_DEG = 20.0
DEFAULT_MAX_GAP_S = 0.5


def parse_thresholds(value) -> tuple:
    """``"LOW,HIGH"`` (or a pair) in degrees -> ``(low, high)`` with low < high; ``ValueError``
    with one line starting ``--reps-thresholds:`` otherwise."""
    what = "--reps-thresholds"
    items = [str(v) for v in value] if isinstance(value, (list, tuple)) else str(value).split(",")
    if len(items) != 2:
        raise ValueError(f"{what}: give LOW,HIGH in degrees (two numbers), got {','.join(items)!r}")
    try:
        low, high = (float(v) for v in items)
    except ValueError:
        raise ValueError(f"{what}: {','.join(items)!r} are not two numbers") from None
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"{what}: LOW and HIGH must be finite")
    if not low < high:
        raise ValueError(f"{what}: LOW ({low:g}) must be below HIGH ({high:g})")
    return low, high


def _cross(t0, a0, t1, a1, level) -> float:
    if a1 == a0:
        return float(t1)
    return float(t0 + (level - a0) / (a1 - a0) * (t1 - t0))


def count_reps(t, angle, thresholds=None, *, min_range: float = DEFAULT_MIN_RANGE_DEG,
               max_gap_s: float = DEFAULT_MAX_GAP_S) -> dict:
    """Count repetitions in ``angle`` (degrees, NaN = missing) sampled at times ``t`` (seconds).

    ``thresholds``: ``(low, high)`` degrees, or None for the series' own (module doc).
    Returns ``{"count", "low_deg", "high_deg", "range_deg", "reps": [{"start", "peak", "end",
    "peak_deg"}], "note"}`` (``note``: why nothing could be counted, else None)."""
    t = np.asarray(t, float)
    a = np.asarray(angle, float)
    ok = np.isfinite(a) & np.isfinite(t)
    tv, av = t[ok], a[ok]
    res = {"count": 0, "low_deg": None, "high_deg": None, "range_deg": None, "reps": [], "note": None}
    if av.size < 3:
        res["note"] = "fewer than 3 samples of this angle"
        return res
    lo, hi = (float(v) for v in np.percentile(av, [2.0, 98.0]))
    res["range_deg"] = hi - lo
    if thresholds is None:
        if hi - lo < min_range:
            res["note"] = f"range {hi - lo:.1f} deg is under the {min_range:g} deg minimum: nothing counted"
            return res
        low, high = lo + LOW_FRACTION * (hi - lo), lo + HIGH_FRACTION * (hi - lo)
    else:
        low, high = (float(v) for v in thresholds)
    res["low_deg"], res["high_deg"] = low, high
    state = None            # None: not yet seen below LOW; "low": below LOW; "high": past HIGH
    last_low = -1           # index (into tv) of the last sample below LOW
    start = peak_i = None
    for i in range(av.size):
        if i and tv[i] - tv[i - 1] > max_gap_s:
            state, start, peak_i = None, None, None
        v = av[i]
        if v < low:
            if state == "high":
                res["reps"].append({"start": start, "peak": float(tv[peak_i]),
                                    "end": _cross(tv[i - 1], av[i - 1], tv[i], v, low),
                                    "peak_deg": float(av[peak_i])})
            state, last_low, start, peak_i = "low", i, None, None
        elif v > high:
            if state == "low":
                state, peak_i = "high", i
                start = _cross(tv[last_low], av[last_low], tv[last_low + 1], av[last_low + 1], low)
            elif state == "high" and v > av[peak_i]:
                peak_i = i
    res["count"] = len(res["reps"])
    return res
