"""OpenPose's per-frame JSON files (v1.3), one per frame or per photo, each written atomically."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from livepose.formats import openpose_document
from livepose.records import FrameRecord
from livepose.sinks.files.atomic import write_json_atomic
from livepose.sinks.files.common import FileSink, prepare_folder
from livepose.types import FrameResult, StreamInfo


class OpenPoseJsonSink(FileSink):
    """OpenPose's per-frame JSON (v1.3) in ``folder``, each file written atomically;
    ``person_id`` is the track id, -1 without tracking.

    Video frames: ``<folder>/<name>_<frame:012d>_keypoints.json``.  Photos: give ``name_for``
    (result -> the photo's file name, e.g. ``"dir/photo.jpg"``) and each result is written to
    ``<folder>/<stem>_keypoints.json`` (``photo_keypoints.json``), as OpenPose names them.
    """

    name = "openpose"

    def __init__(self, folder: str | os.PathLike, name: str | None = None, *,
                 name_for: Callable[[FrameResult], str | os.PathLike] | None = None):
        if name is None and name_for is None:
            raise ValueError("OpenPoseJsonSink needs a name (video frames) or name_for (photos)")
        super().__init__(folder)
        self.folder = self.path
        self.stem = None if name is None else str(name)
        self.name_for = name_for

    def file_for(self, index: int) -> Path:
        return self.folder / f"{self.stem}_{int(index):012d}_keypoints.json"

    def _file(self, result: FrameResult) -> Path:
        if self.name_for is not None:
            return self.folder / f"{Path(self.name_for(result)).stem}_keypoints.json"
        return self.file_for(result.frame.index)

    def open(self, info: StreamInfo) -> None:
        prepare_folder(self.folder)
        self._info = info

    def _write(self, result: FrameResult, record: FrameRecord, info: StreamInfo) -> None:
        write_json_atomic(self._file(result), openpose_document(record))

    def close(self) -> None:
        with self._lock:
            self._closed = True


__all__ = ["OpenPoseJsonSink"]
