"""Bad, clumsy or hostile inputs (issue 13, classes 4-7 and 9): one clear line and a documented exit
code, never a traceback, a crash or a hang; nothing already read is lost.  Fast: constructed files
and fake captures (the end-to-end runs are in tests/e2e/test_bad_inputs_e2e.py)."""

from __future__ import annotations

import os
import warnings

import cv2
import numpy as np
import pytest

from helpers import error_line, run_cli
from livepose.capture import ImageSequenceSource, open_source
from livepose.capture.files import VideoSource, _open_video_file
from livepose.cli import _split_argv, build_parser, run_config
from livepose.errors import InputError
from livepose.images import list_images, read_image
from livepose.preprocess import MAX_NET_AREA, NetSizeWarning, parse_size, plan_letterbox


# -- class 6: the documented syntax --------------------------------------------------------------
def test_size_with_a_leading_minus_as_a_separate_argument():
    argv, debug = _split_argv(["run", "a.mp4", "--size", "-1x368", "--jsonl", "x.jsonl"])
    assert argv == ["run", "a.mp4", "--size=-1x368", "--jsonl", "x.jsonl"] and not debug
    assert run_config(build_parser().parse_args(argv)).model.size == (-1, 368)
    # an option after --size is still an option (argparse's own message), a '--' ends the options
    assert _split_argv(["run", "--size", "--jsonl"])[0] == ["run", "--size", "--jsonl"]
    assert _split_argv(["run", "--", "--size", "-1x368"])[0] == ["run", "--", "--size", "-1x368"]
    assert _split_argv(["--debug", "models"]) == (["models"], True)
    assert _split_argv(["run", "x", "--debug"]) == (["run", "x"], True)


# -- class 5 / 9: sizes ------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["7x7", "-1x8", "15x368", "4096x4096", "2049x2048"])
def test_sizes_below_the_stride_or_over_the_area_are_refused(bad):
    with pytest.raises(ValueError):
        parse_size(bad)


def test_size_refused_in_one_line(capsys, tmp_path):
    code, _, err = run_cli(capsys, "image", tmp_path / "none.jpg", "--out", tmp_path, "--size", "7x7")
    line = error_line(err)
    assert code == 2 and "--size" in line and "'7x7'" in line and "16" in line


def test_a_panorama_is_capped_to_the_maximum_input_area():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        box = plan_letterbox((20000, 64), (-1, 368), 8)
    w, h = box.net_size
    assert w * h <= MAX_NET_AREA and w % 8 == 0 and h % 8 == 0
    cw, ch = box.content_size
    assert cw <= w and ch <= h and cw >= 0.95 * w  # the image fills the (capped) input's width
    assert len(caught) == 1 and issubclass(caught[0].category, NetSizeWarning)
    assert "20000x64" in str(caught[0].message) and "4 MP" in str(caught[0].message)
    with warnings.catch_warnings(record=True) as caught:  # an ordinary photo: unchanged, no warning
        warnings.simplefilter("always")
        assert plan_letterbox((640, 429), (-1, 368), 8).net_size == (552, 368)
    assert not caught


@pytest.mark.parametrize("value", ["0", "9", "100000000000", "x"])
def test_upsample_out_of_range_is_refused(capsys, tmp_path, value):
    code, _, err = run_cli(capsys, "image", tmp_path / "none.jpg", "--out", tmp_path, "--upsample", value)
    assert code == 2 and "--upsample" in err and "Traceback" not in err


