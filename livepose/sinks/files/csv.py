"""Long-form CSV: one row per part per person (``CSV_HEADER``), every frame present."""

from __future__ import annotations

import csv
import io
import os

from livepose.errors import OutputError
from livepose.records import FrameRecord
from livepose.sinks.files.atomic import PartFile
from livepose.sinks.files.common import FileSink, prepare_file
from livepose.types import FrameResult, StreamInfo

CSV_HEADER = ("frame", "time", "person", "keypoint", "x", "y", "conf")
CSV_XY_DIGITS = 2
CSV_CONF_DIGITS = 3


def csv_rows(record: FrameRecord) -> list[tuple]:
    """The rows of one frame: per person (its id, or its row without ids) one row per part with
    x, y, conf, or empty x, y and conf 0 where missing; a frame with nobody gets one row with
    only ``frame`` and ``time``."""
    frame, t = record.index, record.json_time
    if len(record) == 0:
        return [(frame, t, "", "", "", "", "")]
    rows = []
    parts = record.part_names
    for n, (xyc, seen) in enumerate(zip(record.xyc.tolist(), record.seen.tolist())):
        person = record.person_key(n)
        for part, (x, y, c), s in zip(parts, xyc, seen):
            if s:
                rows.append((frame, t, person, part, round(x, CSV_XY_DIGITS), round(y, CSV_XY_DIGITS),
                             round(c, CSV_CONF_DIGITS)))
            else:
                rows.append((frame, t, person, part, "", "", 0))
    return rows


class CsvSink(FileSink):
    """Long-form CSV, one row per part per person (``CSV_HEADER``); a frame with nobody
    gets one row with only ``frame`` and ``time``, so every frame appears.  Written under a
    temporary name and renamed to ``path`` by ``close`` (:class:`PartFile`)."""

    name = "csv"

    def __init__(self, path: str | os.PathLike):
        super().__init__(path)
        self._file: PartFile | None = None
        self._buf = io.StringIO()
        self._csv = csv.writer(self._buf)

    def _text(self, rows) -> str:
        self._buf.seek(0)
        self._buf.truncate()
        self._csv.writerows(rows)
        return self._buf.getvalue()

    def open(self, info: StreamInfo) -> None:
        prepare_file(self.path)
        part = PartFile(self.path)
        try:
            part.write(self._text([CSV_HEADER]))
        except OutputError:
            part.discard()
            raise
        self._file = part
        self._info = info

    def _write(self, result: FrameResult, record: FrameRecord, info: StreamInfo) -> None:
        self._file.write(self._text(csv_rows(record)))
        self.frames_written += 1


__all__ = ["CSV_HEADER", "CsvSink", "csv_rows"]
