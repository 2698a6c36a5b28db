"""Keypoint file formats of the field: OpenPose's per-image JSON, COCO keypoint results and
PoseTrack-style tracking predictions, made from a frame's record (:mod:`livepose.records`).

Each function takes a :class:`~livepose.records.FrameRecord`, a :class:`~livepose.types.FrameResult`
(its record is used) or bare :class:`~livepose.types.Poses` (a record is made of them).
"""

from __future__ import annotations

import numpy as np

from livepose.records import FrameRecord, record_of
from livepose.types import COCO17_NAMES, Poses

OPENPOSE_JSON_VERSION = 1.3
OPENPOSE_DIGITS = 3
COCO_DIGITS = 2
COCO_SCORE_DIGITS = 5
POSETRACK_SCORE_DIGITS = 4


def _record(source, person_ids: np.ndarray | None = None) -> FrameRecord:
    if isinstance(source, Poses):
        return FrameRecord.from_poses(source, person_ids)
    if person_ids is not None:
        raise ValueError("person_ids go with bare Poses; a result or record carries its own ids")
    return record_of(source)


def openpose_document(source, person_ids: np.ndarray | None = None) -> dict:
    """OpenPose's per-frame JSON (version 1.3): one entry per person, flat x, y, c triples in the
    network's part order, missing parts as 0, 0, 0; ``person_id`` -1 when there are no ids.

    Carrying on (the record's ``carried`` given, ``--keyframe-every`` K > 1), two additions
    OpenPose's readers skip: per person ``pose_keypoints_2d_carried``, 0/1 per keypoint in the same
    order (1: carried by optical flow; 0: measured by the network, or missing), and the document's
    ``livepose_keyframe`` (false on a frame the network did not see).

    ``source``: a FrameRecord, a FrameResult, or Poses (then ``person_ids`` may be given)."""
    record = _record(source, person_ids)
    n, p = len(record), len(record.part_names)
    flat = record.xyc.reshape(n, 3 * p).tolist()
    carried = record.json_carried
    people = []
    for k in range(n):
        person = {
            "person_id": [-1 if record.ids is None else int(record.ids[k])],
            "pose_keypoints_2d": [round(v, OPENPOSE_DIGITS) for v in flat[k]],
            "face_keypoints_2d": [],
            "hand_left_keypoints_2d": [],
            "hand_right_keypoints_2d": [],
            "pose_keypoints_3d": [],
            "face_keypoints_3d": [],
            "hand_left_keypoints_3d": [],
            "hand_right_keypoints_3d": [],
        }
        if carried is not None:
            person["pose_keypoints_2d_carried"] = carried[k]
        people.append(person)
    document = {"version": OPENPOSE_JSON_VERSION, "people": people}
    if carried is not None:
        document["livepose_keyframe"] = record.keyframe
    return document


def coco17_index(part_names: tuple[str, ...]) -> list[int]:
    """The rows of ``part_names`` in COCO-17 order; ValueError naming the parts that are missing."""
    missing = [name for name in COCO17_NAMES if name not in part_names]
    if missing:
        raise ValueError(f"these parts cannot give COCO-17 keypoints, missing: {missing}")
    return [part_names.index(name) for name in COCO17_NAMES]


def _coco17_xyc(record: FrameRecord) -> tuple[np.ndarray, np.ndarray]:
    """(N, 17, 3) float64 x, y, conf (0, 0, 0 where missing) and (N, 17) seen, COCO-17 order."""
    index = coco17_index(record.part_names)
    return record.xyc[:, index].astype(np.float64), record.seen[:, index]


def coco_results(source, image_id: int) -> list[dict]:
    """COCO keypoint results for one image: COCO-17 order, ``category_id`` 1, a score per person.

    Each keypoint is x, y, v with v = 1 where found (COCO's evaluation ignores v in results)
    and 0, 0, 0 where missing.  ``source``: a FrameRecord, a FrameResult or Poses.

    Carrying on (the record's ``carried`` given, ``--keyframe-every`` K > 1), two more keys per entry
    (COCO's tools ignore them): ``carried``, 0/1 per keypoint in COCO-17 order (1: carried by optical
    flow; 0: measured by the network, or missing), and ``keyframe``, the frame's (false on a frame
    the network did not see).
    """
    record = _record(source)
    kp, seen = _coco17_xyc(record)
    kp[..., 2] = seen
    rows = kp.reshape(len(record), 51).tolist()
    scores = record.score.tolist()
    entries = [
        {
            "image_id": int(image_id),
            "category_id": 1,
            "keypoints": [round(v, COCO_DIGITS) for v in rows[n]],
            "score": round(scores[n], COCO_SCORE_DIGITS),
        }
        for n in range(len(record))
    ]
    if record.carried is not None and entries:
        index = coco17_index(record.part_names)
        carried = (record.carried & record.seen)[:, index].astype(np.int8).tolist()
        for entry, mask in zip(entries, carried):
            entry["carried"] = mask
            entry["keyframe"] = record.keyframe
    return entries


def posetrack_people(source, image_id) -> list[dict]:
    """PoseTrack-style predictions of one tracked frame (what ``livepose eval-track`` scores).

    Per person with at least one keypoint: ``image_id`` (as given), ``track_id``, ``category_id``
    1, ``keypoints`` (COCO-17 x, y, conf rounded to 2 decimals, 0, 0, 0 where missing),
    ``scores`` (per keypoint conf, 4 decimals), ``score`` (5 decimals) and ``state`` (int).
    ``source``: a tracked FrameRecord or FrameResult.
    """
    record = _record(source)
    if not record.tracked:
        raise ValueError("posetrack_people needs a tracked frame (ids and states)")
    kp, _ = _coco17_xyc(record)
    keep = np.flatnonzero(record.seen.any(1))
    rows = kp.tolist()
    scores = record.score.tolist()
    out = []
    for n in keep.tolist():
        flat = [v for row in rows[n] for v in row]
        out.append({"image_id": image_id, "track_id": int(record.ids[n]), "category_id": 1,
                    "keypoints": [round(v, COCO_DIGITS) for v in flat],
                    "scores": [round(row[2], POSETRACK_SCORE_DIGITS) for row in rows[n]],
                    "score": round(scores[n], COCO_SCORE_DIGITS), "state": int(record.state[n])})
    return out


def __getattr__(name: str):
    # ``livepose.formats.write_json_atomic``: the package's one atomic writer lives with the file
    # outputs (livepose.sinks.files.atomic); imported on first use, so this module stays light.
    if name == "write_json_atomic":
        from livepose.sinks.files.atomic import write_json_atomic

        return write_json_atomic
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "OPENPOSE_JSON_VERSION", "coco17_index", "coco_results", "openpose_document", "posetrack_people",
    "write_json_atomic",
]
