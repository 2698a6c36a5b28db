"""OpenPose's per-frame JSON files (v1.3), one per frame or per photo, each written atomically."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Callable

from livepose.formats import openpose_document
from livepose.records import FrameRecord
from livepose.errors import OutputError
from livepose.sinks.files.atomic import temp_path, write_json_atomic
from livepose.sinks.files.common import FileSink, prepare_folder
from livepose.types import FrameResult, StreamInfo


class OpenPoseJsonSink(FileSink):
    """OpenPose's per-frame JSON (v1.3) in ``folder``, each file written atomically;
    ``person_id`` is the track id, -1 without tracking; with carrying on each person has
    ``pose_keypoints_2d_carried`` and the document ``livepose_keyframe``
    (:func:`livepose.formats.openpose_document`).

    Video frames: ``<folder>/<name>_<frame:012d>_keypoints.json``.  Photos: give ``name_for``
    (result -> the photo's file name, e.g. ``"dir/photo.jpg"``) and each result is written to
    ``<folder>/<stem>_keypoints.json`` (``photo_keypoints.json``), as OpenPose names them.

    Video frames are written into a hidden folder ``<folder>/.<name>_keypoints.livepose-<pid>.tmp``
    and moved into ``folder`` by ``close``, which then removes the files of an earlier run of the
    same name that this run did not rewrite (only files named ``<name>_<12 digits>_keypoints.json``;
    nothing else in ``folder`` is touched): the folder holds exactly this run's frames, and a run
    that fails to start (``discard``) leaves the earlier ones as they were.  Photos are written
    straight into ``folder``, each file atomically.
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

        self._staging: Path | None = None  # video frames: the hidden folder they are written into

    def file_for(self, index: int) -> Path:
        return self.folder / self._frame_name(index)

    def _frame_name(self, index: int) -> str:
        return f"{self.stem}_{int(index):012d}_keypoints.json"

    @property
    def frame_pattern(self) -> re.Pattern:
        """The names of this output's per-frame files (video frames)."""
        return re.compile(re.escape(str(self.stem)) + r"_\d{12}_keypoints\.json")

    def _target(self, result: FrameResult) -> Path:
        if self.name_for is not None:
            return self.folder / f"{Path(self.name_for(result)).stem}_keypoints.json"
        return self._staging / self._frame_name(result.frame.index)

    def open(self, info: StreamInfo) -> None:
        prepare_folder(self.folder)
        if self.name_for is None:
            staging = temp_path(self.folder / f"{self.stem}_keypoints")
            try:
                if staging.exists():
                    shutil.rmtree(staging)
                staging.mkdir()
            except OSError as exc:
                raise self._fail(exc, staging) from None
            self._staging = staging
        self._info = info

    def _write(self, result: FrameResult, record: FrameRecord, info: StreamInfo) -> None:
        write_json_atomic(self._target(result), openpose_document(record))
        self.frames_written += 1

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            staging, self._staging = self._staging, None
        if staging is None:
            return
        try:
            written = set()
            for entry in sorted(os.scandir(staging), key=lambda e: e.name):
                if self.frame_pattern.fullmatch(entry.name):
                    os.replace(entry.path, self.folder / entry.name)
                    written.add(entry.name)
            pattern = self.frame_pattern
            for entry in os.scandir(self.folder):
                if entry.is_file() and pattern.fullmatch(entry.name) and entry.name not in written:
                    os.unlink(entry.path)  # a frame of an earlier, longer run of this name
            shutil.rmtree(staging)
        except OSError as exc:
            raise OutputError(f"{self.folder}: cannot move the frames into place ({exc.strerror or exc}); "
                              f"they are in {staging}") from None

    def discard(self) -> None:
        with self._lock:
            self._closed = True
            staging, self._staging = self._staging, None
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)


__all__ = ["OpenPoseJsonSink"]
