"""Reading and checking annotation files: COCO person_keypoints (``livepose eval``) and
PoseTrack-style videos (``livepose eval-track``).

Every problem is one InputError line naming the file and the field.  For tracking the file is
also turned into what scoring needs: the videos in frame order with their timestamps
(:func:`sequences`) and the annotated people of every frame in COCO-17 order (:func:`gt_frames`,
:class:`GtFrame`, head sizes by :func:`head_size`).

PoseTrack-style annotations are COCO-like JSON: ``images`` (``id``, ``file_name``, optionally
``frame_id`` and ``vid_id``) and ``annotations`` (``image_id``, ``track_id``, ``keypoints`` as
x, y, v triples, optionally ``head_rect`` [x1, y1, x2, y2], ``bbox_head`` [x, y, w, h] or
``bbox`` [x, y, w, h]).  Keypoints are in COCO-17 order unless ``categories[0].keypoints``
names them (PoseTrack 2018's head_bottom / head_top are then left out: the network has no such
parts).  Each ``vid_id`` is one sequence; its frames run in ``frame_id`` order (file name order
without frame ids).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from livepose.errors import InputError
from livepose.types import COCO17_NAMES

HEAD_FROM_RECT = 0.6  # head size = 0.6 x head-rectangle diagonal (PoseTrack, MPII PCKh)
HEAD_FROM_BOX = 0.1  # fallback: head size = 0.1 x person-box diagonal (0.105 median on Bonn)


def read_annotation_json(path: str | Path) -> dict:
    """Parse an annotation file (COCO or PoseTrack style) into its top-level object, or raise
    InputError with one line naming the file and the problem."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: annotation file not found") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not an annotation file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable JSON annotation file ({exc})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected an object with 'images' and 'annotations'")
    return data


# ----------------------------------------------------------------------------- COCO


def load_coco_keypoints(path: Path) -> dict:
    """Read a COCO person_keypoints file, checking the fields evaluation needs."""
    data = read_annotation_json(path)
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise InputError(f"{path}: field '{key}' is missing or not a list")
    for k, img in enumerate(data["images"]):
        for key in ("id", "file_name"):
            if key not in img:
                raise InputError(f"{path}: field 'images[{k}].{key}' is missing")
    for k, ann in enumerate(data["annotations"]):
        for key in ("image_id", "keypoints", "category_id"):
            if key not in ann:
                raise InputError(f"{path}: field 'annotations[{k}].{key}' is missing")
    return data


# ----------------------------------------------------------------------------- PoseTrack


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _box4(value) -> bool:
    return isinstance(value, (list, tuple)) and len(value) == 4 and all(_is_number(v) for v in value)


