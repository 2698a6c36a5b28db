"""`livepose eval-track`: feed annotated videos through the pipeline with a tracker and score the
tracked people (:mod:`livepose.eval.track_metrics` says what is measured).

Each sequence of the annotation file (:func:`livepose.eval.annotations.sequences`) runs through
its own :class:`~livepose.pipeline.PoseStream` with a fresh tracker, frames in frame order, with
timestamps from the frame ids; a frame whose image cannot be read is scored as empty (its people
missed).  Besides the metrics, the report gives the median milliseconds per stage (preprocess,
inference, decode, track).  With ``offline`` (``livepose eval-track --smoother offline``) each
video is read whole first and scored on the offline-smoothed keypoints
(:mod:`livepose.track.offline`); the report's ``smoothing`` says which keypoints were scored.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path
from typing import Callable

import numpy as np

from livepose.errors import InputError
from livepose.eval.annotations import (
    HEAD_FROM_BOX, HEAD_FROM_RECT, Video, gt_frames, load_posetrack, sequences,
)
from livepose.eval.frames import FrameList, NothingReadable
from livepose.eval.track_metrics import (
    MIN_MATCH, PCK_THRESHOLD, TrackingScorer, _jsonable_id, require_motmetrics,
)
from livepose.pipeline import PoseStream
from livepose.settings import TrackerConfig as _TrackerConfig
from livepose.track.offline import OfflineSmoothing, smooth_people
from livepose.formats import posetrack_people
from livepose.records import record_of
from livepose.types import COCO17_NAMES, People, Poses

DEFAULT_FPS = 25.0
STAGES = ("preprocess", "inference", "decode", "track")


def _tracker_config(tracker) -> dict | None:
    cfg = getattr(tracker, "config", None)
    if cfg is None:
        return None
    if hasattr(cfg, "as_dict"):
        return cfg.as_dict()
    if dataclasses.is_dataclass(cfg):
        return json.loads(json.dumps(dataclasses.asdict(cfg), default=str))
    return None


def _smoothing(tracker_cfg: dict | None, offline: OfflineSmoothing | None) -> dict:
    """The report's ``smoothing``: which keypoints were scored."""
    live = (tracker_cfg or {}).get("smoother")
    if offline is None:
        return {"kind": "live", "smoother": live}
    return {"kind": "offline", "smoother": "offline" if offline.method == "rts" else f"offline-{offline.method}",
            "live": live, "offline": offline.as_dict(), "description": offline.describe()}


def _score_unread(scorer: TrackingScorer, seq: Video, gts: dict, start: int, stop: int, nobody: People) -> None:
    """Score positions ``start`` to ``stop`` of ``seq`` (frames whose image could not be read) as
    frames where nobody was seen."""
    for img in seq.images[start:stop]:
        scorer.add(seq.name, gts[img["id"]], nobody)


def _score_frame(scorer: TrackingScorer, results: list, seq: Video, gts: dict, result, done: int,
                 nobody: People) -> int:
    """Score one result of ``seq`` (after the unread frames before it) and list its predictions;
    returns the positions scored so far."""
    k = result.frame.index
    img, stamp = seq.images[k], seq.timestamps[k]
    _score_unread(scorer, seq, gts, done, k, nobody)
    scorer.add(seq.name, gts[img["id"]], result.people)
    people = posetrack_people(record_of(result), _jsonable_id(img["id"]))
    results.append({"sequence": seq.name, "image_id": _jsonable_id(img["id"]),
                    "file_name": img["file_name"], "frame_id": img.get("frame_id"),
                    "timestamp": round(stamp, 6), "people": people})
    return k + 1


