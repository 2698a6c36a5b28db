"""``--keyframe-every K`` end to end: the network on every K-th frame of the bundled clip, every
frame in every output, the carried keypoints marked, the ids as with the network on every frame;
a flash in the middle of the carried frames; bad values refused in one line."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from helpers import CLIP, count_video_frames, error_line, run_cli
from livepose.settings import CarrySettings


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("carry")
    from livepose.cli import main

    for k in (1, 3):
        code = main(["run", str(CLIP), "--keyframe-every", str(k), "--jsonl", str(out / f"k{k}.jsonl"), "--csv",
                     str(out / f"k{k}.csv"), "--video", str(out / f"k{k}.mp4"), "-q"])
        assert code == 0
    return out


def test_every_frame_is_in_every_output(runs):
    lines = _lines(runs / "k3.jsonl")
    assert [d["frame"] for d in lines] == list(range(50))
    with open(runs / "k3.csv", newline="") as f:
        frames = {int(row["frame"]) for row in csv.DictReader(f)}
    people_frames = {d["frame"] for d in lines if d["people"]}
    assert frames == people_frames and len(frames) >= 45  # the CSV has a row per keypoint seen
    assert count_video_frames(runs / "k3.mp4") == 50


def test_the_jsonl_marks_the_carried_keypoints(runs):
    lines = _lines(runs / "k3.jsonl")
    for d in lines:
        assert d["keyframe"] is (d["frame"] % 3 == 0)
        for person in d["people"]:
            seen = [k[2] > 0 for k in person["keypoints"]]
            assert len(person["carried"]) == len(seen)
            if d["keyframe"]:
                assert not any(person["carried"])
            else:
                assert person["carried"] == [int(s) for s in seen]  # every keypoint shown was carried
    carried = [sum(p["carried"]) for d in lines if not d["keyframe"] for p in d["people"]]
    assert carried and min(carried) >= 3 and np.mean(carried) >= 8  # the walker's points are carried
    # carrying off: the documents are as before
    assert all("keyframe" not in d and all("carried" not in p for p in d["people"]) for d in _lines(runs / "k1.jsonl"))


def test_the_ids_are_those_of_the_network_on_every_frame(runs):
    one = {d["frame"]: [p["id"] for p in d["people"]] for d in _lines(runs / "k1.jsonl")}
    three = {d["frame"]: [p["id"] for p in d["people"]] for d in _lines(runs / "k3.jsonl")}
    both = [n for n in range(50) if one[n] and three[n]]
    assert len(both) >= 45
    assert all(one[n] == three[n] for n in both)
    assert {i for ids in three.values() for i in ids} == {i for ids in one.values() for i in ids}


def test_carried_keypoints_stay_near_the_network_keypoints(runs):
    one = {d["frame"]: d["people"] for d in _lines(runs / "k1.jsonl")}
    errors = []
    for d in _lines(runs / "k3.jsonl"):
        if d["keyframe"] or not d["people"] or not one[d["frame"]]:
            continue
        a, b = d["people"][0], one[d["frame"]][0]
        for (x, y, c), (u, v, w), carried in zip(a["keypoints"], b["raw"], a["carried"]):
            if carried and w > 0:
                errors.append(np.hypot(x - u, y - v))
    assert len(errors) > 100
    assert np.median(errors) < 10.0  # px, a person about 300 px tall


@pytest.mark.parametrize("value", ["0", "-3", "abc", "1.5"])
def test_bad_keyframe_every_is_one_line_exit_2(capsys, tmp_path, value):
    code, _, err = run_cli(capsys, "run", CLIP, "--keyframe-every", value, "--jsonl", tmp_path / "x.jsonl")
    assert code == 2
    assert "--keyframe-every" in error_line(err)
    assert not (tmp_path / "x.jsonl").exists()


def test_a_flash_among_carried_frames_runs_the_network_at_the_next_frame(tmp_path, monkeypatch):
    from livepose.capture import open_source
    from livepose.estimator import PoseEstimator
    from livepose.pipeline import PoseStream
    from livepose.stages import InferenceStage
    from livepose.track import PoseTracker

    run_on = []  # the frames the network ran on (their letterboxes' count per call)
    plain_call = InferenceStage.__call__

    def counted(self, tensor, boxes, images=None):
        run_on.append(len(boxes))
        return plain_call(self, tensor, boxes, images)

    monkeypatch.setattr(InferenceStage, "__call__", counted)

    cap = cv2.VideoCapture(str(CLIP))
    for n in range(12):
        ok, image = cap.read()
        assert ok
        if n == 4:  # a carried frame (K = 3): a white flash
            image = np.full_like(image, 255)
        cv2.imwrite(str(tmp_path / f"{n:03d}.png"), image)
    cap.release()
    est = PoseEstimator(warm_up=False)
    with PoseStream(open_source(str(tmp_path)), est, tracker=PoseTracker(est.part_names),
                    carry=CarrySettings(keyframe_every=3)) as stream:
        results = list(stream)
    assert [r.frame.index for r in results] == list(range(12))
    keyframes = [r.people.keyframe for r in results]
    # frame 5 runs the network after the flash at 4; then every third frame again (6, 9)
    assert keyframes == [True, False, False, True, False, True, True, False, False, True, False, False]
    assert stream.recovered == 1
    assert sum(run_on) == sum(keyframes) == 5  # the network ran on those frames only
    flash = results[4].people
    assert not flash.carried.any() and not flash.poses.visible.any()  # nothing measured there
    assert len(results[5].people) >= 1 and results[5].people.poses.visible.any()


def test_batches_give_the_same_results_with_carrying(runs, tmp_path):
    from livepose.cli import main

    assert main(["run", str(CLIP), "--keyframe-every", "3", "--batch", "4", "--jsonl", str(tmp_path / "b.jsonl"),
                 "-q"]) == 0
    assert (tmp_path / "b.jsonl").read_text() == (runs / "k3.jsonl").read_text()


def test_bonn_with_the_network_on_every_third_frame_keeps_every_id(capsys, tmp_path):
    """eval-track --keyframe-every 3 on Bonn: every frame scored, no identity switch, every person
    one id (MOTA and IDF1 against K = 1: benchmarks/bench_carry.py bonn)."""
    from helpers import SHARED

    bonn = SHARED / "data" / "bonn-posetrack"
    ann = bonn / "annotations" / "bonn_test_060470979_frames_present.json"
    if not ann.exists():
        pytest.skip(f"Bonn PoseTrack data {bonn} is absent (set LIVEPOSE_SHARED to use another shared folder)")
    pytest.importorskip("motmetrics")
    code, out, err = run_cli(capsys, "eval-track", "--annotations", ann, "--frames", bonn, "--keyframe-every", "3",
                             "--json", tmp_path / "r.json", "-q")
    assert code == 0, err
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["carry"]["keyframe_every"] == 3
    assert report["num_frames"] == 41
    assert report["metrics"]["num_switches"] == 0 and report["every_person_one_id"]
    assert report["metrics"]["mota"] > 0.85 and report["metrics"]["idf1"] > 0.9


def test_live_every_captured_frame_gets_a_result_while_the_network_takes_the_newest():
    """The clip played in real time at 50 fps (faster than the network here): with carrying, the frames the
    network does not take still get a result, carried from the last one; ids are kept."""
    from livepose.capture import open_source
    from livepose.estimator import PoseEstimator
    from livepose.pipeline import PoseStream
    from livepose.track import PoseTracker

    est = PoseEstimator(warm_up=False)
    source = open_source(str(CLIP), realtime=True, fps=50)
    with PoseStream(source, est, tracker=PoseTracker(est.part_names), carry=CarrySettings(keyframe_every=2)) as stream:
        results = list(stream)
        read = source.frames_read
    indices = [r.frame.index for r in results]
    assert indices == sorted(set(indices))
    assert len(results) >= 0.9 * (read - indices[0])  # every frame from the first result on, bar tap drops
    for r in results:
        assert r.people.carried is not None and r.people.carried.shape == (len(r.people), len(est.part_names))
    first = next(k for k, r in enumerate(results) if len(r.people))  # before the network's first result: nobody
    with_people = [r for r in results[first:] if len(r.people)]
    assert len(with_people) >= 0.8 * len(results[first:])
    assert len({int(i) for r in with_people for i in r.people.ids}) <= 2  # the walker keeps (at most) one new id
    carried = [r for r in with_people if not r.people.keyframe]
    network = [r for r in with_people if r.people.keyframe]
    assert network and all(r.timings.inference > 0 for r in network)
    assert all(r.people.carried[r.people.poses.visible].all() for r in carried)
