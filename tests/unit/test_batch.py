"""livepose batch (livepose.batch): inputs, output folders, manifest, options hash, temp cleanup,
and the whole command on short clips: local workers and a local Ray give byte-identical JSONL,
COCO and CSV to ``livepose run`` with the same options; a second batch does no work; bad inputs
are one line each, with nothing written.  (Killed workers, corrupt videos, --force, --analyze:
tests/e2e/test_batch_e2e.py.)"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from helpers import CLIP, cut_clip, error_line, run_cli

from livepose.batch.inputs import expand_inputs, output_stems
from livepose.batch.job import DONE_MARKER, clean_temps, options_hash
from livepose.batch.manifest import COLUMNS, Manifest
from livepose.errors import InputError

FRAMES = 10  # per test clip: the whole command stays a few seconds
COMMON = ("--threads", "1", "--max-frames", str(FRAMES))


def run_outputs(video: Path, folder: Path, extra=()) -> Path:
    """``livepose run VIDEO`` (in this process) with the outputs the identity tests compare, in ``folder``."""
    from livepose.cli import main

    folder.mkdir(parents=True, exist_ok=True)
    code = main([str(a) for a in ("run", video, "--jsonl", folder / "x.jsonl", "--coco", folder / "x.coco.json",
                                  "--csv", folder / "x.csv", "--quiet", *COMMON, *extra)])
    assert code == 0
    return folder


def assert_same_outputs(ran: Path, batched: Path, stem: str) -> None:
    for mine, theirs in (("x.jsonl", f"{stem}.jsonl"), ("x.coco.json", f"{stem}.coco.json"), ("x.csv", f"{stem}.csv")):
        a, b = (ran / mine).read_bytes(), (batched / theirs).read_bytes()
        assert a and a == b, f"{theirs} differs from livepose run's"


def no_temps(root: Path) -> list[str]:
    return [str(p) for p in root.rglob("*") if ".livepose-" in p.name and p.name.endswith((".tmp", ".tmp.mp4"))]


# -- inputs and names ------------------------------------------------------------------------------
def test_inputs_folders_globs_lists_and_hidden_files(tmp_path):
    (tmp_path / "lib" / "sub").mkdir(parents=True)
    for name in ("b.mp4", "a.MOV", ".hidden.mp4", "._a.mp4", "notes.txt", "c.avi"):
        (tmp_path / "lib" / name).write_bytes(b"x")
    (tmp_path / "lib" / "sub" / "d.mkv").write_bytes(b"x")
    listed = tmp_path / "list.txt"
    listed.write_text("# my videos\n\nlib/sub/d.mkv\n   \nlib/b.mp4\n" + str(tmp_path / "lib" / "c.avi") + "\n")
    videos = expand_inputs([str(tmp_path / "lib"), str(tmp_path / "lib" / "**" / "*.mkv"), str(listed)])
    names = [p.relative_to(tmp_path).as_posix() for p in videos]
    # folder: name order, hidden and non-video files skipped; each video once, at its first place
    assert names == ["lib/a.MOV", "lib/b.mp4", "lib/c.avi", "lib/sub/d.mkv"]
    assert all(p.is_absolute() for p in videos)


@pytest.mark.parametrize("spec, expected", [
    ("nothing/*.mp4", "the pattern matches no video file"),
    ("missing.txt", "cannot read the list file"),
    ("missing.mp4", "no such video file or folder"),
    ("empty", "no video files in this folder"),
    ("comments.txt", "the list file names no video"),
])
def test_inputs_that_give_no_video(tmp_path, monkeypatch, spec, expected):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    (tmp_path / "comments.txt").write_text("# nothing\n\n")
    with pytest.raises(InputError, match=expected):
        expand_inputs([spec])


def test_list_file_paths_are_relative_to_the_list_file(tmp_path, monkeypatch):
    (tmp_path / "lists").mkdir()
    (tmp_path / "v.mp4").write_bytes(b"x")
    (tmp_path / "lists" / "l.txt").write_text("../v.mp4\n")
    monkeypatch.chdir("/")
    assert expand_inputs([str(tmp_path / "lists" / "l.txt")]) == [tmp_path / "v.mp4"]
    (tmp_path / "lists" / "bad.txt").write_text("../v.mp4\nnope.mp4\n")
    with pytest.raises(InputError, match=r"nope.mp4 \(listed in .*bad.txt\): no such video"):
        expand_inputs([str(tmp_path / "lists" / "bad.txt")])


def test_equal_stems_get_distinct_deterministic_folders():
    videos = [Path("/a/match.mp4"), Path("/b/match.mov"), Path("/c/other.mp4"), Path("/d/b/match.mp4"),
              Path("/e/Other.avi")]
    stems = output_stems(videos)
    assert stems == ["match-a", "match-b", "other-c", "match-b-2", "Other-e"]
    assert output_stems(videos) == stems
    assert output_stems([Path("/x/solo.mp4")]) == ["solo"]


# -- manifest, hash, temporary files --------------------------------------------------------------
def test_manifest_rows_in_order_one_line_errors(tmp_path):
    m = Manifest(tmp_path, ["/v/a.mp4", "/v/b.mp4"], ["a", "b"], options="abc", mode="local")
    m.update("/v/b.mp4", status="failed", attempts=2, error="bad\nvideo", video="ignored")
    m.update("/v/a.mp4", status="done", frames=10, fps=5.0, attempts=1)
    m.write()
    lines = (tmp_path / "manifest.csv").read_text().splitlines()
    assert lines[0] == ",".join(COLUMNS)
    assert lines[1].startswith("/v/a.mp4,a,done,10,") and lines[2].startswith("/v/b.mp4,b,failed,")
    assert lines[2].endswith(",2,bad video,")
    doc = json.loads((tmp_path / "manifest.json").read_text())
    assert doc["counts"] == {"done": 1, "skipped": 0, "failed": 1, "pending": 0}
    assert [v["video"] for v in doc["videos"]] == ["/v/a.mp4", "/v/b.mp4"]
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]  # written through temporary names, renamed


def test_options_hash_follows_what_changes_the_outputs():
    from livepose.settings import RunConfig

    base = RunConfig()
    h = options_hash(base, ("jsonl",), False)
    assert h == options_hash(base.with_(model=base.model.with_(threads=3)), ("jsonl",), False)
    assert h != options_hash(base.with_(tracking=False), ("jsonl",), False)
    assert h != options_hash(base.with_(capture=base.capture.with_(max_frames=5)), ("jsonl",), False)
    assert h != options_hash(base, ("jsonl", "csv"), False)
    assert h != options_hash(base, ("jsonl",), True)


def test_clean_temps_removes_what_killed_attempts_left(tmp_path):
    (tmp_path / "openpose" / ".x_keypoints.livepose-99999999.tmp").mkdir(parents=True)
    (tmp_path / "openpose" / ".x_keypoints.livepose-99999999.tmp" / "f.json").write_text("{}")
    stale = [tmp_path / ".x.jsonl.livepose-99999999.tmp", tmp_path / ".x.mp4.livepose-99999998.tmp.mp4"]
    for p in stale:
        p.write_text("partial")
    mine = tmp_path / f".x.csv.livepose-{os.getpid()}.tmp"
    keep = [tmp_path / "x.jsonl", tmp_path / ".livepose-done.json", mine]
    for p in keep:
        p.write_text("kept")
    removed = clean_temps(tmp_path)
    assert len(removed) == 3
    assert all(p.exists() for p in keep) and not any(p.exists() for p in stale)
    assert not (tmp_path / "openpose" / ".x_keypoints.livepose-99999999.tmp").exists()


# -- the command -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    (folder / "more").mkdir()
    return [cut_clip(folder / "first.mp4", 0, FRAMES), cut_clip(folder / "second.mp4", 20, FRAMES),
            cut_clip(folder / "more" / "third.mp4", 35, FRAMES)]


@pytest.fixture(scope="module")
def ran(tmp_path_factory, clips):
    """Each clip through ``livepose run`` with the options the batches get: {stem: folder of x.*}."""
    folder = tmp_path_factory.mktemp("ran")
    return {clip.stem: run_outputs(clip, folder / clip.stem) for clip in clips}


def test_local_batch_matches_livepose_run_and_resumes(tmp_path, capsys, clips, ran):
    out = tmp_path / "results"
    code, _, err = run_cli(capsys, "batch", clips[0].parent, clips[2].parent / "*.mp4", "--out", out, "--jsonl",
                           "--coco", "--csv", "--workers", "2", *COMMON)
    assert code == 0, err
    assert "3 done, 0 already done, 0 failed" in err
    rows = json.loads((out / "manifest.json").read_text())["videos"]
    assert [(Path(r["video"]).name, r["status"], r["frames"], r["attempts"]) for r in rows] == [
        ("first.mp4", "done", FRAMES, 1), ("second.mp4", "done", FRAMES, 1), ("third.mp4", "done", FRAMES, 1)]
    for clip in clips:
        assert_same_outputs(ran[clip.stem], out / clip.stem, clip.stem)
    assert (out / "manifest.csv").read_text().count("\n") == 4
    assert no_temps(out) == []
    # the same command again: nothing to do, nothing rewritten
    marks = {c.stem: (out / c.stem / DONE_MARKER).stat().st_mtime_ns for c in clips}
    jsonl = (out / "first" / "first.jsonl").stat().st_mtime_ns
    code, _, err = run_cli(capsys, "batch", clips[0].parent, clips[2].parent / "*.mp4", "--out", out, "--jsonl",
                           "--coco", "--csv", "--workers", "2", *COMMON)
    assert code == 0 and "3 of 3 already done, nothing to do" in err, err
    assert {c.stem: (out / c.stem / DONE_MARKER).stat().st_mtime_ns for c in clips} == marks
    assert (out / "first" / "first.jsonl").stat().st_mtime_ns == jsonl
    assert [r["status"] for r in json.loads((out / "manifest.json").read_text())["videos"]] == ["skipped"] * 3


def test_ray_batch_matches_livepose_run(tmp_path, capsys, clips, ran):
    pytest.importorskip("ray", reason="Ray is not installed (pip install -e .[ray])")
    out = tmp_path / "results"
    code, _, err = run_cli(capsys, "batch", clips[0], clips[1], "--out", out, "--jsonl", "--coco", "--csv",
                           "--ray", "local", "--workers", "2", "--cpus-per-video", "1", *COMMON)
    assert code == 0, err
    assert "Ray: a private cluster on this machine, 2 CPUs" in err
    rows = json.loads((out / "manifest.json").read_text())
    assert rows["mode"] == "ray local"
    assert [(r["status"], r["frames"], r["attempts"]) for r in rows["videos"]] == [("done", FRAMES, 1)] * 2
    for clip in clips[:2]:
        assert_same_outputs(ran[clip.stem], out / clip.stem, clip.stem)
    assert no_temps(out) == []


@pytest.mark.parametrize("args, code, message", [
    (("--workers", "0"), 2, "--workers must be at least 1, got 0"),
    (("--retries", "-1"), 2, "--retries must be 0 or more"),
    (("--ray", "local", "--gpus"), 2, "--gpus is for local workers"),
    (("--cpus-per-video", "2"), 2, "--cpus-per-video and --gpus-per-video are for --ray"),
])
def test_bad_numbers_are_one_line_and_write_nothing(tmp_path, capsys, args, code, message):
    got, _, err = run_cli(capsys, "batch", CLIP, "--out", tmp_path / "out", *args)
    assert got == code and message in error_line(err)
    assert not (tmp_path / "out").exists()


def test_offline_smoothing_and_angles_as_livepose_run_gives_them(tmp_path, capsys, clips):
    """--smoother offline (run's two passes) and --angles reach every video: the same files as
    livepose run with those options; a batch with other options is redone, not skipped."""
    extra = ("--smoother", "offline")
    ran = run_outputs(clips[0], tmp_path / "ran", extra)
    out = tmp_path / "results"
    code, _, err = run_cli(capsys, "batch", clips[0], "--out", out, "--jsonl", "--coco", "--csv", "--workers", "1",
                           *COMMON, *extra)
    assert code == 0, err
    assert_same_outputs(ran, out / clips[0].stem, clips[0].stem)
    live = run_outputs(clips[0], tmp_path / "live")
    assert (live / "x.jsonl").read_bytes() != (ran / "x.jsonl").read_bytes()  # offline keypoints differ from live
    code, _, err = run_cli(capsys, "batch", clips[0], "--out", out, "--jsonl", "--coco", "--csv", "--workers", "1",
                           *COMMON, "--video", "--angles", "knee", *extra)
    assert code == 0 and "1 done, 0 already done" in err, err
    assert (out / clips[0].stem / f"{clips[0].stem}.mp4").stat().st_size > 0
    # what offline smoothing refuses is one line before any video runs
    code, _, err = run_cli(capsys, "batch", clips[0], "--out", tmp_path / "no", "--no-track", *extra)
    assert code == 2 and "needs tracking" in error_line(err)
    assert not (tmp_path / "no").exists()


def test_keyframe_every_as_livepose_run_gives_it(tmp_path, capsys, clips):
    """--keyframe-every 3 (the network on every third frame, keypoints carried between) reaches
    the videos: the same files as livepose run --keyframe-every 3; a bad K is one line."""
    extra = ("--keyframe-every", "3")
    ran = run_outputs(clips[1], tmp_path / "ran", extra)
    assert '"keyframe":false' in (ran / "x.jsonl").read_text()  # carried frames are marked
    assert (ran / "x.csv").read_text().splitlines()[0].endswith(",conf,carried")  # in the CSV and COCO too
    assert '"carried":[' in (ran / "x.coco.json").read_text()
    out = tmp_path / "results"
    code, _, err = run_cli(capsys, "batch", clips[1], "--out", out, "--jsonl", "--coco", "--csv", "--workers", "1",
                           *COMMON, *extra)
    assert code == 0, err
    assert_same_outputs(ran, out / clips[1].stem, clips[1].stem)
    code, _, err = run_cli(capsys, "batch", clips[1], "--out", tmp_path / "no", "--keyframe-every", "0")
    assert code == 2 and "--keyframe-every" in error_line(err)
    assert not (tmp_path / "no").exists()


def test_bad_inputs_are_one_line_and_write_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    for inputs, message in (((tmp_path / "none" / "*.mp4",), "the pattern matches no video file"),
                            ((CLIP, tmp_path / "list.txt"), "cannot read the list file (no such file)"),
                            ((tmp_path,), "no video files in this folder")):
        code, _, err = run_cli(capsys, "batch", *inputs, "--out", out)
        assert code == 2 and message in error_line(err)
    assert not out.exists()
    inside = tmp_path / "res" / "clip"
    inside.mkdir(parents=True)
    (inside / "clip.mp4").write_bytes(b"x")  # an annotated video an earlier batch wrote
    code, _, err = run_cli(capsys, "batch", tmp_path / "res" / "**" / "*.mp4", "--out", tmp_path / "res")
    assert code == 2 and "every video given is inside --out" in error_line(err)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = run_cli(capsys, "batch", CLIP, "--out", blocker / "out")
    assert code == 4 and "cannot create the folder" in error_line(err)


def test_ray_missing_or_not_answering_is_one_line(tmp_path, capsys, monkeypatch):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, _, err = run_cli(capsys, "batch", CLIP, "--out", tmp_path / "out", "--ray", f"127.0.0.1:{port}")
    if _ray_importable():
        assert code == 1 and f"no Ray cluster answers at 127.0.0.1:{port}" in error_line(err)
    else:
        assert code == 1 and 'pip install -e ".[ray]"' in error_line(err)
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    code, _, err = run_cli(capsys, "batch", CLIP, "--out", tmp_path / "out", "--ray", "auto")
    assert code == 1 and 'pip install -e ".[ray]"' in error_line(err)
    assert not (tmp_path / "out").exists()


def test_gpus_without_a_gpu_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    code, _, err = run_cli(capsys, "batch", CLIP, "--out", tmp_path / "out", "--gpus")
    assert code == 1 and "--gpus: no CUDA GPU found" in error_line(err)
    assert not (tmp_path / "out").exists()


def test_gpu_slots_and_local_plan(monkeypatch):
    import argparse

    from livepose.batch import command

    assert command.gpu_slots(1.0, ["0", "1"]) == ["0", "1"]
    assert command.gpu_slots(0.5, ["0", "1"]) == ["0", "0", "1", "1"]
    assert command.gpu_slots(2.0, ["0", "1", "2"]) == ["0,1"]
    monkeypatch.setattr(command, "cores", lambda: 8)
    args = argparse.Namespace(gpus=None, threads=None, workers=None)
    assert command.plan_local(args, 100) == (4, 2, None)
    assert command.plan_local(argparse.Namespace(gpus=None, threads=1, workers=None), 100)[:2] == (8, 1)
    assert command.plan_local(argparse.Namespace(gpus=None, threads=None, workers=3), 100)[:2] == (3, 2)
    assert command.plan_local(argparse.Namespace(gpus=None, threads=None, workers=None), 2)[0] == 2
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5")
    assert command.plan_local(argparse.Namespace(gpus=0.5, threads=None, workers=None), 100) == (
        4, 2, ["4", "4", "5", "5"])


def _ray_importable() -> bool:
    import importlib.util

    return importlib.util.find_spec("ray") is not None


def test_progress_lines_off_a_terminal_and_a_bar_on_one():
    import io

    from livepose.batch.command import BatchProgress
    from livepose.batch.job import Job
    from livepose.settings import RunConfig

    job = Job(video="/v/a.mp4", stem="a", folder="/o/a", config=RunConfig(), options_hash="h", batch_id="b")
    twin = Job(video="/w/a.mp4", stem="a-w", folder="/o/a-w", config=RunConfig(), options_hash="h", batch_id="b")
    log = io.StringIO()
    progress = BatchProgress(2, quiet=False, stream=log)
    progress.done(job, {"status": "done", "frames": 20, "seconds": 2.0, "fps": 10.0, "people_per_frame": 1.5,
                        "distinct_ids": 3, "attempts": 1, "error": ""})
    progress.done(twin, {"status": "failed", "frames": 0, "attempts": 2, "error": "/w/a.mp4: damaged"})
    progress.close()
    first, second = log.getvalue().splitlines()
    assert first.startswith("[1/2] a.mp4: 20 frames in 2.0 s (10.0 FPS), 1.5 people per frame, 3 ids; batch ")
    assert "frames/s, ETA " in first
    assert second.startswith("[2/2] a.mp4 (a-w/): failed after 2 attempts: /w/a.mp4: damaged; batch ")
    assert second.endswith("ETA 00:00:00")

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    screen = Terminal()
    bar = BatchProgress(1, quiet=False, stream=screen)
    assert bar.bar is not None
    bar.done(job, {"status": "done", "frames": 20, "seconds": 2.0, "fps": 10.0, "people_per_frame": 1.5,
                   "distinct_ids": 3, "attempts": 1, "error": ""})
    bar.close()
    assert "1/1" in screen.getvalue() and "frames/s" in screen.getvalue()
    quiet = io.StringIO()
    BatchProgress(1, quiet=True, stream=quiet).done(job, {"status": "done", "frames": 1, "seconds": 1.0, "fps": 1.0,
                                                          "people_per_frame": 0.0, "distinct_ids": 0})
    assert quiet.getvalue() == ""


def test_a_pool_broken_at_submit_retries_the_lost_video_and_charges_nothing_to_the_next(monkeypatch):
    """The race CI hit: one worker is SIGKILLed while another finishes, and the next submit finds
    the pool already broken.  The video in flight counts one attempt and is retried; the video
    being submitted is not charged and runs on the new pool."""
    from concurrent.futures import Future
    from concurrent.futures.process import BrokenProcessPool
    from types import SimpleNamespace

    from livepose.batch import local

    def ok(job):
        return {"video": job.video, "status": "done", "error": ""}

    pools = []

    class Pool:
        def __init__(self, **kwargs):
            self.first = not pools
            self.hung: list[Future] = []
            pools.append(self)

        def submit(self, fn, job):
            future = Future()
            if not self.first or job.video == "a":
                future.set_result(fn(job))
            elif job.video == "b":  # its worker will die
                self.hung.append(future)
            else:  # the worker running b died: the pool is broken before c is sent
                for hung in self.hung:
                    hung.set_exception(BrokenProcessPool("a child process terminated abruptly"))
                raise BrokenProcessPool("a child process terminated abruptly")
            return future

        def shutdown(self, wait=True, cancel_futures=False):
            pass

    monkeypatch.setattr(local, "ProcessPoolExecutor", Pool)
    monkeypatch.setattr(local, "run_job", ok)
    jobs = [SimpleNamespace(video=v, stem=v) for v in "abc"]
    results, retried = {}, []
    local.run_local(jobs, workers=2, retries=1, on_result=lambda j, r: results.__setitem__(j.video, r),
                    on_retry=lambda j, r: retried.append((j.video, r["error"])))
    assert {v: (r["status"], r["attempts"]) for v, r in results.items()} == {
        "a": ("done", 1), "b": ("done", 2), "c": ("done", 1)}
    assert retried == [("b", local.DIED)]
    assert len(pools) == 2