# -- class 4: a folder with files that cannot be read ----------------------------------------------
def _folder(tmp_path, n=5, bad=(2,)):
    folder = tmp_path / "frames"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        cv2.imwrite(str(folder / f"f{i:02d}.jpg"), rng.integers(0, 255, (48, 64, 3), np.uint8))
    for i in bad:
        data = (folder / f"f{i:02d}.jpg").read_bytes()
        (folder / f"f{i:02d}.jpg").write_bytes(data[: len(data) // 2])  # truncated
    (folder / "._f01.jpg").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X")  # AppleDouble
    (folder / ".hidden.jpg").write_bytes(b"not an image")
    return folder


def test_hidden_files_are_not_frames(tmp_path):
    folder = _folder(tmp_path, bad=())
    assert [p.name for p in list_images([folder])] == [f"f{i:02d}.jpg" for i in range(5)]


def test_a_folder_skips_what_cannot_be_read(tmp_path):
    folder = _folder(tmp_path, bad=(0, 2))
    with open_source(str(folder)) as source:
        frames = list(source)
    assert [f.index for f in frames] == [0, 1, 2]  # every readable frame, indices of frames read
    assert [f.timestamp for f in frames] == pytest.approx([1 / 25, 3 / 25, 4 / 25])  # each file's place
    assert len(source.unreadable) == 2 and all("truncated JPEG" in m for m in source.unreadable)
    assert "f00.jpg" in source.unreadable[0] and "f02.jpg" in source.unreadable[1]
    assert source.stopped_early == f"{folder}: 2 of 5 images could not be read (skipped)"


def test_a_folder_with_nothing_readable_is_one_error(tmp_path):
    folder = _folder(tmp_path, n=2, bad=(0, 1))
    with pytest.raises(InputError, match="none of the 2 images could be read"):
        ImageSequenceSource(list_images([folder]), name="frames", label=str(folder))


# -- class 5: non-regular files and names OpenCV cannot take ------------------------------------------
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_is_refused_at_once(tmp_path):
    for name in ("pipe.jpg", "pipe.mp4"):
        os.mkfifo(tmp_path / name)
    with pytest.raises(InputError, match="not a regular file"):
        read_image(tmp_path / "pipe.jpg")
    with pytest.raises(InputError, match="not a regular file"):
        _open_video_file(tmp_path / "pipe.mp4", "pipe.mp4")
    with pytest.raises(InputError, match="not a regular file"):
        open_source(str(tmp_path / "pipe.mp4"))


def test_a_video_name_that_is_not_utf8_is_refused_before_opencv(tmp_path):
    name = os.fsdecode(b"clip\xff.mp4")
    try:
        (tmp_path / name).write_bytes(b"\x00" * 64)
    except (OSError, UnicodeEncodeError):
        pytest.skip("the file system does not take such a name")
    with pytest.raises(InputError, match="not valid UTF-8") as info:
        open_source(str(tmp_path / name))
    assert "\\xff" in str(info.value)


# -- class 7: a header that lies about the frame rate and count ---------------------------------------
class _LyingCapture:
    """A capture whose header says 20 fps and 100 frames; the frames are 10 fps, ``n`` of them."""

    def __init__(self, n=50, times_ms=None):
        self.n, self.i = n, 0
        self.times_ms = times_ms if times_ms is not None else [100.0 * k for k in range(n)]

    def read(self):
        if self.i >= self.n:
            return False, None
        self.i += 1
        return True, np.zeros((8, 8, 3), np.uint8)

    def get(self, prop):
        return {cv2.CAP_PROP_FPS: 20.0, cv2.CAP_PROP_FRAME_COUNT: 100.0,
                cv2.CAP_PROP_POS_MSEC: self.times_ms[self.i - 1] if self.i else 0.0}.get(prop, 0.0)

    def release(self):
        pass


def test_container_timestamps_win_and_a_short_header_is_a_warning():
    source = VideoSource(_LyingCapture(), name="lie", frame_count=100)
    assert source.fps == 10.0  # from the first two frames' container times: outputs play at the real rate
    stamps = [f.timestamp for f in source]
    assert stamps == pytest.approx([k / 10 for k in range(50)])  # the container's, not index / 20
    assert source.stopped_early is None
    assert len(source.warnings) == 2 and "header says 20 fps" in source.warnings[0]
    assert "declares 100 frames at 20 fps" in source.warnings[1] and "50 frames over 5.0 s" in source.warnings[1]
    given = VideoSource(_LyingCapture(), name="lie", frame_count=100, fps=20.0)  # a rate given: kept
    assert given.fps == 20.0 and not given.warnings


def test_a_truncated_stream_is_still_truncated():
    source = VideoSource(_LyingCapture(n=30, times_ms=[50.0 * k for k in range(30)]), name="cut", frame_count=100)
    stamps = [f.timestamp for f in source]
    assert stamps == pytest.approx([k / 20 for k in range(30)]) and source.fps == 20.0
    assert source.stopped_early and "stopped at frame 30 of 100" in source.stopped_early and not source.warnings


def test_timestamps_without_sane_container_times_are_index_over_fps():
    source = VideoSource(_LyingCapture(n=5, times_ms=[0.0] * 5), name="flat", frame_count=5)
    assert [f.timestamp for f in source] == pytest.approx([k / 20 for k in range(5)])


@pytest.mark.parametrize("fps", ["inf", "nan", "0", "-5", "1e9"])
def test_eval_track_fps_must_be_finite_and_positive(capsys, tmp_path, fps):
    code, _, err = run_cli(capsys, "eval-track", "--annotations", tmp_path / "a.json", "--frames", tmp_path,
                           "--fps", fps)
    line = error_line(err)
    assert code == 2 and line.startswith("error: --fps: must be a number above 0")


# -- class 9 and the last guard --------------------------------------------------------------------------
def test_estimator_refuses_what_is_not_an_image(estimator):
    for bad in (None, "photo.jpg", np.zeros((0, 0, 3), np.uint8)):
        with pytest.raises(InputError, match="expected an image"):
            estimator(bad)
    poses, _ = estimator(np.zeros((64, 64), np.uint8))  # grayscale is converted
    assert len(poses) == 0


def test_an_unexpected_exception_is_one_line(capsys, monkeypatch):
    import livepose.models

    def broken():
        raise RuntimeError("something nobody expected")

    monkeypatch.setattr(livepose.models, "describe_networks", broken)
    code, _, err = run_cli(capsys, "models")
    assert code == 1 and error_line(err) == ("error: internal error: RuntimeError: something nobody expected "
                                             "(rerun with --debug for the traceback)")
    code, _, err = run_cli(capsys, "models", "--debug")
    assert code == 1 and "Traceback" in err and "something nobody expected" in err


_KILLED_AT_START = """
import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a background job started from a script
import livepose.models
livepose.models.describe_networks = lambda: os.kill(os.getpid(), getattr(signal, sys.argv[1])) or ["never"]
from livepose.cli import main
code = main(["models"])
assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN, "main() puts back the handlers it found"
sys.exit(code)
"""


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_sigterm_and_sigint_during_start_up_exit_130(sig):
    """In a process of its own (a signal in the test session would reach native threads of other tests)."""
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-c", _KILLED_AT_START, sig], capture_output=True, text=True, timeout=60)
    assert res.returncode == 130 and "interrupted" in res.stderr and "never" not in res.stdout, res.stderr


def test_a_name_too_long_for_the_file_system_is_one_input_line(capsys, tmp_path):
    long = tmp_path / ("a" * 300 + ".mp4")
    code, _, err = run_cli(capsys, "run", long, "--jsonl", tmp_path / "a.jsonl", "--no-display")
    assert code == 2 and "name too long" in error_line(err)
    code, _, err = run_cli(capsys, "image", long.with_suffix(".jpg"), "--out", tmp_path / "o")
    assert code == 2 and "name too long" in err and "Traceback" not in err


def test_help_says_hidden_files_are_not_frames(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--help"])
    assert "._name" in capsys.readouterr().out