def load_posetrack(path: str | Path) -> dict:
    """Read a PoseTrack-style annotation file, checking every field evaluation uses.

    Raises InputError with one line naming the file and the missing or malformed field.
    Returns the parsed JSON object unchanged.
    """
    path = Path(path)
    data = read_annotation_json(path)
    for key in ("images", "annotations"):
        if key not in data:
            raise InputError(f"{path}: field '{key}' is missing")
        if not isinstance(data[key], list):
            raise InputError(f"{path}: field '{key}' is not a list")
    if not data["images"]:
        raise InputError(f"{path}: field 'images' is empty")
    names = _keypoint_names(data, path)
    ids = set()
    for k, img in enumerate(data["images"]):
        where = f"images[{k}]"
        if not isinstance(img, dict):
            raise InputError(f"{path}: field '{where}' is not an object")
        for key in ("id", "file_name"):
            if key not in img:
                raise InputError(f"{path}: field '{where}.{key}' is missing")
        if not isinstance(img["file_name"], str) or not img["file_name"]:
            raise InputError(f"{path}: field '{where}.file_name' is not a file name")
        if "frame_id" in img and not (_is_number(img["frame_id"])):
            raise InputError(f"{path}: field '{where}.frame_id' is not a number")
        rx, ry = img.get("ignore_regions_x"), img.get("ignore_regions_y")
        if rx is not None or ry is not None:
            if not (isinstance(rx, list) and isinstance(ry, list) and len(rx) == len(ry)
                    and all(isinstance(a, list) and isinstance(b, list) and len(a) == len(b)
                            and all(_is_number(v) for v in a + b) for a, b in zip(rx, ry))):
                raise InputError(f"{path}: fields '{where}.ignore_regions_x' and '_y' are not matching lists "
                                 "of polygon coordinates")
        if img["id"] in ids:
            raise InputError(f"{path}: field '{where}.id' repeats image id {img['id']!r}")
        ids.add(img["id"])
    for k, ann in enumerate(data["annotations"]):
        where = f"annotations[{k}]"
        if not isinstance(ann, dict):
            raise InputError(f"{path}: field '{where}' is not an object")
        for key in ("image_id", "track_id", "keypoints"):
            if key not in ann:
                raise InputError(f"{path}: field '{where}.{key}' is missing")
        if ann["image_id"] not in ids:
            raise InputError(f"{path}: field '{where}.image_id' names no image (id {ann['image_id']!r})")
        if not isinstance(ann["track_id"], (int, str)) or isinstance(ann["track_id"], bool):
            raise InputError(f"{path}: field '{where}.track_id' is not an integer or string id")
        kp = ann["keypoints"]
        if not isinstance(kp, list) or len(kp) != 3 * len(names):
            n = len(kp) if isinstance(kp, list) else "no"
            raise InputError(f"{path}: field '{where}.keypoints' has {n} values, expected {3 * len(names)} "
                             f"(x, y, v for {len(names)} keypoints)")
        if not all(_is_number(v) for v in kp):
            raise InputError(f"{path}: field '{where}.keypoints' holds a value that is not a number")
        for key in ("head_rect", "bbox_head", "bbox"):
            if key in ann and ann[key] is not None and not _box4(ann[key]):
                raise InputError(f"{path}: field '{where}.{key}' is not 4 numbers")
    return data


def _keypoint_names(data: dict, path: Path | str = "annotations") -> tuple[str, ...]:
    """The annotation's keypoint names: ``categories[0].keypoints`` when given, else COCO-17."""
    cats = data.get("categories")
    if isinstance(cats, list) and cats and isinstance(cats[0], dict) and "keypoints" in cats[0]:
        names = cats[0]["keypoints"]
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise InputError(f"{path}: field 'categories[0].keypoints' is not a list of names")
        if not set(names) & set(COCO17_NAMES):
            raise InputError(f"{path}: field 'categories[0].keypoints' shares no name with COCO-17 keypoints")
        return tuple(names)
    return COCO17_NAMES


@dataclass(frozen=True)
class GtFrame:
    """The annotated people of one frame, in COCO-17 order.

    ``track_ids``: (M,) ground-truth person ids; ``keypoints``: (M, 17, 3) x, y, v (v = 0 where
    not annotated, also for joints the annotation scheme lacks); ``head_size``: (M,) pixels.
    ``head_source``: (M,) where each head size came from: head_rect, bbox_head, bbox or keypoints.
    ``evaluate``: False for frames run through the tracker but not scored (``is_labeled`` false).
    ``ignore_regions``: (K, 2) polygons (PoseTrack's ignore_regions_x / _y) where predicted joints
    are dropped before matching (unannotated people); a prediction left without joints is dropped.
    """

    track_ids: np.ndarray
    keypoints: np.ndarray
    head_size: np.ndarray
    head_source: tuple[str, ...] = ()
    evaluate: bool = True
    ignore_regions: tuple[np.ndarray, ...] = ()

    @classmethod
    def from_arrays(cls, track_ids, keypoints, head_size) -> "GtFrame":
        kp = np.asarray(keypoints, np.float64).reshape(-1, 17, 3)
        return cls(np.asarray(track_ids), kp, np.asarray(head_size, np.float64).reshape(-1),
                   ("given",) * len(kp))


@dataclass
class Video:
    """One video of the annotation file: its name and its images in frame order."""

    name: str
    images: list[dict]
    timestamps: list[float]


