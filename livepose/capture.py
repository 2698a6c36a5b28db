"""Frame sources: video files, image folders, cameras and streams, as iterators of Frame.

    with open_source("match.mp4") as source:      # or "frames/", "frames/*.jpg", "0", "rtsp://..."
        for frame in source:                       # livepose.types.Frame
            ...
        print(source.dropped, source.stopped_early)

Two policies:

* **Files** (a video, a folder or glob of images) never drop a frame: reading happens when
  the consumer asks for the next frame, so the consumer's pace is the backpressure.
  Timestamps are ``index / fps``.
* **Live sources** (a camera index, a stream URL, or a file with ``realtime=True``) are read
  by a background thread into a one-slot buffer that keeps only the newest frame; a frame
  not taken before the next one arrives is dropped and counted in ``dropped``, and the
  frame indices show the gaps.  Timestamps are capture times since the first frame.  A
  camera or stream that fails or stalls is reopened with exponential backoff, each attempt
  reported through ``on_event``; after ``max_reconnects`` failed attempts in a row
  iteration raises InputError.

Every source reads its first frame when it is opened, so ``size`` is known at once and a
source that cannot give a single frame fails at open with one InputError line.
"""

from __future__ import annotations

import glob
import re
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence
from urllib.parse import urlsplit, urlunsplit

import cv2
import numpy as np

from livepose.errors import InputError, LiveposeError
from livepose.images import IMAGE_SUFFIXES, list_images, read_image, to_bgr8
from livepose.types import Frame

__all__ = [
    "DEFAULT_FPS", "ImageSequenceSource", "LiveSource", "Source", "VideoSource", "open_source",
]

DEFAULT_FPS = 25.0
# A video that ends this many frames (or this fraction of its declared count) short is still
# taken as complete: containers' frame counts are sometimes estimates (an edit list, a
# duration x fps estimate), e.g. 267 decodable frames of 270 declared in a sound MP4.
_SHORTFALL_FRAMES = 3
_SHORTFALL_FRACTION = 0.02
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_GLOB_CHARS = set("*?[")


class Source:
    """A sequence of frames; iterate it, then ``close()`` it (or use ``with``).

    ``name``: a stem for output file names ('match' for match.mp4, 'camera0', 'stream').
    ``fps``: frames per second (from the file or camera, else 25 or the given value).
    ``frame_count``: frames the source declares, or None when unknown (cameras, streams).
    ``size``: (w, h) of the first frame (later frames may differ for image folders).
    ``is_live``: frames are produced in real time and dropped when the consumer is busy.
    ``dropped``: frames discarded because the consumer was busy (always 0 for files).
    ``stopped_early``: None, or one line saying why a file ended before its frame count.
    """

    name: str
    fps: float
    frame_count: int | None
    size: tuple[int, int]
    is_live: bool = False
    stopped_early: str | None = None

    def __init__(self) -> None:
        self._closed = False

    @property
    def dropped(self) -> int:
        return 0

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        self._closed = True

    def __iter__(self) -> Iterator[Frame]:
        return self

    def __next__(self) -> Frame:  # pragma: no cover - abstract
        raise NotImplementedError

    def __enter__(self) -> "Source":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        kind = "live" if self.is_live else "file"
        count = "?" if self.frame_count is None else self.frame_count
        w, h = self.size
        return f"<{type(self).__name__} {self.name!r} {kind} {w}x{h} {self.fps:g} fps, {count} frames>"


# --------------------------------------------------------------------------- helpers


def _as_bgr(image: np.ndarray, where: str) -> np.ndarray:
    """Contiguous 8-bit BGR (h, w, 3); the usual case costs nothing."""
    if image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3:
        return image if image.flags.c_contiguous else np.ascontiguousarray(image)
    return to_bgr8(image, where)


def _valid_image(image: Any) -> bool:
    return isinstance(image, np.ndarray) and image.size > 0 and image.ndim in (2, 3)


def _sane_fps(value: Any) -> float | None:
    try:
        fps = float(value)
    except (TypeError, ValueError):
        return None
    return fps if 0.0 < fps <= 1000.0 and np.isfinite(fps) else None


def _check_fps(fps: float | None) -> float | None:
    if fps is None:
        return None
    if not (isinstance(fps, (int, float)) and np.isfinite(fps) and fps > 0):
        raise InputError(f"fps must be a positive number, not {fps!r}")
    return float(fps)


def _capture_fps(capture: Any) -> float | None:
    get = getattr(capture, "get", None)
    if get is None:
        return None
    try:
        return _sane_fps(get(cv2.CAP_PROP_FPS))
    except Exception:
        return None


