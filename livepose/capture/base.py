"""The Source interface every frame source implements, and the small helpers they share.

Helpers: 8-bit BGR conversion, image checks, fps and frame-count readers for capture-like
objects, a release that never raises, and the ``stopped_early`` line for short files.
"""

from __future__ import annotations

from typing import Any, Iterator

import cv2
import numpy as np

from livepose.errors import InputError
from livepose.images import to_bgr8
from livepose.types import Frame

DEFAULT_FPS = 25.0
# A video that ends this many frames (or this fraction of its declared count) short is still
# taken as complete: containers' frame counts are sometimes estimates (an edit list, a
# duration x fps estimate), e.g. 267 decodable frames of 270 declared in a sound MP4.
_SHORTFALL_FRAMES = 3
_SHORTFALL_FRACTION = 0.02


class Source:
    """A sequence of frames; iterate it, then ``close()`` it (or use ``with``).

    ``name``: a stem for output file names ('match' for match.mp4, 'camera0', 'stream').
    ``fps``: frames per second (from the file or camera, else 25 or the given value).
    ``frame_count``: frames the source declares, or None when unknown (cameras, streams).
    ``size``: (w, h) of the first frame (later frames may differ for image folders).
    ``fixed_size``: True when every frame has the size of the first (a video file, a camera,
    a stream); False when frames may differ in size (images of a folder or glob, also when
    played in real time).  Read-only; batching and warm-up policies ask it.
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
    _fixed_size: bool = True

    def __init__(self) -> None:
        self._closed = False

    @property
    def fixed_size(self) -> bool:
        return self._fixed_size

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
