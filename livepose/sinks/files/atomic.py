"""The package's one way to write a file so that a reader never sees half of it.

* :func:`write_bytes_atomic` / :func:`write_json_atomic`: a whole file at once (a photo, an
  OpenPose frame, a report), written to ``<name>.part`` and renamed over ``<name>``.
* :class:`PartFile`: a file streamed over a run (the COCO results list), written to
  ``<name>.part`` and renamed to ``<name>`` by :meth:`PartFile.commit`.

Every ``OSError`` becomes one :class:`~livepose.errors.OutputError` line naming the file:
``<path>: cannot write (<reason>)``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from livepose.errors import OutputError


def part_path(path: Path) -> Path:
    """Where ``path`` is written before it is complete: ``<name>.part`` beside it."""
    return path.with_name(path.name + ".part")


def cannot_write(path: Path, exc: OSError) -> OutputError:
    return OutputError(f"{path}: cannot write ({exc.strerror or exc})")


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``<path>.part`` and rename it to ``path``."""
    path = Path(path)
    tmp = part_path(path)
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise cannot_write(path, exc) from None


def write_json_atomic(path: str | os.PathLike, document) -> None:
    """Write ``document`` as compact JSON (``separators=(",", ":")``), atomically."""
    write_bytes_atomic(path, json.dumps(document, separators=(",", ":")).encode("utf-8"))


class PartFile:
    """A text file streamed to ``<path>.part`` and renamed to ``path`` by :meth:`commit`.

    ``PartFile(path)`` opens the part file (OutputError naming it when impossible); write with
    :meth:`write` (text, flushed); :meth:`commit` writes ``tail``, closes and renames (OutputError
    naming ``path``); :meth:`discard` closes and removes the part file.  Both are idempotent.
    """

    def __init__(self, path: str | os.PathLike, newline: str | None = None):
        self.path = Path(path)
        self.part = part_path(self.path)
        try:
            self._fh = open(self.part, "w", encoding="utf-8", newline=newline)
        except OSError as exc:
            raise cannot_write(self.part, exc) from None

    def write(self, text: str) -> None:
        """Append ``text`` and flush (OutputError naming the part file on failure)."""
        try:
            self._fh.write(text)
            self._fh.flush()
        except OSError as exc:
            raise cannot_write(self.part, exc) from None

    def commit(self, tail: str = "") -> None:
        """Write ``tail``, close and rename the part file to ``path``."""
        fh, self._fh = self._fh, None
        if fh is None:
            return
        try:
            fh.write(tail)
            fh.close()
            os.replace(self.part, self.path)
        except OSError as exc:
            raise cannot_write(self.path, exc) from None

    def discard(self) -> None:
        """Close and remove the part file (nothing is renamed)."""
        fh, self._fh = self._fh, None
        if fh is None:
            return
        try:
            fh.close()
        except OSError:
            pass
        try:
            self.part.unlink()
        except OSError:
            pass


__all__ = ["PartFile", "cannot_write", "part_path", "write_bytes_atomic", "write_json_atomic"]