def _capture_frame_count(capture: Any) -> int | None:
    get = getattr(capture, "get", None)
    if get is None:
        return None
    try:
        n = float(get(cv2.CAP_PROP_FRAME_COUNT))
    except Exception:
        return None
    return int(round(n)) if np.isfinite(n) and n >= 1 else None


def _is_opened(capture: Any) -> bool:
    try:
        return bool(capture.isOpened())
    except Exception:
        return False


def _release(capture: Any) -> None:
    if capture is None:
        return
    try:
        capture.release()
    except Exception:
        pass


def _shortfall(label: str, read: int, declared: int | None) -> str | None:
    """The stopped_early line when ``read`` frames is clearly fewer than ``declared``."""
    if declared is None or read >= declared:
        return None
    if declared - read <= max(_SHORTFALL_FRAMES, _SHORTFALL_FRACTION * declared):
        return None
    return f"{label}: stopped at frame {read} of {declared} (truncated or corrupt)"


def _mp4_problem(path: Path) -> str | None:
    """Why an MP4/MOV file OpenCV refused is broken, when its box structure says so.

    A recording cut short (disk full, process killed, half a download) has its 'mdat' but
    not the 'moov' index that most writers put at the end, and no player can open it.
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            pos, seen = 0, []
            while pos + 8 <= size and len(seen) < 64:
                f.seek(pos)
                header = f.read(16)
                box_size = int.from_bytes(header[:4], "big")
                kind = header[4:8]
                if box_size == 1 and len(header) >= 16:
                    box_size = int.from_bytes(header[8:16], "big")
                elif box_size == 0:
                    box_size = size - pos
                if box_size < 8 or not kind.isalnum() or (not seen and kind != b"ftyp"):
                    return None
                seen.append(kind)
                if pos + box_size > size:
                    if kind == b"moov" or b"moov" not in seen:
                        return "truncated MP4 (the file ends inside its data; the 'moov' index is missing)"
                    return None
                pos += box_size
    except OSError:
        return None
    if seen and b"moov" not in seen:
        return "unfinished MP4 (no 'moov' index: the recording was not closed properly)"
    return None


def _redact(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.hostname or ""
        if parts.port is not None:
            host = f"{host}:{parts.port}"
        user = parts.username or ""
        return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
    except ValueError:
        return url


# --------------------------------------------------------------------------- files


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
    one at open).  Images may differ in size: each frame carries its own.
    """

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


