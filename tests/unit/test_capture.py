"""Frame sources, kind by kind: files never drop, live sources keep the newest frame, reconnect, and
stop cleanly; broken files and unopenable devices fail at open with one line.

Live behaviour is tested with a fake camera (no device needed); timings are checked loosely.  What
every source promises alike (size, frames, fixed_size, close, repr) is in contract/test_sources.py.
"""

from __future__ import annotations

import functools
import shutil
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from helpers import CLIP, CLIP_FPS, CLIP_FRAMES, CLIP_SIZE, COCO_PHOTOS
from livepose.capture import ImageSequenceSource, LiveSource, VideoSource, open_source
from livepose.capture.fake import FakeCapture
from livepose.errors import InputError


# --------------------------------------------------------------------------- fakes


# The package's fake camera, at a fast pace (500 frames/s) while it says 100 fps.
FakeCamera = functools.partial(FakeCapture, 100.0, period=0.002)


def opener_of(*cameras, then=None):
    """An opener handing out ``cameras`` in turn, then ``then()`` (default: closed cameras)."""
    queue = list(cameras)
    made = []

    def opener():
        cam = queue.pop(0) if queue else (then() if then else FakeCamera(opened=False))
        made.append(cam)
        return cam

    opener.made = made
    return opener


def write_avi(path: Path, frames: int, size=(160, 96)) -> None:
    """An MJPG .avi of the example clip's first frames, downscaled (OpenCV's own AVI writer)."""
    cap = cv2.VideoCapture(str(CLIP))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), CLIP_FPS, size)
    assert writer.isOpened()
    for _ in range(frames):
        ok, image = cap.read()
        assert ok
        writer.write(cv2.resize(image, size))
    writer.release()
    cap.release()


# --------------------------------------------------------------------------- files


def test_example_clip_reads_every_frame_in_order():
    with open_source(str(CLIP)) as source:
        assert isinstance(source, VideoSource)
        assert (source.name, source.fps, source.frame_count, source.size) == (
            "one-by-one-clip", CLIP_FPS, CLIP_FRAMES, CLIP_SIZE)
        assert not source.is_live
        frames = list(source)
        assert source.dropped == 0 and source.stopped_early is None
    assert [f.index for f in frames] == list(range(CLIP_FRAMES))
    assert [f.timestamp for f in frames] == pytest.approx([i / CLIP_FPS for i in range(CLIP_FRAMES)])
    assert all(f.size == CLIP_SIZE for f in frames)
    assert all(f.image.dtype == np.uint8 and f.image.flags.c_contiguous and f.image.shape == (432, 768, 3)
               for f in frames)
    captured = [f.captured_at for f in frames]
    assert captured == sorted(captured)
    assert next(iter(source), None) is None  # exhausted and closed: stays ended


def test_file_source_never_drops_for_a_slow_consumer():
    with open_source(str(CLIP)) as source:
        got = []
        for frame in source:
            got.append(frame.index)
            if len(got) <= 3:
                time.sleep(0.15)  # slower than the clip's 10 fps
        assert got == list(range(CLIP_FRAMES)) and source.dropped == 0


@pytest.fixture
def photo_folder(tmp_path):
    """The COCO photos under names whose order differs from their original order."""
    folder = tmp_path / "shoot"
    folder.mkdir()
    names = ["c.jpg", "a.jpg", "d.JPG", "b.jpg"]
    for name, photo in zip(names, COCO_PHOTOS):
        shutil.copy(photo, folder / name)
    (folder / "notes.txt").write_text("not an image\n")
    expected = {name: cv2.imread(str(photo)).shape[1::-1] for name, photo in zip(names, COCO_PHOTOS)}
    return folder, [expected[n] for n in sorted(names, key=lambda n: n)]