def evaluate_tracking(
    estimator,
    tracker_factory: Callable[[], object] | None,
    annotations_path: str | Path,
    frames_dir: str | Path,
    fps: float | None = None,
    on_frame: Callable[[str, int, float], None] | None = None,
    offline: OfflineSmoothing | None = None,
    carry=None,
) -> tuple[dict, list[dict]]:
    """Run the pipeline of ``estimator`` with a fresh tracker per video over an annotated set and
    score the tracks.

    ``estimator``: a :class:`livepose.estimator.PoseEstimator`.  ``tracker_factory()`` returns a
    new PoseTracker (None: ``PoseTracker(estimator.part_names, TrackerConfig())``).
    ``frames_dir``: the folder the images' ``file_name`` are relative to.  ``fps``: frame rate
    for the tracker's timestamps (default 25; timestamps are frame_id / fps from each video's
    first frame).  ``on_frame(file_name, people_shown, milliseconds)`` after each frame.
    ``offline`` (:class:`~livepose.track.offline.OfflineSmoothing`): the tracker runs live as
    always (its Kalman filter is needed for association), then, once a video has been read, each
    track's raw measured keypoints are smoothed offline (forward and backward, short gaps
    filled: :func:`~livepose.track.offline.smooth_people`) and everything is scored on those
    keypoints instead of the live filter's (the report's ``smoothing`` says which).
    ``carry`` (:class:`~livepose.settings.CarrySettings`): the network on every k-th frame only, the
    frames between carried (:mod:`livepose.carry`); the report's ``carry`` says so, every frame is
    scored.

    Returns (report, per-frame results); the report is JSON-serialisable, each per-frame result
    is {"sequence", "image_id", "file_name", "frame_id", "timestamp", "people": [PoseTrack-style
    predictions: image_id, track_id, keypoints (COCO-17 x, y, confidence), scores, score, state]}.
    A frame whose image cannot be read is listed in ``failed_frames``; its people count as missed.
    """
    require_motmetrics()
    data = load_posetrack(annotations_path)
    frames_dir = Path(frames_dir)
    if not frames_dir.is_dir():
        raise InputError(f"{frames_dir}: frames folder not found")
    if fps is not None and not (isinstance(fps, (int, float)) and math.isfinite(fps) and 0 < fps <= 1000):
        raise InputError(f"fps must be positive and finite (at most 1000), got {fps}")
    if tracker_factory is None:
        from livepose.track import PoseTracker, TrackerConfig

        def tracker_factory():
            return PoseTracker(estimator.part_names, TrackerConfig())

    rate = float(fps) if fps else DEFAULT_FPS
    gts = gt_frames(data)
    joints = np.zeros(17, bool)
    for g in gts.values():
        if len(g.keypoints):
            joints |= (g.keypoints[:, :, 2] > 0).any(0)
    scorer = TrackingScorer(joints if joints.any() else None)
    seqs = sequences(data, rate)
    times: dict[str, list[float]] = {k: [] for k in STAGES}
    failed: list[str] = []
    results: list[dict] = []
    tracker_cfg = None
    part_names = tuple(estimator.part_names)
    nobody = People.detected(Poses.empty(part_names))  # a frame that could not be read
    t_start = time.perf_counter()
    network_frames = 0  # frames the network ran on (carrying: the key frames)
    for seq in seqs:
        tracker = tracker_factory()
        if tracker_cfg is None:
            tracker_cfg = _tracker_config(tracker)
        try:
            source = FrameList([frames_dir / img["file_name"] for img in seq.images], seq.timestamps,
                               folder=frames_dir, what="frames", fps=rate)
        except NothingReadable as exc:
            failed.extend(message for _, message in exc.failures)
            _score_unread(scorer, seq, gts, 0, len(seq.images), nobody)
            continue
        done = 0  # positions of the sequence scored so far
        held: list = []  # offline: the sequence's results, scored once it is smoothed
        with PoseStream(source, estimator, tracker=tracker, carry=carry) as stream:
            for result in stream:
                if result.people.keyframe:  # a carried frame ran no network stage
                    network_frames += 1
                    for name in STAGES:
                        times[name].append(getattr(result.timings, name))
                elif result.timings.carry is not None:
                    times.setdefault("carry", []).append(result.timings.carry)
                if offline is not None:
                    held.append(result)
                    if on_frame:
                        shown = int(result.people.poses.visible.any(1).sum()) if len(result.people) else 0
                        on_frame(seq.images[result.frame.index]["file_name"], shown, result.timings.total)
                    continue
                done = _score_frame(scorer, results, seq, gts, result, done, nobody)
                if on_frame:
                    on_frame(results[-1]["file_name"], len(results[-1]["people"]), result.timings.total)
        if held:
            cfg = getattr(tracker, "config", None)
            smoothed = smooth_people([r.people for r in held], [r.frame.timestamp for r in held],
                                     cfg if isinstance(cfg, _TrackerConfig) else None, offline,
                                     mirror=getattr(tracker, "mirror", None))
            for result, people in zip(held, smoothed):
                done = _score_frame(scorer, results, seq, gts, dataclasses.replace(result, people=people, record=None),
                                    done, nobody)
        _score_unread(scorer, seq, gts, done, len(seq.images), nobody)
        failed.extend(message for _, message in source.failures)
    num_frames = sum(len(s.images) for s in seqs)
    if failed and len(failed) == num_frames:
        raise InputError(f"{frames_dir}: none of the {len(failed)} annotated frames could be read ({failed[0]})")
    scored = scorer.report()
    joint_names = [n for n, j in zip(COCO17_NAMES, scorer.joints) if j]
    report = {
        "annotations": str(annotations_path),
        "frames": str(frames_dir),
        "model": estimator.card.name,
        "input_size": list(estimator.size),
        "decode": estimator.decode_config.as_dict(),
        "suppress": suppress.as_dict() if (suppress := getattr(estimator, "suppress", None)) is not None else None,
        "augment": augment.as_dict() if (augment := getattr(estimator, "augment", None)) is not None else None,
        "engine": {"backend": estimator.network.backend, "precision": estimator.network.precision,
                   "model_file": estimator.network.card.model_path.name},
        "providers": estimator.network.providers,
        "tracker": tracker_cfg,
        "smoothing": _smoothing(tracker_cfg, offline),
        "carry": carry.as_dict() if carry is not None and carry.active else None,
        "network_frames": network_frames,
        "fps": rate,
        "fps_source": "given" if fps else f"default ({DEFAULT_FPS:g}; the annotations give none)",
        "num_sequences": len(seqs),
        "num_frames": num_frames - len(failed),
        "num_gt_people": len(scored["gt_tracks"]),
        "num_gt_poses": sum(t["frames_present"] for t in scored["gt_tracks"]),
        "failed_frames": failed,
        "matching": {
            "rule": (f"a joint is correct within {PCK_THRESHOLD:g} x head size; a person pair may match when "
                     f">= {MIN_MATCH:g} of the annotated joints are correct; distance = 1 - fraction correct"),
            "head_size": (f"{HEAD_FROM_RECT:g} x head_rect diagonal (or bbox_head); without one, fallback "
                          f"{HEAD_FROM_BOX:g} x diagonal of bbox (or of the annotated keypoints' box)"),
            "head_size_sources": scored["head_size_sources"],
            "joints": joint_names,
            "coordinates": ("smoothed (Tracks.smoothed_poses: joints measured in the frame)" if offline is None else
                            "smoothed offline (livepose.track.offline.smooth_people: joints measured in the frame)"),
            "gt_people_ignored": scored["gt_people_ignored"],
            "predicted_joints_in_ignore_regions": scored["joints_in_ignore_regions"],
        },
        "metrics": scored["metrics"],
        "keypoints": scored["keypoints"],
        "jitter": scored["jitter"],
        "every_person_one_id": scored["every_person_one_id"],
        "gt_tracks": scored["gt_tracks"],
        "sequences": scored["sequences"],
        "timings_ms": {k: round(float(np.median(v)), 2) if v else None for k, v in times.items()},
        "seconds": round(time.perf_counter() - t_start, 2),
    }
    return report, results