class _ImageSequenceCapture:
    """Capture-like reader of image files (for realtime playback of a folder)."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self._paths = list(paths)
        self._next = 0

    def isOpened(self) -> bool:  # noqa: N802 - the cv2.VideoCapture interface
        return True

    def read(self) -> tuple[bool, np.ndarray | None]:
        if self._next >= len(self._paths):
            return False, None
        image = read_image(self._paths[self._next])  # InputError reaches the consumer
        self._next += 1
        return True, image

    def release(self) -> None:
        self._next = len(self._paths)


class _PacedCapture:
    """Wraps a file capture so that frames come out at ``fps`` in real time, like a camera."""

    def __init__(self, capture: Any, fps: float) -> None:
        self._cap = capture
        self._period = 1.0 / fps
        self._t0: float | None = None
        self._n = 0

    def isOpened(self) -> bool:  # noqa: N802
        return _is_opened(self._cap)

    def get(self, prop: int) -> float:
        return self._cap.get(prop)

    def read(self) -> tuple[bool, Any]:
        ok, image = self._cap.read()
        if not ok:
            return ok, image
        now = time.perf_counter()
        if self._t0 is None:
            self._t0 = now
        else:
            wait = self._t0 + self._n * self._period - now
            if wait > 0:
                time.sleep(wait)
        self._n += 1
        return ok, image

    def release(self) -> None:
        _release(self._cap)


# --------------------------------------------------------------------------- live


class LiveSource(Source):
    """A camera or stream read by a background thread; only the newest frame is kept.

    ``opener()`` returns a capture-like object (``read() -> (ok, image)``, ``isOpened()``,
    ``release()``, optionally ``get(prop)``; cv2.VideoCapture fits).  It is called once at
    open (failure: InputError ``open_error``) and again for each reconnect.

    ``next()`` blocks until a frame newer than the last one returned is there.  When no new
    frame comes for ``stall_timeout`` seconds, or a read fails, the capture is reopened
    after ``backoff``, 2 x ``backoff``, 4 x ... seconds (at most ``backoff_max``); each
    attempt is reported through ``on_event(message)`` (called from the reader thread; keep
    it short, e.g. a print).  After ``max_reconnects`` attempts without a frame, ``next()``
    raises InputError.  ``close()`` stops the reader and returns within ``join_timeout``
    even when the capture is stuck in a read (the daemon reader then releases it later).

    ``finite``: the capture is a file played in real time: a failed read is its end (no
    reconnect), and ``frame_count`` is its declared length (for ``stopped_early``).
    """

    def __init__(
        self,
        opener: Callable[[], Any],
        name: str,
        fps: float | None = None,
        *,
        label: str | None = None,
        finite: bool = False,
        frame_count: int | None = None,
        stall_timeout: float = 5.0,
        open_timeout: float = 10.0,
        max_reconnects: int = 5,
        backoff: float = 0.5,
        backoff_max: float = 8.0,
        on_event: Callable[[str], None] | None = None,
        open_error: str | None = None,
        join_timeout: float = 0.5,
    ) -> None:
        super().__init__()
        self.name = name
        self.label = label or name
        self.is_live = True
        self.stopped_early = None
        self.frame_count = frame_count if finite else None
        self._opener = opener
        self._finite = finite
        self._stall_timeout = float(stall_timeout)
        self._max_reconnects = int(max_reconnects)
        self._backoff = float(backoff)
        self._backoff_max = float(backoff_max)
        self._on_event = on_event
        self._join_timeout = float(join_timeout)

        self._cond = threading.Condition(threading.Lock())
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._gen = 0                   # reader generation; a stale reader exits quietly
        self._slot: Frame | None = None  # the newest frame not yet taken
        self._seq = 0                   # frames read so far = next frame index
        self._t0: float | None = None
        self._dropped = 0
        self._attempts = 0              # reconnect attempts since the last frame
        self._error: LiveposeError | None = None
        self._ended = False
        self._got_first = False
        self._progress_at = time.perf_counter()
        self._backoff_until = 0.0
        self._last_index = -1

        message = open_error or f"{self.label}: cannot be opened"
        try:
            capture = opener()
        except LiveposeError:
            raise
        except Exception as exc:
            raise InputError(f"{message} ({type(exc).__name__}: {exc})".replace("\n", " ")) from None
        if capture is None or not _is_opened(capture):
            _release(capture)
            raise InputError(message)
        self.fps = _check_fps(fps) or _capture_fps(capture) or DEFAULT_FPS

        self._start_reader(capture, None)
        deadline = time.perf_counter() + float(open_timeout)
        with self._cond:
            while self._slot is None and self._error is None and not self._ended:
                left = deadline - time.perf_counter()
                if left <= 0:
                    break
                self._cond.wait(min(left, 0.25))
            first, error = self._slot, self._error
        if first is None:
            self.close()
            if error is not None:
                raise error
            raise InputError(f"{self.label}: opened but sent no frame within {open_timeout:g} s")
        self.size = first.size

    # -- state for the consumer

    @property
    def dropped(self) -> int:
        with self._cond:
            return self._dropped

    @property
    def frames_read(self) -> int:
        """Frames the reader has produced so far (taken + dropped + at most one waiting)."""
        with self._cond:
            return self._seq

    # -- reader side

    def _emit(self, message: str) -> None:
        if self._on_event is not None:
            try:
                self._on_event(message)
            except Exception:
                pass

    def _start_reader(self, capture: Any, reason: str | None) -> None:
        thread = threading.Thread(
            target=self._reader, args=(self._gen, capture, reason),
            name=f"livepose-capture-{self.name}", daemon=True,
        )
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def _current(self, gen: int) -> bool:
        return gen == self._gen and not self._stop.is_set()

    def _reader(self, gen: int, capture: Any, reason: str | None) -> None:
        reconnected = False
        try:
            while self._current(gen):
                if capture is None:
                    capture = self._reconnect(gen, reason or "read failed")
                    if capture is None:
                        return
                    reconnected = True
                try:
                    ok, image = capture.read()
                except LiveposeError as exc:
                    self._finish(gen, error=exc)
                    return
                except Exception:
                    ok, image = False, None
                now = time.perf_counter()
                if not self._current(gen):
                    return
                if ok and _valid_image(image):
                    try:
                        image = _as_bgr(image, f"{self.label} frame")
                    except LiveposeError as exc:
                        self._finish(gen, error=exc)
                        return
                    self._publish(gen, image, now)
                    if reconnected:
                        reconnected = False
                        self._emit(f"{self.label}: reconnected")
                    continue
                # The read failed.
                if not self._got_first:
                    self._finish(gen, error=InputError(f"{self.label}: opened but sent no frame"))
                    return
                if self._finite:
                    self._finish(gen)
                    return
                _release(capture)
                capture, reason = None, "read failed"
        finally:
            _release(capture)

    def _publish(self, gen: int, image: np.ndarray, now: float) -> None:
        with self._cond:
            if gen != self._gen:
                return
            if self._slot is not None:
                self._dropped += 1
            if self._t0 is None:
                self._t0 = now
            self._slot = Frame(self._seq, now - self._t0, now, image)
            self._seq += 1
            self._got_first = True
            self._attempts = 0
            self._progress_at = now
            self._backoff_until = 0.0
            self._cond.notify_all()

    def _finish(self, gen: int, error: LiveposeError | None = None) -> None:
        with self._cond:
            if gen != self._gen:
                return
            if error is not None:
                self._error = error
            else:
                self._ended = True
                self.stopped_early = _shortfall(self.label, self._seq, self.frame_count)
            self._cond.notify_all()

    def _reconnect(self, gen: int, reason: str) -> Any:
        """A reopened capture, or None when stopped, superseded, or out of attempts."""
        while True:
            with self._cond:
                if not self._current(gen):
                    return None
                if self._attempts >= self._max_reconnects:
                    n = self._max_reconnects
                    self._error = InputError(
                        f"{self.label}: stopped answering; gave up after {n} reconnect{'s' if n != 1 else ''}"
                    )
                    self._cond.notify_all()
                    return None
                self._attempts += 1
                n = self._attempts
                delay = min(self._backoff_max, self._backoff * 2 ** (n - 1))
                now = time.perf_counter()
                self._progress_at = now
                self._backoff_until = now + delay
            self._emit(
                f"{self.label}: {reason}; reconnecting in {delay:g} s (attempt {n} of {self._max_reconnects})"
            )
            if self._stop.wait(delay) or gen != self._gen:
                return None
            try:
                capture = self._opener()
            except Exception:
                capture = None
            if capture is not None and _is_opened(capture):
                if not self._current(gen):
                    _release(capture)
                    return None
                return capture
            _release(capture)
            reason = "cannot be opened"

    # -- consumer side

    def _stalled(self, now: float) -> None:
        """No frame for stall_timeout: abandon the stuck reader (called with the lock held)."""
        self._gen += 1  # the stuck reader exits when its read returns
        if self._finite:
            self._error = InputError(f"{self.label}: no frame for {self._stall_timeout:g} s (stalled)")
            return
        self._progress_at = now
        self._backoff_until = 0.0
        self._start_reader(None, f"no frame for {self._stall_timeout:g} s")

    def __next__(self) -> Frame:
        with self._cond:
            while True:
                if self._closed:
                    raise StopIteration
                frame = self._slot
                if frame is not None and frame.index > self._last_index:
                    self._slot = None
                    self._last_index = frame.index
                    return frame
                if self._error is not None:
                    raise self._error
                if self._ended:
                    raise StopIteration
                now = time.perf_counter()
                quiet_since = max(self._progress_at, self._backoff_until)
                if now - quiet_since >= self._stall_timeout:
                    self._stalled(now)
                    continue
                self._cond.wait(min(0.25, quiet_since + self._stall_timeout - now))

    def close(self) -> None:
        """Stop the reader (it releases the capture); never waits more than join_timeout."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._gen += 1
            self._stop.set()
            self._slot = None
            self._cond.notify_all()
            threads = list(self._threads)
        deadline = time.perf_counter() + self._join_timeout
        me = threading.current_thread()
        for thread in threads:
            if thread is not me:
                thread.join(max(0.0, deadline - time.perf_counter()))


