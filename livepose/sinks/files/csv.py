"""Long-form CSV: one row per part per person (``CSV_HEADER``), every frame present; with carrying
on (``--keyframe-every`` K > 1) one more column, ``carried`` (``CSV_CARRIED_HEADER``)."""

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
#: the header with carrying on: 1 where the keypoint was carried by optical flow, 0 where the
#: network measured it or it is missing; empty on the one row of a frame with nobody
CSV_CARRIED_HEADER = CSV_HEADER + ("carried",)
CSV_XY_DIGITS = 2
CSV_CONF_DIGITS = 3


def csv_rows(record: FrameRecord, carrying: bool = False) -> list[tuple]:
    """The rows of one frame: per person (its id, or its row without ids) one row per part with
    x, y, conf, or empty x, y and conf 0 where missing; a frame with nobody gets one row with
    only ``frame`` and ``time``.

    ``carrying``: each row ends with ``carried`` (:data:`CSV_CARRIED_HEADER`): 1 where the keypoint
    was carried by optical flow, 0 where the network measured it or it is missing (0 everywhere
    when the record has no carrying fields); empty on the row of a frame with nobody."""
    frame, t = record.index, record.json_time
    if len(record) == 0:
        return [(frame, t, "", "", "", "", "", "") if carrying else (frame, t, "", "", "", "", "")]
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
    if carrying:
        carried = record.json_carried  # 0/1 per person per part, 0 where missing
        flags = [0] * len(rows) if carried is None else [v for mask in carried for v in mask]
        rows = [row + (v,) for row, v in zip(rows, flags)]
    return rows


class CsvSink(FileSink):
    """Long-form CSV, one row per part per person (``CSV_HEADER``); a frame with nobody
    gets one row with only ``frame`` and ``time``, so every frame appears.  Written under a
    temporary name and renamed to ``path`` by ``close`` (:class:`PartFile`).

    ``carrying``: the run carries keypoints between network frames (``--keyframe-every`` K > 1):
    the header is :data:`CSV_CARRIED_HEADER` and each row ends with ``carried`` (:func:`csv_rows`).
    The header is written at ``open``, before any frame, so this is given when the sink is made
    (:func:`livepose.build.build_outputs` passes ``config.carry.active``)."""

    name = "csv"

    def __init__(self, path: str | os.PathLike, *, carrying: bool = False):
        super().__init__(path)
        self.carrying = bool(carrying)
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
            part.write(self._text([CSV_CARRIED_HEADER if self.carrying else CSV_HEADER]))
        except OutputError:
            part.discard()
            raise
        self._file = part
        self._info = info

    def _write(self, result: FrameResult, record: FrameRecord, info: StreamInfo) -> None:
        self._file.write(self._text(csv_rows(record, self.carrying)))
        self.frames_written += 1


__all__ = ["CSV_CARRIED_HEADER", "CSV_HEADER", "CsvSink", "csv_rows"]
