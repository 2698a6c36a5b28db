"""File sources read at the consumer's pace, never dropping a frame: videos and image sequences.

``VideoSource`` reads any opened capture when asked; ``VideoFileSource`` opens a video file
first and says what is wrong with one that does not open; ``ImageSequenceSource`` reads
image files in a given order, each frame with its own size.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any, Sequence

import cv2

from livepose.capture.base import (
    DEFAULT_FPS, Source, _as_bgr, _capture_fps, _capture_frame_count, _check_fps, _release, _sane_fps,
    _shortfall, _valid_image,
)
from livepose.capture.mp4 import _mp4_problem
from livepose.errors import InputError, LiveposeError
from livepose.images import read_image
from livepose.types import Frame


class VideoSource(Source):
    """Frames read from an opened capture when the consumer asks: never drops a frame.

    ``capture``: anything with ``read() -> (ok, image)``, ``release()`` and optionally
    ``get(prop)`` (a cv2.VideoCapture).  Timestamps are ``index / fps`` unless
    ``capture_clock`` (then seconds since the first frame was read), or unless the container's
    own timestamps (CAP_PROP_POS_MSEC, when increasing) differ from them by more than half a
    frame: a header declaring the wrong frame rate then does not change the tracker's time.  A
    stream shorter than its header's frame count whose container timestamps still cover the
    header's duration was read to its end: that is one line in ``warnings``, not ``stopped_early``.
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
        self.warnings: list[str] = []
        self._pos0: float | None = None  # the first frame's container time (ms)
        self._last_pos: float | None = None  # the last frame's container time (s since the first)
        self._last_ts = -1.0
        first = self._read()
        if first is None:
            _release(capture)
            self._cap = None
            self._closed = True
            raise InputError(f"{self.label}: no frame could be read (empty, or a codec OpenCV lacks)")
        self._pending: list[Frame] = [first]
        self.size = first.size
        self._header_fps = self.fps
        if fps is None and not capture_clock:
            self._check_rate()

    def _check_rate(self) -> None:
        """Read the second frame now: when the container's timestamps put it a clearly different
        period after the first than the header's frame rate says, the frame rate is the container's
        (a header declaring twice the real rate would play every output at double speed)."""
        second = self._read()
        if second is None:
            return
        self._pending.append(second)
        period = self._last_pos
        rate = _sane_fps(1.0 / period) if period else None
        if rate is not None and abs(rate - self.fps) > 0.1 * self.fps:
            self.warnings.append(f"{self.label}: the header says {self.fps:g} fps, the container's timestamps "
                                 f"{rate:g} fps; using {rate:g} fps")
            self.fps = rate

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
            pos = self._container_time()
            if pos is not None and abs(pos - timestamp) > 0.5 / self.fps:
                timestamp = pos
            if timestamp <= self._last_ts:
                timestamp = self._last_ts + 1.0 / self.fps
        self._last_ts = timestamp
        return Frame(index, timestamp, now, _as_bgr(image, f"{self.label} frame {index}"))

    def _container_time(self) -> float | None:
        """Seconds since the first frame by the container's timestamps, None when it gives none
        that are sane (not a number, negative, or not after the previous frame's)."""
        get = getattr(self._cap, "get", None)
        if get is None:
            return None
        try:
            ms = float(get(cv2.CAP_PROP_POS_MSEC))
        except Exception:
            return None
        if not math.isfinite(ms) or ms < 0:
            return None
        if self._pos0 is None:
            self._pos0 = ms
        t = (ms - self._pos0) / 1000.0
        if self._last_pos is not None and t <= self._last_pos:
            return None
        self._last_pos = t
        return t

    def _read_to_end(self) -> bool:
        """Whether the container's timestamps reached the duration the header declares (the
        frame count over the frame rate): the stream was read to its end."""
        n, last = self._next_index, self._last_pos
        if self.frame_count is None or n < 2 or last is None or last <= 0:
            return False
        covered = last * n / (n - 1)  # the last frame lasts one mean frame period
        return covered >= 0.98 * self.frame_count / self._header_fps

    def __next__(self) -> Frame:
        if self._closed or self._done:
            raise StopIteration
        if self._pending:
            return self._pending.pop(0)
        frame = self._read()
        if frame is None:
            self._done = True
            self.stopped_early = _shortfall(self.label, self._next_index, self.frame_count)
            if self.stopped_early is not None and self._read_to_end():
                n = self._next_index
                self.warnings.append(
                    f"{self.label}: the header declares {self.frame_count} frames at {self._header_fps:g} fps, but the "
                    f"stream holds {n} frames over {self._last_pos * n / (n - 1):.1f} s (read to its end; "
                    f"timestamps from the container)")
                self.stopped_early = None
            _release(self._cap)
            self._cap = None
            raise StopIteration
        return frame

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._pending = []
            _release(self._cap)
            self._cap = None


def _open_video_file(path: Path, label: str) -> cv2.VideoCapture:
    """cv2.VideoCapture of a video file, or InputError saying what is wrong with it."""
    if not path.exists():
        raise InputError(f"{label}: file not found")
    if path.is_dir():
        raise InputError(f"{label}: is a folder, not a video")
    if not path.is_file():  # OpenCV would wait forever on a FIFO
        raise InputError(f"{label}: not a regular file (a pipe, device or socket); give a video file")
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:  # OpenCV crashes (segmentation fault) on such a name
        raise InputError(f"{label}: the file name is not valid UTF-8, which OpenCV cannot open; rename the file") from None
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
        label = os.fsencode(path).decode("utf-8", "backslashreplace")
        capture = _open_video_file(path, label)
        super().__init__(
            capture, name=name or path.stem or "video", label=label, fps=fps,
            frame_count=_capture_frame_count(capture),
        )
        self.path = path


class ImageSequenceSource(Source):
    """Image files in the given order, read when the consumer asks; never drops a frame.

    A file that cannot be read (truncated, not an image, unreadable) is skipped: its line is
    kept in ``unreadable`` and ``stopped_early`` says how many were skipped, so the run finishes
    the others and ends with exit 2.  Only when no file can be read at all does opening raise
    InputError.  Frame indices count the frames read; timestamps keep each file's place in the
    sequence (position / fps).  Images may differ in size: each frame carries its own, and
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
        self.unreadable: list[str] = []
        self._next_index = 0  # frames given
        self._position = 0  # files tried
        first = self._read()
        if first is None:
            if len(self.paths) == 1:
                raise InputError(self.unreadable[0])
            raise InputError(f"{self.label}: none of the {len(self.paths)} images could be read "
                             f"(the first: {self.unreadable[0]})")
        self._pending: Frame | None = first
        self.size = first.size

    def _read(self) -> Frame | None:
        """The next readable file's frame; None at the end."""
        while self._position < len(self.paths):
            position = self._position
            self._position += 1
            try:
                image = read_image(self.paths[position])
            except InputError as exc:
                self.unreadable.append(str(exc))
                n = len(self.unreadable)
                self.stopped_early = (f"{self.label}: {n} of {len(self.paths)} images could not be read "
                                      f"(skipped)")
                continue
            now = time.perf_counter()
            index = self._next_index
            self._next_index += 1
            return Frame(index, position / self.fps, now, image)
        return None

    def __next__(self) -> Frame:
        if self._closed:
            raise StopIteration
        if self._pending is not None:
            frame, self._pending = self._pending, None
            return frame
        frame = self._read()
        if frame is None:
            raise StopIteration
        return frame

    def close(self) -> None:
        self._closed = True
        self._pending = None
