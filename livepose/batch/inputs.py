"""Which videos a batch processes, and the folder each one's outputs go to.

An input is a video file, a folder (the video files directly inside it, in name order; hidden
files, ``.name`` and the ``._name`` files a Mac leaves, are not videos), a glob pattern (``**``
goes into subfolders; the video files it matches, in name order) or a ``.txt`` list file: one
path, folder or pattern per line, blank lines and ``#`` comments ignored, a relative path taken
from the list file's folder.  A video named twice (the same file by two paths) is processed once,
at its first place.  An input that gives no video is an :class:`~livepose.errors.InputError`.

Output folders (:func:`output_stems`): a video's own stem (``match.mp4`` -> ``match``); videos that
share a stem (``a/match.mp4``, ``b/match.mov``; compared without case, for file systems that ignore
it) each get ``<stem>-<parent folder>`` instead (``match-a``, ``match-b``) and, when that is still
taken, ``<stem>-<parent folder>-<n>`` with n = 2, 3, ... in the order the videos are listed.  The
names depend only on the list of videos, so the same command gives the same folders every time.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Iterable, Sequence

from livepose.errors import InputError

#: the file name endings a folder or a pattern counts as videos (a file named explicitly is taken whatever its name)
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".ts", ".mts",
                  ".m2ts", ".3gp", ".ogv")
LIST_SUFFIX = ".txt"
_GLOB_CHARS = set("*?[")


def _hidden(name: str) -> bool:
    return name.startswith(".")


def _is_video_name(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES and not _hidden(path.name)


def _folder_videos(folder: Path) -> list[Path]:
    try:
        entries = sorted(folder.iterdir(), key=lambda p: p.name)
    except OSError as exc:
        raise InputError(f"{folder}: cannot read the folder ({exc.strerror or exc})") from None
    return [p for p in entries if _is_video_name(p) and p.is_file()]


def _pattern_videos(pattern: str) -> list[Path]:
    matches = sorted(glob.glob(pattern, recursive=True))
    return [Path(m) for m in matches if _is_video_name(Path(m)) and os.path.isfile(m)
            and not any(_hidden(part) for part in Path(m).parts if part not in (".", ".."))]


def _list_file_entries(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: cannot read the list file (not UTF-8 text; one video path per line)") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the list file ({exc.strerror or exc})") from None
    base = path.parent
    entries = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        entries.append(line if os.path.isabs(os.path.expanduser(line)) else str(base / line))
    return entries


def _expand_one(spec: str, *, from_list: Path | None = None) -> list[Path]:
    where = f" (listed in {from_list})" if from_list is not None else ""
    path = Path(os.path.expanduser(spec))
    if path.is_dir():
        found = _folder_videos(path)
        if not found:
            raise InputError(f"{spec}{where}: no video files in this folder (names ending "
                             f"{', '.join(VIDEO_SUFFIXES[:5])}, ...)")
        return found
    if path.is_file():
        if path.suffix.lower() == LIST_SUFFIX:
            if from_list is not None:
                raise InputError(f"{spec}{where}: a list file cannot name another list file")
            return _expand_list(path)
        return [path]
    if path.exists() or os.path.lexists(path):
        raise InputError(f"{spec}{where}: not a video file or folder")
    if _GLOB_CHARS & set(spec):
        found = _pattern_videos(os.path.expanduser(spec))
        if not found:
            raise InputError(f"{spec}{where}: the pattern matches no video file")
        return found
    if path.suffix.lower() == LIST_SUFFIX:
        raise InputError(f"{spec}{where}: cannot read the list file (no such file)")
    raise InputError(f"{spec}{where}: no such video file or folder")


def _expand_list(path: Path) -> list[Path]:
    entries = _list_file_entries(path)
    if not entries:
        raise InputError(f"{path}: the list file names no video (one path per line; # starts a comment)")
    out: list[Path] = []
    for entry in entries:
        out.extend(_expand_one(entry, from_list=path))
    return out


def expand_inputs(specs: Iterable[str]) -> list[Path]:
    """The videos ``specs`` name (absolute paths, in the order given, each once); InputError for
    the first input that gives none or cannot be read."""
    videos: list[Path] = []
    seen: set = set()
    for spec in specs:
        for video in _expand_one(str(spec)):
            key = os.path.realpath(video)
            if key in seen:
                continue
            seen.add(key)
            videos.append(Path(os.path.abspath(video)))
    if not videos:
        raise InputError("no video to process")
    return videos


def output_stems(videos: Sequence[Path]) -> list[str]:
    """The output folder name of each video (see the module's docstring): distinct, deterministic."""
    stems = [Path(v).stem or Path(v).name for v in videos]
    counts: dict[str, int] = {}
    for stem in stems:
        counts[stem.lower()] = counts.get(stem.lower(), 0) + 1
    natural = {s.lower() for s, v in zip(stems, videos) if counts[s.lower()] == 1}
    taken: set[str] = set(natural)
    out = []
    for stem, video in zip(stems, videos):
        if counts[stem.lower()] == 1:
            out.append(stem)
            continue
        parent = Path(video).parent.name or "root"
        name = f"{stem}-{parent}"
        n = 2
        while name.lower() in taken:
            name = f"{stem}-{parent}-{n}"
            n += 1
        taken.add(name.lower())
        out.append(name)
    return out


__all__ = ["LIST_SUFFIX", "VIDEO_SUFFIXES", "expand_inputs", "output_stems"]