def test_image_folder_in_name_order_with_each_size(photo_folder):
    folder, sizes = photo_folder  # name order: a.jpg, b.jpg, c.jpg, d.JPG (str order)
    order = sorted(["c.jpg", "a.jpg", "d.JPG", "b.jpg"])
    with open_source(str(folder)) as source:
        assert isinstance(source, ImageSequenceSource)
        assert (source.name, source.fps, source.frame_count, source.is_live) == ("shoot", 25.0, 4, False)
        assert [p.name for p in source.paths] == order
        frames = list(source)
    assert [f.size for f in frames] == sizes
    assert source.size == sizes[0]
    assert [f.timestamp for f in frames] == pytest.approx([0, 0.04, 0.08, 0.12])


def test_glob_pattern_in_name_order_and_given_fps(photo_folder):
    folder, _ = photo_folder
    with open_source(str(folder / "*.jpg"), fps=5) as source:
        assert source.name == "shoot" and source.fps == 5.0
        frames = list(source)
        assert [p.name for p in source.paths] == ["a.jpg", "b.jpg", "c.jpg"]  # *.jpg: not d.JPG
    assert [f.index for f in frames] == [0, 1, 2]
    assert [f.timestamp for f in frames] == pytest.approx([0.0, 0.2, 0.4])
    with pytest.raises(InputError, match="matches no file"):
        open_source(str(folder / "*.png"))
    with pytest.raises(InputError, match="no images"):
        open_source(str(folder / "*.txt"))


def test_bad_image_in_the_middle_is_skipped_naming_it(tmp_path):
    shutil.copy(COCO_PHOTOS[0], tmp_path / "1.jpg")
    (tmp_path / "2.jpg").write_text("this is not a jpeg")
    shutil.copy(COCO_PHOTOS[1], tmp_path / "3.jpg")
    source = open_source(str(tmp_path))
    frames = list(source)  # the run goes on: every readable frame, none lost (issue 13, class 4)
    source.close()
    assert [f.index for f in frames] == [0, 1] and frames[1].image.shape == cv2.imread(str(COCO_PHOTOS[1])).shape
    assert len(source.unreadable) == 1 and "2.jpg" in source.unreadable[0]
    assert source.stopped_early and "1 of 3 images could not be read" in source.stopped_early
    (tmp_path / "1.jpg").write_bytes(COCO_PHOTOS[0].read_bytes()[:3000])  # a bad first image: skipped too
    with open_source(str(tmp_path)) as source:
        assert len(list(source)) == 1 and "1.jpg" in source.unreadable[0] and "truncated" in source.unreadable[0]
    (tmp_path / "3.jpg").write_text("nor is this")
    with pytest.raises(InputError, match=r"none of the 3 images could be read.*1\.jpg.*truncated"):
        open_source(str(tmp_path))


def test_half_an_mp4_is_refused_at_open_as_truncated(tmp_path):
    # OpenCV's mp4v writer puts the 'moov' index at the end: half a file cannot be opened at all.
    half = tmp_path / "half.mp4"
    data = CLIP.read_bytes()
    half.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"half\.mp4: truncated MP4"):
        open_source(str(half))


def test_truncated_avi_gives_the_readable_frames_then_stopped_early(tmp_path):
    full = tmp_path / "full.avi"
    write_avi(full, 40)
    with open_source(str(full)) as source:
        assert source.frame_count == 40 and len(list(source)) == 40 and source.stopped_early is None
    cut = tmp_path / "cut.avi"
    data = full.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with open_source(str(cut)) as source:
        assert source.frame_count == 40  # the header still declares the full length
        frames = list(source)
        assert 5 <= len(frames) <= 30
        assert [f.index for f in frames] == list(range(len(frames)))
        assert source.stopped_early == f"{cut}: stopped at frame {len(frames)} of 40 (truncated or corrupt)"


@pytest.mark.parametrize("make, message", [
    (None, "file not found"),
    (lambda p: p.write_text("hello, I am text\n" * 20), "not a video OpenCV can open"),
    (lambda p: p.write_bytes(b""), "empty file"),
])
def test_bad_video_files_fail_at_open(tmp_path, make, message):
    path = tmp_path / "video.mp4"
    if make:
        make(path)
    with pytest.raises(InputError, match=f"video.mp4: {message}"):
        open_source(str(path))


