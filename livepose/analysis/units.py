"""Pixels to meters for ``livepose analyze``: a person's height or a calibration distance.

Two ways to get a scale (meters per pixel), see docs/analysis.md "Units":

* ``--person-height``: the person's real height in meters.  Their height in pixels is estimated
  from their own segments (:func:`height_px`) and ``scale = meters / height_px``, one scale per
  person for the whole track.
* ``--calibrate X1,Y1,X2,Y2,METERS``: two image points and the real distance between them, one
  scale for everyone (``METERS / |p2 - p1|``).

Metric positions keep x to the right but flip y to point UP, from the bottom edge of the image:
``x_m = x_px * s``, ``y_m = (frame_height - y_px) * s`` (the same axes as the OpenSim .trc).
Both assume one plane at one distance from the camera (a person moving roughly parallel to the
image plane, a camera that does not zoom): a 2-D projection, not a measurement in depth.
"""

from __future__ import annotations

import math

import numpy as np

#: ``height_px`` = (neck->nose + mid-hip->neck + thigh + shank) / this.  Segment heights of an
#: upright adult as fractions of the stature (Drillis & Contini, as tabulated by Winter,
#: "Biomechanics and motor control of human movement"): nose about 0.90, shoulders (the
#: OpenPose neck) 0.818, hip joint 0.530, knee 0.285, ankle 0.039.  The four segments span
#: 0.90 - 0.039 = 0.861 of the height; the rest is the top of the head above the nose and the
#: ankle above the floor.
SEGMENTS_FRACTION = 0.861
#: the same without the head (the nose not seen: a person seen from behind): mid-hip->neck +
#: thigh + shank span 0.818 - 0.039 = 0.779 of the height
BODY_FRACTION = 0.779
#: the per-frame estimates are summarised by this percentile: a segment seen out of the image
#: plane only looks shorter, so a high percentile; not the maximum, which one bad frame sets
HEIGHT_PERCENTILE = 80.0
#: fewer frames with every needed part visible than this: no estimate (the person stays in pixels)
MIN_HEIGHT_FRAMES = 5


def _finite_positive(text: str, what: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise ValueError(f"{what}: {text.strip()!r} is not a number") from None
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"{what}: {text.strip()!r} must be a positive finite number of meters")
    return v


def parse_person_height(value) -> dict:
    """``1.80`` (everyone), ``"3=1.80,7=1.65"`` (per id), ``"1.75,3=1.80"`` (a default for the ids
    not listed) -> ``{id text or None (the default): meters}``.  A number or a dict is accepted too.
    Raises ``ValueError`` with one line starting ``--person-height:``."""
    what = "--person-height"
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            out[None if k is None else str(k)] = _finite_positive(str(v), what)
        return out
    if isinstance(value, (int, float)):
        return {None: _finite_positive(repr(float(value)), what)}
    text = str(value).strip()
    if not text:
        raise ValueError(f"{what}: empty; give meters (1.80) or id=meters pairs (3=1.80,7=1.65)")
    out: dict = {}
    for item in text.split(","):
        item = item.strip()
        if not item:
            raise ValueError(f"{what}: {text!r} has an empty item")
        if "=" in item:
            pid, _, meters = item.partition("=")
            pid = pid.strip()
            if not pid:
                raise ValueError(f"{what}: {item!r} has no id before '='")
            if pid in out:
                raise ValueError(f"{what}: id {pid} given twice")
            out[pid] = _finite_positive(meters, what)
        else:
            if None in out:
                raise ValueError(f"{what}: {text!r} has two default heights (bare numbers)")
            out[None] = _finite_positive(item, what)
    return out


def parse_calibrate(value) -> tuple:
    """``"X1,Y1,X2,Y2,METERS"`` (or a 5-sequence) -> ``(x1, y1, x2, y2, meters)``.  Raises
    ``ValueError`` with one line starting ``--calibrate:``."""
    what = "--calibrate"
    items = [str(v) for v in value] if isinstance(value, (list, tuple)) else str(value).split(",")
    if len(items) != 5:
        raise ValueError(f"{what}: give X1,Y1,X2,Y2,METERS (5 numbers: two image points in pixels and their "
                         f"real distance), got {len(items)} item{'s' if len(items) != 1 else ''}")
    nums = []
    for item in items[:4]:
        try:
            v = float(item)
        except ValueError:
            raise ValueError(f"{what}: {item.strip()!r} is not a number") from None
        if not math.isfinite(v):
            raise ValueError(f"{what}: {item.strip()!r} is not a finite number")
        nums.append(v)
    meters = _finite_positive(items[4], what)
    if math.hypot(nums[2] - nums[0], nums[3] - nums[1]) <= 0:
        raise ValueError(f"{what}: the two points are the same; they must be apart")
    return (*nums, meters)


