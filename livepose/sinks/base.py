"""The sink contract: every output is a context manager that streams.

    with SomeSink(path, ...) as sink:
        sink.open(info)          # once, before the first frame (creates files)
        sink.write(result)       # once per frame, in frame order
    # close() on exit: flushes and leaves every file complete and valid

A sink never holds the whole run in memory.  Errors writing a file raise OutputError
naming the file.  ``write`` is called from one worker thread per sink.
"""

from __future__ import annotations

from livepose.types import FrameResult, StreamInfo


class Sink:
    """Base class; subclasses implement open, write and close."""

    name = "sink"

    def open(self, info: StreamInfo) -> None:
        raise NotImplementedError

    def write(self, result: FrameResult) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def summary(self) -> str | None:
        """One line for the end of a run (e.g. what a network output sent), or None."""
        return None

    def __enter__(self) -> "Sink":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
