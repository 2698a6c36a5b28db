"""Every kind of frame source through the same checks (a contract test).

The kinds: a video file (the example clip), an image folder and a glob pattern (the COCO fixture
photos, which differ in size), a single image, the clip and the folder played in real time
(``open_source(..., realtime=True)``), and a camera (livepose.capture.fake.FakeCapture through
LiveSource, as ``open_source("0")`` opens a real one).  What every source promises
(livepose.capture.base.Source and livepose.capture):

* ``size`` is known at open and is the first frame's;
* frames are livepose.types.Frame with increasing ``index`` and non-decreasing ``timestamp``
  (files: ``index / fps``), each a contiguous BGR uint8 (h, w, 3) image, the one OpenCV reads;
* ``fixed_size`` (read-only): True for videos and cameras, False for images; ``is_live``: True for
  cameras and files played in real time; ``frame_count``: what a file declares, None for a camera;
* ``close()`` may be called twice, and iteration after it stops; ``with`` closes;
* ``dropped`` is 0 for files read at the consumer's pace; a file read to its end gives
  ``frame_count`` frames and ``stopped_early`` None;
* ``repr`` says the kind, the name, the size and the frame count.

Source-specific behaviour (reconnects, stalls, broken files, pacing) is in unit/test_capture.py.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np
import pytest

from helpers import CLIP, CLIP_FPS, CLIP_FRAMES, CLIP_SIZE, COCO_DIR, COCO_PHOTOS, PHOTO
from livepose.capture import LiveSource, Source, open_source
from livepose.capture.base import DEFAULT_FPS
from livepose.capture.fake import FakeCapture
from livepose.types import Frame

CAMERA_FPS = 100.0


@functools.lru_cache(maxsize=None)
def clip_frames(n: int = 12) -> tuple[np.ndarray, ...]:
    """The clip's first ``n`` frames as OpenCV reads them (BGR)."""
    cap = cv2.VideoCapture(str(CLIP))
    frames = []
    while len(frames) < n:
        ok, image = cap.read()
        assert ok
        frames.append(image)
    cap.release()
    return tuple(frames)


def photo(paths, index: int) -> np.ndarray:
    return cv2.imread(str(paths[index]))


def camera_image(index: int, size=(32, 24)) -> np.ndarray:
    """FakeCapture's frame n (n = index + 1) is filled with n % 256."""
    w, h = size
    return np.full((h, w, 3), (index + 1) % 256, np.uint8)


@dataclass(frozen=True)
class Kind:
    name: str
    open: Callable[[], Source]
    image: Callable[[int], np.ndarray]  # the image of frame ``index``, as OpenCV reads it
    is_live: bool
    fixed_size: bool
    frame_count: int | None
    fps: float
    reads: int  # frames the checks read (a real-time file: few, at its pace)
    to_the_end: bool = False  # quick to read to its end


KINDS = [
    Kind("video", lambda: open_source(str(CLIP)), lambda i: clip_frames()[i],
         is_live=False, fixed_size=True, frame_count=CLIP_FRAMES, fps=CLIP_FPS, reads=6, to_the_end=True),
    Kind("image-folder", lambda: open_source(str(COCO_DIR)), functools.partial(photo, COCO_PHOTOS),
         is_live=False, fixed_size=False, frame_count=4, fps=DEFAULT_FPS, reads=4, to_the_end=True),
    Kind("glob", lambda: open_source(str(COCO_DIR / "*.jpg"), fps=5), functools.partial(photo, COCO_PHOTOS),
         is_live=False, fixed_size=False, frame_count=4, fps=5.0, reads=4, to_the_end=True),
    Kind("single-image", lambda: open_source(str(PHOTO)), functools.partial(photo, [PHOTO]),
         is_live=False, fixed_size=False, frame_count=1, fps=DEFAULT_FPS, reads=1, to_the_end=True),
    Kind("realtime-video", lambda: open_source(str(CLIP), realtime=True), lambda i: clip_frames()[i],
         is_live=True, fixed_size=True, frame_count=CLIP_FRAMES, fps=CLIP_FPS, reads=4),  # 10 fps: 0.3 s
    Kind("realtime-folder", lambda: open_source(str(COCO_DIR), realtime=True, fps=50),
         functools.partial(photo, COCO_PHOTOS), is_live=True, fixed_size=False, frame_count=4, fps=50.0, reads=4,
         to_the_end=True),
    Kind("camera", lambda: LiveSource(lambda: FakeCapture(CAMERA_FPS), "fake", CAMERA_FPS, label="fake camera"),
         camera_image, is_live=True, fixed_size=True, frame_count=None, fps=CAMERA_FPS, reads=6),
]
PARAMS = [pytest.param(k, id=k.name) for k in KINDS]


