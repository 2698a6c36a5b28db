"""livepose batch end to end, as a user runs it (a subprocess, stderr not a terminal): a worker
killed mid-video, a corrupt video among good ones, --force, changed options, --analyze, the
annotated video and OpenPose JSON beside the other outputs, a Ray address that does not answer."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from helpers import CLIP, cut_clip

FRAMES = 10
COMMON = ("--threads", "1", "--max-frames", str(FRAMES))


def livepose(*args, env=None, timeout=300) -> subprocess.CompletedProcess:
    full = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "livepose", *map(str, args)], capture_output=True, text=True,
                          env=full, timeout=timeout)


def rows(out: Path) -> dict:
    return {Path(r["video"]).name: r for r in json.loads((out / "manifest.json").read_text())["videos"]}


def temps(root: Path) -> list[str]:
    return [str(p) for p in root.rglob("*") if ".livepose-" in p.name and ".tmp" in p.name]


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    return [cut_clip(folder / "one.mp4", 0, FRAMES), cut_clip(folder / "two.mp4", 15, FRAMES), cut_clip(folder / "three.mp4", 30, FRAMES)]


def test_worker_killed_mid_video_is_retried_without_partial_files(tmp_path, clips):
    out = tmp_path / "out"
    done = livepose("batch", *clips, "--out", out, "--jsonl", "--coco", "--csv", "--openpose-json", "--video",
                    "--workers", "2", *COMMON, env={"LIVEPOSE_BATCH_TEST_KILL": "two.mp4@4"})
    assert done.returncode == 0, done.stderr
    assert "the worker process died" in done.stderr  # the attempt that was killed, said as a warning
    got = rows(out)
    assert all(r["status"] == "done" and r["frames"] == FRAMES for r in got.values())
    assert got["two.mp4"]["attempts"] == 2
    assert temps(out) == []
    assert sorted(p.name for p in (out / "two" / "openpose").iterdir()) == [
        f"two_{i:012d}_keypoints.json" for i in range(FRAMES)]
    cap = cv2.VideoCapture(str(out / "two" / "two.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == FRAMES
    cap.release()
    # the killed attempt left nothing behind: the outputs are those of one clean run
    ref = tmp_path / "ref"
    ran = livepose("run", clips[1], "--jsonl", ref / "two.jsonl", "--coco", ref / "two.coco.json", "--csv",
                   ref / "two.csv", "--quiet", *COMMON)
    assert ran.returncode == 0, ran.stderr
    for name in ("two.jsonl", "two.coco.json", "two.csv"):
        assert (ref / name).read_bytes() == (out / "two" / name).read_bytes()
    assert sorted(p.name for p in (out / "two").iterdir()) == [".livepose-done.json", "openpose", "two.coco.json",
                                                               "two.csv", "two.jsonl", "two.mp4"]


def test_corrupt_video_is_reported_the_others_finish(tmp_path, clips):
    lib = tmp_path / "lib"
    lib.mkdir()
    shutil.copy(clips[0], lib / "good.mp4")
    data = CLIP.read_bytes()
    (lib / "cut.mp4").write_bytes(data[: len(data) // 3])  # truncated
    garbled = bytearray(data)
    index = data.rfind(b"moov") - 4  # the index of the frames (at the end of this file) garbled
    garbled[index:] = bytes((j * 37) % 251 for j in range(len(data) - index))
    (lib / "garbled.mp4").write_bytes(bytes(garbled))
    out = tmp_path / "out"
    done = livepose("batch", lib, "--out", out, "--jsonl", "--retries", "0", *COMMON)
    assert done.returncode == 2, done.stderr
    got = rows(out)
    assert got["good.mp4"]["status"] == "done" and got["good.mp4"]["frames"] == FRAMES
    for name in ("cut.mp4", "garbled.mp4"):
        assert got[name]["status"] == "failed" and got[name]["attempts"] == 1
        assert got[name]["error"] and "\n" not in got[name]["error"]
        assert not (out / Path(name).stem / ".livepose-done.json").exists()
    assert "1 done, 0 already done, 2 failed" in done.stderr
    assert "Traceback" not in done.stderr
    csv_lines = (out / "manifest.csv").read_text().splitlines()
    assert len(csv_lines) == 4 and sum(",failed," in line for line in csv_lines) == 2
    # again: the good one is skipped, the failed ones are tried again
    again = livepose("batch", lib, "--out", out, "--jsonl", "--retries", "0", *COMMON)
    assert again.returncode == 2
    assert "1 of 3 already done; 2 to do" in again.stderr
    assert rows(out)["good.mp4"]["status"] == "skipped"


def test_force_and_changed_options_redo_analyze_writes_tables(tmp_path, clips):
    out = tmp_path / "out"
    first = livepose("batch", clips[0], "--out", out, *COMMON)
    assert first.returncode == 0, first.stderr
    assert sorted(p.name for p in (out / "one").iterdir()) == [".livepose-done.json", "one.jsonl"]  # --jsonl: default
    mark = out / "one" / ".livepose-done.json"
    before = json.loads(mark.read_text())
    same = livepose("batch", clips[0], "--out", out, *COMMON)
    assert "1 of 1 already done, nothing to do" in same.stderr
    forced = livepose("batch", clips[0], "--out", out, "--force", *COMMON)
    assert forced.returncode == 0 and "1 done" in forced.stderr
    assert json.loads(mark.read_text())["options"] == before["options"]
    changed = livepose("batch", clips[0], "--out", out, "--no-track", *COMMON)
    assert changed.returncode == 0 and "1 done" in changed.stderr, changed.stderr
    assert json.loads(mark.read_text())["options"] != before["options"]
    assert rows(out)["one.mp4"]["distinct_ids"] == 0
    analyzed = livepose("batch", clips[0], "--out", out, "--analyze", "--max-frames", "40", "--threads", "1")
    assert analyzed.returncode == 0, analyzed.stderr
    assert "--analyze: the JSONL it reads is written too" not in analyzed.stderr  # --jsonl is the default output
    assert (out / "one" / "analysis" / "summary.csv").is_file()
    assert json.loads(mark.read_text())["outputs"] == ["jsonl", "analysis"]


def test_gpus_give_each_worker_its_own_device(tmp_path, clips):
    """--gpus 0.5 over two (named) GPUs: four workers, two per GPU, each with CUDA_VISIBLE_DEVICES set
    to its own; the manifest says which each video's worker saw.  (No CUDA is needed: the engine
    chosen on this machine ignores the variable, the plumbing is what is checked.)"""
    out = tmp_path / "out"
    done = livepose("batch", *clips, "--out", out, "--gpus", "0.5", *COMMON, env={"CUDA_VISIBLE_DEVICES": "6,7"})
    assert done.returncode == 0, done.stderr
    assert "3 videos on 3 local workers x 1 network thread, GPUs 6,7" in done.stderr  # never more workers than videos
    assert {r["gpu"] for r in rows(out).values()} <= {"6", "7"}
    assert all(r["status"] == "done" for r in rows(out).values())


def test_ray_worker_killed_mid_video_is_retried(tmp_path, clips):
    pytest.importorskip("ray", reason="Ray is not installed (pip install -e .[ray])")
    out = tmp_path / "out"
    done = livepose("batch", clips[0], clips[1], "--out", out, "--jsonl", "--csv", "--ray", "local", "--workers", "2",
                    "--cpus-per-video", "1", *COMMON, env={"LIVEPOSE_BATCH_TEST_KILL": "one.mp4@3"})
    assert done.returncode == 0, done.stderr
    got = rows(out)
    assert [(r["status"], r["frames"]) for r in got.values()] == [("done", FRAMES)] * 2
    assert got["one.mp4"]["attempts"] == 2 and got["two.mp4"]["attempts"] == 1
    assert temps(out) == []
    ref = tmp_path / "ref.jsonl"
    assert livepose("run", clips[0], "--jsonl", ref, "--quiet", *COMMON).returncode == 0
    assert ref.read_bytes() == (out / "one" / "one.jsonl").read_bytes()


def test_ray_address_not_answering_is_one_line_in_bounded_time(tmp_path):
    pytest.importorskip("ray", reason="Ray is not installed (pip install -e .[ray])")
    done = livepose("batch", CLIP, "--out", tmp_path / "out", "--ray", "127.0.0.1:9", timeout=60)
    assert done.returncode == 1
    assert [line for line in done.stderr.splitlines() if line.strip()] == [
        line for line in done.stderr.splitlines() if line.startswith("error: --ray 127.0.0.1:9: no Ray cluster")]
    assert not (tmp_path / "out").exists()
