"""The annotated video: the input with skeletons drawn, same size and frame rate."""

from __future__ import annotations

import os

import cv2

from livepose.errors import OutputError
from livepose.records import FrameRecord
from livepose.sinks.files.common import FileSink, prepare_file
from livepose.types import FrameResult, StreamInfo

# Container suffix -> fourcc.  All four were checked to write and read back with
# opencv-python 5.0 (FFmpeg backend); H.264 ('avc1') has no encoder in the wheels and
# WebM (VP8/VP9) encodes too slowly for real time, so neither is offered.
VIDEO_FOURCC = {".mp4": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "XVID"}
DEFAULT_FPS = 25.0


class VideoSink(FileSink):
    """The input video with skeletons drawn: same size and frame rate as the input.

    The codec follows the suffix (``VIDEO_FOURCC``); another suffix is an OutputError.
    The picture is ``result.picture`` (drawn once by the pipeline) or, when None, drawn here
    into a reused buffer.  Frames of another size than ``info.size`` are resized after drawing.
    """

    name = "video"
    needs_picture = True

    def __init__(self, path: str | os.PathLike):
        super().__init__(path)
        suffix = self.path.suffix.lower()
        if suffix not in VIDEO_FOURCC:
            known = ", ".join(VIDEO_FOURCC)
            raise OutputError(f"{self.path}: unknown video type {suffix or '(no suffix)'!r}; use one of {known}")
        self.fourcc = VIDEO_FOURCC[suffix]
        self._writer: cv2.VideoWriter | None = None
        self.frames_written = 0

    def open(self, info: StreamInfo) -> None:
        prepare_file(self.path)
        try:  # a clear message (permission, read-only disk) before OpenCV's silent failure
            with open(self.path, "wb"):
                pass
        except OSError as exc:
            raise self._fail(exc) from None
        fps = float(info.fps) if info.fps and info.fps > 0 else DEFAULT_FPS
        self.size = (int(info.size[0]), int(info.size[1]))
        writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*self.fourcc), fps, self.size)
        if not writer.isOpened():
            writer.release()
            raise OutputError(
                f"{self.path}: OpenCV {cv2.__version__} cannot open a {self.fourcc!r} video writer "
                f"of {self.size[0]}x{self.size[1]} at {fps:g} fps"
            )
        self._writer = writer
        self._info = info

    def _write(self, result: FrameResult, record: FrameRecord, info: StreamInfo) -> None:
        image = self._picture(result, info)
        if (image.shape[1], image.shape[0]) != self.size:
            image = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
        self._writer.write(image)
        self.frames_written += 1

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._writer is not None:
                self._writer.release()
                self._writer = None


__all__ = ["DEFAULT_FPS", "VIDEO_FOURCC", "VideoSink"]
