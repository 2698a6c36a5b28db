"""What every file output shares: checking paths at open, and the bookkeeping of a file sink.

``open`` creates the parent folders and the file's temporary name
(:mod:`livepose.sinks.files.atomic`), so a path that cannot be written fails before the first
frame and the file at ``path`` is untouched until ``close`` renames the complete file over it;
every ``OSError`` becomes an ``OutputError`` of one line naming the file.  ``close`` is
idempotent and always leaves valid files (after a failed write: valid up to the last complete
frame, :attr:`FileSink.frames_written`); ``discard`` removes what a run that failed to start
made; ``write`` after ``close`` is a RuntimeError.
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

from livepose.errors import OutputError
from livepose.sinks.base import Sink
from livepose.records import FrameRecord, record_of
from livepose.render import render_result
from livepose.types import FrameResult, StreamInfo


def problem(exc: OSError) -> str:
    return exc.strerror or str(exc)


def prepare_file(path: Path) -> None:
    """Create ``path``'s parent folders and check that ``path`` can be written."""
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError(f"{path}: cannot create the folder {parent}: a file of that name is in the way") from None
    except OSError as exc:
        raise OutputError(f"{path}: cannot create the folder {parent} ({problem(exc)})") from None
    if path.is_dir():
        raise OutputError(f"{path}: cannot write: it is a folder")


def prepare_folder(folder: Path) -> None:
    """Create ``folder`` and check that files can be created in it."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError(f"{folder}: cannot create the folder: a file of that name is in the way") from None
    except OSError as exc:
        raise OutputError(f"{folder}: cannot create the folder ({problem(exc)})") from None
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".livepose-probe-"):
            pass
    except OSError as exc:
        raise OutputError(f"{folder}: cannot write in the folder ({problem(exc)})") from None


def open_text(path: Path, newline: str | None = None):
    """``path`` opened for writing UTF-8 text, or an OutputError naming it."""
    try:
        return open(path, "w", encoding="utf-8", newline=newline)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({problem(exc)})") from None


def check_parts(info_parts: tuple[str, ...], part_names: tuple[str, ...]) -> None:
    """A frame's parts must be the stream's (ValueError otherwise: a programming error)."""
    if tuple(part_names) != tuple(info_parts):
        raise ValueError(f"poses have parts {tuple(part_names)}, but the stream was opened with {tuple(info_parts)}")


class FileSink(Sink):
    """Shared bookkeeping: a lock (write and close may come from different threads),
    the open state, and OSError -> OutputError around writes.

    :meth:`write` takes the lock, checks the sink is open and the frame's parts are the
    stream's, and hands the frame's record (:mod:`livepose.records`) to :meth:`_write`, which
    each file output implements; outputs that write pictures get theirs from :meth:`_picture`.
    """

    #: the runner opens these after every other output (network outputs check their ports first)
    writes_files = True

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.frames_written = 0  # frames completely written (what the file holds after a failure)
        self.failure: OutputError | None = None  # the write error that stopped this output
        self._file = None  # a streamed output's PartFile (livepose.sinks.files.atomic)
        self._lock = threading.Lock()
        self._info: StreamInfo | None = None
        self._closed = False
        self._canvas = None  # drawing buffer for results that come without a picture

    def write(self, result: FrameResult) -> None:
        with self._lock:
            info = self._require_open()
            record = record_of(result)
            check_parts(info.part_names, record.part_names)
            if self.failure is not None:
                raise self.failure
            try:
                self._write(result, record, info)
            except OutputError as exc:
                self.failure = exc
                raise

    def _write(self, result: FrameResult, record: FrameRecord, info: StreamInfo) -> None:
        raise NotImplementedError

    def _picture(self, result: FrameResult, info: StreamInfo):
        """The frame with its skeletons drawn: the render stage's picture, or drawn here into a
        reused canvas (a result made by hand)."""
        if result.picture is not None:
            return result.picture
        self._canvas = render_result(self._canvas, result, info.limbs)
        return self._canvas

    def _require_open(self) -> StreamInfo:
        if self._info is None or self._closed:
            raise RuntimeError(f"{type(self).__name__}: write before open or after close")
        return self._info

    def _fail(self, exc: OSError, path: Path | None = None) -> OutputError:
        return OutputError(f"{path or self.path}: cannot write ({problem(exc)})")

    def close(self) -> None:
        """Rename the streamed file into place (valid up to its last complete frame); idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            part, self._file = self._file, None
        if part is not None:
            self._commit(part)

    def _commit(self, part) -> None:
        part.commit()

    def discard(self) -> None:
        """Close without keeping anything (a run that failed to start): the temporary file is
        removed and ``path`` keeps what it held before.  Idempotent; close after it does nothing."""
        with self._lock:
            part, self._file = self._file, None
            if part is not None:
                self._closed = True
        if part is not None:
            part.discard()
        else:  # an output without a PartFile (its own writer): at least release what it holds
            self.close()

    def _close_text_file(self) -> None:
        """Close the sink's text file ``self._fh`` once (close() may be called again)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            fh, self._fh = getattr(self, "_fh", None), None
            if fh is not None:
                try:
                    fh.close()
                except OSError as exc:
                    raise self._fail(exc) from None


__all__ = ["FileSink", "check_parts", "open_text", "prepare_file", "prepare_folder", "problem"]
