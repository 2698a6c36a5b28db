"""Tracking evaluation: metric pieces on constructed inputs with known answers, and annotation checks.
(The estimator and the tracker on Bonn PoseTrack and the PoseTrack 2018 fixture: e2e/test_track_real.py.)"""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers import COCO17_BODY as BODY, bundled_card
from livepose.errors import InputError
from livepose.eval import (
    GtFrame, TrackingScorer, evaluate_tracking, head_size, jitter, load_posetrack, match_distances, match_scores,
    smoothing_lag,
)
from livepose.types import COCO17_NAMES, TRACK_CONFIRMED, People, Tracks

pytest.importorskip("motmetrics")

# the bundled network's parts (its own order), so that the tests exercise the mapping to COCO-17
PARTS = bundled_card().parts
TO_PARTS = np.array([PARTS.index(n) for n in COCO17_NAMES])


# ----------------------------------------------------------------------------- constructed scenes


def _skeleton(cx: float, cy: float) -> np.ndarray:
    """(17, 2) a fixed COCO-17 stick figure about 200 px tall centred at (cx, cy)."""
    rel = np.array([[0, -90], [-5, -95], [5, -95], [-10, -92], [10, -92], [-25, -60], [25, -60], [-35, -20],
                    [35, -20], [-40, 15], [40, 15], [-15, 10], [15, 10], [-15, 55], [15, 55], [-15, 100], [15, 100]],
                   np.float64)
    return rel + [cx, cy]


def _scene(frames: int = 20) -> list[GtFrame]:
    """Two people walking towards each other at constant speed, 12 body joints annotated, head size 20."""
    out = []
    for t in range(frames):
        kps = []
        for cx in (100 + 10 * t, 600 - 10 * t):
            kp = np.zeros((17, 3))
            kp[:, :2] = _skeleton(cx, 300)
            kp[BODY, 2] = 2
            kp[~BODY, :2] = 0
            kps.append(kp)
        out.append(GtFrame.from_arrays([0, 1], np.stack(kps), [20.0, 20.0]))
    return out


def _tracks(ids, xy17: np.ndarray, raw17: np.ndarray | None = None) -> Tracks:
    """Tracks in the network's part order from COCO-17 coordinates (parts COCO-17 lacks left unknown)."""
    t = len(ids)
    xy = np.full((t, len(PARTS), 2), np.nan, np.float32)
    xy[:, TO_PARTS] = xy17
    raw = xy.copy()
    if raw17 is not None:
        raw[:, TO_PARTS] = raw17
    conf = np.where(np.isfinite(raw[..., 0]), 0.8, 0.0).astype(np.float32)
    return Tracks(ids=np.asarray(ids, np.int64), xy=xy, xy_raw=raw, conf=conf,
                  predicted=~np.isfinite(raw[..., 0]), state=np.full(t, TRACK_CONFIRMED, np.int8),
                  det_index=np.arange(t, dtype=np.int32), score=np.full(t, 0.9, np.float32), part_names=PARTS)


def _score(scene: list[GtFrame], tracks: list[Tracks]) -> dict:
    scorer = TrackingScorer(BODY)
    for gt, tr in zip(scene, tracks):
        scorer.add("scene", gt, People.from_tracks(tr))
    return scorer.report()


def test_perfect_tracker_scores_one():
    scene = _scene()
    rep = _score(scene, [_tracks([7, 9], gt.keypoints[:, :, :2]) for gt in scene])
    m = rep["metrics"]
    assert m["mota"] == 1.0 and m["idf1"] == 1.0 and m["num_switches"] == 0
    assert m["precision"] == 1.0 and m["recall"] == 1.0 and m["motp"] == 0.0
    assert m["num_frames"] == 20 and m["num_objects"] == 40 and m["mostly_tracked"] == 2
    # the predicted face points are not annotated by the scheme: they count neither way
    assert rep["keypoints"]["smoothed"] == {"precision": 1.0, "recall": 1.0, "correct": 480, "predicted": 480,
                                           "annotated": 480}
    assert rep["every_person_one_id"]
    assert [(t["track_id"], t["ids"], t["frames_covered"]) for t in rep["gt_tracks"]] == [(0, [7], 20), (1, [9], 20)]
    json.dumps(rep, allow_nan=False)


