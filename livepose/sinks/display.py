"""A live overlay window (OpenCV HighGUI): skeletons, ids and a small HUD.

Keys: ``q`` or ``Esc`` sets :attr:`DisplaySink.stop_requested` (closing the window does
too); ``space`` pauses and resumes.  While paused, :meth:`DisplaySink.write` blocks
(the pipeline stalls behind it) and the window keeps showing the last frame and answering
keys.

Threads: OpenCV's Qt backend (the one in the opencv-python wheels for Linux) hangs or drops
frames when windows are created, shown and destroyed from different threads.  So every
HighGUI call is made by one process-wide daemon thread, ``livepose-display``; ``open``,
``write`` and ``close`` may be called from any threads.  (On macOS OpenCV's windows must
live on the main thread, which this sink does not do.)
"""

from __future__ import annotations

import collections
import os
import queue
import socket
import sys
import threading
import time

import cv2
import numpy as np

from livepose.errors import OutputError
from livepose.render import render_result
from livepose.sinks.base import Sink
from livepose.types import FrameResult, StreamInfo

NO_DISPLAY = (
    "no display available for the overlay window (DISPLAY is not set); "
    "use --video or other outputs, or run under a desktop"
)
KEY_ESC = 27
KEY_SPACE = 32
MAX_WINDOW_SIDE = 1280  # the window opens at the stream's size, shrunk to fit this


def _x_display_reachable(display: str) -> bool:
    """Whether an X server answers at ``display`` ("[host]:N[.S]"): Qt aborts the
    process when it cannot connect, so we look first."""
    host, _, rest = display.rpartition(":")
    try:
        number = int(rest.split(".")[0])
    except ValueError:
        return False
    if host in ("", "unix"):
        path = f"/tmp/.X11-unix/X{number}"
        for address in ("\0" + path, path):  # Linux abstract socket, then the file
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(1.0)
                try:
                    s.connect(address)
                    return True
                except OSError:
                    continue
        return False
    try:
        with socket.create_connection((host, 6000 + number), timeout=2.0):
            return True
    except OSError:
        return False


def check_display() -> None:
    """Raise OutputError when no window can be opened (Linux without a reachable X server).

    The opencv-python wheels carry only Qt's xcb (X11) plugin, so a Wayland session needs
    its XWayland ``DISPLAY``; ``WAYLAND_DISPLAY`` alone makes Qt abort.
    """
    if not sys.platform.startswith("linux"):
        return
    display = os.environ.get("DISPLAY", "")
    if not display:
        raise OutputError(NO_DISPLAY)
    if not _x_display_reachable(display):
        raise OutputError(
            f"cannot connect to the X display {display!r} for the overlay window; "
            "use --video or other outputs, or run under a desktop"
        )


class _GuiThread:
    """The one thread that makes every HighGUI call, for all DisplaySinks of the process."""

    _instance: "_GuiThread | None" = None
    _instance_lock = threading.Lock()

    @classmethod
    def get(cls) -> "_GuiThread":
        with cls._instance_lock:
            if cls._instance is None or not cls._instance.thread.is_alive():
                cls._instance = cls()
            return cls._instance

    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.wake = threading.Event()
        self.sinks: dict[str, DisplaySink] = {}  # windows open now, by name
        self.thread = threading.Thread(target=self._run, name="livepose-display", daemon=True)
        self.thread.start()

    def call(self, fn, timeout: float = 10.0):
        """Run ``fn()`` on the GUI thread; return its value or raise its exception."""
        done = threading.Event()
        box: dict = {}

        def job() -> None:
            try:
                box["value"] = fn()
            except BaseException as exc:  # handed back to the caller
                box["error"] = exc
            finally:
                done.set()

        self.jobs.put(job)
        self.wake.set()
        if not done.wait(timeout):
            raise OutputError(f"overlay window: the display thread did not answer within {timeout:g} s")
        if "error" in box:
            raise box["error"]
        return box.get("value")

    def _run(self) -> None:
        while True:
            self.wake.wait(0.01 if self.sinks else None)
            self.wake.clear()
            while True:
                try:
                    self.jobs.get_nowait()()
                except queue.Empty:
                    break
            if not self.sinks:
                continue
            for sink in list(self.sinks.values()):
                sink._gui_show_pending()
            key = cv2.waitKey(5)
            for sink in list(self.sinks.values()):
                if key != -1:
                    sink._on_key(key)
                sink._gui_check_window()