def test_zero_frame_videos_fail_at_open(tmp_path):
    for name, fourcc in [("zero.avi", "MJPG"), ("zero.mp4", "mp4v")]:
        writer = cv2.VideoWriter(str(tmp_path / name), cv2.VideoWriter_fourcc(*fourcc), 10.0, (64, 48))
        writer.release()
        if (tmp_path / name).exists():
            with pytest.raises(InputError, match=name):
                open_source(str(tmp_path / name))


def test_bad_specs():
    with pytest.raises(InputError, match="no input"):
        open_source("")
    with pytest.raises(InputError, match="realtime"):
        open_source(str(CLIP), realtime=True, live=False)
    with pytest.raises(InputError, match="fps"):
        open_source(str(CLIP), fps=0)


def test_absent_camera_fails_fast():
    start = time.perf_counter()
    with pytest.raises(InputError, match=r"^camera 97: cannot be opened \(no such device or in use\)$"):
        open_source("97")
    assert time.perf_counter() - start < 5.0


def test_unreachable_stream_fails_at_open_without_its_password():
    start = time.perf_counter()
    with pytest.raises(InputError, match=r"rtsp://user:\*\*\*@127\.0\.0\.1:9/live: cannot be opened") as info:
        open_source("rtsp://user:secret@127.0.0.1:9/live", open_timeout=2, stall_timeout=2)
    assert "secret" not in str(info.value)
    assert time.perf_counter() - start < 10.0


# --------------------------------------------------------------------------- live


def test_live_keeps_only_the_newest_frame_for_a_slow_consumer():
    cam = FakeCamera(period=0.002)
    source = LiveSource(opener_of(cam), "fake")
    assert source.is_live and source.fps == 100.0 and source.frame_count is None and source.size == (32, 24)
    frames = []
    for _ in range(12):
        newest_before = source.frames_read - 1
        frame = next(source)
        assert frame.index >= newest_before  # never older than what was already available
        frames.append(frame)
        time.sleep(0.02)  # ~10 camera frames arrive meanwhile
    source.close()
    indices = [f.index for f in frames]
    assert all(b > a for a, b in zip(indices, indices[1:]))
    assert source.dropped > 0 and indices[-1] - indices[0] > len(indices)  # gaps show the drops
    assert source.frames_read - len(frames) - source.dropped in (0, 1)  # at most one was waiting
    stamps = [f.timestamp for f in frames]
    assert stamps[0] >= 0 and stamps == sorted(stamps)
    assert all(f.image[0, 0, 0] == (f.index + 1) % 256 for f in frames)  # the frame its index says
    assert cam.released.wait(2)
    assert next(source, None) is None


def test_live_reconnects_after_a_failure_and_continues():
    events = []
    first, second = FakeCamera(fail_after=5), FakeCamera()
    opener = opener_of(first, second)
    with LiveSource(opener, "fake", label="camera 0", backoff=0.01, max_reconnects=3,
                    on_event=events.append) as source:
        indices = [next(source).index for _ in range(15)]
    assert all(b > a for a, b in zip(indices, indices[1:])) and indices[-1] >= 14
    assert first.released.is_set() and len(opener.made) == 2
    assert events[0] == "camera 0: read failed; reconnecting in 0.01 s (attempt 1 of 3)"
    assert events[1] == "camera 0: reconnected"


