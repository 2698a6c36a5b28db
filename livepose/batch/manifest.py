"""The batch's manifest: ``OUT/manifest.csv`` and ``OUT/manifest.json``, one row per video in
the order the videos were listed, rewritten (atomically: temporary name, then ``os.replace``)
each time a video finishes, so a reader always sees a complete file.

Columns (schema ``livepose.batch/1``, docs/batch.md): ``video`` (its path), ``folder`` (its
output folder, relative to OUT), ``status`` (``done``: processed by this batch; ``skipped``:
finished by an earlier batch with the same options; ``failed``; ``pending``: not finished yet, or
the batch was interrupted), ``frames``, ``seconds`` (the run, network loading excluded), ``fps``,
``people_per_frame``, ``distinct_ids`` (person ids seen; 0 without tracking), ``attempts``
(made by this batch), ``error`` (one line, for a failed video), ``gpu`` (the CUDA devices its
worker saw, with ``--gpus`` or Ray GPUs; empty on the CPU).
"""

from __future__ import annotations

import csv
import io
import os
import time
from pathlib import Path

MANIFEST_SCHEMA = "livepose.batch/1"
COLUMNS = ("video", "folder", "status", "frames", "seconds", "fps", "people_per_frame", "distinct_ids", "attempts",
           "error", "gpu")
STATUSES = ("done", "skipped", "failed", "pending")


class Manifest:
    """The rows of a batch, written to ``out/manifest.csv`` and ``out/manifest.json``."""

    def __init__(self, out: str | os.PathLike, videos, stems, *, options: str, mode: str):
        self.out = Path(out)
        self.options = options
        self.mode = mode
        self.started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.rows = {str(v): {"video": str(v), "folder": s, "status": "pending", "frames": 0, "seconds": 0.0,
                              "fps": 0.0, "people_per_frame": 0.0, "distinct_ids": 0, "attempts": 0, "error": "",
                              "gpu": ""}
                     for v, s in zip(videos, stems)}

    def update(self, video: str, /, **values) -> None:
        row = self.rows[str(video)]
        for key, value in values.items():
            if key in row and key not in ("video", "folder"):
                row[key] = value
        row["error"] = " ".join(str(row["error"]).split())  # one line

    def counts(self) -> dict[str, int]:
        counts = {s: 0 for s in STATUSES}
        for row in self.rows.values():
            counts[row["status"]] += 1
        return counts

    def csv_text(self) -> str:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in self.rows.values():
            writer.writerow(row)
        return buf.getvalue()

    def document(self) -> dict:
        return {"schema": MANIFEST_SCHEMA, "started": self.started,
                "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "mode": self.mode,
                "options": self.options, "counts": self.counts(), "videos": list(self.rows.values())}

    def write(self) -> None:
        """Both files, each complete (OutputError naming the file when it cannot be written)."""
        import json

        from livepose.sinks.files.atomic import write_bytes_atomic

        write_bytes_atomic(self.out / "manifest.csv", self.csv_text().encode("utf-8"))
        write_bytes_atomic(self.out / "manifest.json",
                           (json.dumps(self.document(), indent=1) + "\n").encode("utf-8"))


__all__ = ["COLUMNS", "MANIFEST_SCHEMA", "Manifest", "STATUSES"]
