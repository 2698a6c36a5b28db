"""Long-form CSV: one row per part per person (``CSV_HEADER``), every frame present."""

from __future__ import annotations

import csv
import os

from livepose.records import FrameRecord
from livepose.sinks.files.common import FileSink, open_text, prepare_file
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
    gets one row with only ``frame`` and ``time``, so every frame appears."""

    name = "csv"

    def __init__(self, path: str | os.PathLike):
        super().__init__(path)
        self._fh = None
        self._csv = None

    def open(self, info: StreamInfo) -> None:
        prepare_file(self.path)
        self._fh = open_text(self.path, newline="")
        self._csv = csv.writer(self._fh)
        try:
            self._csv.writerow(CSV_HEADER)
            self._fh.flush()
        except OSError as exc:
            raise self._fail(exc) from None
        self._info = info

    def _write(self, result: FrameResult, record: FrameRecord, info: StreamInfo) -> None:
        try:
            self._csv.writerows(csv_rows(record))
            self._fh.flush()
        except OSError as exc:
            raise self._fail(exc) from None

    def close(self) -> None:
        self._csv = None
        self._close_text_file()


__all__ = ["CSV_HEADER", "CsvSink", "csv_rows"]
