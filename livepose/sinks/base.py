"""The sink contract: every output is a context manager that streams.

    with SomeSink(path, ...) as sink:
        sink.open(info)          # once, before the first frame (creates files)
        sink.write(result)       # once per frame, in frame order
    # close() on exit: flushes and leaves every file complete and valid

A sink never holds the whole run in memory.  Errors writing a file raise OutputError
naming the file.  ``write`` after ``close`` raises RuntimeError; ``close`` may be called
again (and before ``open``).  Serialisers read the frame's people from its record
(:func:`livepose.records.record_of`).

What a sink tells the runner (class attributes):

* ``needs_picture``: the sink shows or writes the frame with the skeletons drawn; when any sink
  says so, the pipeline draws each frame once into ``result.picture`` (else None: the sink
  draws itself with :func:`livepose.render.render_result`).
* ``on_caller_thread``: ``write`` must run on the thread that runs the pipeline (the overlay
  window: lowest latency, and it can stop the run); other sinks get their own worker thread.
* ``stop_requested``: a ``threading.Event`` the runner polls (set when the user asked to stop,
  e.g. ``q`` in the window), or None when the sink never asks.
"""

from __future__ import annotations

import threading

from livepose.types import FrameResult, StreamInfo


class Sink:
    """Base class; subclasses implement open, write and close."""

    name = "sink"
    needs_picture: bool = False
    on_caller_thread: bool = False
    stop_requested: threading.Event | None = None

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
