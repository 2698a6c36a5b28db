"""Progress on long runs: a bar on a terminal, plain periodic lines otherwise, nothing when quiet."""

from __future__ import annotations

import sys
import time


class Progress:
    """Counts frames; shows frames done / total, FPS and ETA.

    On a terminal it is a tqdm bar; when stderr is not a terminal (logs, CI) it prints one
    plain line every ``every`` seconds.
    """

    def __init__(self, total: int | None, *, quiet: bool = False, every: float = 5.0, stream=None):
        self.total = total
        self.quiet = quiet
        self.every = every
        self.stream = stream if stream is not None else sys.stderr
        self.count = 0
        self._start = time.perf_counter()
        self._last_line = self._start
        self._bar = None
        if not quiet and hasattr(self.stream, "isatty") and self.stream.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit="frame", file=self.stream, dynamic_ncols=True, smoothing=0.1)

    def update(self, n: int = 1, people: int | None = None) -> None:
        self.count += n
        if self.quiet:
            return
        if self._bar is not None:
            self._bar.update(n)
            if people is not None:
                self._bar.set_postfix(people=people, refresh=False)
            return
        now = time.perf_counter()
        if now - self._last_line >= self.every:
            self._last_line = now
            elapsed = now - self._start
            fps = self.count / elapsed if elapsed > 0 else 0.0
            if self.total:
                eta = (self.total - self.count) / fps if fps > 0 else float("inf")
                print(f"frame {self.count}/{self.total} ({100 * self.count / self.total:.0f}%), "
                      f"{fps:.1f} FPS, ETA {eta:.0f} s", file=self.stream, flush=True)
            else:
                print(f"frame {self.count}, {fps:.1f} FPS", file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
