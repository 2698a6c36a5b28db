"""The package's one way to write a file so that a reader never sees half of it, and an earlier
result is never lost to a run that fails.

Every file is written under a temporary name in its own folder, ``.<name>.livepose-<pid>.tmp``
(:func:`temp_path`: hidden, unique to the process, so two runs writing the same output never
share a file), and renamed over ``<name>`` (``os.replace``) when it is complete: the old file
stays whole until then, and when two runs write the same file the last to finish wins with a
complete file.  A symbolic link is followed (its target is replaced, the link stays); an
existing file that is not a regular file (``/dev/stdout``, ``/dev/null``, a pipe) is written
straight into.

* :func:`write_bytes_atomic` / :func:`write_json_atomic`: a whole file at once (a photo, an
  OpenPose frame, a report).
* :class:`PartFile`: a file streamed over a run (JSON Lines, CSV, the COCO results list):
  :meth:`PartFile.commit` renames it into place; after a failed write it is first cut back to
  the end of the last complete write, so what is renamed is valid; :meth:`PartFile.discard`
  removes it (a run that failed to start).

Every ``OSError`` becomes one :class:`~livepose.errors.OutputError` line naming the file:
``<path>: cannot write (<reason>)``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from pathlib import Path

from livepose.errors import OutputError

NAME_MAX = 255  # bytes in a file name (ext4, xfs, btrfs, tmpfs, APFS, NTFS in UTF-16 units)

#: what :func:`temp_path` adds: ``.<name>.livepose-<pid>.tmp``
TEMP_PATTERN = re.compile(r"^\.(?P<name>.+)\.livepose-(?P<pid>\d+)\.tmp$")


def temp_path(path: str | os.PathLike, pid: int | None = None) -> Path:
    """Where ``path`` is written before it is complete: ``.<name>.livepose-<pid>.tmp`` beside it."""
    path = Path(path)
    tail = f".livepose-{os.getpid() if pid is None else pid}.tmp"
    name = path.name
    if len(f".{name}{tail}".encode("utf-8", "surrogateescape")) > NAME_MAX:  # a long name: shortened, kept unique
        digest = hashlib.sha1(name.encode("utf-8", "surrogateescape")).hexdigest()[:12]
        name = name.encode("utf-8", "surrogateescape")[:NAME_MAX - len(tail) - 14].decode("utf-8", "ignore")
        name = f"{name}~{digest}"
    return path.with_name(f".{name}{tail}")


def part_path(path: Path) -> Path:
    """Former name of :func:`temp_path`."""
    return temp_path(path)


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this machine (as far as this process can tell)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, but is someone else's
        return True
    return True


def leftover_temps(path: str | os.PathLike) -> list[Path]:
    """The temporary files of ``path`` that runs no longer running left behind (killed, e.g. by
    SIGKILL or a power cut, before they could rename them): the newest first.  ``folder/*``:
    every such file or folder in ``folder``."""
    path = Path(path)
    found = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return []
    for entry in entries:
        m = TEMP_PATTERN.match(entry.name)
        if m and (m.group("name") == path.name or path.name == "*") and int(m.group("pid")) != os.getpid() \
                and not pid_alive(int(m.group("pid"))):
            found.append(Path(entry.path))
    return sorted(found, key=lambda p: p.stat().st_mtime if p.exists() else 0.0, reverse=True)


def target_of(path: str | os.PathLike) -> tuple[Path, bool]:
    """(where ``path``'s new content goes, whether it is renamed there): a symbolic link's target
    (the link stays a link), renamed; an existing file that is not a regular file (``/dev/stdout``,
    ``/dev/null``, a pipe) is written straight into, never replaced."""
    path = Path(path)
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return (Path(os.path.realpath(path)) if path.is_symlink() else path), True
    if not stat.S_ISREG(st.st_mode):
        return path, False
    return (Path(os.path.realpath(path)) if path.is_symlink() else path), True


def _keep_mode(tmp: Path, target: Path) -> None:
    """Give the new file the permissions of the file it replaces (best effort)."""
    try:
        os.chmod(tmp, stat.S_IMODE(os.stat(target).st_mode))
    except OSError:
        pass


def cannot_write(path: Path, exc: OSError) -> OutputError:
    return OutputError(f"{path}: cannot write ({exc.strerror or exc})")


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path``'s temporary name and rename it to ``path``."""
    path = Path(path)
    target, rename = target_of(path)
    tmp = temp_path(target) if rename else target
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
        if rename:
            _keep_mode(tmp, target)
            os.replace(tmp, target)
    except OSError as exc:
        if not rename:
            raise cannot_write(path, exc) from None
        _remove(tmp)
        raise cannot_write(path, exc) from None


def write_json_atomic(path: str | os.PathLike, document) -> None:
    """Write ``document`` as compact JSON (``separators=(",", ":")``), atomically."""
    write_bytes_atomic(path, json.dumps(document, separators=(",", ":")).encode("utf-8"))


class PartFile:
    """A UTF-8 text file streamed to its temporary name and renamed to ``path`` by :meth:`commit`.

    ``PartFile(path)`` creates the temporary file (OutputError naming it when impossible); write
    with :meth:`write` (text, flushed at once, so a full disk is seen at the write that hit it);
    :meth:`commit` writes ``tail``, syncs, closes and renames (OutputError naming ``path``);
    :meth:`discard` closes and removes the temporary file.  Both are idempotent.

    A :meth:`write` that fails marks the file failed; :meth:`commit` then cuts it back to the end
    of the last complete write (``good``) before the tail, so the file renamed into place holds
    exactly the writes that succeeded.  When even that fails, the temporary file is kept and the
    error names it (it is never left behind without a word).
    """

    def __init__(self, path: str | os.PathLike, newline: str | None = None):
        self.path = Path(path)
        self.target, self.renamed = target_of(self.path)  # not renamed: a device or pipe, written straight
        self.part = self.temp = temp_path(self.target) if self.renamed else self.target
        self.good = 0  # bytes of the complete writes
        self.failed = False
        self.committed = False
        try:
            self._fh = open(self.temp, "wb", buffering=0)  # every write reaches the file (or fails) at once
        except OSError as exc:
            raise cannot_write(self.temp, exc) from None

    def write(self, text: str) -> None:
        """Append ``text`` and flush (OutputError naming ``path`` on failure)."""
        if self._fh is None:
            raise RuntimeError(f"{self.path}: write after commit or discard")
        data = text.encode("utf-8")
        try:
            _write_all(self._fh, data)
        except OSError as exc:
            self.failed = True
            raise cannot_write(self.path, exc) from None
        if not self.failed:
            self.good += len(data)

    def commit(self, tail: str = "") -> None:
        """Write ``tail``, sync, close and rename the temporary file to ``path``."""
        fh, self._fh = self._fh, None
        if fh is None:
            return
        try:
            if self.failed and self.renamed:  # drop what the failed write left after the last complete one
                os.ftruncate(fh.fileno(), self.good)
                fh.seek(self.good)
            _write_all(fh, tail.encode("utf-8"))
            if self.renamed:
                os.fsync(fh.fileno())
            fh.close()
            if self.renamed:
                _keep_mode(self.temp, self.target)
                os.replace(self.temp, self.target)
            self.committed = True
        except OSError as exc:
            try:
                fh.close()
            except OSError:
                pass
            if self.renamed and self.temp.exists():
                raise OutputError(f"{self.path}: cannot write ({exc.strerror or exc}); what was written is kept "
                                  f"in {self.temp}") from None
            raise cannot_write(self.path, exc) from None

    def discard(self) -> None:
        """Close and remove the temporary file (nothing is renamed; ``path`` is untouched)."""
        fh, self._fh = self._fh, None
        if fh is None:
            return
        try:
            fh.close()
        except OSError:
            pass
        if self.renamed:
            _remove(self.temp)


def _write_all(fh, data: bytes) -> None:
    """All of ``data`` into the unbuffered ``fh`` (a raw write may take only part of it)."""
    view = memoryview(data)
    while view:
        n = fh.write(view)
        if not n:
            raise OSError(28, os.strerror(28))  # nothing taken: the disk is full
        view = view[n:]


__all__ = ["PartFile", "TEMP_PATTERN", "cannot_write", "target_of", "leftover_temps", "part_path", "pid_alive", "temp_path",
           "write_bytes_atomic", "write_json_atomic"]
