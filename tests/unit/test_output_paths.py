"""Output paths checked against the inputs and each other (livepose.sinks.files.paths), and the
temporary-name writer (livepose.sinks.files.atomic): an earlier file is never touched before the
new one is complete, and a failed write leaves a valid file."""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from helpers import CLIP, PHOTO
from livepose.errors import InputError, OutputError
from livepose.sinks.files import atomic
from livepose.sinks.files.atomic import PartFile, leftover_temps, temp_path, write_bytes_atomic
from livepose.sinks.files.paths import Output, check_outputs, photo_stems, same_file, source_files


def test_same_file_follows_links(tmp_path):
    real = tmp_path / "clip.mp4"
    shutil.copy(CLIP, real)
    (tmp_path / "link.mp4").symlink_to(real)
    os.link(real, tmp_path / "hard.mp4")
    assert same_file(real, tmp_path / "link.mp4") and same_file(tmp_path / "hard.mp4", real)
    assert same_file(tmp_path / "new.jsonl", tmp_path / "." / "new.jsonl")  # neither exists: by path
    assert not same_file(tmp_path / "a.jsonl", tmp_path / "b.jsonl")


def test_output_that_is_an_input_is_refused(tmp_path):
    video = tmp_path / "clip.mp4"
    shutil.copy(CLIP, video)
    (tmp_path / "alias.mp4").symlink_to(video)
    with pytest.raises(InputError) as err:
        check_outputs([Output("--jsonl", tmp_path / "alias.mp4")], [("the input", video)])
    line = str(err.value)
    assert "\n" not in line and "--jsonl" in line and "alias.mp4" in line and str(video) in line
    assert err.value.exit_code == 2


def test_two_outputs_one_file_are_refused(tmp_path):
    with pytest.raises(InputError) as err:
        check_outputs([Output("--jsonl", tmp_path / "o.txt"), Output("--csv", tmp_path / "x" / ".." / "o.txt")])
    assert "--jsonl" in str(err.value) and "--csv" in str(err.value) and "same file" in str(err.value)
    frames = re.compile(r".+_\d{12}_keypoints\.json")
    with pytest.raises(InputError):  # a file named like the folder output's frames, in that folder
        check_outputs([Output("--openpose-json", tmp_path / "op", frames),
                       Output("--jsonl", tmp_path / "op" / "x_000000000001_keypoints.json")])
    check_outputs([Output("--openpose-json", tmp_path / "op", frames), Output("--jsonl", tmp_path / "op" / "a.jsonl"),
                   Output("--csv", tmp_path / "a.csv")], [("the input", CLIP)])


def test_source_files(tmp_path):
    for name in ("a.jpg", "b.png"):
        shutil.copy(PHOTO, tmp_path / name)
    assert source_files(str(CLIP)) == [CLIP]
    assert source_files(f"file://{CLIP}") == [CLIP]
    assert source_files(str(tmp_path)) == [tmp_path / "a.jpg", tmp_path / "b.png"]
    assert source_files(str(tmp_path / "*.png")) == [tmp_path / "b.png"]
    assert source_files("0") == [] and source_files("rtsp://host/stream") == []


def test_photo_stems_are_distinct_and_deterministic():
    assert photo_stems(["a/x.jpg", "b/x.jpg", "c/y.png"]) == ["x", "x_1", "y"]
    # a generated name never takes another photo's own stem
    assert photo_stems(["a/x.jpg", "b/x.png", "c/x_1.jpg"]) == ["x", "x_2", "x_1"]
    assert photo_stems(["a/x.jpg", "b/x.jpg", "c/x.jpg"]) == ["x", "x_1", "x_2"]


def test_photo_outputs_refuse_writing_over_a_photo(tmp_path):
    from livepose.build import build_photo_outputs

    photo = tmp_path / "photo.jpg"
    shutil.copy(PHOTO, photo)
    with pytest.raises(InputError) as err:
        build_photo_outputs(tmp_path, [photo])
    assert "photo.jpg" in str(err.value) and "--out" in str(err.value) and "\n" not in str(err.value)
    build_photo_outputs(tmp_path, [photo], images=False)  # only photo_keypoints.json: allowed


