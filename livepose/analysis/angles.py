"""Joint and segment angles from 2-D keypoints, vectorised with numpy.

Every function takes keypoints shaped ``(..., K, 3)`` (any leading dimensions: frames, people)
holding ``[x, y, conf]`` in image pixels (x to the right, y DOWN, as livepose writes them) and
returns angles in degrees shaped ``(...)``.  Parts are looked up by NAME in the part list (the
model card's ``parts``; :data:`OPENPOSE_COCO_PARTS` by default), never by a fixed index.

Conventions (see docs/analysis.md for the drawing):

* A part is visible when its conf is > ``min_conf`` (default 0) and x, y are finite.  An angle
  whose parts are not all visible is NaN: missing, never guessed.  Each side is independent.
* Segment angles are measured counter-clockwise from the horizontal pointing right, with the
  image y axis flipped to point up, in (-180, 180].  The segment points from its proximal to its
  distal end: arm shoulder->elbow, forearm elbow->wrist, thigh hip->knee, shank knee->ankle;
  the trunk points from the mid-hip (mean of both hips, both needed) up to the neck, so an
  upright trunk is +90, a forearm pointing right 0, pointing up +90, hanging down -90.
* Joint angles are flexion angles in [0, 180], unsigned: 0 when the limb is straight (or, for
  hip and shoulder, in line with the trunk), positive when bent, whatever the direction.
  - knee: 180 - angle(hip, knee, ankle)
  - elbow: 180 - angle(shoulder, elbow, wrist)
  - hip: 180 - angle(shoulder, hip, knee), same side   (0 standing, 90 sitting)
  - shoulder: angle between the trunk side pointing down (shoulder->hip, same side) and the arm
    (shoulder->elbow): 0 arm hanging along the trunk, 90 arm raised to the horizontal, 180
    straight up.
* Not available with this skeleton (no toes, heels): ankle flexion and the foot segment angle
  (:data:`UNAVAILABLE`).
* Short names (``knee_right``, ..., ``trunk``: the column without ``_flexion_deg``/``_deg``) with
  one-line descriptions: :data:`ANGLES` (``livepose analyze --list-angles``, ``--angles``,
  ``--reps``); :func:`resolve_angles` checks a list of them.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

OPENPOSE_COCO_PARTS = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
    "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
    "right_eye", "left_eye", "right_ear", "left_ear",
)

SIDES = ("right", "left")

#: joint -> (a, vertex, b) part stems; flexion = 180 - angle(a, vertex, b)
_JOINTS = {
    "knee": ("hip", "knee", "ankle"),
    "hip": ("shoulder", "hip", "knee"),
    "elbow": ("shoulder", "elbow", "wrist"),
}
#: segment -> (proximal, distal) part stems
_SEGMENTS = {
    "arm": ("shoulder", "elbow"),
    "forearm": ("elbow", "wrist"),
    "thigh": ("hip", "knee"),
    "shank": ("knee", "ankle"),
}

#: angles this skeleton cannot give, with why
UNAVAILABLE = {
    "ankle_flexion": "needs a foot point (toe or heel); the OpenPose-COCO skeleton has none",
    "foot_segment": "needs a foot point (toe or heel); the OpenPose-COCO skeleton has none",
}


def _part(name: str, side: str | None) -> str:
    return name if name == "neck" or side is None else f"{side}_{name}"


def _xy(kp: np.ndarray, parts: Sequence[str], name: str, min_conf: float) -> np.ndarray:
    """(..., 2) position of part ``name``, NaN where not visible."""
    try:
        i = list(parts).index(name)
    except ValueError:
        raise KeyError(f"part {name!r} not in the part list ({', '.join(parts)})") from None
    p = np.asarray(kp[..., i, :], dtype=float)
    ok = np.isfinite(p[..., 0]) & np.isfinite(p[..., 1]) & (np.nan_to_num(p[..., 2], nan=0.0) > min_conf)
    return np.where(ok[..., None], p[..., :2], np.nan)


def _up(v: np.ndarray) -> np.ndarray:
    """Image vector -> y-up vector."""
    return np.stack([v[..., 0], -v[..., 1]], axis=-1)


def segment_angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle of the segment a->b (image coords), CCW from the horizontal pointing right, y up, degrees."""
    d = _up(b - a)
    out = np.degrees(np.arctan2(d[..., 1], d[..., 0]))
    out = np.where(out <= -180.0, out + 360.0, out)
    return np.where((d[..., 0] == 0) & (d[..., 1] == 0), np.nan, out)


