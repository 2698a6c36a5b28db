"""`livepose run` end to end on a real clip: outputs complete, consistent, valid after interrupts."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from helpers import CLIP, count_video_frames
from livepose.cli import main


def _outputs(out: Path) -> list[str]:
    return ["--video", str(out / "out.mp4"), "--jsonl", str(out / "out.jsonl"), "--openpose-json",
            str(out / "op"), "--coco", str(out / "coco.json"), "--csv", str(out / "out.csv")]


def _check_consistent(out: Path, expect_frames: int | None = None, contiguous: bool = True) -> int:
    """All five outputs parse and agree with each other; returns the number of frames.

    A live run drops frames (gaps in the indices); a file run has every frame."""
    lines = [json.loads(line) for line in (out / "out.jsonl").read_text().splitlines()]
    n = len(lines)
    if expect_frames is not None:
        assert n == expect_frames
    indices = [d["frame"] for d in lines]
    assert indices == sorted(set(indices))
    if contiguous:
        assert indices == list(range(n))
    assert all(d["schema"] == "livepose.frame/1" and d["model"] == "lwop" for d in lines)
    op_files = sorted((out / "op").glob("*_keypoints.json"))
    assert len(op_files) == n
    coco = json.loads((out / "coco.json").read_text())
    assert len(coco) == sum(len(d["people"]) for d in lines)
    with open(out / "out.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted({int(r["frame"]) for r in rows}) == indices
    assert [int(p.name.split("_")[-2]) for p in op_files] == indices
    assert count_video_frames(out / "out.mp4") == n
    # the same keypoints in every format: check the first person of each frame that has one
    for d, op_file in zip(lines, op_files):
        people = d["people"]
        op = json.loads(op_file.read_text())["people"]
        assert len(op) == len(people)
        if not people:
            continue
        kp = np.array([[np.nan if v is None else v for v in p] for p in people[0]["keypoints"]], float)
        flat = np.asarray(op[0]["pose_keypoints_2d"]).reshape(-1, 3)
        found = kp[:, 2] > 0
        np.testing.assert_allclose(flat[found, :2], kp[found, :2], atol=0.02)
        mine = [c for c in coco if c["image_id"] == d["frame"]]
        nose = np.asarray(mine[0]["keypoints"]).reshape(17, 3)[0]
        if found[0]:
            np.testing.assert_allclose(nose[:2], kp[0, :2], atol=0.02)
        csv_nose = next(r for r in rows if int(r["frame"]) == d["frame"] and r["keypoint"] == "nose"
                        and r["person"] == str(people[0]["id"] if people[0]["id"] is not None else 0))
        if found[0]:
            assert abs(float(csv_nose["x"]) - kp[0, 0]) < 0.02
    return n


def test_run_clip_all_outputs(tmp_path, capsys):
    code = main(["run", str(CLIP), *_outputs(tmp_path), "--threads", "2"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert _check_consistent(tmp_path, expect_frames=50) == 50
    # the summary goes to stderr: stdout stays clean (--jsonl /dev/stdout)
    summary = [line for line in err.splitlines() if " frames in " in line]
    assert out == "" and summary and summary[0].startswith("50 frames in ") and "0 dropped" in summary[0], err
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    # a person walks through the whole clip
    assert sum(1 for d in lines if d["people"]) >= 45
    assert lines[10]["width"] == 768 and lines[10]["height"] == 432
    assert lines[10]["time"] == pytest.approx(1.0)
    cap = cv2.VideoCapture(str(tmp_path / "out.mp4"))
    assert (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))) == (768, 432)
    assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(10.0)


def test_run_tracks_the_walking_person_with_one_id(tmp_path, capsys, part_names):
    code = main(["run", str(CLIP), "--jsonl", str(tmp_path / "t.jsonl"), "--openpose-json", str(tmp_path / "op"),
                 "--threads", "2", "-q"])
    assert code == 0, capsys.readouterr().err
    lines = [json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    ids = [p["id"] for d in lines for p in d["people"]]
    assert len(ids) >= 45 and all(isinstance(i, int) and i >= 1 for i in ids)
    assert len(set(ids)) == 1  # one person walks through the clip: one id
    person = next(p for d in lines[10:] for p in d["people"])
    assert person["state"] in ("tentative", "confirmed")
    assert len(person["raw"]) == len(part_names) and len(person["predicted"]) == len(part_names)
    op = json.loads(sorted((tmp_path / "op").iterdir())[20].read_text())
    assert op["people"][0]["person_id"] == [ids[0]]


def test_run_without_tracking_has_no_ids(tmp_path, capsys):
    code = main(["run", str(CLIP), "--jsonl", str(tmp_path / "t.jsonl"), "--no-track", "--max-frames", "5", "-q"])
    assert code == 0, capsys.readouterr().err
    lines = [json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert all(p["id"] is None and "raw" not in p for d in lines for p in d["people"])


def test_run_image_folder_and_max_frames(tmp_path, capsys):
    frames = tmp_path / "frames"
    frames.mkdir()
    cap = cv2.VideoCapture(str(CLIP))
    for i in range(6):
        ok, image = cap.read()
        cv2.imwrite(str(frames / f"f{i:03d}.png"), image)
    code = main(["run", str(frames), "--jsonl", str(tmp_path / "a.jsonl"), "--openpose-json", str(tmp_path / "op"),
                 "--max-frames", "4", "-q"])
    assert code == 0 and capsys.readouterr().out == ""
    assert len((tmp_path / "a.jsonl").read_text().splitlines()) == 4
    assert sorted(p.name for p in (tmp_path / "op").iterdir())[0] == "frames_000000000000_keypoints.json"


def test_python_api_three_lines():
    import livepose

    with livepose.open(str(CLIP), threads=2) as stream:
        results = [(r.frame.index, len(r.poses)) for r in stream]
    assert [i for i, _ in results] == list(range(50))
    assert sum(n for _, n in results) >= 45


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_leaves_valid_outputs(tmp_path, sig):
    """A live (real-time) run stopped by Ctrl-C or SIGTERM: finished frames are written, files valid."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "livepose", "run", str(CLIP), "--realtime", *_outputs(tmp_path),
                             "--threads", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 60
    jsonl = tmp_path / "out.jsonl"
    while time.monotonic() < deadline:  # wait until some frames are out (under the temporary name)
        if any(len(p.read_text().splitlines()) >= 3 for p in tmp_path.glob(f".{jsonl.name}.livepose-*.tmp")):
            break
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    n = _check_consistent(tmp_path, contiguous=False)
    assert 3 <= n < 50
    assert "(interrupted)" in err


