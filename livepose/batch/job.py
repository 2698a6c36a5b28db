"""One video of a batch: what to run (:class:`Job`, one picklable object a worker gets) and
running it (:func:`run_job`, in a worker process: local or a Ray task).

A job runs exactly what ``livepose run VIDEO`` runs with the same options: its
:class:`~livepose.settings.RunConfig` goes through :func:`livepose.build.build` and the run's
``execute``; the file outputs are written by the same sinks, under temporary names renamed into
place when complete (:mod:`livepose.sinks.files.atomic`).

Per video folder ``OUT/<stem>/``:

* the outputs asked for: ``<stem>.jsonl``, ``<stem>.mp4``, ``<stem>.csv``, ``<stem>.coco.json``,
  ``openpose/`` (one ``<video's stem>_<frame:012d>_keypoints.json`` per frame, as ``run`` names
  them), ``analysis/``;
* ``.livepose-done.json`` (:data:`DONE_MARKER`), written last, atomically, when every output is
  complete and in place: the options hash, the video's size and modification time, the figures
  of the run.  Its absence means "not finished": a later batch redoes the video;
* ``.livepose-attempts.json``: the attempts made at the video by this batch (its id), removed once done.

Before each attempt the temporary files an earlier, killed attempt left in the folder
(``.<name>.livepose-<pid>.tmp``, ``...tmp.mp4``, the OpenPose staging folder) are removed, and
the done marker too, so no partial file is ever taken for a result.  One batch at a time may
write an ``--out`` folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from livepose.settings import OutputSettings, RunConfig

DONE_MARKER = ".livepose-done.json"
ATTEMPTS_FILE = ".livepose-attempts.json"
DONE_SCHEMA = "livepose.batch-done/1"
#: the temporary names of livepose's atomic writers: files, ``.tmp.mp4``-like videos, staging folders
_TEMP = re.compile(r"^\..+\.livepose-(?P<pid>\d+)\.tmp(\.[A-Za-z0-9]+)?$")
#: test hook: ``NAME@N`` makes the worker running video NAME (its file name) kill itself (SIGKILL)
#: after writing N frames, on the first attempt of this batch only
KILL_HOOK_ENV = "LIVEPOSE_BATCH_TEST_KILL"

#: file outputs: option -> (OutputSettings field, name in the video's folder; {stem} replaced)
OUTPUT_NAMES = {
    "jsonl": ("jsonl", "{stem}.jsonl"),
    "video": ("video", "{stem}.mp4"),
    "csv": ("csv", "{stem}.csv"),
    "coco": ("coco", "{stem}.coco.json"),
    "openpose_json": ("openpose_json", "openpose"),
}
ANALYSIS_FOLDER = "analysis"


@dataclass(frozen=True)
class Job:
    """One video: its path, its output folder and the whole run configuration (picklable)."""

    video: str
    stem: str
    folder: str
    config: RunConfig
    options_hash: str
    batch_id: str
    analyze: bool = False
    outputs: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (kind, path) of each output asked for
    offline: object = None  # --smoother offline: the livepose.track.offline.OfflineSmoothing; None: live smoothing

    @property
    def name(self) -> str:
        return os.path.basename(self.video)


def make_job(base: RunConfig, video: Path, stem: str, out: Path, kinds: tuple[str, ...], *, analyze: bool,
             batch_id: str, options_hash: str, offline=None) -> Job:
    """The job of ``video``: ``base`` with this video as the source and its outputs in ``out/<stem>/``."""
    folder = Path(os.path.abspath(out)) / stem  # absolute: a Ray task on another node runs in another folder
    paths = {kind: str(folder / OUTPUT_NAMES[kind][1].format(stem=stem)) for kind in kinds}
    outputs = OutputSettings(display=False, angles=base.outputs.angles,
                             **{OUTPUT_NAMES[k][0]: p for k, p in paths.items()})
    config = base.with_(capture=base.capture.with_(source=str(video)), outputs=outputs)
    listed = tuple(paths.items()) + (((ANALYSIS_FOLDER, str(folder / ANALYSIS_FOLDER)),) if analyze else ())
    return Job(video=str(video), stem=stem, folder=str(folder), config=config, options_hash=options_hash,
               batch_id=batch_id, analyze=analyze, outputs=listed, offline=offline)


def options_hash(base: RunConfig, kinds: tuple[str, ...], analyze: bool, offline=None) -> str:
    """A hash of everything that decides a video's outputs, but the video, the paths and the
    thread count: the run configuration (model, engine, decoding, tracking, accuracy mode,
    suppression, frame limits), which outputs, and ``--analyze``.  A changed hash makes a finished video be redone."""
    settings = base.as_dict()
    settings["capture"].pop("source", None)
    settings["model"].pop("threads", None)  # how many threads, not what they compute
    settings.pop("outputs", None)
    settings.pop("quiet", None)
    document = {"settings": settings, "outputs": sorted(kinds), "analyze": bool(analyze),
                "angles": base.outputs.angles}
    if offline is not None:  # absent otherwise: the hashes of live-smoothed batches stay as they were
        document["offline"] = repr(offline)
    text = json.dumps(document, sort_keys=True, default=repr, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def video_identity(video: str) -> dict:
    """The video's size and modification time: a changed video is redone."""
    st = os.stat(video)
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def read_done(job: Job) -> dict | None:
    """The done marker of ``job`` when it says the video is finished with these options and every
    output is in place; None otherwise (the video is to be done)."""
    try:
        with open(os.path.join(job.folder, DONE_MARKER), encoding="utf-8") as fh:
            done = json.load(fh)
    except (OSError, ValueError):
        return None
    if not isinstance(done, dict) or done.get("schema") != DONE_SCHEMA or done.get("options") != job.options_hash \
            or done.get("video") != job.video:
        return None
    try:
        if done.get("video_file") != video_identity(job.video):
            return None
    except OSError:
        return None
    if not all(os.path.exists(path) for _, path in job.outputs):
        return None
    return done