def calibration_scale(cal: tuple) -> float:
    x1, y1, x2, y2, meters = cal
    return meters / math.hypot(x2 - x1, y2 - y1)


def _seg(cols: dict, a: str, b: str) -> np.ndarray:
    ax, ay = np.asarray(cols[f"{a}_x"], float), np.asarray(cols[f"{a}_y"], float)
    bx, by = np.asarray(cols[f"{b}_x"], float), np.asarray(cols[f"{b}_y"], float)
    return np.hypot(bx - ax, by - ay)


def height_series(cols: dict) -> np.ndarray:
    """Per row of a person table: the height estimate in pixels, NaN where a needed part is missing.

    ``(|neck->nose| + |mid-hip->neck| + thigh + shank) / SEGMENTS_FRACTION``, the mid-hip being
    the mean of both hips, thigh + shank (hip->knee + knee->ankle) taken from the side where
    that sum is longer (the side less turned out of the image plane) among the sides whose hip,
    knee and ankle are all visible.  Where the nose is not seen (a person from behind):
    ``(|mid-hip->neck| + thigh + shank) / BODY_FRACTION``."""
    need = ("nose", "neck", "right_hip", "left_hip", "right_knee", "left_knee", "right_ankle", "left_ankle")
    if not all(f"{p}_x" in cols for p in need):
        return np.full(len(cols["time"]), np.nan)
    head = _seg(cols, "neck", "nose")
    mx = (np.asarray(cols["right_hip_x"], float) + np.asarray(cols["left_hip_x"], float)) / 2.0
    my = (np.asarray(cols["right_hip_y"], float) + np.asarray(cols["left_hip_y"], float)) / 2.0
    trunk = np.hypot(np.asarray(cols["neck_x"], float) - mx, np.asarray(cols["neck_y"], float) - my)
    right, left = (_seg(cols, f"{s}_hip", f"{s}_knee") + _seg(cols, f"{s}_knee", f"{s}_ankle")
                   for s in ("right", "left"))
    leg = np.fmax(right, left)                  # the longer visible side; NaN when neither is
    return np.where(np.isfinite(head), (head + trunk + leg) / SEGMENTS_FRACTION, (trunk + leg) / BODY_FRACTION)


def height_px(cols: dict) -> tuple:
    """``(height in pixels or None, frames used)``: the :data:`HEIGHT_PERCENTILE` percentile of
    :func:`height_series` over the rows where it is known; None with fewer than
    :data:`MIN_HEIGHT_FRAMES` such rows."""
    h = height_series(cols)
    h = h[np.isfinite(h) & (h > 0)]
    if h.size < MIN_HEIGHT_FRAMES:
        return None, int(h.size)
    return float(np.percentile(h, HEIGHT_PERCENTILE)), int(h.size)


def add_metric_columns(cols: dict, parts, scale: float | None, frame_height: float) -> None:
    """Add ``<part>_x_m``, ``<part>_y_m`` (y up from the image bottom), ``<part>_speed_m_s``,
    ``speed_m_s`` and ``distance_m`` to ``cols`` in place; all NaN when ``scale`` is None."""
    n = len(cols["time"])
    s = np.nan if scale is None else float(scale)
    for part in parts:
        cols[f"{part}_x_m"] = np.asarray(cols[f"{part}_x"], float) * s if scale else np.full(n, np.nan)
        cols[f"{part}_y_m"] = (frame_height - np.asarray(cols[f"{part}_y"], float)) * s if scale else np.full(n, np.nan)
    for part in parts:
        cols[f"{part}_speed_m_s"] = np.asarray(cols[f"{part}_speed_px_s"], float) * s
    cols["speed_m_s"] = np.asarray(cols["speed_px_s"], float) * s
    cols["distance_m"] = np.asarray(cols["distance_px"], float) * s
