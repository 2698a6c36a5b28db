"""Live sources: a camera or stream read by a background thread into a one-slot buffer.

Only the newest frame is kept (older ones are dropped and counted); a capture that fails or
stalls is reopened with exponential backoff, each attempt reported through ``on_event``.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Any, Callable

import numpy as np

from livepose.capture.base import (
    DEFAULT_FPS, Source, _as_bgr, _capture_fps, _check_fps, _is_opened, _release, _shortfall, _valid_image,
)
from livepose.errors import InputError, LiveposeError
from livepose.types import Frame


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
    ``fixed_size``: what the ``fixed_size`` property reports; False when the capture's
    frames may differ in size (image files played in real time).
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
        fixed_size: bool = True,
    ) -> None:
        super().__init__()
        self.name = name
        self.label = label or name
        self.is_live = True
        self.stopped_early = None
        self.frame_count = frame_count if finite else None
        self._fixed_size = bool(fixed_size)
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
        self._taps: list[queue.Queue] = []  # consumers of every frame (tap())
        self.tap_dropped = 0

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

    def tap(self, maxsize: int = 64) -> queue.Queue:
        """Every frame read from now on, for a consumer that needs them all besides the one that takes
        only the newest (livepose.pipeline: carrying keypoints to every frame while the network
        works on the newest).  Bounded: when it is full the oldest frame waiting is dropped (counted
        in ``tap_dropped``).  None comes after the last frame (the source ended, failed or closed)."""
        q: queue.Queue = queue.Queue(maxsize=max(1, maxsize))
        with self._cond:
            self._taps.append(q)
            if self._slot is not None:
                self._offer(q, self._slot)
            if self._ended or self._error is not None or self._closed:
                self._offer(q, None)
        return q

    def _offer(self, q: queue.Queue, item) -> None:
        """Put without blocking the reader (called with the lock held): the oldest waiting goes."""
        while True:
            try:
                q.put_nowait(item)
                return
            except queue.Full:
                try:
                    q.get_nowait()
                    self.tap_dropped += 1
                except queue.Empty:
                    pass

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
            for q in self._taps:
                self._offer(q, self._slot)
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
            for q in self._taps:
                self._offer(q, None)
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
            for q in self._taps:
                self._offer(q, None)
            self._slot = None
            self._cond.notify_all()
            threads = list(self._threads)
        deadline = time.perf_counter() + self._join_timeout
        me = threading.current_thread()
        for thread in threads:
            if thread is not me:
                thread.join(max(0.0, deadline - time.perf_counter()))
