"""Keypoint file formats of the field: OpenPose's per-image JSON and COCO keypoint results."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from livepose.errors import OutputError
from livepose.types import Poses

OPENPOSE_JSON_VERSION = 1.3


def openpose_document(poses: Poses, person_ids: np.ndarray | None = None) -> dict:
    """OpenPose's per-frame JSON (version 1.3): one entry per person, flat x, y, c triples in the
    network's part order, missing parts as 0, 0, 0; ``person_id`` -1 when there is no tracking."""
    triples = poses.flat_triples()
    people = []
    for n in range(len(poses)):
        pid = -1 if person_ids is None else int(person_ids[n])
        people.append({
            "person_id": [pid],
            "pose_keypoints_2d": [round(float(v), 3) for v in triples[n]],
            "face_keypoints_2d": [],
            "hand_left_keypoints_2d": [],
            "hand_right_keypoints_2d": [],
            "pose_keypoints_3d": [],
            "face_keypoints_3d": [],
            "hand_left_keypoints_3d": [],
            "hand_right_keypoints_3d": [],
        })
    return {"version": OPENPOSE_JSON_VERSION, "people": people}


def coco_results(poses: Poses, image_id: int) -> list[dict]:
    """COCO keypoint results for one image: COCO-17 order, ``category_id`` 1, a score per person.

    Each keypoint is x, y, v with v = 1 where found (COCO's evaluation ignores v in results)
    and 0, 0, 0 where missing.
    """
    coco = poses.to_coco17()
    vis = coco.visible
    kp = np.zeros((len(coco), 17, 3), np.float64)
    kp[..., :2] = np.where(vis[..., None], coco.xy, 0.0)
    kp[..., 2] = vis
    return [
        {
            "image_id": int(image_id),
            "category_id": 1,
            "keypoints": [round(float(v), 2) for v in kp[n].ravel()],
            "score": round(float(coco.score[n]), 5),
        }
        for n in range(len(coco))
    ]


def write_json_atomic(path: Path, document) -> None:
    """Write JSON to a temporary file and rename it, so a reader never sees half a file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(document, fh, separators=(",", ":"))
        os.replace(tmp, path)
    except OSError as exc:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise OutputError(f"{path}: cannot write ({exc.strerror or exc})") from None
