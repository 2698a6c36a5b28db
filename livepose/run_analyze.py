"""``livepose run SOURCE --analyze DIR``: the run, then ``livepose analyze`` of its JSONL into DIR.

:func:`plan_analysis` is called before anything is opened: it refuses (one line each) a run
without tracking (exit 2), a ``--jsonl`` that cannot be read back (``/dev/stdout``, a pipe:
exit 2), a DIR that is an input, the input folder of frames, or another output (exit 2, the
checks of :mod:`livepose.sinks.files.paths`) or that cannot be made or written (a file in the way, no
permission: exit 4).  It writes nothing.  Without ``--jsonl`` the run's JSONL is
``DIR/poses.jsonl`` (:data:`POSES_NAME`).  The analysis gets the run's ``--video`` when the run
writes one, else the source itself when it is a video file, for the trajectories over a still
frame (``analyze``'s ``video=``).
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from livepose.errors import InputError, OutputError
from livepose.settings import RunConfig

#: the JSONL's name in DIR when the run has no --jsonl
POSES_NAME = "poses.jsonl"
#: what ``analyze`` writes in its folder (livepose.analysis.table and .report)
ANALYSIS_FILES = re.compile(r"(person_.+|people\..+|summary\..+|trajectories\.png|report\.html)")


@dataclass(frozen=True)
class AnalysisPlan:
    """What to analyze after the run: ``jsonl`` into ``folder``, ``video`` for the trajectories."""

    folder: Path
    jsonl: Path
    video: Path | None

    def video_now(self) -> Path | None:
        """The video to hand to ``analyze`` after the run: None when it is not there (a run that
        wrote no frame of it)."""
        return self.video if self.video is not None and self.video.is_file() else None


def plan_analysis(folder: str | os.PathLike, config: RunConfig) -> tuple[RunConfig, AnalysisPlan]:
    """``config`` with its JSONL (DIR/poses.jsonl when it has none) and the plan; raises
    InputError (exit 2) or OutputError (exit 4), before anything is written."""
    from livepose.build import output_paths
    from livepose.sinks.files.paths import Output, check_outputs, model_files, same_file, source_files

    folder = Path(folder)
    if not config.tracking:
        raise InputError("--analyze needs tracking (person ids, smoothed keypoints): drop --no-track")
    if config.outputs.jsonl is None:
        config = config.with_(outputs=config.outputs.with_(jsonl=str(folder / POSES_NAME)))
    jsonl = Path(config.outputs.jsonl)
    try:
        mode = os.stat(jsonl).st_mode
    except OSError:
        mode = None
    special = any(str(p).startswith(("/dev/", "/proc/")) for p in (os.path.abspath(jsonl), os.path.realpath(jsonl)))
    if special or (mode is not None and not stat.S_ISREG(mode)):
        raise InputError(f"--analyze reads the --jsonl file back after the run; {jsonl} is not a regular file "
                         f"(give a file, or no --jsonl: {folder / POSES_NAME})")
    source = str(config.capture.source or "").removeprefix("file://")
    if source and "://" not in source and os.path.isdir(source) and same_file(folder, source):
        raise InputError(f"--analyze {folder} is the input folder {source}: its plots would be read as frames "
                         f"by a later run; give the analysis another folder")
    inputs = [("the input", p) for p in source_files(config.capture.source)] + model_files(config.model)
    check_outputs(output_paths(config.outputs) + [Output("--analyze", folder, ANALYSIS_FILES)], inputs)
    _check_writable(folder)
    return config, AnalysisPlan(folder, jsonl, _video_for(config))


def _check_writable(folder: Path) -> None:
    """``folder`` can be made (or is a folder) and written in, looking only: nothing is created."""
    probe = folder
    while True:
        try:
            st = os.stat(probe)
        except (FileNotFoundError, NotADirectoryError):  # not there (yet): look at its parent
            parent = probe.parent
            if parent == probe:
                return
            probe = parent
            continue
        except OSError as exc:
            raise OutputError(f"{folder}: cannot create the folder ({exc.strerror or exc})") from None
        break
    if not stat.S_ISDIR(st.st_mode):
        what = "a file of that name" if probe == folder else f"the file {probe}"
        raise OutputError(f"{folder}: cannot create the folder: {what} is in the way")
    if not os.access(probe, os.W_OK | os.X_OK):
        what = "write in the folder" if probe == folder else f"create the folder in {probe}"
        raise OutputError(f"{folder}: cannot {what} (Permission denied)")


def _video_for(config: RunConfig) -> Path | None:
    """The run's --video, else the source when it is one video file, else None."""
    from livepose.images import IMAGE_SUFFIXES
    from livepose.sinks.files.paths import source_files

    if config.outputs.video:
        return Path(config.outputs.video)
    source = str(config.capture.source or "")
    files = source_files(source)
    if len(files) == 1 and files[0].is_file() and not Path(source.removeprefix("file://")).is_dir() \
            and files[0].suffix.lower() not in IMAGE_SUFFIXES:
        return files[0]
    return None


__all__ = ["ANALYSIS_FILES", "AnalysisPlan", "POSES_NAME", "plan_analysis"]