def test_swapping_ids_halfway_is_a_switch():
    scene = _scene()
    tracks = [_tracks([7, 9] if t < 10 else [9, 7], gt.keypoints[:, :, :2]) for t, gt in enumerate(scene)]
    rep = _score(scene, tracks)
    m = rep["metrics"]
    assert m["num_switches"] in (1, 2)
    assert m["idf1"] < 1.0 and m["idf1"] == pytest.approx(0.5)
    assert not rep["every_person_one_id"]
    assert all(t["num_ids"] == 2 and set(t["ids"]) == {7, 9} for t in rep["gt_tracks"])


def test_false_positives_misses_and_keypoint_precision():
    scene = _scene(10)
    tracks = []
    for gt in scene:
        xy = gt.keypoints[:, :, :2].copy()
        xy[1, 11:] = np.nan  # person 1: hips, knees, ankles not found -> 6 of 12 correct, still matched (0.5)
        ghost = _skeleton(350, 100)[None]  # one false positive per frame, far from everyone
        tracks.append(_tracks([1, 2, 3], np.concatenate([xy, ghost])))
    rep = _score(scene, tracks)
    m = rep["metrics"]
    assert m["num_false_positives"] == 10 and m["num_misses"] == 0
    assert m["mota"] == pytest.approx(1 - 10 / 20)
    assert m["precision"] == pytest.approx(2 / 3, abs=1e-4) and m["recall"] == 1.0
    kp = rep["keypoints"]["smoothed"]
    assert (kp["correct"], kp["predicted"], kp["annotated"]) == (180, 180, 240)
    assert kp["precision"] == 1.0 and kp["recall"] == 0.75


def test_match_rule_pckh():
    """A joint is correct within 0.5 x head size; a pair needs half the annotated joints correct."""
    gt = np.zeros((1, 17, 3))
    gt[0, :, :2] = _skeleton(200, 200)
    gt[0, BODY, 2] = 2
    head = np.array([10.0])  # joints within 5 px count
    pred = np.repeat(gt[:, :, :2], 3, axis=0)
    pred[0, BODY] += [4.9, 0]  # all 12 correct
    pred[1, 5:11] += [0, 5.1]  # 6 of 12 correct: allowed, distance 0.5
    pred[2, 5:12] += [5.1, 0]  # 5 of 12 correct: not allowed
    scores = match_scores(gt, head, pred)
    assert scores[0].tolist() == pytest.approx([1.0, 0.5, 5 / 12])
    d = match_distances(scores)
    assert d[0, 0] == 0.0 and d[0, 1] == 0.5 and np.isnan(d[0, 2])
    pred[0, 5] = np.nan  # a joint not found is not correct
    assert match_scores(gt, head, pred)[0, 0] == pytest.approx(11 / 12)


def test_head_size_and_fallback():
    kp = np.zeros((17, 3))
    assert head_size({"head_rect": [10, 20, 40, 60]}, kp) == (pytest.approx(0.6 * 50), "head_rect")
    assert head_size({"bbox_head": [10, 20, 30, 40]}, kp) == (pytest.approx(0.6 * 50), "bbox_head")
    assert head_size({"bbox": [0, 0, 60, 80]}, kp) == (pytest.approx(0.1 * 100), "bbox")
    kp[5] = [0, 0, 2]
    kp[15] = [30, 40, 2]
    assert head_size({}, kp) == (pytest.approx(0.1 * 50), "keypoints")


# ----------------------------------------------------------------------------- jitter and lag


def test_jitter_of_a_straight_line_is_zero():
    t = np.arange(30, dtype=np.float64)
    line = np.stack([3.0 * t + 5, -2.0 * t + 100], axis=-1)[:, None]  # (F, 1 joint, 2)
    assert jitter(line)["raw"] == pytest.approx(0.0, abs=1e-9)
    assert jitter(line)["samples"] == 28


def test_jitter_of_alternating_noise():
    """x alternates +a, -a around a line: |x[t+1] - 2x[t] + x[t-1]| = 4a at every sample."""
    a = 1.5
    t = np.arange(30, dtype=np.float64)
    noisy = np.stack([2.0 * t + a * (-1.0) ** t, np.full_like(t, 50.0)], axis=-1)[:, None]
    smooth = np.stack([2.0 * t, np.full_like(t, 50.0)], axis=-1)[:, None]
    j = jitter(noisy, smooth)
    assert j["raw"] == pytest.approx(4 * a) and j["smoothed"] == pytest.approx(0.0, abs=1e-9)
    assert j["ratio"] == pytest.approx(0.0, abs=1e-9)
    noisy[10, 0] = np.nan  # samples 9, 10, 11 lose their triplet
    assert jitter(noisy)["samples"] == 25