# --------------------------------------------------------------------------- opening


def _glob_name(spec: str) -> str:
    """Name for a glob's frames: its folder part ('frames/*.jpg' -> 'frames')."""
    parts = Path(spec).parts
    fixed = []
    for part in parts:
        if _GLOB_CHARS & set(part):
            break
        fixed.append(part)
    folder = Path(*fixed) if fixed else Path(".")
    return folder.resolve().name or "images"


def _is_glob(spec: str) -> bool:
    return bool(_GLOB_CHARS & set(spec))


def _stream_opener(url: str, timeout_s: float) -> Callable[[], Any]:
    ms = max(1, int(timeout_s * 1000))

    def opener() -> Any:
        return cv2.VideoCapture(
            url, cv2.CAP_FFMPEG, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]
        )

    return opener


def open_source(
    spec: str,
    *,
    live: bool | None = None,
    realtime: bool = False,
    fps: float | None = None,
    stall_timeout: float = 5.0,
    open_timeout: float = 10.0,
    max_reconnects: int = 5,
    on_event: Callable[[str], None] | None = None,
) -> Source:
    """Open a video file, image folder, glob pattern, camera index or stream URL.

    ``live``: None picks by kind (cameras and URLs are live, files are not); False reads a
    camera or URL at the consumer's pace; True on a file means ``realtime``.
    ``realtime``: play a file (video or images) at its fps through the live policy, as a
    simulated camera.  ``fps``: overrides the source's frame rate (image folders: 25).
    ``stall_timeout``, ``open_timeout``, ``max_reconnects``, ``on_event``: live sources only.
    Raises InputError (one line, naming the input) when the source cannot give a frame.
    """
    spec = str(spec)
    fps = _check_fps(fps)
    if not spec.strip():
        raise InputError("no input given (a video, folder, glob pattern, camera index or URL)")
    if realtime and live is False:
        raise InputError("realtime playback makes a live source; it cannot be combined with live=False")
    live_opts = dict(
        stall_timeout=stall_timeout, open_timeout=open_timeout, max_reconnects=max_reconnects, on_event=on_event
    )
    path = Path(spec)

    # Streams.
    if _URL.match(spec) and not spec.lower().startswith("file://"):
        label = _redact(spec)
        opener = _stream_opener(spec, min(open_timeout, stall_timeout) if live is not False else open_timeout)
        if live is False:
            try:
                capture = opener()
            except cv2.error:
                capture = None
            if capture is None or not capture.isOpened():
                _release(capture)
                raise InputError(f"{label}: cannot be opened (unreachable, wrong address or unsupported stream)")
            count = _capture_frame_count(capture)
            return VideoSource(capture, name="stream", label=label, fps=fps, frame_count=count,
                               capture_clock=count is None)
        return LiveSource(
            opener, "stream", fps, label=label,
            open_error=f"{label}: cannot be opened (unreachable, wrong address or unsupported stream)",
            **live_opts,
        )
    if spec.lower().startswith("file://"):
        spec = spec[len("file://"):]
        path = Path(spec)

    # Cameras.
    if spec.strip().isdigit() and not path.exists():
        index = int(spec)
        label = f"camera {index}"
        unopenable = f"{label}: cannot be opened (no such device or in use)"
        if live is False:
            try:
                capture = cv2.VideoCapture(index)
            except cv2.error:
                capture = None
            if capture is None or not capture.isOpened():
                _release(capture)
                raise InputError(unopenable)
            return VideoSource(capture, name=f"camera{index}", label=label, fps=fps, capture_clock=True)
        return LiveSource(lambda: cv2.VideoCapture(index), f"camera{index}", fps, label=label,
                          open_error=unopenable, **live_opts)

    # Files.
    if path.is_dir():
        paths = list_images([path])
        if not paths:
            raise InputError(f"{spec}: no images in this folder (suffixes {', '.join(IMAGE_SUFFIXES)})")
        source: Source = ImageSequenceSource(paths, name=path.resolve().name or "images", label=spec, fps=fps)
    elif _is_glob(spec) and not path.exists():
        matches = sorted(Path(p) for p in glob.glob(spec, recursive=True))
        paths = [p for p in matches if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
        if not paths:
            what = f"matches {len(matches)} paths but no images" if matches else "matches no file"
            raise InputError(f"{spec}: {what}")
        source = ImageSequenceSource(paths, name=_glob_name(spec), label=spec, fps=fps)
    elif path.suffix.lower() in IMAGE_SUFFIXES and path.exists():
        source = ImageSequenceSource([path], name=path.stem, label=spec, fps=fps)
    else:
        source = VideoFileSource(path, fps=fps)

    if not (realtime or live):
        return source
    # A file played in real time: checked above (first frame read), then reopened.
    source.close()
    if isinstance(source, ImageSequenceSource):
        paths = source.paths

        def opener() -> Any:
            return _PacedCapture(_ImageSequenceCapture(paths), source.fps)
    else:
        def opener() -> Any:
            return _PacedCapture(_open_video_file(path, spec), source.fps)

    return LiveSource(
        opener, source.name, source.fps, label=source.label, finite=True, frame_count=source.frame_count,
        **live_opts,
    )