class DisplaySink(Sink):
    """Shows each result in a window named ``window_name``.

    An ordinary output that runs on the caller's thread (``on_caller_thread``: the runner calls
    :meth:`write` from the pipeline's loop, for the lowest latency).  :attr:`stop_requested`
    (``threading.Event``) is set by ``q``, ``Esc`` or closing the window; the runner polls it
    and stops.  :attr:`paused` is set while paused.  The picture is ``result.picture`` (drawn
    once by the pipeline; copied here before the HUD goes on it) or, when None, drawn here.
    The HUD shows the frames per second shown over the last ``fps_window_s`` seconds,
    the latency (``time.perf_counter() - frame.captured_at``), the number of people and
    the dropped frames, counted from gaps in ``frame.index``.  ``angles``: joints whose flexion
    angles are written beside them (:func:`livepose.render_angles.draw_angles`), on the window's
    own canvas; None (default): nothing more per frame.
    """

    name = "display"
    needs_picture = True
    on_caller_thread = True

    def __init__(self, window_name: str = "livepose", *, fps_window_s: float = 1.0,
                 angles: tuple[str, ...] | None = None):
        self.window_name = window_name
        self.angles = tuple(angles) if angles else None  # joints whose angles are drawn (livepose.render_angles)
        self.fps_window_s = float(fps_window_s)
        self.stop_requested = threading.Event()
        self.paused = threading.Event()
        self._closing = threading.Event()
        self._info: StreamInfo | None = None
        self._gui: _GuiThread | None = None
        self._frame_lock = threading.Lock()
        self._pending: np.ndarray | None = None  # the next image to show (one, never a queue)
        self._last: np.ndarray | None = None  # the image on screen, for the pause label
        self._ring: list[np.ndarray | None] = [None, None, None]  # canvases for the HUD
        self._shown_any = False
        self._window_created = False
        self._times: collections.deque = collections.deque()  # write times within fps_window_s
        self._first_index: int | None = None
        self._frames_seen = 0
        self._closed = False

    # ---- the contract ------------------------------------------------------------------

    def open(self, info: StreamInfo) -> None:
        check_display()
        self._info = info
        self._gui = _GuiThread.get()
        w, h = int(info.size[0]), int(info.size[1])
        f = min(1.0, MAX_WINDOW_SIDE / max(1, w, h))
        size = (max(1, round(w * f)), max(1, round(h * f)))
        self._gui.call(lambda: self._gui_create(size))

    def write(self, result: FrameResult) -> None:
        if self._info is None:
            raise RuntimeError("DisplaySink: write before open")
        while self.paused.is_set() and not (self.stop_requested.is_set() or self._closing.is_set()):
            time.sleep(0.02)
        if self._closing.is_set():
            return
        now = time.perf_counter()
        self._times.append(now)
        while self._times and now - self._times[0] > self.fps_window_s:
            self._times.popleft()
        index = int(result.frame.index)
        if self._first_index is None:
            self._first_index = index
        self._frames_seen += 1
        # the HUD goes on a canvas of our own (the shared picture stays clean): one of a ring of
        # three, never the one waiting to be shown nor the one on screen (the GUI thread holds those)
        image = self._canvas(result.frame.image.shape)
        if result.picture is not None:
            np.copyto(image, result.picture)
        else:
            render_result(image, result, self._info.limbs)
        if self.angles:
            from livepose.render_angles import draw_angles

            draw_angles(image, result.people, self.angles)
        self._draw_hud(image, self._hud_text(result, now, index))
        with self._frame_lock:
            self._pending = image
        self._gui.wake.set()

    def _canvas(self, shape: tuple) -> np.ndarray:
        with self._frame_lock:
            busy = (self._pending, self._last)
        for k, canvas in enumerate(self._ring):
            if canvas is None or canvas.shape != shape:
                canvas = self._ring[k] = np.empty(shape, np.uint8)
            if all(canvas is not b for b in busy):
                return canvas
        raise AssertionError("display canvas ring exhausted")  # three canvases, at most two busy

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._closing.set()
        if self._gui is not None:
            self._gui.call(self._gui_destroy)

    # ---- HUD ---------------------------------------------------------------------------

    def fps(self) -> float:
        """Frames shown per second over the last ``fps_window_s`` seconds (0 before two)."""
        if len(self._times) < 2:
            return 0.0
        span = self._times[-1] - self._times[0]
        return (len(self._times) - 1) / span if span > 0 else 0.0

    def dropped(self, index: int | None = None) -> int:
        """Frames the source produced that never reached this sink (gaps in frame.index)."""
        if self._first_index is None or index is None:
            return 0
        return max(0, index - self._first_index + 1 - self._frames_seen)

    def _hud_text(self, result: FrameResult, now: float, index: int) -> str:
        fps = self.fps()
        latency_ms = (now - result.frame.captured_at) * 1e3
        n = len(result.poses)
        text = f"{fps:4.1f} fps  {latency_ms:4.0f} ms  {n} {'person' if n == 1 else 'people'}"
        dropped = self.dropped(index)
        if dropped:
            text += f"  {dropped} dropped"
        return text

    @staticmethod
    def _draw_hud(image: np.ndarray, text: str) -> None:
        h, w = image.shape[:2]
        scale = max(0.45, min(w, h) / 900)
        thick = max(1, round(scale * 2))
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        pad = 6
        x0, y0, x1, y1 = 0, 0, min(w, tw + 2 * pad), min(h, th + base + 2 * pad)
        image[y0:y1, x0:x1] = (image[y0:y1, x0:x1] * 0.4).astype(np.uint8)  # dark band
        cv2.putText(image, text, (pad, pad + th), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick, cv2.LINE_AA)

    # ---- keys (called on the GUI thread; plain state changes, so tests can call it) -------

    def _on_key(self, key: int) -> None:
        code = key & 0xFF
        if code in (ord("q"), ord("Q"), KEY_ESC):
            self.stop_requested.set()
            self.paused.clear()
        elif code == KEY_SPACE:
            if self.paused.is_set():
                self.paused.clear()
                with self._frame_lock:
                    if self._pending is None and self._last is not None:
                        self._pending = self._last  # drop the PAUSED label
            else:
                self.paused.set()
                with self._frame_lock:
                    if self._last is not None:
                        labelled = self._last.copy()
                        h = labelled.shape[0]
                        self._draw_hud(labelled[h - min(h, 40):], "PAUSED (space resumes, q quits)")
                        self._pending, self._last = labelled, self._last

    # ---- GUI thread only ---------------------------------------------------------------

    def _gui_create(self, size: tuple[int, int]) -> None:
        if self.window_name in self._gui.sinks:
            raise OutputError(f"an overlay window named {self.window_name!r} is already open")
        flags = cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL
        try:
            cv2.namedWindow(self.window_name, flags)
            cv2.resizeWindow(self.window_name, *size)
        except cv2.error as exc:
            raise OutputError(f"cannot open the overlay window ({str(exc).strip().splitlines()[-1]})") from None
        self._gui.sinks[self.window_name] = self
        self._window_created = True

    def _gui_show_pending(self) -> None:
        with self._frame_lock:
            image, self._pending = self._pending, None
        if image is None:
            return
        cv2.imshow(self.window_name, image)
        if not self.paused.is_set():
            self._last = image
        self._shown_any = True

    def _gui_check_window(self) -> None:
        if not self._shown_any:
            return
        try:
            visible = cv2.getWindowProperty(self.window_name, cv2.WND_PROP_VISIBLE)
        except cv2.error:
            visible = -1
        if visible < 1:  # closed with the mouse
            self.stop_requested.set()
            self.paused.clear()
            self._gui.sinks.pop(self.window_name, None)

    def _gui_destroy(self) -> None:
        if self._gui.sinks.get(self.window_name) is self:
            del self._gui.sinks[self.window_name]
        if self._window_created:
            self._window_created = False
            try:
                cv2.destroyWindow(self.window_name)
                cv2.waitKey(1)
            except cv2.error:
                pass
        self._pending = self._last = None