def clean_temps(folder: str | os.PathLike) -> list[str]:
    """Remove the temporary files and folders that killed attempts left in ``folder`` and its
    subfolders one level down (the OpenPose folder); returns what was removed.  The files of this
    process are kept."""
    removed = []
    folder = Path(folder)
    places = [folder] + ([p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
                         if folder.is_dir() else [])
    for place in places:
        try:
            entries = list(os.scandir(place))
        except OSError:
            continue
        for entry in entries:
            m = _TEMP.match(entry.name)
            if not m or int(m.group("pid")) == os.getpid():
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path)
                else:
                    os.unlink(entry.path)
                removed.append(entry.path)
            except OSError:
                pass
    return removed


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _next_attempt(job: Job) -> int:
    """Count this attempt in the video's attempts file (per batch id); returns its number (1 = first)."""
    from livepose.sinks.files.atomic import write_json_atomic

    path = os.path.join(job.folder, ATTEMPTS_FILE)
    attempt = 1
    try:
        with open(path, encoding="utf-8") as fh:
            previous = json.load(fh)
        if isinstance(previous, dict) and previous.get("batch") == job.batch_id:
            attempt = int(previous.get("attempts", 0)) + 1
    except (OSError, ValueError, TypeError):
        pass
    write_json_atomic(path, {"batch": job.batch_id, "attempts": attempt})
    return attempt


def attempts_made(job: Job) -> int:
    """How many attempts this batch made at ``job`` (from its attempts file; 0 if none)."""
    try:
        with open(os.path.join(job.folder, ATTEMPTS_FILE), encoding="utf-8") as fh:
            previous = json.load(fh)
        if isinstance(previous, dict) and previous.get("batch") == job.batch_id:
            return int(previous.get("attempts", 0))
    except (OSError, ValueError, TypeError):
        pass
    return 0


class _Tally:
    """One more output of the run (no file): counts the distinct person ids; carries the test
    hook :data:`KILL_HOOK_ENV`."""

    name = "batch-tally"
    needs_picture = False
    on_caller_thread = False
    stop_requested = None
    writes_files = False

    def __init__(self, kill_after: int | None = None):
        self.ids: set = set()
        self.frames = 0
        self.kill_after = kill_after

    def open(self, info) -> None:
        pass

    def write(self, result) -> None:
        from livepose.records import record_of

        record = record_of(result)
        if record.tracked:
            self.ids.update(i for i in record.json_ids if i is not None and i >= 0)
        self.frames += 1
        if self.kill_after is not None and self.frames >= self.kill_after:
            time.sleep(0.3)  # let the file outputs' threads write these frames into their temporary files
            os.kill(os.getpid(), signal.SIGKILL)

    def close(self) -> None:
        pass

    def summary(self) -> str | None:
        return None


def _kill_after(job: Job, attempt: int) -> int | None:
    hook = os.environ.get(KILL_HOOK_ENV, "")
    name, _, frames = hook.rpartition("@")
    if attempt == 1 and name and name == job.name and frames.isdigit():
        return max(1, int(frames))
    return None


_gpu_worker = False  # this process is a local worker given its GPUs (--gpus): the manifest names them

# -- the network, kept per worker process ------------------------------------------------------------
_ESTIMATORS: dict = {}


def worker_estimator(config: RunConfig):
    """The estimator of ``config`` (model, decoding, accuracy mode, suppression) for this worker
    process: built on its first video and given again for the next ones with the same settings, so
    a worker loads the network once.  Each run still makes its own stages, tracker and outputs
    around it; the results are those of a new estimator (the batch tests check byte identity)."""
    from livepose.build import build_estimator
    from livepose.settings import AUTO_SIZE

    model = config.model.with_(size=None) if config.model.size == AUTO_SIZE else config.model
    key = repr((model, config.decode, config.augment, config.suppress))
    est = _ESTIMATORS.get(key)
    if est is None:
        est = build_estimator(model, config.decode, warm_up=False, augment=config.augment, suppress=config.suppress)
        _ESTIMATORS.clear()  # one network per worker: a batch has one configuration
        _ESTIMATORS[key] = est
    return est


