"""The pictures a WebSocket client may opt in to: the frame downscaled and JPEG-encoded, sent
as a binary message ``b"LPJ1" + uint32 little-endian frame index + JPEG bytes`` just before
the frame's JSON."""

from __future__ import annotations

import struct

import cv2
import numpy as np

JPEG_MAGIC = b"LPJ1"  # binary message: magic, uint32 little-endian frame index, JPEG bytes
JPEG_HEADER = struct.Struct("<4sI")


def jpeg_size(frame_size: tuple[int, int], width: int) -> tuple[int, int]:
    """(w, h) of the pictures for frames of ``frame_size`` at most ``width`` wide (never upscaled)."""
    w, h = int(frame_size[0]), int(frame_size[1])
    jw = min(int(width), w)
    return (jw, max(1, round(h * jw / w)))


class JpegEncoder:
    """Downscale to at most ``width`` pixels wide (into a reused buffer) and encode at ``quality``.

    One instance per writer thread: the buffer is reused from frame to frame."""

    def __init__(self, width: int, quality: int):
        self.width = int(width)
        self.quality = int(quality)
        self._small: np.ndarray | None = None

    def message(self, image: np.ndarray, index: int) -> bytes | None:
        """The binary message for frame ``index`` (None when OpenCV cannot encode it)."""
        h, w = image.shape[:2]
        size = jpeg_size((w, h), self.width)
        if size == (w, h):
            small = image
        else:  # resized into a reused buffer: imencode is done with it before the next frame
            if self._small is None or self._small.shape[:2] != (size[1], size[0]):
                self._small = np.empty((size[1], size[0], image.shape[2]), image.dtype)
            small = cv2.resize(image, size, dst=self._small, interpolation=cv2.INTER_AREA)
        ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:
            return None
        return JPEG_HEADER.pack(JPEG_MAGIC, int(index) & 0xFFFFFFFF) + buf.tobytes()


def is_jpeg(message: bytes) -> bool:
    return message.startswith(JPEG_MAGIC)


__all__ = ["JPEG_HEADER", "JPEG_MAGIC", "JpegEncoder", "is_jpeg", "jpeg_size"]
