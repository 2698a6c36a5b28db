"""The tracker and the tracking evaluation on real sequences, through the bundled network: the 41
Bonn PoseTrack frames (every annotated person keeps one id, smoothing cuts jitter; ``evaluate_tracking``'s
report) and the PoseTrack 2018 fixture (several videos, an unreadable frame).  Both live in the shared
data folder and skip, saying why, when it is absent."""

from __future__ import annotations

import json
import math
import shutil

import cv2
import numpy as np
import pytest

from helpers import (COCO17_BODY, COCO17_BODY_NAMES, SHARED, check_tracks_contract, jitter_ratio, lag_frames,
                     trajectories)
from livepose.eval import evaluate_tracking
from livepose.track import PoseTracker, TrackerConfig

pytest.importorskip("motmetrics")

BONN = SHARED / "data" / "bonn-posetrack"
BONN_ANN = BONN / "annotations" / "bonn_test_060470979_frames_present.json"
POSETRACK18 = SHARED / "data" / "posetrack18-fixture"


def _bonn_or_skip():
    if not BONN_ANN.is_file():
        pytest.skip(f"Bonn PoseTrack data {BONN} is absent (set LIVEPOSE_SHARED to use another shared folder)")


# -- the tracker ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bonn_run(request):
    """The 41 frames through the bundled network and a default tracker (frames taken as 25 FPS):
    [(poses, tracks, annotations of the frame)]."""
    _bonn_or_skip()
    ann = json.loads(next((BONN / "annotations").glob("*.json")).read_text())
    images = sorted(ann["images"], key=lambda im: im["frame_id"])
    estimator = request.getfixturevalue("estimator")  # conftest's, shared with the other tests
    tracker = PoseTracker(estimator.part_names)
    frames = []
    for im in images:
        poses, _ = estimator(cv2.imread(str(BONN / im["file_name"])))
        tracks = tracker.update(poses, im["frame_id"] / 25.0)
        people = [a for a in ann["annotations"] if a["image_id"] == im["id"]]
        frames.append((poses, tracks, people))
    return frames


def test_bonn_every_person_keeps_one_id(bonn_run):
    from scipy.optimize import linear_sum_assignment

    ids: dict = {}
    for poses, tracks, people in bonn_run:
        check_tracks_contract(tracks, poses)
        coco = poses.to_coco17().xy[:, COCO17_BODY].astype(np.float64)
        gt = np.array([np.reshape(a["keypoints"], (17, 3))[COCO17_BODY] for a in people])
        d = np.sqrt(((coco[:, None] - gt[None, :, :, :2]) ** 2).sum(-1))  # (N, G, 12)
        d = np.where(gt[None, :, :, 2] > 0, d, np.nan)
        mean = np.nanmean(np.where(np.isnan(d), np.nan, d), axis=2)
        mean = np.nan_to_num(mean, nan=1e6)
        rows, cols = linear_sum_assignment(mean)
        for det, g in zip(rows, cols):
            assert mean[det, g] < 40.0, "detections lie on the annotated people"
            row = np.flatnonzero(tracks.det_index == det)
            assert len(row) == 1, "every detection of an annotated person is tracked"
            ids.setdefault(people[g]["track_id"], []).append(int(tracks.ids[row[0]]))
    assert len(ids) == 4
    for person, seq in ids.items():
        assert len(seq) == len(bonn_run) and len(set(seq)) == 1, (person, seq)


def test_bonn_smoothing_cuts_jitter(bonn_run):
    pairs = trajectories([tracks for _, tracks, _ in bonn_run])
    ratio, lag = jitter_ratio(pairs), lag_frames(pairs)
    assert ratio <= 0.5 and lag <= 1.0, (ratio, lag)


# -- eval-track's report -------------------------------------------------------------------------
def _tracker_factory(estimator):
    return lambda: PoseTracker(estimator.part_names, TrackerConfig())


@pytest.fixture(scope="module")
def bonn_report(estimator):
    _bonn_or_skip()
    report, results = evaluate_tracking(estimator, _tracker_factory(estimator), BONN_ANN, BONN)
    return report, results


def test_bonn_end_to_end(bonn_report):
    report, results = bonn_report
    json.dumps(report, allow_nan=False)
    print(json.dumps({k: report[k] for k in ("metrics", "keypoints", "jitter", "gt_tracks", "timings_ms")}))
    m, j = report["metrics"], report["jitter"]
    assert report["num_frames"] == 41 and report["num_gt_people"] == 4 and not report["failed_frames"]
    assert report["matching"]["joints"] == list(COCO17_BODY_NAMES)
    assert report["matching"]["head_size_sources"] == {"head_rect": 164}
    assert len(results) == 41 and [r["frame_id"] for r in results] == list(range(41))
    assert m["num_switches"] == 0
    assert report["every_person_one_id"], report["gt_tracks"]
    assert [t["num_ids"] for t in report["gt_tracks"]] == [1, 1, 1, 1]
    assert m["mota"] > 0.8 and m["idf1"] > 0.8
    assert j["smoothed_px"] <= 0.5 * j["raw_px"]
    assert j["lag_frames"] is not None and j["lag_frames"] <= 1.0
    assert set(report["timings_ms"]) == {"preprocess", "inference", "decode", "track"}


def test_multi_video_posetrack18_and_unreadable_frames(estimator, tmp_path):
    """PoseTrack 2018 files: one tracker per vid_id, head_bottom / head_top left out, bbox_head
    head sizes, ignore regions; a frame that cannot be read is listed and its people missed."""
    ann = POSETRACK18 / "annotations" / "test_posetrack18_val.json"
    if not ann.is_file():
        pytest.skip(f"PoseTrack 2018 fixture {POSETRACK18} is absent")
    frames = tmp_path / "frames"
    shutil.copytree(POSETRACK18 / "images", frames / "images")
    (frames / "images" / "val" / "009473_mpii_test" / "000000.jpg").write_bytes(b"not a jpeg")
    seen = []
    report, results = evaluate_tracking(estimator, None, ann, frames, fps=30,  # None: the default tracker
                                        on_frame=lambda name, n, ms: seen.append((name, n, ms)))
    json.dumps(report, allow_nan=False)
    assert [name for name, _, _ in seen] == [r["file_name"] for r in results]
    assert all(n == len(r["people"]) and ms > 0 for (_, n, ms), r in zip(seen, results))
    assert report["num_sequences"] == 3 and report["num_frames"] == 2 and len(results) == 2
    assert len(report["failed_frames"]) == 1 and "009473" in report["failed_frames"][0]
    assert "head_bottom" not in report["matching"]["joints"] and "nose" in report["matching"]["joints"]
    assert report["matching"]["head_size_sources"] == {"bbox_head": 14}
    assert report["matching"]["predicted_joints_in_ignore_regions"] > 0
    seq = {s["sequence"]: s for s in report["sequences"]}
    assert seq["009473"]["num_misses"] == 2 and seq["009473"]["num_matches"] == 0
    assert report["metrics"]["num_objects"] == 14 and math.isfinite(report["metrics"]["motp"])
    assert report["fps"] == 30 and report["fps_source"] == "given"
