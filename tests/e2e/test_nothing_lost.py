"""Nothing the user has is lost (issue 13, classes 1 and 2), on the real clip and photos:
an output never writes over an input or another output, and a run that fails to start, fails
mid-run or is interrupted never wipes earlier results nor leaves a temporary file behind."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import CLIP, COCO_PHOTOS, PHOTO, error_line, run_cli


def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones too) and its sha256."""
    return {str(p.relative_to(folder)): _sha(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def _temps(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if ".livepose-" in p.name)


def _outputs(out: Path) -> list[str]:
    return ["--jsonl", str(out / "out.jsonl"), "--csv", str(out / "out.csv"), "--coco", str(out / "coco.json"),
            "--openpose-json", str(out / "op"), "--no-display", "--threads", "2"]


def _cli(*argv) -> list[str]:
    return [sys.executable, "-m", "livepose", *map(str, argv)]


@pytest.fixture
def earlier(tmp_path, capsys):
    """A folder with the results of an earlier run (5 frames of the clip) in it."""
    out = tmp_path / "results"
    code, _, err = run_cli(capsys, "run", CLIP, *_outputs(out), "--max-frames", 5, "-q")
    assert code == 0, err
    assert len((out / "out.jsonl").read_text().splitlines()) == 5 and len(list((out / "op").iterdir())) == 5
    return out


def test_a_rerun_that_fails_to_start_keeps_earlier_results(earlier, tmp_path, capsys):
    before = _tree(earlier)
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    bad_card = tmp_path / "bad.json"
    bad_card.write_text('{"name": "broken"}')
    try:
        for extra, code_expected in ((["--video", earlier / "out.mp5"], 4),  # a typo in one option
                                     (["--ws", f"127.0.0.1:{port}"], 4),  # a busy port
                                     (["--card", bad_card], 3),  # a bad card
                                     (["--csv", earlier / "out.csv" / "x.csv"], 4)):  # an output that fails to open
            code, _, err = run_cli(capsys, "run", CLIP, *_outputs(earlier), "--max-frames", 2, "-q", *extra)
            assert code == code_expected, err
            error_line(err)
            assert _tree(earlier) == before, extra  # byte-identical, no temporary file left
    finally:
        busy.close()


def test_an_output_naming_an_input_is_refused(tmp_path, capsys):
    video = tmp_path / "clip.mp4"
    shutil.copy(CLIP, video)
    (tmp_path / "alias.mp4").symlink_to(video)
    digest = _sha(video)
    for option, path in (("--video", video), ("--jsonl", video), ("--csv", tmp_path / "alias.mp4"),
                         ("--coco", tmp_path / "." / "clip.mp4")):
        code, _, err = run_cli(capsys, "run", video, option, path, "--no-display", "-q")
        line = error_line(err)
        assert code == 2 and option in line and "clip.mp4" in line, err
        assert _sha(video) == digest
    code, _, err = run_cli(capsys, "run", tmp_path / "alias.mp4", "--video", video, "--no-display", "-q")
    assert code == 2 and _sha(video) == digest, err
    assert sorted(os.listdir(tmp_path)) == ["alias.mp4", "clip.mp4"]


def test_two_outputs_given_one_path_are_refused(tmp_path, capsys):
    code, _, err = run_cli(capsys, "run", CLIP, "--jsonl", tmp_path / "o.txt", "--csv", tmp_path / "o.txt",
                           "--no-display", "-q")
    line = error_line(err)
    assert code == 2 and "--jsonl" in line and "--csv" in line and str(tmp_path / "o.txt") in line
    assert os.listdir(tmp_path) == []


def test_image_out_into_the_photos_folder_is_refused(tmp_path, capsys):
    photo = tmp_path / "photo.jpg"
    shutil.copy(PHOTO, photo)
    digest = _sha(photo)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        code, _, err = run_cli(capsys, "image", "photo.jpg", "--out", ".")
    finally:
        os.chdir(cwd)
    line = error_line(err)
    assert code == 2 and "photo.jpg" in line and "--out" in line
    assert _sha(photo) == digest and sorted(p.name for p in tmp_path.iterdir()) == ["photo.jpg"]


def test_image_photos_with_one_stem_get_two_names(tmp_path, capsys):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    shutil.copy(COCO_PHOTOS[0], tmp_path / "a" / "x.jpg")
    shutil.copy(COCO_PHOTOS[1], tmp_path / "b" / "x.jpg")
    out = tmp_path / "o"
    code, _, err = run_cli(capsys, "image", tmp_path / "a" / "x.jpg", tmp_path / "b" / "x.jpg", "--out", out)
    assert code == 0, err
    assert sorted(os.listdir(out)) == ["x.jpg", "x_1.jpg", "x_1_keypoints.json", "x_keypoints.json"]
    first, second = (json.loads((out / n).read_text()) for n in ("x_keypoints.json", "x_1_keypoints.json"))
    assert first != second  # two photos, two results: neither overwrote the other


def test_a_rerun_replaces_stale_openpose_frames(earlier, capsys):
    (earlier / "op" / "notes.txt").write_text("mine")
    code, _, err = run_cli(capsys, "run", CLIP, *_outputs(earlier), "--max-frames", 3, "-q")
    assert code == 0, err
    names = sorted(os.listdir(earlier / "op"))
    assert names == ["notes.txt"] + [f"one-by-one-clip_{i:012d}_keypoints.json" for i in range(3)], names
    assert len((earlier / "out.jsonl").read_text().splitlines()) == 3
    assert _temps(earlier) == []


def test_a_write_error_keeps_the_frames_written_and_says_so(earlier, capsys, monkeypatch):
    """A full disk at frame 4 of the JSONL: exit 4, one line naming it and what it kept; the JSONL
    renamed into place holds frames 0-3, whole; the other outputs are closed valid."""
    from livepose.sinks.files import atomic

    real = atomic._write_all
    jsonl_writes = []

    def full_at_fifth_line(fh, data):
        if fh.name.endswith(".out.jsonl.livepose-%d.tmp" % os.getpid()):
            jsonl_writes.append(1)
            if len(jsonl_writes) == 5:
                fh.write(data[:7])
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fh, data)

    monkeypatch.setattr(atomic, "_write_all", full_at_fifth_line)
    code, _, err = run_cli(capsys, "run", CLIP, *_outputs(earlier), "--max-frames", 20, "-q")
    line = error_line(err)
    assert code == 4, err
    assert "out.jsonl: cannot write (No space left on device)" in line and "keeps the first 4 frames" in line, line
    docs = [json.loads(x) for x in (earlier / "out.jsonl").read_text().splitlines()]
    assert [d["frame"] for d in docs] == [0, 1, 2, 3]
    json.loads((earlier / "coco.json").read_text())
    assert _temps(earlier) == []


def _wait_for_temp_lines(folder: Path, name: str, n: int, proc, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if any(len(p.read_bytes().splitlines()) >= n for p in folder.glob(f".{name}.livepose-*.tmp")):
            return
        time.sleep(0.05)


def test_ctrl_c_renames_every_file_into_place(earlier):
    proc = subprocess.Popen(_cli("run", CLIP, "--realtime", *_outputs(earlier)), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    _wait_for_temp_lines(earlier, "out.jsonl", 8, proc)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    docs = [json.loads(x) for x in (earlier / "out.jsonl").read_text().splitlines()]
    assert 8 <= len(docs) < 50
    assert len(list((earlier / "op").glob("*_keypoints.json"))) == len(docs)
    json.loads((earlier / "coco.json").read_text())
    assert _temps(earlier) == []


def test_concurrent_runs_give_one_complete_file(tmp_path):
    out = tmp_path / "same.jsonl"
    procs = [subprocess.Popen(_cli("run", CLIP, "--jsonl", out, "--no-display", "--threads", "1", "-q",
                                   "--max-frames", n), stderr=subprocess.PIPE, text=True) for n in (12, 20)]
    for p in procs:
        _, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
    docs = [json.loads(x) for x in out.read_text().splitlines()]  # every line whole: nothing interleaved
    assert [d["frame"] for d in docs] in (list(range(12)), list(range(20)))
    assert os.listdir(tmp_path) == ["same.jsonl"]


def test_a_killed_runs_temporary_file_is_named_not_removed(tmp_path, capsys):
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    left = tmp_path / f".out.jsonl.livepose-{int(proc.stdout)}.tmp"  # as a run killed by SIGKILL leaves it
    left.write_text('{"frame":0}\n')
    code, _, err = run_cli(capsys, "run", CLIP, "--jsonl", tmp_path / "out.jsonl", "--no-display", "--max-frames", 2)
    assert code == 0, err
    warning = [x for x in err.splitlines() if x.startswith("warning: ") and str(left) in x]
    assert len(warning) == 1 and "killed" in warning[0], err
    assert left.read_text() == '{"frame":0}\n'  # the user decides


def test_a_killed_runs_openpose_frames_are_named(earlier, capsys):
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    left = earlier / "op" / f".one-by-one-clip_keypoints.livepose-{int(proc.stdout)}.tmp"
    left.mkdir()
    (left / "one-by-one-clip_000000000000_keypoints.json").write_text("{}")
    code, _, err = run_cli(capsys, "run", CLIP, "--openpose-json", earlier / "op", "--no-display", "--max-frames", 2)
    assert code == 0, err
    assert any(x.startswith("warning: ") and str(left) in x for x in err.splitlines()), err
    assert left.is_dir() and len(list((earlier / "op").glob("*_keypoints.json"))) == 2


def test_jsonl_to_stdout_streams_into_the_pipe_and_leaves_the_device_alone():
    """A device or pipe output is written in place, never replaced by a renamed temp file: with
    ``--jsonl /dev/stdout`` the lines reach the pipe and /dev/stdout is still what it was."""
    import os
    import subprocess
    import sys

    from helpers import CLIP

    before = os.lstat("/dev/stdout")
    out = subprocess.run([sys.executable, "-m", "livepose", "run", str(CLIP), "--jsonl", "/dev/stdout",
                          "--max-frames", "3", "--quiet"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 3 and all(json.loads(line)["schema"] == "livepose.frame/1" for line in lines)
    after = os.lstat("/dev/stdout")
    assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)