def test_bad_sources_and_outputs(tmp_path, capsys):
    def run(*argv):
        code = main([str(a) for a in argv])
        err = capsys.readouterr().err
        assert "Traceback" not in err
        return code, err

    code, err = run("run", tmp_path / "missing.mp4", "--jsonl", tmp_path / "a.jsonl")
    assert code == 2 and "missing.mp4: file not found" in err
    notvideo = tmp_path / "notes.mp4"
    notvideo.write_text("hello")
    code, err = run("run", notvideo, "--jsonl", tmp_path / "a.jsonl")
    assert code == 2 and "notes.mp4" in err
    code, err = run("run", "97", "--jsonl", tmp_path / "a.jsonl")
    assert code == 2 and "camera 97" in err
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, err = run("run", CLIP, "--jsonl", blocker / "a.jsonl")
    assert code == 4 and "a.jsonl" in err
    code, err = run("run", CLIP, "--video", tmp_path / "out.xyz")
    assert code == 4 and "out.xyz" in err
    code, err = run("run", CLIP, "--no-display")
    assert code == 2 and "nothing to do" in err


def test_truncated_video_keeps_what_was_read(tmp_path, capsys):
    """A damaged file: the readable frames are processed and written, then one line says where it stopped."""
    avi = tmp_path / "clip.avi"
    cap = cv2.VideoCapture(str(CLIP))
    writer = cv2.VideoWriter(str(avi), cv2.VideoWriter_fourcc(*"MJPG"), 10, (768, 432))
    for _ in range(30):
        writer.write(cap.read()[1])
    writer.release()
    data = avi.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])
    code = main(["run", str(cut), *_outputs(tmp_path), "-q"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "cut.avi: stopped at frame" in err and "Traceback" not in err
    n = _check_consistent(tmp_path)
    assert 5 <= n < 30