def _wave(t: np.ndarray) -> np.ndarray:
    return np.stack([40 * np.sin(2 * np.pi * t / 17) + 3 * t, 25 * np.cos(2 * np.pi * t / 11)], axis=-1)[:, None]


@pytest.mark.parametrize("delay", [0.0, 1.0, 2.0, -1.0])
def test_lag_of_a_delayed_copy_is_the_delay(delay):
    t = np.arange(60, dtype=np.float64)
    lag = smoothing_lag(raw=_wave(t), smoothed=_wave(t - delay))
    assert lag["lag"] == pytest.approx(delay, abs=1e-9)
    assert lag["rms_at_lag"] == pytest.approx(0.0, abs=1e-6)


def test_lag_fractional_delay():
    t = np.arange(60, dtype=np.float64)
    assert smoothing_lag(raw=_wave(t), smoothed=_wave(t - 1.5))["lag"] == pytest.approx(1.5, abs=0.1)


def test_scorer_jitter_and_lag_over_tracks():
    """Raw joints alternate around the truth; the 'smoothed' ones are the truth one frame late."""
    scene = _scene(31)
    tracks = []
    for t, gt in enumerate(scene[1:]):
        raw = gt.keypoints[:, :, :2] + np.array([2.0, 0.0]) * (-1) ** t
        tracks.append(_tracks([4, 5], scene[t].keypoints[:, :, :2], raw))
    j = _score(scene[1:], tracks)["jitter"]
    assert j["raw_px"] == pytest.approx(8.0, abs=1e-3)  # 4 x 2 px, neck unknown, face joints too
    assert j["smoothed_px"] == pytest.approx(0.0, abs=1e-3)
    assert j["lag_frames"] == pytest.approx(1.0)


# ----------------------------------------------------------------------------- annotation files


def _write(tmp_path, doc, name="A.json"):
    p = tmp_path / name
    p.write_text(json.dumps(doc))
    return p


def _doc():
    kp = [0.0] * 51
    kp[15:18] = [10.0, 20.0, 2]
    return {"images": [{"id": 1, "file_name": "f1.jpg", "frame_id": 0}, {"id": 2, "file_name": "f2.jpg", "frame_id": 1}],
            "annotations": [{"image_id": 1 + k % 2, "track_id": k // 2, "keypoints": list(kp)} for k in range(4)]}


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.pop("annotations"), "field 'annotations' is missing"),
    (lambda d: d["images"][1].pop("file_name"), "field 'images[1].file_name' is missing"),
    (lambda d: d["images"][0].pop("id"), "field 'images[0].id' is missing"),
    (lambda d: d["annotations"][3].pop("track_id"), "field 'annotations[3].track_id' is missing"),
    (lambda d: d["annotations"][2].pop("keypoints"), "field 'annotations[2].keypoints' is missing"),
    (lambda d: d["annotations"][1].pop("image_id"), "field 'annotations[1].image_id' is missing"),
    (lambda d: d["annotations"][0].update(keypoints=[1, 2, 2]), "field 'annotations[0].keypoints' has 3 values"),
    (lambda d: d["annotations"][0].update(image_id=99), "field 'annotations[0].image_id' names no image"),
    (lambda d: d["annotations"][0].update(head_rect=[1, 2]), "field 'annotations[0].head_rect' is not 4 numbers"),
    (lambda d: d["images"][0].update(frame_id="x"), "field 'images[0].frame_id' is not a number"),
])
def test_malformed_annotations_name_the_field(tmp_path, edit, message):
    doc = _doc()
    edit(doc)
    path = _write(tmp_path, doc)
    with pytest.raises(InputError) as exc:
        load_posetrack(path)
    text = str(exc.value)
    assert text.startswith(f"{path}: ") and message in text and "\n" not in text


def test_unreadable_annotation_files(tmp_path):
    with pytest.raises(InputError, match="annotation file not found"):
        load_posetrack(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InputError, match="not a readable JSON"):
        load_posetrack(tmp_path / "bad.json")
    assert len(load_posetrack(_write(tmp_path, _doc()))["annotations"]) == 4


def test_bad_run_arguments_fail_before_any_frame(tmp_path):
    ann = _write(tmp_path, _doc())
    with pytest.raises(InputError, match="frames folder not found"):
        evaluate_tracking(None, None, ann, tmp_path / "nowhere")
    with pytest.raises(InputError, match="fps must be positive"):
        evaluate_tracking(None, None, ann, tmp_path, fps=-5)
    with pytest.raises(InputError, match="field 'images' is missing"):
        evaluate_tracking(None, None, _write(tmp_path, {"annotations": []}, "B.json"), tmp_path)
