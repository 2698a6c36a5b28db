"""`livepose run CLIP --analyze DIR` (the run, then `livepose analyze` of its JSONL into DIR) and
`--angles` (the joint angles drawn on the annotated video), end to end on the example clip."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from helpers import CLIP, CLIP_FRAMES, PHOTO, SHARED, error_line, run_cli, video_frames
from livepose.render_angles import angle_labels
from livepose.types import Poses

HAVE_MPL = importlib.util.find_spec("matplotlib") is not None
LONG, LONG_FRAMES = SHARED / "data" / "video" / "one-by-one-768x432-10fps.mp4", 1394  # shared/data/README.md


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two runs of the clip: with --angles and --analyze DIR alone (the JSONL in DIR), and without
    --angles, with --jsonl X --analyze DIR2."""
    d = tmp_path_factory.mktemp("run_analyze")
    out = {}
    for name, extra in (("angles", ["--angles", "--video", d / "angles.mp4", "--analyze", d / "rep"]),
                        ("plain", ["--video", d / "plain.mp4", "--jsonl", d / "x.jsonl", "--analyze", d / "rep2"])):
        r = subprocess.run([sys.executable, "-m", "livepose", "run", str(CLIP), "--threads", "2", *map(str, extra)],
                           capture_output=True, text=True, timeout=600)
        out[name] = (r.returncode, r.stderr)
    return d, out


def test_analyze_dir_alone_holds_the_jsonl_and_the_analysis(runs):
    d, out = runs
    code, err = out["angles"]
    assert code == 0, err
    rep = d / "rep"
    lines = (rep / "poses.jsonl").read_text().splitlines()
    assert len(lines) == CLIP_FRAMES
    names = sorted(p.name for p in rep.iterdir())
    assert "summary.csv" in names and "summary.json" in names
    assert [n for n in names if n.startswith("person_") and n.endswith(".csv")]
    if HAVE_MPL:
        assert "report.html" in names and "trajectories.png" in names
    assert not [n for n in names if n.startswith(".")]  # no temporary file left
    assert "1 person analyzed from 50 frames" in err  # analyze's one line
    assert json.loads((rep / "summary.json").read_text())["source"] == str(rep / "poses.jsonl")


def test_analyze_with_jsonl_analyzes_that_file(runs):
    d, out = runs
    code, err = out["plain"]
    assert code == 0, err
    assert len((d / "x.jsonl").read_text().splitlines()) == CLIP_FRAMES
    assert not (d / "rep2" / "poses.jsonl").exists()
    doc = json.loads((d / "rep2" / "summary.json").read_text())
    assert doc["source"] == str(d / "x.jsonl") and doc["frames"] == CLIP_FRAMES and len(doc["people"]) == 1


def test_angles_are_drawn_on_the_video_beside_the_joints(runs, part_names):
    d, out = runs
    assert out["angles"][0] == 0 and out["plain"][0] == 0
    drawn, plain = video_frames(d / "angles.mp4"), video_frames(d / "plain.mp4")
    assert len(drawn) == len(plain) == CLIP_FRAMES
    records = [json.loads(line) for line in (d / "rep" / "poses.jsonl").read_text().splitlines()]
    labelled = hits = 0
    for a, b, rec in zip(drawn, plain, records):
        if not rec["people"]:
            continue
        kp = np.array([[[np.nan if v is None else v for v in k] for k in p["keypoints"]] for p in rec["people"]],
                      np.float32)
        poses = Poses(kp[..., :2], kp[..., 2], np.ones(len(kp), np.float32), tuple(part_names))
        labels = angle_labels(poses, frame_size=(rec["width"], rec["height"]))
        diff = np.abs(a.astype(int) - b.astype(int)).max(-1)
        for lab in labels:
            x0, y0, x1, y1 = lab.box
            labelled += 1
            hits += diff[y0:y1, x0:x1].max() > 60
    assert labelled > 50
    assert hits >= 0.9 * labelled  # each label is in the video where angle_labels puts it


def test_no_track_refused_before_anything(tmp_path, capsys):
    code, _, err = run_cli(capsys, "run", CLIP, "--no-track", "--analyze", tmp_path / "rep")
    assert code == 2
    assert "--analyze needs tracking" in error_line(err)
    assert not list(tmp_path.iterdir())


def test_bad_folders_refused_before_anything(tmp_path, capsys):
    code, _, err = run_cli(capsys, "run", CLIP, "--video", tmp_path / "rep", "--analyze", tmp_path / "rep")
    assert code == 2 and "same file" in error_line(err)
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    code, _, err = run_cli(capsys, "run", CLIP, "--analyze", blocker)
    assert code == 4 and "in the way" in error_line(err)
    code, _, err = run_cli(capsys, "run", CLIP, "--analyze", blocker / "rep")
    assert code == 4 and "in the way" in error_line(err)
    code, _, err = run_cli(capsys, "run", CLIP, "--jsonl", "/dev/stdout", "--analyze", tmp_path / "rep")
    assert code == 2 and "not a regular file" in error_line(err)
    code, _, err = run_cli(capsys, "run", CLIP, "--jsonl", tmp_path / "rep" / "summary.json", "--analyze",
                           tmp_path / "rep")
    assert code == 2 and "--analyze" in error_line(err)
    frames = tmp_path / "frames"
    frames.mkdir()
    shutil.copy(PHOTO, frames / "0001.jpg")
    code, _, err = run_cli(capsys, "run", frames, "--analyze", frames)
    assert code == 2 and "is the input folder" in error_line(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker", "frames"]
    assert [p.name for p in frames.iterdir()] == ["0001.jpg"]


def test_ctrl_c_still_gets_its_analysis(tmp_path):
    """A run stopped with Ctrl-C: the frames done are analyzed, and the exit code stays 130."""
    rep = tmp_path / "rep"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    # a long file (read at the network's pace) when the shared data is here, else the clip played live
    source = [str(LONG)] if LONG.is_file() else [str(CLIP), "--realtime"]
    proc = subprocess.Popen([sys.executable, "-m", "livepose", "run", *source, "--analyze", str(rep),
                             "--threads", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 60  # a hang guard, not a timing check
    while time.monotonic() < deadline:
        if any(len(p.read_text().splitlines()) >= 15 for p in rep.glob(".poses.jsonl.livepose-*.tmp")):
            break
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "(interrupted)" in err
    n = len((rep / "poses.jsonl").read_text().splitlines())
    assert 15 <= n < (LONG_FRAMES if LONG.is_file() else CLIP_FRAMES)
    doc = json.loads((rep / "summary.json").read_text())
    assert doc["frames"] == n
    assert f"analyzed from {n} frames" in err


def test_a_failed_analysis_is_one_line_and_keeps_the_runs_code(tmp_path, capsys):
    from livepose.cli import _analyze_run
    from livepose.run_analyze import AnalysisPlan

    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    plan = AnalysisPlan(tmp_path / "rep", empty, None)
    assert _analyze_run(plan, 0, False) == 2
    assert "no frames" in error_line(capsys.readouterr().err)
    assert _analyze_run(plan, 130, False) == 130  # Ctrl-C's code stays
    capsys.readouterr()
    assert _analyze_run(plan, 0, True) == 2 and "no frames" in error_line(capsys.readouterr().err)  # also --quiet
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.jsonl"]