def _result(job: Job, status: str, attempt: int, started: float, **figures) -> dict:
    out = {"video": job.video, "stem": job.stem, "status": status, "attempts": attempt, "frames": 0,
           "seconds": 0.0, "fps": 0.0, "people_per_frame": 0.0, "distinct_ids": 0, "error": "",
           "warnings": [], "wall_seconds": round(time.perf_counter() - started, 3), "pid": os.getpid(),
           "gpu": os.environ.get("CUDA_VISIBLE_DEVICES", "") if _gpu_worker else ""}
    out.update(figures)
    return out


def run_job(job: Job) -> dict:
    """Run one video into its folder (in a worker process); returns its manifest figures
    (``status`` "done" or "failed" with ``error``, one line).  Never raises for a video that
    cannot be processed: the batch goes on with the others."""
    from livepose.errors import LiveposeError

    started = time.perf_counter()
    attempt = 0
    previous = _interruptible()
    try:
        os.makedirs(job.folder, exist_ok=True)
        attempt = _next_attempt(job)
        _remove(os.path.join(job.folder, DONE_MARKER))
        clean_temps(job.folder)
        return _run(job, attempt, started)
    except LiveposeError as exc:
        return _result(job, "failed", attempt, started, error=str(exc))
    except MemoryError:
        return _result(job, "failed", attempt, started, error="out of memory")
    except KeyboardInterrupt:
        return _result(job, "failed", attempt, started, error="interrupted")
    except Exception as exc:  # one bad video never stops the others
        return _result(job, "failed", attempt, started, error=f"internal error: {type(exc).__name__}: {exc}")
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def _interruptible():
    """Ctrl-C stops the video being run (its outputs closed valid, no done marker); an idle
    worker ignores it (the command decides).  Returns the handler to restore, or None."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        return signal.signal(signal.SIGINT, signal.default_int_handler)
    except (ValueError, OSError):
        return None


def _run(job: Job, attempt: int, started: float) -> dict:
    from livepose.build import build
    from livepose.sinks.files.atomic import write_json_atomic

    said: list[str] = []
    estimator = worker_estimator(job.config)
    if job.offline is not None:  # --smoother offline: livepose run's two passes
        from livepose.offline import build_offline

        run = build_offline(job.config, job.offline, on_event=said.append, warn=said.append, announce=None,
                            estimator=estimator)
    else:
        run = build(job.config, on_event=said.append, warn=said.append, announce=None, estimator=estimator)
    tally = _Tally(_kill_after(job, attempt))
    run.outputs.append(tally)
    summary = run.execute()
    said.extend(getattr(run.source, "warnings", ()))
    per_frame = summary.people / summary.frames if summary.frames else 0.0
    figures = dict(frames=summary.frames, seconds=round(summary.seconds, 3), fps=round(summary.fps, 2),
                   people_per_frame=round(per_frame, 3), distinct_ids=len(tally.ids), warnings=said)
    if summary.stopped_early:
        return _result(job, "failed", attempt, started, error=f"{summary.stopped_early}; outputs hold the "
                       f"{summary.frames} frames read", **figures)
    if summary.interrupted:
        return _result(job, "failed", attempt, started, error="interrupted", **figures)
    if job.analyze:
        from livepose.analysis.table import analyze

        jsonl = job.config.outputs.jsonl
        analyze(jsonl, os.path.join(job.folder, ANALYSIS_FOLDER), log=said.append)
    result = _result(job, "done", attempt, started, **figures)
    done = {"schema": DONE_SCHEMA, "video": job.video, "options": job.options_hash,
            "video_file": video_identity(job.video), "outputs": [k for k, _ in job.outputs],
            "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            **{k: result[k] for k in ("frames", "seconds", "fps", "people_per_frame", "distinct_ids", "attempts")}}
    write_json_atomic(os.path.join(job.folder, DONE_MARKER), done)  # last: the video counts as finished
    _remove(os.path.join(job.folder, ATTEMPTS_FILE))
    return result


def worker_init(gpu_slots=None) -> None:
    """A local worker process starts: its environment (one GPU when asked), quiet OpenCV/FFmpeg;
    Ctrl-C is left to the command (the worker finishes nothing new)."""
    os.environ.setdefault("OPENCV_LOG_LEVEL", "FATAL")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    if gpu_slots is not None:
        global _gpu_worker
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu_slots.get()
        _gpu_worker = True
    signal.signal(signal.SIGINT, signal.SIG_IGN)


__all__ = ["ANALYSIS_FOLDER", "ATTEMPTS_FILE", "DONE_MARKER", "Job", "OUTPUT_NAMES", "attempts_made", "clean_temps",
           "worker_estimator", "make_job", "options_hash", "read_done", "run_job", "worker_init"]
