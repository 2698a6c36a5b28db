"""A fake camera for tests: a capture-like object with synthetic frames and scripted faults.

    source = LiveSource(lambda: FakeCapture(fps=30), "fake", 30)

No device, file or network is needed; contract tests run every source through the same
checks with it.
"""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np


class FakeCapture:
    """A capture-like camera (``read()``, ``isOpened()``, ``release()``, ``get(prop)``).

    Frame n (n = 1, 2, ...) is a (h, w, 3) uint8 BGR image filled with ``n % 256``, read
    every ``period`` seconds (default ``1 / fps``, as a real camera); ``get(CAP_PROP_FPS)``
    says ``fps``.
    ``fail_after``: reads after that many frames fail (ok False), as an unplugged camera.
    ``stall_after``: reads after that many frames block until ``unstall`` is set (at most
    ``stall_s`` seconds), then fail, as a stream that stopped sending.
    ``opened``: what ``isOpened()`` says (False: a device that cannot be opened).
    ``frames`` counts the frames read; ``released`` is set by ``release()``.
    """

    def __init__(
        self,
        fps: float = 100.0,
        *,
        period: float | None = None,
        size: tuple[int, int] = (32, 24),
        fail_after: int | None = None,
        stall_after: int | None = None,
        stall_s: float = 20.0,
        opened: bool = True,
    ) -> None:
        self.fps = float(fps)
        self.period = 1.0 / self.fps if period is None else float(period)
        self.size = size
        self.fail_after = fail_after
        self.stall_after = stall_after
        self.stall_s = float(stall_s)
        self.unstall = threading.Event()
        self.opened = opened
        self.frames = 0
        self.released = threading.Event()

    def isOpened(self) -> bool:  # noqa: N802 - the cv2.VideoCapture interface
        return self.opened

    def get(self, prop: int) -> float:
        return self.fps if prop == cv2.CAP_PROP_FPS else 0.0

    def read(self) -> tuple[bool, np.ndarray | None]:
        if self.fail_after is not None and self.frames >= self.fail_after:
            time.sleep(self.period)
            return False, None
        if self.stall_after is not None and self.frames >= self.stall_after:
            self.unstall.wait(self.stall_s)
            return False, None
        time.sleep(self.period)
        self.frames += 1
        w, h = self.size
        return True, np.full((h, w, 3), self.frames % 256, np.uint8)

    def release(self) -> None:
        self.released.set()
