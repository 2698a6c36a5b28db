"""COCO keypoint results: one JSON list for the run, streamed and made valid by close."""

from __future__ import annotations

import json
import os

from livepose.errors import OutputError
from livepose.formats import coco_results
from livepose.records import FrameRecord
from livepose.sinks.files.atomic import PartFile, temp_path
from livepose.sinks.files.common import FileSink, prepare_file
from livepose.types import COCO17_NAMES, FrameResult, StreamInfo


class CocoSink(FileSink):
    """COCO keypoint results (one JSON list for the run), streamed to a temporary name
    (:class:`PartFile`) and renamed to ``path`` by ``close``: the final file is valid JSON however
    the run ended.

    ``image_id`` is the frame index; entries carry ``track_id`` when the results have ids, and
    ``carried`` / ``keyframe`` with carrying on (:func:`livepose.formats.coco_results`).
    """

    name = "coco"

    def __init__(self, path: str | os.PathLike):
        super().__init__(path)
        self._file: PartFile | None = None
        self._first = True

    @property
    def part_path(self):
        return temp_path(self.path)

    def open(self, info: StreamInfo) -> None:
        missing = [n for n in COCO17_NAMES if n not in info.part_names]
        if missing:
            raise OutputError(
                f"{self.path}: the network's parts cannot give COCO-17 keypoints, missing: {', '.join(missing)}"
            )
        prepare_file(self.path)
        part = PartFile(self.path)
        try:
            part.write("[")
        except OutputError:
            part.discard()
            raise
        self._file = part
        self._info = info

    def _write(self, result: FrameResult, record: FrameRecord, info: StreamInfo) -> None:
        entries = coco_results(record, image_id=record.index)
        if not entries:
            self.frames_written += 1
            return
        if record.ids is not None:
            for entry, pid in zip(entries, record.json_ids):
                entry["track_id"] = pid
        chunks = []
        for entry in entries:
            chunks.append(("\n" if self._first else ",\n") + json.dumps(entry, separators=(",", ":")))
            self._first = False
        self._file.write("".join(chunks))
        self.frames_written += 1

    def _commit(self, part: PartFile) -> None:
        # after a failed write the file is cut back to the last complete entry: the tail still closes it
        part.commit("\n]\n")


__all__ = ["CocoSink"]