def test_live_gives_up_after_max_reconnects():
    events = []
    opener = opener_of(FakeCamera(fail_after=3))  # then only cameras that cannot be opened
    source = LiveSource(opener, "fake", label="camera 0", backoff=0.01, max_reconnects=3, on_event=events.append)
    start = time.perf_counter()
    got = []
    with pytest.raises(InputError, match=r"^camera 0: stopped answering; gave up after 3 reconnects$"):
        for frame in source:
            got.append(frame.index)
    assert time.perf_counter() - start < 3.0
    source.close()
    assert got and got[-1] <= 2
    assert len(opener.made) == 4
    assert [e.split(";")[0] for e in events] == ["camera 0: read failed"] + ["camera 0: cannot be opened"] * 2
    assert [e.rsplit("(", 1)[1] for e in events] == ["attempt 1 of 3)", "attempt 2 of 3)", "attempt 3 of 3)"]


def test_live_stall_reconnects_when_a_read_hangs():
    events = []
    stuck, fresh = FakeCamera(stall_after=3), FakeCamera()
    with LiveSource(opener_of(stuck, fresh), "fake", label="stream", stall_timeout=0.3, backoff=0.01,
                    on_event=events.append) as source:
        start = time.perf_counter()
        indices = [next(source).index for _ in range(8)]
        assert time.perf_counter() - start < 5.0
    assert indices == sorted(set(indices)) and indices[-1] >= 7
    assert events[0].startswith("stream: no frame for 0.3 s; reconnecting")
    stuck.unstall.set()  # the abandoned reader returns from its read, sees it is stale, releases
    assert stuck.released.wait(2) and fresh.released.wait(2)


def test_close_during_a_blocking_next_returns_promptly():
    cam = FakeCamera(stall_after=1)
    source = LiveSource(opener_of(cam), "fake", stall_timeout=30, join_timeout=0.2)
    assert next(source).index == 0
    outcome = []

    def consume():
        try:
            outcome.append(next(source))
        except StopIteration:
            outcome.append("stopped")

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    time.sleep(0.2)
    assert consumer.is_alive()  # blocked: the camera sends nothing
    start = time.perf_counter()
    source.close()
    assert time.perf_counter() - start < 1.0
    consumer.join(1.0)
    assert outcome == ["stopped"]
    source.close()  # twice is fine
    cam.unstall.set()
    assert cam.released.wait(2)


@pytest.mark.parametrize("camera, message", [
    (lambda: FakeCamera(opened=False), r"^cam: cannot be opened$"),
    (lambda: FakeCamera(fail_after=0), r"^cam: opened but sent no frame$"),
    (lambda: FakeCamera(stall_after=0), r"^cam: opened but sent no frame within 0.3 s$"),
])
def test_live_source_that_gives_no_first_frame_fails_at_open(camera, message):
    cam = camera()
    start = time.perf_counter()
    with pytest.raises(InputError, match=message):
        LiveSource(lambda: cam, "cam", open_timeout=0.3)
    assert time.perf_counter() - start < 2.0
    cam.unstall.set()


def test_live_opener_that_raises_fails_at_open():
    def opener():
        raise RuntimeError("device exploded")

    with pytest.raises(InputError, match="cam: cannot be opened .*device exploded"):
        LiveSource(opener, "cam")


def test_realtime_file_paces_at_its_fps_then_ends():
    start = time.perf_counter()
    with open_source(str(CLIP), realtime=True, fps=50) as source:
        assert source.is_live and source.fps == 50.0 and source.size == CLIP_SIZE
        assert source.name == "one-by-one-clip" and source.frame_count == CLIP_FRAMES
        first = [next(source) for _ in range(20)]
        assert time.perf_counter() - start >= 0.3  # 20 frames at 50 fps: ~0.4 s
        rest = list(source)  # the end of the file ends iteration: no reconnect
        assert source.stopped_early is None
    indices = [f.index for f in first + rest]
    assert all(b > a for a, b in zip(indices, indices[1:])) and indices[-1] == CLIP_FRAMES - 1
    assert len(indices) + source.dropped == CLIP_FRAMES


def test_realtime_image_folder(photo_folder):
    folder, sizes = photo_folder
    with open_source(str(folder), live=True, fps=20) as source:
        assert source.is_live
        frames = list(source)
    assert [f.index for f in frames] == [0, 1, 2, 3] and [f.size for f in frames] == sizes
