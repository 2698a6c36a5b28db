"""Annotated photos: each result's picture (skeletons drawn) as an image file, written atomically."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from livepose.errors import OutputError
from livepose.images import IMAGE_SUFFIXES
from livepose.records import FrameRecord
from livepose.sinks.files.atomic import write_bytes_atomic
from livepose.sinks.files.common import FileSink, prepare_folder
from livepose.types import FrameResult, StreamInfo

DEFAULT_SUFFIX = ".png"


def image_suffix(name: str | os.PathLike) -> str:
    """The suffix a photo named ``name`` is written with: its own (lower case) when it is an image
    suffix OpenCV writes (``livepose.images.IMAGE_SUFFIXES``), else ``.png``."""
    suffix = Path(name).suffix.lower()
    return suffix if suffix in IMAGE_SUFFIXES else DEFAULT_SUFFIX


def encode_image(path: Path, image: np.ndarray) -> bytes:
    """``image`` encoded for ``path``'s suffix (``.png`` without one); OutputError when impossible."""
    suffix = path.suffix or DEFAULT_SUFFIX
    try:
        ok, data = cv2.imencode(suffix, image)
    except cv2.error:
        ok, data = False, None
    if not ok:
        raise OutputError(f"{path}: cannot encode image as {path.suffix}")
    return data.tobytes()


def write_image(path: str | os.PathLike, image: np.ndarray) -> None:
    """Encode ``image`` for ``path``'s suffix and write it atomically (OutputError naming ``path``)."""
    path = Path(path)
    write_bytes_atomic(path, encode_image(path, image))


class ImageSink(FileSink):
    """Each result's picture written to ``<folder>/<stem><suffix>``.

    ``name_for(result)`` gives the photo's file name (e.g. ``"dir/photo.JPG"``): the file is
    ``<folder>/photo.jpg`` (:func:`image_suffix`: the photo's own suffix when it is an image
    suffix, else ``.png``).  Without ``name_for`` the files are ``frame_<index:012d>.png``.
    The picture is ``result.picture`` (drawn once by the pipeline) or, when None, drawn here.
    """

    name = "image"
    needs_picture = True

    def __init__(self, folder: str | os.PathLike, name_for: Callable[[FrameResult], str | os.PathLike] | None = None):
        super().__init__(folder)
        self.folder = self.path
        self.name_for = name_for
        self.images_written = 0

    def file_for(self, result: FrameResult) -> Path:
        if self.name_for is None:
            return self.folder / f"frame_{int(result.frame.index):012d}{DEFAULT_SUFFIX}"
        name = Path(self.name_for(result))
        return self.folder / f"{name.stem}{image_suffix(name)}"

    def open(self, info: StreamInfo) -> None:
        prepare_folder(self.folder)
        self._info = info

    def _write(self, result: FrameResult, record: FrameRecord, info: StreamInfo) -> None:
        image = self._picture(result, info)
        write_image(self.file_for(result), image)
        self.images_written += 1

    def close(self) -> None:
        with self._lock:
            self._closed = True


__all__ = ["ImageSink", "encode_image", "image_suffix", "write_image"]
