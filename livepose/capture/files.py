"""File sources read at the consumer's pace, never dropping a frame: videos and image sequences.

``VideoSource`` reads any opened capture when asked; ``VideoFileSource`` opens a video file
first and says what is wrong with one that does not open; ``ImageSequenceSource`` reads
image files in a given order, each frame with its own size.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Sequence

import cv2

from livepose.capture.base import (
    DEFAULT_FPS, Source, _as_bgr, _capture_fps, _capture_frame_count, _check_fps, _release, _shortfall,
    _valid_image,
)
from livepose.capture.mp4 import _mp4_problem
from livepose.errors import InputError, LiveposeError
from livepose.images import read_image
from livepose.types import Frame


class VideoSource(Source):
    """Frames read from an opened capture when the consumer asks: never drops a frame.

    ``capture``: anything with ``read() -> (ok, image)``, ``release()`` and optionally
    ``get(prop)`` (a cv2.VideoCapture).  Timestamps are ``index / fps`` unless
    ``capture_clock`` (then seconds since the first frame was read).
    """

    def __init__(
        self,
        capture: Any,
        *,
        name: str,
        label: str | None = None,
        fps: float | None = None,
        frame_count: int | None = None,
        capture_clock: bool = False,
    ) -> None:
        super().__init__()
        self.name = name
        self.label = label or name
        self.is_live = False
        self.stopped_early = None
        self._cap = capture
        self.fps = _check_fps(fps) or _capture_fps(capture) or DEFAULT_FPS
        self.frame_count = frame_count
        self._capture_clock = capture_clock
        self._next_index = 0
        self._t0: float | None = None
        self._done = False
        first = self._read()
        if first is None:
            _release(capture)
            self._cap = None
            self._closed = True
            raise InputError(f"{self.label}: no frame could be read (empty, or a codec OpenCV lacks)")
        self._pending: Frame | None = first
        self.size = first.size

    def _read(self) -> Frame | None:
        try:
            ok, image = self._cap.read()
        except LiveposeError:
            raise
        except Exception:  # cv2.error from a broken stream: the end of what can be read
            ok, image = False, None
        now = time.perf_counter()
        if not ok or not _valid_image(image):
            return None
        index = self._next_index
        self._next_index += 1
        if self._capture_clock:
            if self._t0 is None:
                self._t0 = now
            timestamp = now - self._t0
        else:
            timestamp = index / self.fps
        return Frame(index, timestamp, now, _as_bgr(image, f"{self.label} frame {index}"))

    def __next__(self) -> Frame:
        if self._closed or self._done:
            raise StopIteration
        if self._pending is not None:
            frame, self._pending = self._pending, None
            return frame
        frame = self._read()
        if frame is None:
            self._done = True
            self.stopped_early = _shortfall(self.label, self._next_index, self.frame_count)
            _release(self._cap)
            self._cap = None
            raise StopIteration
        return frame

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._pending = None
            _release(self._cap)
            self._cap = None


def _open_video_file(path: Path, label: str) -> cv2.VideoCapture:
    """cv2.VideoCapture of a video file, or InputError saying what is wrong with it."""
    if not path.exists():
        raise InputError(f"{label}: file not found")
    if path.is_dir():
        raise InputError(f"{label}: is a folder, not a video")
    try:
        size = path.stat().st_size
        with path.open("rb"):
            pass
    except OSError as exc:
        raise InputError(f"{label}: cannot read ({exc.strerror or exc})") from None
    if size == 0:
        raise InputError(f"{label}: empty file")
    try:
        capture = cv2.VideoCapture(str(path))
    except cv2.error:
        capture = None
    if capture is None or not capture.isOpened():
        _release(capture)
        problem = _mp4_problem(path)
        raise InputError(f"{label}: {problem or 'not a video OpenCV can open'}")
    return capture


class VideoFileSource(VideoSource):
    """A video file, read at the consumer's pace; ``stopped_early`` tells of truncation."""

    def __init__(self, path: str | Path, *, fps: float | None = None, name: str | None = None) -> None:
        path = Path(path)
        label = str(path)
        capture = _open_video_file(path, label)
        super().__init__(
            capture, name=name or path.stem or "video", label=label, fps=fps,
            frame_count=_capture_frame_count(capture),
        )
        self.path = path


class ImageSequenceSource(Source):
    """Image files in the given order, read when the consumer asks; never drops a frame.

    A file that cannot be read raises InputError naming it when it is reached (the first
    one at open).  Images may differ in size: each frame carries its own, and
    ``fixed_size`` is False.
    """

    _fixed_size = False

    def __init__(
        self, paths: Sequence[str | Path], *, name: str, label: str | None = None, fps: float | None = None
    ) -> None:
        super().__init__()
        self.name = name
        self.label = label or name
        self.paths = [Path(p) for p in paths]
        if not self.paths:
            raise InputError(f"{self.label}: no images")
        self.fps = _check_fps(fps) or DEFAULT_FPS
        self.frame_count = len(self.paths)
        self.is_live = False
        self.stopped_early = None
        self._next_index = 0
        first = self._read()
        self._pending: Frame | None = first
        self.size = first.size

    def _read(self) -> Frame:
        index = self._next_index
        image = read_image(self.paths[index])
        now = time.perf_counter()
        self._next_index += 1
        return Frame(index, index / self.fps, now, image)

    def __next__(self) -> Frame:
        if self._closed:
            raise StopIteration
        if self._pending is not None:
            frame, self._pending = self._pending, None
            return frame
        if self._next_index >= len(self.paths):
            raise StopIteration
        return self._read()

    def close(self) -> None:
        self._closed = True
        self._pending = None