def test_temp_name_is_hidden_unique_and_beside(tmp_path):
    t = temp_path(tmp_path / "out.jsonl")
    assert t.parent == tmp_path and t.name == f".out.jsonl.livepose-{os.getpid()}.tmp"
    assert atomic.TEMP_PATTERN.fullmatch(t.name)


def test_earlier_file_untouched_until_commit_and_after_discard(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_text("earlier\n")
    part = PartFile(path)
    part.write("new 1\n")
    assert path.read_text() == "earlier\n"
    part.discard()
    assert path.read_text() == "earlier\n" and not part.temp.exists()
    part = PartFile(path)
    part.write("new 1\n")
    part.commit()
    assert path.read_text() == "new 1\n" and not part.temp.exists()


def test_failed_write_is_cut_back_to_the_last_complete_one(tmp_path, monkeypatch):
    path = tmp_path / "out.json"
    part = PartFile(path)
    part.write("[1")
    real = atomic._write_all

    def half_then_full(fh, data):  # a full disk: part of the chunk lands, then ENOSPC
        fh.write(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(atomic, "_write_all", half_then_full)
    with pytest.raises(OutputError) as err:
        part.write(",2222222222")
    assert str(err.value) == f"{path}: cannot write (No space left on device)"
    monkeypatch.setattr(atomic, "_write_all", real)
    part.commit("]")
    assert json.loads(path.read_text()) == [1] and not part.temp.exists()


def test_write_bytes_atomic_leaves_no_temp(tmp_path):
    write_bytes_atomic(tmp_path / "a.bin", b"x")
    assert os.listdir(tmp_path) == ["a.bin"]


def test_leftover_temps_of_dead_runs_are_found(tmp_path):
    path = tmp_path / "out.jsonl"
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(proc.stdout)  # a process that has ended
    left = temp_path(path, pid=dead)
    left.write_text('{"frame":0}\n')
    mine = temp_path(path)  # this process's own: not a leftover
    mine.write_text("")
    other = temp_path(tmp_path / "other.jsonl", pid=dead)
    other.write_text("")
    assert leftover_temps(path) == [left]


def test_a_link_is_written_through_and_a_device_straight_into(tmp_path):
    real = tmp_path / "real.jsonl"
    real.write_text("earlier\n")
    real.chmod(0o600)
    (tmp_path / "link.jsonl").symlink_to(real)
    part = PartFile(tmp_path / "link.jsonl")
    part.write("new\n")
    part.commit()
    assert (tmp_path / "link.jsonl").is_symlink() and real.read_text() == "new\n"
    assert (real.stat().st_mode & 0o777) == 0o600 and sorted(os.listdir(tmp_path)) == ["link.jsonl", "real.jsonl"]
    null = PartFile(os.devnull)  # not replaced by a regular file: written straight into
    assert not null.renamed
    null.write("x\n")
    null.commit()
    assert os.path.exists(os.devnull) and not os.path.isfile(os.devnull)
    write_bytes_atomic(os.devnull, b"x")
    assert not os.path.isfile(os.devnull)
    check_outputs([Output("--jsonl", os.devnull), Output("--csv", os.devnull)])  # both thrown away: fine


def test_a_long_name_gets_a_short_enough_temporary_name(tmp_path):
    long = tmp_path / ("é" * 100 + ".jsonl")  # 206 bytes: allowed, but not with the temporary name's additions
    part = PartFile(long)
    assert len(part.temp.name.encode()) <= 255 and part.temp.parent == tmp_path
    assert temp_path(long) == part.temp and temp_path(tmp_path / ("é" * 100 + ".csv")) != part.temp
    part.write("x\n")
    part.commit()
    assert long.read_text() == "x\n" and os.listdir(tmp_path) == [long.name]