def between(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Unsigned angle between vectors u and v in degrees, [0, 180]; NaN for a zero vector."""
    nu = np.linalg.norm(u, axis=-1)
    nv = np.linalg.norm(v, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.sum(u * v, axis=-1) / (nu * nv)
    out = np.degrees(np.arccos(np.clip(c, -1.0, 1.0)))
    return np.where((nu > 0) & (nv > 0), out, np.nan)


def joint_angles(kp: np.ndarray, parts: Sequence[str] = OPENPOSE_COCO_PARTS, min_conf: float = 0.0) -> dict:
    """``{name: (...) degrees}`` for knee, hip, shoulder, elbow flexion per side (see module doc)."""
    out = {}
    g = lambda n: _xy(kp, parts, n, min_conf)  # noqa: E731
    for side in SIDES:
        for joint, (a, v, b) in _JOINTS.items():
            pa, pv, pb = g(_part(a, side)), g(_part(v, side)), g(_part(b, side))
            out[f"{joint}_{side}_flexion_deg"] = 180.0 - between(pa - pv, pb - pv)
        sh, el, hip = g(f"{side}_shoulder"), g(f"{side}_elbow"), g(f"{side}_hip")
        out[f"shoulder_{side}_flexion_deg"] = between(hip - sh, el - sh)
    order = [f"{j}_{s}_flexion_deg" for j in ("knee", "hip", "shoulder", "elbow") for s in SIDES]
    return {k: out[k] for k in order}


def segment_angles(kp: np.ndarray, parts: Sequence[str] = OPENPOSE_COCO_PARTS, min_conf: float = 0.0) -> dict:
    """``{name: (...) degrees}`` for shank, thigh, arm, forearm per side and the trunk (see module doc)."""
    g = lambda n: _xy(kp, parts, n, min_conf)  # noqa: E731
    out = {}
    for seg in ("shank", "thigh", "arm", "forearm"):
        a, b = _SEGMENTS[seg]
        for side in SIDES:
            out[f"{seg}_{side}_deg"] = segment_angle(g(_part(a, side)), g(_part(b, side)))
    mid_hip = (g("right_hip") + g("left_hip")) / 2.0
    out["trunk_deg"] = segment_angle(mid_hip, g("neck"))
    return out


def all_angles(kp: np.ndarray, parts: Sequence[str] = OPENPOSE_COCO_PARTS, min_conf: float = 0.0) -> dict:
    """Joint angles then segment angles, one dict."""
    return {**joint_angles(kp, parts, min_conf), **segment_angles(kp, parts, min_conf)}


def _describe() -> dict:
    joint_txt = {
        "knee": "knee flexion (hip-knee-ankle): 0 straight leg, grows as the knee bends",
        "hip": "hip flexion (shoulder-hip-knee): 0 standing, about 90 sitting",
        "shoulder": "shoulder flexion (trunk side-arm): 0 arm along the body, 90 horizontal, 180 straight up",
        "elbow": "elbow flexion (shoulder-elbow-wrist): 0 straight arm, grows as the elbow bends",
    }
    seg_txt = {
        "shank": "shank (knee->ankle) direction from the horizontal, y up: -90 hanging straight down",
        "thigh": "thigh (hip->knee) direction from the horizontal, y up: -90 hanging straight down",
        "arm": "arm (shoulder->elbow) direction from the horizontal, y up: -90 hanging, +90 raised",
        "forearm": "forearm (elbow->wrist) direction from the horizontal, y up: 0 pointing image-right",
    }
    out = {}
    for joint in ("knee", "hip", "shoulder", "elbow"):
        for side in SIDES:
            out[f"{joint}_{side}"] = (f"{joint}_{side}_flexion_deg", f"{side} {joint_txt[joint]}")
    for seg in ("shank", "thigh", "arm", "forearm"):
        for side in SIDES:
            out[f"{seg}_{side}"] = (f"{seg}_{side}_deg", f"{side} {seg_txt[seg]}")
    out["trunk"] = ("trunk_deg", "trunk (mid-hip->neck) direction from the horizontal, y up: +90 upright")
    return out


#: short angle name (what ``--angles`` and ``--reps`` take) -> (table column, one-line description),
#: in the column order of :func:`all_angles`
ANGLES = _describe()
#: the angles plotted when none are chosen: the eight joint flexion angles
DEFAULT_PLOT_ANGLES = tuple(n for n, (col, _) in ANGLES.items() if col.endswith("_flexion_deg"))


def resolve_angles(names, option: str = "--angles") -> list:
    """Short names (or full column names) -> short names, in the order given, without repeats.

    An unknown name raises ``ValueError`` with one line: ``--angles: unknown angle 'kne': choose from ...``."""
    by_column = {col: short for short, (col, _) in ANGLES.items()}
    out = []
    for raw in names:
        name = str(raw).strip()
        if not name:
            continue
        short = name if name in ANGLES else by_column.get(name)
        if short is None:
            raise ValueError(f"{option}: unknown angle {name!r}: choose from {', '.join(ANGLES)}")
        if short not in out:
            out.append(short)
    return out