def head_size(ann: dict, kp17: np.ndarray) -> tuple[float, str]:
    """PoseTrack's head size of one annotation, and where it came from.

    0.6 x the diagonal of ``head_rect`` ([x1, y1, x2, y2]) or of ``bbox_head`` ([x, y, w, h]);
    without a head box, 0.1 x the diagonal of ``bbox`` ([x, y, w, h]) or of the box around the
    annotated keypoints (on Bonn, 0.6 x head diagonal is 0.105 x the person box's diagonal).
    """
    if _box4(ann.get("head_rect")):
        x1, y1, x2, y2 = ann["head_rect"]
        return HEAD_FROM_RECT * math.hypot(x2 - x1, y2 - y1), "head_rect"
    if _box4(ann.get("bbox_head")):
        _, _, w, h = ann["bbox_head"]
        return HEAD_FROM_RECT * math.hypot(w, h), "bbox_head"
    if _box4(ann.get("bbox")) and ann["bbox"][2] > 0 and ann["bbox"][3] > 0:
        _, _, w, h = ann["bbox"]
        return HEAD_FROM_BOX * math.hypot(w, h), "bbox"
    vis = kp17[:, 2] > 0
    if vis.sum() >= 2:
        span = kp17[vis, :2].max(0) - kp17[vis, :2].min(0)
        return HEAD_FROM_BOX * float(np.hypot(*span)), "keypoints"
    return 0.0, "none"


def _natural_key(name: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def sequences(data: dict, fps: float) -> list[Video]:
    """The videos of an annotation file (by ``vid_id``), each with its images in frame order and
    their timestamps: (frame_id - first frame_id) / fps, or position / fps without frame ids."""
    titles = {}
    if isinstance(data.get("videos"), list):
        titles = {str(v.get("id")): str(v["name"]) for v in data["videos"] if isinstance(v, dict) and "name" in v}
    groups: dict[str, list[dict]] = {}
    for img in data["images"]:
        groups.setdefault(str(img.get("vid_id", "")), []).append(img)
    out = []
    for name, imgs in groups.items():
        if all("frame_id" in img for img in imgs):
            imgs = sorted(imgs, key=lambda img: (img["frame_id"], _natural_key(img["file_name"])))
            first = imgs[0]["frame_id"]
            stamps = [(img["frame_id"] - first) / fps for img in imgs]
        else:
            imgs = sorted(imgs, key=lambda img: _natural_key(img["file_name"]))
            stamps = [k / fps for k in range(len(imgs))]
        if not name:
            name = str(Path(imgs[0]["file_name"]).parent) if len(groups) == 1 else "(no vid_id)"
        out.append(Video(titles.get(name, name), imgs, stamps))
    return out


def gt_frames(data: dict) -> dict:
    """``image id -> GtFrame`` for every image (empty frames included)."""
    names = _keypoint_names(data)
    index = np.array([names.index(n) if n in names else -1 for n in COCO17_NAMES])
    per_image: dict = {img["id"]: [] for img in data["images"]}
    for ann in data["annotations"]:
        per_image[ann["image_id"]].append(ann)
    out = {}
    for img in data["images"]:
        anns = per_image[img["id"]]
        kps = np.zeros((len(anns), 17, 3), np.float64)
        sizes, sources, tids = [], [], []
        for m, ann in enumerate(anns):
            raw = np.asarray(ann["keypoints"], np.float64).reshape(-1, 3)
            kps[m, index >= 0] = raw[index[index >= 0]]
            kps[m, kps[m, :, 2] <= 0] = 0.0
            s, src = head_size(ann, kps[m])
            sizes.append(s)
            sources.append(src)
            tids.append(ann["track_id"])
        regions = tuple(np.stack([np.asarray(x, np.float32), np.asarray(y, np.float32)], axis=1)
                        for x, y in zip(img.get("ignore_regions_x") or [], img.get("ignore_regions_y") or [])
                        if len(x) >= 3)
        out[img["id"]] = GtFrame(np.array(tids, dtype=object), kps, np.array(sizes, np.float64), tuple(sources),
                                 evaluate=img.get("is_labeled", True) is not False, ignore_regions=regions)
    return out