@pytest.fixture(params=PARAMS)
def kind(request) -> Kind:
    return request.param


def test_size_is_known_at_open_and_is_the_first_frames(kind):
    with kind.open() as source:
        size = source.size
        assert isinstance(size, tuple) and len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size)
        first = next(source)
        assert first.size == size
        if kind.name in ("video", "realtime-video"):
            assert size == CLIP_SIZE


def test_frames_come_in_order_as_the_bgr_images_opencv_reads(kind):
    with kind.open() as source:
        frames = [next(source) for _ in range(kind.reads)]
        size = source.size
    assert all(isinstance(f, Frame) for f in frames)
    indices = [f.index for f in frames]
    assert indices[0] == 0 and all(b > a for a, b in zip(indices, indices[1:]))
    if not kind.is_live:
        assert indices == list(range(kind.reads))  # files drop nothing
        assert [f.timestamp for f in frames] == pytest.approx([i / kind.fps for i in indices])
    stamps = [f.timestamp for f in frames]
    assert stamps[0] >= 0 and stamps == sorted(stamps)
    captured = [f.captured_at for f in frames]
    assert captured == sorted(captured)
    for f in frames:
        image = f.image
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3 and image.flags.c_contiguous
        assert image.shape[1::-1] == f.size
        np.testing.assert_array_equal(image, kind.image(f.index), err_msg=f"frame {f.index}")
        if kind.fixed_size:
            assert f.size == size


def test_fixed_size_is_live_and_frame_count_are_as_documented(kind):
    with kind.open() as source:
        assert source.fixed_size is kind.fixed_size
        assert source.is_live is kind.is_live
        assert source.frame_count == kind.frame_count
        assert source.fps == pytest.approx(kind.fps)
        assert isinstance(source.name, str) and source.name
        with pytest.raises(AttributeError):
            source.fixed_size = not kind.fixed_size  # read-only: the pipeline asks it
    if not kind.fixed_size and kind.frame_count and kind.frame_count > 1:
        assert len({cv2.imread(str(p)).shape for p in COCO_PHOTOS}) > 1  # the photos do differ in size


def test_close_twice_and_iteration_after_it_stops(kind):
    source = kind.open()
    next(source)
    source.close()
    source.close()
    assert source.closed
    assert next(source, None) is None and list(source) == []


def test_with_closes(kind):
    with kind.open() as source:
        assert not source.closed
        next(source)
    assert source.closed
    assert next(iter(source), None) is None


def test_dropped_is_zero_for_files_read_at_the_consumers_pace(kind):
    with kind.open() as source:
        for _ in range(kind.reads):
            next(source)
        dropped = source.dropped
    assert isinstance(dropped, int) and dropped >= 0
    if not kind.is_live:
        assert dropped == 0


@pytest.mark.parametrize("kind", [p for p in PARAMS if p.values[0].to_the_end])
def test_a_file_read_to_its_end_gives_its_frame_count(kind):
    with kind.open() as source:
        frames = list(source)
        assert source.stopped_early is None
        dropped = source.dropped
        assert next(source, None) is None  # ended: stays ended
    assert len(frames) + dropped == kind.frame_count
    assert frames[-1].index == kind.frame_count - 1


def test_repr_says_what_it_is(kind):
    with kind.open() as source:
        text = repr(source)
    w, h = source.size
    assert text.startswith(f"<{type(source).__name__} {source.name!r} ")
    assert ("live" if kind.is_live else "file") in text.split() and f"{w}x{h}" in text
    assert f"{'?' if kind.frame_count is None else kind.frame_count} frames" in text
