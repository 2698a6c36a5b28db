"""Drawing skeletons on images (drawing only: no state, no decoding).

:func:`render_result` is the one drawing of a frame: the pipeline's render stage makes
``result.picture`` with it once per frame when an output shows or writes pictures, and the
outputs that need a picture call it themselves for results made by hand.
"""

from __future__ import annotations

import colorsys

import cv2
import numpy as np

from livepose.types import FrameResult, People, Poses


def limb_colours(num_limbs: int) -> list[tuple[int, int, int]]:
    """Evenly spaced hues, as BGR ints: limb k always gets the same colour."""
    out = []
    for k in range(num_limbs):
        r, g, b = colorsys.hsv_to_rgb(k / max(1, num_limbs), 0.9, 1.0)
        out.append((int(b * 255), int(g * 255), int(r * 255)))
    return out


def id_colour(person_id: int) -> tuple[int, int, int]:
    """A stable, well-spread colour for a person id (golden-ratio hue steps)."""
    r, g, b = colorsys.hsv_to_rgb((person_id * 0.618033988749895) % 1.0, 0.85, 1.0)
    return (int(b * 255), int(g * 255), int(r * 255))


#: the dark edge of text drawn over pictures (:func:`outlined_text`)
TEXT_OUTLINE = (24, 24, 24)
_DIAGONALS = ((-1, -1), (1, -1), (-1, 1), (1, 1))


def outlined_text(image: np.ndarray, text: str, org: tuple[int, int], scale: float, colour, thickness: int,
                  font: int = cv2.FONT_HERSHEY_SIMPLEX) -> None:
    """``text`` in ``colour`` with a dark edge all round, legible over any picture.  The edge is
    the text in :data:`TEXT_OUTLINE` drawn 1 pixel (2 from scale 0.9) off on each diagonal first:
    a thicker stroke does not make an edge (OpenCV 5's putText caps the stroke's width)."""
    x, y = org
    step = 1 if scale < 0.9 else 2
    for dx, dy in _DIAGONALS:
        cv2.putText(image, text, (x + dx * step, y + dy * step), font, scale, TEXT_OUTLINE, thickness, cv2.LINE_AA)
    cv2.putText(image, text, org, font, scale, colour, thickness, cv2.LINE_AA)


def draw_poses(
    image: np.ndarray,
    poses: Poses,
    limbs: np.ndarray,
    person_ids: np.ndarray | None = None,
    thickness: int | None = None,
    carried: np.ndarray | None = None,
) -> np.ndarray:
    """Draw ``poses`` onto ``image`` (BGR uint8, in place) and return it.

    Without ids each limb has its own colour (OpenPose's look); with ids each person is
    drawn in its id's colour and labelled with the id above the head.  ``carried``: (N, P) bool
    (carrying on, :mod:`livepose.carry`): a keypoint carried by optical flow is drawn as a ring
    (a hollow circle of radius ``thickness + 1`` pixels, in the dot's colour) instead of a
    filled dot; the limbs are drawn as always.
    """
    h, w = image.shape[:2]
    if thickness is None:
        thickness = max(2, round(min(h, w) / 180))
    radius = thickness + 1
    colours = limb_colours(len(limbs))
    shift = 4  # sub-pixel drawing: coordinates in 1/16 pixel
    scale = float(1 << shift)
    dot = int(radius * scale)  # cv2's shift applies to the radius too: in 1/16 pixel, for dots and rings
    ring_width = max(2, thickness // 2)
    for n in range(len(poses)):
        xy = poses.xy[n]
        vis = poses.visible[n] & np.isfinite(xy).all(1)  # the records' convention: present = conf > 0 and finite
        hollow = carried[n] if carried is not None else None
        colour = id_colour(int(person_ids[n])) if person_ids is not None else None
        for k, (a, b) in enumerate(limbs):
            if vis[a] and vis[b]:
                pa = (int(xy[a, 0] * scale), int(xy[a, 1] * scale))
                pb = (int(xy[b, 0] * scale), int(xy[b, 1] * scale))
                cv2.line(image, pa, pb, colour or colours[k], thickness, cv2.LINE_AA, shift)
        for p in np.flatnonzero(vis):
            centre = (int(xy[p, 0] * scale), int(xy[p, 1] * scale))
            if hollow is not None and hollow[p]:
                cv2.circle(image, centre, dot, colour or (255, 255, 255), ring_width, cv2.LINE_AA, shift)
            else:
                cv2.circle(image, centre, dot, colour or (255, 255, 255), -1, cv2.LINE_AA, shift)
        if person_ids is not None and vis.any():
            top = int(np.argmin(np.where(vis, xy[:, 1], np.inf)))
            org = (int(xy[top, 0]) - 8, max(20, int(xy[top, 1]) - 14))
            label = str(int(person_ids[n]))
            fs = max(0.7, thickness / 3)
            outlined_text(image, label, org, fs, colour, max(2, thickness - 1))
    return image


def draw_people(image: np.ndarray, people: People, limbs: np.ndarray, thickness: int | None = None) -> np.ndarray:
    """Draw a frame's people onto ``image`` (in place) and return it: in their ids' colours with
    the ids as labels when tracked, else with one colour per limb (:func:`draw_poses`); with
    carrying on (``people.carried``) the keypoints carried by optical flow as rings."""
    return draw_poses(image, people.poses, limbs, people.ids, thickness, carried=people.carried)


def render_result(canvas: np.ndarray | None, result: FrameResult, limbs: np.ndarray) -> np.ndarray:
    """The frame of ``result`` with its people drawn, in ``canvas`` (reused when it has the frame's
    shape and dtype, else a new array is made); returns the canvas.  The frame is not changed."""
    image = result.frame.image
    if canvas is None or canvas.shape != image.shape or canvas.dtype != image.dtype:
        canvas = np.empty_like(image)
    np.copyto(canvas, image)
    return draw_people(canvas, result.people, limbs)
