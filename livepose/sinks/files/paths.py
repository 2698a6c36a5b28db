"""Output paths checked before anything is written: no output may be an input, and no two
outputs may be one file.

Two paths are the same file when they resolve to the same path (symbolic links followed) or,
where both exist, are the same file on disk (``os.path.samefile``: hard links too).  A clash is
an :class:`~livepose.errors.InputError` (exit code 2) of one line naming both paths, raised
before any output is opened, so nothing is written.

    check_outputs([Output("--jsonl", "clip.mp4")], inputs=[("the input video", "clip.mp4")])
    # InputError: --jsonl clip.mp4 is the input video clip.mp4: writing it would destroy it; ...

The photos of ``livepose image`` get distinct output names (:func:`photo_stems`): two photos
with the same stem (``a/x.jpg``, ``b/x.png``) are written as ``x`` and ``x_1`` (then ``x_2``,
...), in the order the photos are given, never taking the plain stem of another photo.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from livepose.errors import InputError

_GLOB_CHARS = set("*?[")


@dataclass(frozen=True)
class Output:
    """One output path: ``what`` names it for the user (``--jsonl``, ``the annotated copy of x.jpg``).

    ``pattern``: the output is a folder of files whose names match it (the per-frame OpenPose
    JSON); a file of the folder matching it is written by this output."""

    what: str
    path: Path
    pattern: re.Pattern | None = None

    def __init__(self, what: str, path: str | os.PathLike, pattern: re.Pattern | None = None):
        object.__setattr__(self, "what", what)
        object.__setattr__(self, "path", Path(path))
        object.__setattr__(self, "pattern", pattern)

    @property
    def label(self) -> str:
        return f"{self.what} {self.path}" if self.what.startswith("-") else self.what


def _keys(path: Path) -> set:
    """What identifies ``path``'s file: its resolved path and, when it exists, its device and inode."""
    keys: set = {("path", os.path.realpath(path))}
    try:
        st = os.stat(path)
        keys.add(("inode", st.st_dev, st.st_ino))
    except (OSError, ValueError):
        pass
    return keys


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether ``a`` and ``b`` name one file (symbolic links resolved; ``os.path.samefile`` where both exist)."""
    return bool(_keys(Path(a)) & _keys(Path(b)))


def source_files(spec: str | None) -> list[Path]:
    """The files a ``run`` source reads: the video or photo, a folder's images, a pattern's matches;
    none for a camera index or a stream URL."""
    if not spec:
        return []
    spec = str(spec)
    if spec.lower().startswith("file://"):
        spec = spec[len("file://"):]
    elif "://" in spec:
        return []
    path = Path(spec)
    if path.is_dir():
        try:
            return sorted(p for p in path.iterdir() if p.is_file())
        except OSError:
            return []
    if path.exists():
        return [path]
    if _GLOB_CHARS & set(spec):
        return sorted(Path(p) for p in glob.glob(spec, recursive=True) if os.path.isfile(p))
    return []


def model_files(model) -> list[tuple[str, Path]]:
    """The model and card files that ``ModelSettings`` name by path (a bundled network by name: none)."""
    out = []
    for what, value in (("the model", getattr(model, "model", None)), ("the model card", getattr(model, "card", None))):
        if value and os.path.isfile(str(value)):
            out.append((what, Path(str(value))))
    return out


def check_outputs(outputs: Sequence[Output], inputs: Iterable[tuple[str, str | os.PathLike]] = ()) -> None:
    """Refuse (InputError, one line naming both paths) an output that is an input or another
    output.  ``inputs``: (what, path) of every file the run reads."""
    seen_in: dict = {}
    for what, path in inputs:
        path = Path(path)
        for key in _keys(path):
            seen_in.setdefault(key, (what, path))
    seen_out: dict = {}
    folders = [o for o in outputs if o.pattern is not None]
    for out in outputs:
        for key in _keys(out.path):
            if key in seen_in:
                what, path = seen_in[key]
                raise InputError(f"{out.label} is {what} {path}: writing it would destroy {what}; "
                                 f"give the output another path")
            if key in seen_out and os.path.realpath(out.path) != os.path.realpath(os.devnull):
                other = seen_out[key]
                raise InputError(f"{other.label} and {out.label} are the same file; give each output its own path")
        for key in _keys(out.path):
            seen_out.setdefault(key, out)
    for folder in folders:  # a file of a folder output: an input, or another output, named like its files
        fkeys = _keys(folder.path)
        for what, path in inputs_in_folder(seen_in.values(), fkeys, folder.pattern):
            raise InputError(f"{folder.label} would write {path}, {what}; give the output another folder")
        for out in outputs:
            if out is not folder and out.pattern is None and folder.pattern.fullmatch(out.path.name) \
                    and _keys(out.path.parent) & fkeys:
                raise InputError(f"{folder.label} writes files named like {out.label}; give each output its own path")


def inputs_in_folder(inputs, folder_keys: set, pattern: re.Pattern):
    done = set()
    for what, path in inputs:
        if path in done:
            continue
        done.add(path)
        if pattern.fullmatch(path.name) and _keys(path.parent) & folder_keys:
            yield what, path


def photo_stems(paths: Sequence[str | os.PathLike]) -> list[str]:
    """Distinct output stems for the photos ``paths``, in their order: a photo's own stem, or
    ``<stem>_1``, ``<stem>_2``, ... when an earlier photo has it (never the own stem of another photo)."""
    stems = [Path(p).stem for p in paths]
    natural = set(stems)
    taken: set[str] = set()
    out = []
    for stem in stems:
        name = stem
        if name in taken:
            n = 1
            while f"{stem}_{n}" in taken or f"{stem}_{n}" in natural:
                n += 1
            name = f"{stem}_{n}"
        taken.add(name)
        out.append(name)
    return out


__all__ = ["Output", "check_outputs", "model_files", "photo_stems", "same_file", "source_files"]
