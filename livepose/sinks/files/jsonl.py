"""JSON Lines: one object per frame (schema ``livepose.frame/1``, docs/outputs.md), flushed per line."""

from __future__ import annotations

import json
import os

from livepose.records import FrameRecord, record_of
from livepose.sinks.files.atomic import PartFile
from livepose.sinks.files.common import FileSink, prepare_file
from livepose.types import FrameResult, StreamInfo

JSONL_SCHEMA = "livepose.frame/1"


def jsonl_document(info: StreamInfo, result) -> dict:
    """The JSON object for one frame (a FrameResult or its FrameRecord)."""
    record = record_of(result)
    ids, scores, keypoints = record.json_ids, record.json_scores, record.json_keypoints
    carried = record.json_carried  # carrying on (--keyframe-every): which keypoints were carried
    people = []
    if record.tracked:
        # tracking on: "keypoints" are smoothed; the detection as found, and the joints
        # the tracker predicted (not measured this frame), come alongside
        for n, (raw, predicted) in enumerate(zip(record.json_raw, record.json_predicted)):
            people.append({"id": ids[n], "score": scores[n], "keypoints": keypoints[n],
                           "state": record.states[n], "raw": raw, "predicted": predicted})
    else:
        for n in range(len(record)):
            people.append({"id": ids[n], "score": scores[n], "keypoints": keypoints[n]})
    document = {
        "schema": JSONL_SCHEMA,
        "model": info.model,
        "frame": record.index,
        "time": record.json_time,
        "width": record.width,
        "height": record.height,
        "people": people,
    }
    if carried is not None:
        document["keyframe"] = record.keyframe
        for person, mask in zip(people, carried):
            person["carried"] = mask
    return document


class JsonlSink(FileSink):
    """JSON Lines: one object per frame (schema ``livepose.frame/1``), flushed per line, written
    under a temporary name and renamed to ``path`` by ``close`` (:class:`PartFile`)."""

    name = "jsonl"

    def __init__(self, path: str | os.PathLike):
        super().__init__(path)
        self._file: PartFile | None = None

    def open(self, info: StreamInfo) -> None:
        prepare_file(self.path)
        self._file = PartFile(self.path)
        self._info = info

    @staticmethod
    def document(info: StreamInfo, result: FrameResult) -> dict:
        """The JSON object for one frame (also usable without a file)."""
        return jsonl_document(info, result)

    def _write(self, result: FrameResult, record: FrameRecord, info: StreamInfo) -> None:
        line = json.dumps(jsonl_document(info, record), separators=(",", ":"), allow_nan=False)
        self._file.write(line + "\n")
        self.frames_written += 1


__all__ = ["JSONL_SCHEMA", "JsonlSink", "jsonl_document"]
