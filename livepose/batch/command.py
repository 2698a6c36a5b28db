"""``livepose batch``: many videos, each through exactly what ``livepose run`` does, on this
machine's cores (default) or a Ray cluster (``--ray``); a manifest, resumable (docs/batch.md).

    livepose batch videos/ more/*.mp4 --out results/ --jsonl --video --csv --coco --openpose-json
    livepose batch list.txt --out results/ --ray auto

Order of the checks (each failure one ``error: ...`` line, nothing written): the numbers given
(exit 2), Ray installed when asked for (exit 1), the inputs (exit 2), the model card (exit 3),
``--out`` writable (exit 4), the Ray cluster answering (exit 1).  Then every video is processed;
one that fails is retried, then named in the manifest with its error, and the others go on.
Exit 0: every video done (or already done); 2: some failed.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from livepose.errors import InputError, LiveposeError

#: network threads per local worker when neither --threads nor --workers is given
DEFAULT_THREADS = 2
KINDS = ("jsonl", "video", "csv", "coco", "openpose_json")


class NoGpu(LiveposeError):
    exit_code = 1


def add_parser(sub, add_model_options, add_tracking_options, add_carry_options=None) -> argparse.ArgumentParser:
    """The ``batch`` subcommand (its model, decoding and tracking options are ``run``'s)."""
    p = sub.add_parser(
        "batch", help="many videos: each as livepose run would, on local workers or a Ray cluster, resumable",
        description="Process a library of videos: each through the same pipeline and outputs as livepose run "
                    "with the same options, into OUT/<stem>/, with OUT/manifest.csv and manifest.json. Running "
                    "the same command again skips the videos already finished. See docs/batch.md.",
        epilog="examples:\n"
               "  livepose batch videos/ more/*.mp4 --out results/ --jsonl --video --csv --coco --openpose-json\n"
               "  livepose batch list.txt --out results/ --jsonl --ray auto\n"
               "exit codes: 0 every video done, 1 Ray/GPU missing, 2 bad input or some videos failed, "
               "3 model, 4 --out not writable, 130 interrupted",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="video files, folders (the videos inside, name order, hidden files skipped), glob "
                        "patterns, or a .txt list file (one path per line; # comments; relative to the list file)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR",
                   help="output folder: OUT/<stem>/ per video, OUT/manifest.csv and .json (created if needed)")
    g = p.add_argument_group("outputs per video, in OUT/<stem>/ (default: --jsonl)")
    g.add_argument("--jsonl", action="store_true", help="<stem>.jsonl, as livepose run --jsonl")
    g.add_argument("--video", action="store_true", help="<stem>.mp4, the annotated video, as livepose run --video")
    g.add_argument("--csv", action="store_true", help="<stem>.csv, as livepose run --csv")
    g.add_argument("--coco", action="store_true", help="<stem>.coco.json, as livepose run --coco")
    g.add_argument("--openpose-json", action="store_true",
                   help="openpose/<stem>_<frame>_keypoints.json, as livepose run --openpose-json")
    g.add_argument("--angles", nargs="?", const="", metavar="JOINTS",
                   help="write the joint flexion angles on the --video, as livepose run --angles (all four joints, "
                        "or the comma-separated JOINTS, e.g. knee,elbow)")
    g.add_argument("--analyze", action="store_true",
                   help="then angles, speeds and a report per tracked person in analysis/ (livepose analyze on "
                        "the JSONL, which is written for it even without --jsonl)")
    b = p.add_argument_group("the batch")
    b.add_argument("--force", action="store_true", help="redo the videos already finished")
    b.add_argument("--retries", type=int, default=1, metavar="N",
                   help="attempts again at a video that failed (default 1), then it is reported in the manifest")
    b.add_argument("--workers", type=int, metavar="N",
                   help="local worker processes, one video each at a time (default: cores / --threads, with "
                        f"--threads {DEFAULT_THREADS} when neither is given; with --ray local: the private "
                        "cluster's size in videos)")
    b.add_argument("--gpus", type=float, nargs="?", const=1.0, metavar="F",
                   help="local mode on CUDA GPUs: F GPUs per worker (default 1: one worker per GPU; 0.5: two), each "
                        "worker seeing its own through CUDA_VISIBLE_DEVICES")
    b.add_argument("--ray", metavar="local|auto|ADDRESS",
                   help="one Ray task per video (pip install -e \".[ray]\"): local starts a private cluster here; "
                        "auto joins RAY_ADDRESS or a cluster ray start began on this machine, else starts one; "
                        "ADDRESS (HOST:PORT of the head) joins that cluster; --out must be writable by every node")
    b.add_argument("--cpus-per-video", type=float, metavar="N",
                   help="Ray: CPUs each video's task reserves (default: --threads, else "
                        f"{DEFAULT_THREADS}); also its network threads when --threads is not given")
    b.add_argument("--gpus-per-video", type=float, default=0.0, metavar="F",
                   help="Ray: GPUs each video's task reserves (default 0; 0.5 puts two videos on a GPU)")
    b.add_argument("--quiet", "-q", action="store_true", help="no progress, no summary; errors only")
    add_tracking_options(p)
    if add_carry_options is not None:
        add_carry_options(p)
    s = p.add_argument_group("source")
    s.add_argument("--max-frames", type=int, metavar="N", help="stop each video after N frames")
    s.add_argument("--batch", type=int, default=1, metavar="N",
                   help="run the network on N consecutive frames at once (default 1; as livepose run --batch)")
    add_model_options(p)
    return p


def _check_numbers(args) -> None:
    if args.workers is not None and args.workers < 1:
        raise InputError(f"--workers must be at least 1, got {args.workers}")
    if args.retries < 0:
        raise InputError(f"--retries must be 0 or more, got {args.retries}")
    if args.max_frames is not None and args.max_frames < 1:
        raise InputError(f"--max-frames must be at least 1, got {args.max_frames}")
    if args.batch < 1:
        raise InputError(f"--batch must be at least 1, got {args.batch}")
    if args.gpus is not None and not (math.isfinite(args.gpus) and args.gpus > 0):
        raise InputError(f"--gpus: GPUs per worker must be above 0 (e.g. 1, or 0.5 for two workers per GPU), got "
                         f"{args.gpus:g}")
    if args.gpus is not None and args.gpus > 1 and args.gpus != int(args.gpus):
        raise InputError(f"--gpus: above 1, GPUs per worker must be a whole number, got {args.gpus:g}")
    if args.cpus_per_video is not None and not (math.isfinite(args.cpus_per_video) and args.cpus_per_video > 0):
        raise InputError(f"--cpus-per-video must be above 0, got {args.cpus_per_video:g}")
    if not (math.isfinite(args.gpus_per_video) and args.gpus_per_video >= 0):
        raise InputError(f"--gpus-per-video must be 0 or more, got {args.gpus_per_video:g}")
    if args.ray is not None and args.gpus is not None:
        raise InputError("--gpus is for local workers; with --ray give --gpus-per-video")
    if args.ray is None and (args.cpus_per_video is not None or args.gpus_per_video):
        raise InputError("--cpus-per-video and --gpus-per-video are for --ray; local workers take --workers, "
                         "--threads and --gpus")


def cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def gpu_ids() -> list[str]:
    """The CUDA GPUs this process may use: CUDA_VISIBLE_DEVICES when set, else what nvidia-smi lists."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [] if visible.strip() in ("", "-1") else [v.strip() for v in visible.split(",") if v.strip()]
    try:
        listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(n) for n, line in enumerate(l for l in listed.splitlines() if l.startswith("GPU "))]


def gpu_slots(per_worker: float, gpus: list[str]) -> list[str]:
    """One CUDA_VISIBLE_DEVICES value per worker: 1/F workers per GPU (F <= 1), else F GPUs each."""
    if per_worker <= 1:
        share = max(1, int(round(1 / per_worker)))
        return [g for g in gpus for _ in range(share)]
    n = int(per_worker)
    return [",".join(gpus[i:i + n]) for i in range(0, len(gpus) - n + 1, n)]


def plan_local(args, n_videos: int) -> tuple[int, int, list[str] | None]:
    """(workers, network threads per worker, GPU slots or None) for local mode."""
    n_cores = cores()
    slots = None
    if args.gpus is not None:
        found = gpu_ids()
        if not found:
            raise NoGpu("--gpus: no CUDA GPU found (CUDA_VISIBLE_DEVICES and nvidia-smi name none); leave --gpus out "
                        "to run on the CPU")
        slots = gpu_slots(args.gpus, found)
        if not slots:
            raise NoGpu(f"--gpus {args.gpus:g}: {len(found)} GPUs found, fewer than one worker needs")
        workers = args.workers or len(slots)
        slots = (slots * (workers // len(slots) + 1))[:workers]
        threads = args.threads or max(1, n_cores // workers)
    elif args.threads is not None:
        threads = args.threads
        workers = args.workers or max(1, n_cores // threads)
    elif args.workers is not None:
        workers = args.workers
        threads = max(1, n_cores // workers)
    else:
        threads = min(DEFAULT_THREADS, n_cores)
        workers = max(1, n_cores // threads)
    return max(1, min(workers, n_videos)), threads, slots


def _outside(videos: list[Path], out: Path, say) -> list[Path]:
    """The videos that are not under ``out`` (an earlier batch's annotated videos, which a pattern
    like ``videos/**/*.mp4`` with ``--out videos/results`` would take as inputs)."""
    root = os.path.realpath(out)
    kept = [v for v in videos if not os.path.realpath(v).startswith(root + os.sep)]
    if len(kept) < len(videos):
        if not kept:
            raise InputError(f"every video given is inside --out {out} (outputs of a batch); give the videos "
                             f"themselves")
        left = len(videos) - len(kept)
        say(f"{left} video{'s' if left > 1 else ''} inside --out {out} left out (outputs of a batch)")
    return kept


def _output_kinds(args, say) -> tuple[str, ...]:
    kinds = tuple(k for k in KINDS if getattr(args, k))
    if not kinds:
        kinds = ("jsonl",)
    if args.analyze and "jsonl" not in kinds:
        kinds = ("jsonl",) + kinds
        say("--analyze: the JSONL it reads is written too (<stem>.jsonl)")
    return kinds


def base_config(args, threads: int):
    """The RunConfig every video shares (``livepose run``'s translators), source and outputs aside."""
    from livepose import cli
    from livepose import settings as S

    shared = cli.processing_settings(args)
    shared["model"] = shared["model"].with_(threads=threads)
    return S.RunConfig(capture=S.CaptureSettings(source=None, max_frames=args.max_frames, batch=args.batch),
                       outputs=S.OutputSettings(display=False, angles=cli._angles(args.angles)), quiet=True, **shared)


def _label(job) -> str:
    """The video's file name, with its output folder when that is not its stem (equal stems)."""
    return job.name if Path(job.name).stem == job.stem else f"{job.name} ({job.stem}/)"


class BatchProgress:
    """Videos done / total, frames per second over the batch, ETA: a tqdm bar on a terminal
    (stderr), else one line per finished video."""

    def __init__(self, total: int, *, quiet: bool, stream=None):
        self.stream = stream or sys.stderr
        self.total = total
        self.finished = 0
        self.frames = 0
        self.t0 = time.perf_counter()
        self.quiet = quiet
        self.bar = None
        if not quiet and total and hasattr(self.stream, "isatty") and self.stream.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="video", file=self.stream, dynamic_ncols=True, smoothing=0.0)

    def rate(self) -> float:
        elapsed = time.perf_counter() - self.t0
        return self.frames / elapsed if elapsed > 0 else 0.0

    def eta(self) -> str:
        if not self.finished or self.finished >= self.total:
            return "00:00:00" if self.finished >= self.total else "?"
        left = (time.perf_counter() - self.t0) / self.finished * (self.total - self.finished)
        return time.strftime("%H:%M:%S", time.gmtime(left)) if left < 86400 else f"{left / 3600:.0f} h"

    def retry(self, job, result) -> None:
        self.note(f"warning: {_label(job)}: attempt {result['attempts']} failed ({result['error']}); trying again")

    def note(self, line: str) -> None:
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.write(line, file=self.stream)
        else:
            print(line, file=self.stream, flush=True)

    def done(self, job, result) -> None:
        self.finished += 1
        self.frames += int(result.get("frames") or 0)
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.set_postfix_str(f"{self.rate():.1f} frames/s", refresh=False)
            self.bar.update(1)
            if result["status"] == "failed":
                self.bar.write(f"error: {_label(job)}: {result['error']}", file=self.stream)
            return
        if result["status"] == "failed":
            n = result["attempts"]
            what = f"failed after {n} attempt{'' if n == 1 else 's'}: {result['error']}"
        else:
            what = (f"{result['frames']} frames in {result['seconds']:.1f} s ({result['fps']:.1f} FPS), "
                    f"{result['people_per_frame']:.1f} people per frame, {result['distinct_ids']} ids")
        print(f"[{self.finished}/{self.total}] {_label(job)}: {what}; batch {self.rate():.1f} frames/s, "
              f"ETA {self.eta()}", file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def cmd_batch(args) -> int:
    from livepose import cli
    from livepose.batch.inputs import expand_inputs, output_stems

    def say(line: str) -> None:
        if not args.quiet:
            print(line, file=sys.stderr, flush=True)

    _check_numbers(args)
    if args.ray is not None:
        from livepose.batch.cluster import require_ray

        require_ray()
    videos = _outside(expand_inputs(args.inputs), args.out, say)
    stems = output_stems(videos)
    kinds = _output_kinds(args, say)
    if args.ray is None:
        workers, threads, slots = plan_local(args, len(videos))
        cpus_per_video = None
    else:
        cpus_per_video = args.cpus_per_video or float(args.threads or DEFAULT_THREADS)
        threads = args.threads or max(1, int(math.ceil(cpus_per_video)))
        workers, slots = None, None
    config = base_config(args, threads)
    from livepose.models import card_for

    card_for(config.model.model, config.model.card)  # a missing or broken model: one line now, not per video
    from livepose.batch.job import make_job, options_hash, read_done

    batch_id = uuid.uuid4().hex
    offline = cli._offline_smoothing(args)
    digest = options_hash(config, kinds, args.analyze, offline)
    jobs = [make_job(config, v, s, args.out, kinds, analyze=args.analyze, batch_id=batch_id, options_hash=digest,
                     offline=offline) for v, s in zip(videos, stems)]
    if offline is not None:
        from livepose.offline import check_offline

        check_offline(jobs[0].config)  # e.g. --no-track: one line now, not per video
    done = {job.video: None if args.force else read_done(job) for job in jobs}
    ray = None
    if args.ray is not None and any(d is None for d in done.values()):  # joined (or started) before anything is written: a cluster not answering leaves no trace
        from livepose.batch.cluster import require_ray, start

        ray = require_ray()
        num_cpus = int(math.ceil(args.workers * cpus_per_video)) if args.workers else None
        line = start(ray, args.ray, num_cpus=num_cpus)
    try:
        if ray is not None:
            say(line)
        return _process(args, jobs, done, digest, workers, threads, slots, cpus_per_video, ray, say)
    finally:
        if ray is not None:
            ray.shutdown()


def _process(args, jobs, done, digest, workers, threads, slots, cpus_per_video, ray, say) -> int:
    from livepose.batch.manifest import Manifest
    from livepose.cli import EXIT_INPUT, EXIT_OK
    from livepose.sinks.files import prepare_folder

    out = args.out
    prepare_folder(out)
    mode = "local" if args.ray is None else f"ray {args.ray}"
    manifest = Manifest(out, [j.video for j in jobs], [j.stem for j in jobs], options=digest, mode=mode)
    todo = []
    for job in jobs:
        finished_before = done[job.video]
        if finished_before is None:
            todo.append(job)
        else:
            manifest.update(job.video, status="skipped", attempts=0,
                            **{k: finished_before.get(k, 0) for k in ("frames", "seconds", "fps",
                                                                      "people_per_frame", "distinct_ids")})
    manifest.write()
    if not todo:
        say(f"{len(jobs)} of {len(jobs)} already done, nothing to do (--force redoes them); manifest: "
            f"{out / 'manifest.csv'}")
        return EXIT_OK
    if len(todo) < len(jobs):
        say(f"{len(jobs) - len(todo)} of {len(jobs)} already done; {len(todo)} to do")
    progress = BatchProgress(len(todo), quiet=args.quiet)

    def finished(job, result) -> None:
        manifest.update(job.video, **result)
        manifest.write()
        progress.done(job, result)

    t0 = time.perf_counter()
    try:
        if args.ray is None:
            from livepose.batch.local import run_local

            gpus = f", GPUs {','.join(dict.fromkeys(slots))}" if slots else ""
            say(f"batch: {len(todo)} videos on {workers} local worker{'s' if workers > 1 else ''} x {threads} "
                f"network thread{'s' if threads > 1 else ''}{gpus}")
            run_local(todo, workers=workers, retries=args.retries, on_result=finished, gpu_slots=slots,
                      on_retry=progress.retry)
        else:
            from livepose.batch.cluster import run_ray

            run_ray(ray, todo, retries=args.retries, cpus_per_video=cpus_per_video,
                    gpus_per_video=args.gpus_per_video, on_result=finished)
    except KeyboardInterrupt:
        progress.close()
        manifest.write()
        raise
    progress.close()
    if not args.quiet:
        for line in summary_lines(manifest, time.perf_counter() - t0, out):
            print(line, file=sys.stderr)
    return EXIT_INPUT if manifest.counts()["failed"] else EXIT_OK


def summary_lines(manifest, seconds: float, out: Path) -> list[str]:
    """The end of a batch, on one screen."""
    counts = manifest.counts()
    rows = list(manifest.rows.values())
    ran = [r for r in rows if r["status"] == "done"]
    frames = sum(int(r["frames"]) for r in ran)
    lines = [f"batch: {len(rows)} videos: {counts['done']} done, {counts['skipped']} already done, "
             f"{counts['failed']} failed" + (f", {counts['pending']} not finished" if counts["pending"] else ""),
             f"  {frames} frames in {seconds:.1f} s: {frames / seconds if seconds > 0 else 0.0:.1f} frames/s over the "
             f"batch"]
    failed = [r for r in rows if r["status"] == "failed"]
    for r in failed[:10]:
        lines.append(f"  failed: {r['error']}" if r["video"] in r["error"] else f"  failed: {r['video']}: {r['error']}")
    if len(failed) > 10:
        lines.append(f"  ... and {len(failed) - 10} more failed (see the manifest)")
    lines.append(f"  manifest: {out / 'manifest.csv'} and manifest.json")
    return lines


__all__ = ["DEFAULT_THREADS", "add_parser", "cmd_batch", "gpu_slots", "plan_local", "summary_lines"]
