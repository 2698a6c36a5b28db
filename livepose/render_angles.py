"""Joint angles drawn next to the joints (``livepose run --angles``): drawing only, no state.

Per frame, one :func:`livepose.analysis.angles.all_angles` call on the frame's people as one
``(P, K, 3)`` array (the smoothed keypoints when tracking is on, as drawn) gives each person's
knee, hip, elbow and shoulder flexion per side, in degrees (the conventions of docs/analysis.md:
0 straight, 90 at a right angle).  Each value is written, rounded to a whole degree, beside its
joint: to the outside of the body (of the two sides of a joint, the one further left in the image
gets its label on its left, the other on its right; a side alone is compared with the middle of
the trunk), vertically centred on the joint, moved up or down when it would cover another label
of any person.  The text (the value, then a small ring: the degree sign) is the person's id
colour, lightened (white without tracking), with a dark edge (:func:`livepose.render.outlined_text`),
sized from the person's height within bounds set by the frame's size; people too small
for legible labels (at 720p: under about 100 pixels tall) get none.  An angle whose three points
are not all found is not drawn.

:func:`angle_labels` computes the labels (testable without pixels); :func:`draw_angles` draws
them.  Nothing here runs unless an output was asked to draw angles.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from livepose.render import TEXT_OUTLINE as OUTLINE
from livepose.render import id_colour, outlined_text
from livepose.settings import ANGLE_JOINTS
from livepose.types import People, Poses

FONT = cv2.FONT_HERSHEY_SIMPLEX
WHITE = (255, 255, 255)
_SIDES = ("right", "left")
_TRUNK = ("right_shoulder", "left_shoulder", "right_hip", "left_hip")
#: a person this many pixels tall gets font scale 1 (about 22 px digits)
PX_PER_SCALE = 480.0
#: people below MIN_SHARE of the smallest scale's height get no labels (at 720p: under 96 px tall)
MIN_SHARE = 0.5


@dataclass(frozen=True)
class AngleLabel:
    """One value to draw: ``text`` (whole degrees) for ``joint`` (``"knee_right"``) of row
    ``person``, whose joint is at ``anchor`` (x, y); ``org`` is cv2.putText's origin (the
    bottom-left of the text), ``box`` (x0, y0, x1, y1) the pixels the text and the degree sign
    after it cover."""

    person: int
    joint: str
    value: float
    text: str
    anchor: tuple[float, float]
    org: tuple[int, int]
    box: tuple[int, int, int, int]
    scale: float
    thickness: int


def parse_angle_joints(text: str | None) -> tuple[str, ...]:
    """``--angles`` / ``--angles knee,elbow`` -> the joints to draw (ValueError naming a wrong name)."""
    if text is None or not text.strip():
        return ANGLE_JOINTS
    names = tuple(dict.fromkeys(t.strip().lower() for t in text.split(",") if t.strip()))
    wrong = [n for n in names if n not in ANGLE_JOINTS]
    if wrong or not names:
        raise ValueError(f"unknown joint {wrong[0] if wrong else text!r}; choose from {', '.join(ANGLE_JOINTS)} "
                         f"(comma separated), or give no value for all of them")
    return tuple(n for n in ANGLE_JOINTS if n in names)  # always drawn in the same order


@functools.lru_cache(maxsize=256)
def text_size(scale: float) -> tuple[int, int, int, int]:
    """(digit width, text height, baseline, thickness) of the labels at ``scale``."""
    thick = max(1, round(scale * 3))  # bold enough to read over any background
    (w, h), base = cv2.getTextSize("0", FONT, scale, thick)
    return w, h, base, thick


def _scales(xy: np.ndarray, vis: np.ndarray, frame_size: tuple[int, int]) -> np.ndarray:
    """(P,) font scale per person: from the height of its found parts, within the frame's bounds;
    0 for a person too small for its labels to be read without covering it (:data:`MIN_SHARE`)."""
    w, h = frame_size
    ys = np.where(vis, xy[..., 1], np.nan)
    with np.errstate(all="ignore"):
        tall = np.nan_to_num(np.nanmax(ys, axis=1) - np.nanmin(ys, axis=1), nan=0.0)
    side = min(w, h)
    lo, hi = max(0.4, side / 1800), max(0.5, side / 620)
    scale = np.round(np.clip(tall / PX_PER_SCALE, lo, hi) * 20) / 20  # steps of 0.05: few text sizes
    return np.where(tall / PX_PER_SCALE >= lo * MIN_SHARE, scale, 0.0)


def angle_labels(poses: Poses, joints: Sequence[str] = ANGLE_JOINTS, *, frame_size: tuple[int, int],
                 min_conf: float = 0.0) -> list[AngleLabel]:
    """The labels of one frame's ``poses`` (see the module doc), person by person, each person's
    in the order of ``joints``, right side first.  ``frame_size``: (width, height).  Positions
    are computed for every label at once; only the overlap check goes label by label."""
    n = len(poses)
    if n == 0 or not joints:
        return []
    from livepose.analysis.angles import all_angles

    parts = tuple(poses.part_names)
    xy = np.asarray(poses.xy, dtype=np.float64)
    conf = np.asarray(poses.conf, dtype=np.float64)
    kp = np.concatenate([xy, conf[..., None]], axis=-1)  # (P, K, 3)
    try:
        angles = all_angles(kp, parts, min_conf)  # one call for every person
        names = [f"{s}_{j}" for j in joints for s in _SIDES]  # label order: joint, then side
        at = xy[:, [parts.index(name) for name in names]]  # (P, L, 2) the joints' positions
        trunk = [parts.index(name) for name in _TRUNK]
    except (KeyError, ValueError):  # a skeleton without these parts: nothing to draw
        return []
    joint_names = [f"{j}_{s}" for j in joints for s in _SIDES]  # knee_right, knee_left, ...
    values = np.stack([angles[f"{name}_flexion_deg"] for name in joint_names], axis=1)  # (P, L)
    found = np.isfinite(values)
    if not found.any():
        return []
    vis = (conf > min_conf) & np.isfinite(xy).all(-1)
    centre = np.where(vis[:, trunk].any(1), _mean_x(xy[:, trunk], vis[:, trunk]), _mean_x(xy, vis))  # (P,)
    x, y = at[..., 0], at[..., 1]
    other = np.arange(values.shape[1]) ^ 1  # the same joint's other side
    right = (np.arange(values.shape[1]) % 2 == 0)[None, :]
    ox = x[:, other]
    both = found & found[:, other]
    with np.errstate(invalid="ignore"):
        left = np.where(both, (x < ox) | ((x == ox) & right),  # both sides: the one further left goes left
                        np.where(np.isfinite(centre)[:, None], x < centre[:, None], right))
    scales = _scales(xy, vis, frame_size)
    found &= (scales > 0)[:, None]
    rounded = np.rint(np.where(found, values, 0.0)).astype(int)
    digits = 1 + (rounded >= 10) + (rounded >= 100)
    width, height = frame_size
    metrics = {s: text_size(s) for s in np.unique(scales[scales > 0]).tolist()}
    per_person = np.array([metrics[s] if s > 0 else (0, 0, 0, 0) for s in scales.tolist()])  # (P, 4)
    dw, th, base, thick = (per_person[:, k:k + 1] for k in range(4))
    gap = np.maximum(3, np.rint(0.7 * dw))
    tw = dw * digits + degree_width(dw)  # the digits, then a small ring: the degree sign
    with np.errstate(invalid="ignore"):
        x0 = np.where(left, np.rint(x - gap - tw), np.rint(x + gap))
        y1 = np.rint(y + th / 2)
    x0 = np.clip(np.nan_to_num(x0), 0, np.maximum(0, width - tw)).astype(int)
    y1 = np.clip(np.nan_to_num(y1), th, np.maximum(th, height - base)).astype(int)
    taken = np.zeros(((height + _CELL - 1) // _CELL + 1, (width + _CELL - 1) // _CELL + 1), bool)
    out: list[AngleLabel] = []
    for p, k in zip(*np.nonzero(found)):
        b, h = int(base[p, 0]), int(th[p, 0])
        box = _free(taken, int(x0[p, k]), int(y1[p, k]) - h, int(x0[p, k] + tw[p, k]), int(y1[p, k]) + b, h + b,
                    height)
        out.append(AngleLabel(int(p), joint_names[k], float(values[p, k]), str(rounded[p, k]),
                              (float(x[p, k]), float(y[p, k])),
                              (box[0], box[3] - b), box, float(scales[p]), int(thick[p, 0])))
    return out


def degree_width(digit_width):
    """Pixels the degree sign takes after the digits (a ring of :func:`degree_radius`)."""
    return np.maximum(4, np.rint(0.5 * digit_width)).astype(int)


def degree_radius(text_height: int) -> int:
    return max(1, round(text_height * 0.15))


def _mean_x(xy: np.ndarray, vis: np.ndarray) -> np.ndarray:
    """(P,) mean x of the found parts, NaN for a person with none."""
    count = vis.sum(1)
    total = np.where(vis, xy[..., 0], 0.0).sum(1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


_CELL = 2  # pixels per cell of the map of what the labels already cover


def _free(taken: np.ndarray, x0: int, y0: int, x1: int, y1: int, step: int, height: int) -> tuple[int, int, int, int]:
    """The box, moved down or up by whole label heights when it overlaps a label already placed
    (marked in ``taken``, cells of :data:`_CELL` pixels), then marked there."""
    c = _CELL
    box = (x0, y0, x1, y1)
    for shift in (0, step, -step, 2 * step, -2 * step):
        a, b = y0 + shift, y1 + shift
        if shift and (a < 0 or b > height):
            continue
        if not taken[max(0, a) // c:(b + c - 1) // c, x0 // c:(x1 + c - 1) // c].any():
            box = (x0, a, x1, b)
            break
    taken[max(0, box[1]) // c:(box[3] + c - 1) // c, box[0] // c:(box[2] + c - 1) // c] = True
    return box


def _light(colour: tuple[int, int, int]) -> tuple[int, int, int]:
    """The id colour halfway to white: bright on the dark outline, still telling people apart."""
    return tuple((c + 255) // 2 for c in colour)


def draw_angles(image: np.ndarray, people: People, joints: Sequence[str] = ANGLE_JOINTS) -> np.ndarray:
    """Draw the angle labels of ``people`` onto ``image`` (BGR uint8, in place) and return it."""
    h, w = image.shape[:2]
    labels = angle_labels(people.poses, joints, frame_size=(w, h))
    if not labels:
        return image
    ids = people.ids
    colours = {}
    for label in labels:
        colour = colours.get(label.person)
        if colour is None:
            colour = colours[label.person] = _light(id_colour(int(ids[label.person]))) if ids is not None else WHITE
        x0, y0, x1, _ = label.box
        r = degree_radius(label.org[1] - y0)
        ring = (x1 - r - 1, y0 + r + 1)
        cv2.circle(image, ring, r + 1, OUTLINE, -1, cv2.LINE_8)  # a dark disc under it (a thick AA ring: 4x dearer)
        cv2.circle(image, ring, r, colour, 1, cv2.LINE_AA)
        outlined_text(image, label.text, label.org, label.scale, colour, label.thickness, FONT)
    return image


__all__ = ["AngleLabel", "angle_labels", "draw_angles", "parse_angle_joints"]
