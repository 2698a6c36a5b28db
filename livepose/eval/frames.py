"""The frames an evaluation runs: a :class:`~livepose.capture.Source` over a list of annotated
image files, for the pipeline to process like any other source.

Unlike a folder source (:class:`livepose.capture.ImageSequenceSource`), an image that cannot be
read does not stop the run: it is skipped and recorded in :attr:`FrameList.failures`, and the
evaluation counts its people as missed.  Frame indices are positions in the list, so a skipped
image leaves a gap.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

from livepose.capture.base import DEFAULT_FPS, Source, _check_fps
from livepose.errors import InputError
from livepose.images import read_image
from livepose.types import Frame


class NothingReadable(InputError):
    """None of a list's images could be read; ``failures`` holds (position, message) of each."""

    def __init__(self, message: str, failures: list[tuple[int, str]]):
        super().__init__(message)
        self.failures = failures


class FrameList(Source):
    """Annotated image files in the given order, read when the consumer asks.

    ``paths``: the image files; ``timestamps``: seconds of each (default position / ``fps``).
    ``folder`` and ``what`` ("images" or "frames") name the set in the message raised at open
    when no image can be read (:class:`NothingReadable`, an InputError).  The first readable
    image is read at open, so ``size`` is known at once.  Images may differ in size
    (``fixed_size`` False); never live.
    """

    _fixed_size = False

    def __init__(self, paths: Sequence[str | Path], timestamps: Sequence[float] | None = None, *,
                 folder: str | Path, what: str = "images", name: str | None = None, fps: float | None = None):
        super().__init__()
        self.paths = [Path(p) for p in paths]
        self.folder = Path(folder)
        if not self.paths:
            raise InputError(f"{self.folder}: no annotated {what}")
        self.fps = _check_fps(fps) or DEFAULT_FPS
        if timestamps is None:
            timestamps = [k / self.fps for k in range(len(self.paths))]
        self.timestamps = [float(t) for t in timestamps]
        if len(self.timestamps) != len(self.paths):
            raise ValueError(f"{len(self.timestamps)} timestamps for {len(self.paths)} images")
        self.name = name or self.folder.name or "frames"
        self.frame_count = len(self.paths)
        self.is_live = False
        self.stopped_early = None
        #: (position, one-line message) of every image that could not be read, in order
        self.failures: list[tuple[int, str]] = []
        self._next_index = 0
        first = self._read()
        if first is None:
            n = len(self.failures)
            raise NothingReadable(f"{self.folder}: none of the {n} annotated {what} could be read "
                                  f"({self.failures[0][1]})", list(self.failures))
        self._pending: Frame | None = first
        self.size = first.size

    def _read(self) -> Frame | None:
        """The next readable image as a Frame (recording those that are not), None at the end."""
        while self._next_index < len(self.paths):
            index = self._next_index
            self._next_index += 1
            try:
                image = read_image(self.paths[index])
            except InputError as exc:
                self.failures.append((index, str(exc)))
                continue
            return Frame(index, self.timestamps[index], time.perf_counter(), image)
        return None

    def __next__(self) -> Frame:
        if self._closed:
            raise StopIteration
        if self._pending is not None:
            frame, self._pending = self._pending, None
            return frame
        frame = self._read()
        if frame is None:
            raise StopIteration
        return frame

    def close(self) -> None:
        self._closed = True
        self._pending = None
