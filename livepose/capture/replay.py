"""Files played as a live source: capture-like wrappers that pace a video or image files at their fps.

``LiveSource(lambda: _PacedCapture(capture, fps), ...)`` makes a file behave like a camera
(frames come out in real time and are dropped when the consumer is busy).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from livepose.capture.base import _is_opened, _release
from livepose.errors import InputError
from livepose.images import read_image


class _ImageSequenceCapture:
    """Capture-like reader of image files (for realtime playback of a folder)."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self._paths = list(paths)
        self._next = 0

    def isOpened(self) -> bool:  # noqa: N802 - the cv2.VideoCapture interface
        return True

    def read(self) -> tuple[bool, np.ndarray | None]:
        while self._next < len(self._paths):
            path = self._paths[self._next]
            self._next += 1
            try:
                return True, read_image(path)
            except InputError:  # skipped, as a folder read at the consumer's pace skips it
                continue
        return False, None

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
