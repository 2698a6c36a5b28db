"""Throughput of ``livepose batch`` against one ``livepose run`` after another on the same videos.

    python benchmarks/bench_batch.py [VIDEO_OR_FOLDER ...] [--frames 100] [--threads N] [--workers 1 2]
                                     [--ray] [--repeats 3] [--nodes 4] [--gpu-fps F]

Default videos: four of ../shared/data/video (each cut to --frames frames by ``--max-frames``);
if that folder is absent, four copies of the bundled examples/one-by-one-clip.mp4; a path given
that does not exist prints ``skipped: ...`` and the script ends (exit 0).  Everything runs the CLI
as a user does (``python -m livepose``), one subprocess per measurement, each with a fresh --out,
JSONL and CSV outputs.  Printed, all measured in this run, ``--repeats`` rounds with the setups
interleaved (rotated each round), medians: total frames / wall seconds of (a) ``livepose run``
once per video, in sequence (each paying its own start and network load, as a shell loop would;
its default threads unless ``--threads``), (b) ``livepose batch`` with its own defaults and with
each ``--workers`` value (cores / workers threads each), (c) with ``--ray``, ``livepose batch
--ray local``; and each setup's ratio to (a), the median of the per-round ratios.

Last, *projected* figures, not measured, and said so: ``--nodes`` N nodes like this one (N x
the batch's best local frames/s: videos are independent), and with ``--gpu-fps F``
(one video's frames/s on one GPU, measured with benchmarks/bench_gpu.py; GPU speed is not
measured on this machine) N nodes with a GPU each: N x F x the batch efficiency measured here
(that batch's frames/s / (its workers x the runs' frames/s)).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED_VIDEOS = REPO.parent / "shared" / "data" / "video"
CLIP = REPO / "examples" / "one-by-one-clip.mp4"


def livepose(*args) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "livepose", *map(str, args)], capture_output=True, text=True)
    return time.perf_counter() - t0, done


def frames_of(out: Path) -> int:
    import json

    rows = json.loads((out / "manifest.json").read_text())["videos"]
    return sum(int(r["frames"]) for r in rows if r["status"] == "done")


def pick_videos(paths: list[str], count: int, tmp: Path) -> list[Path] | None:
    if paths:
        videos: list[Path] = []
        for p in map(Path, paths):
            if not p.exists():
                print(f"skipped: {p} does not exist")
                return None
            videos.extend(sorted(q for q in p.iterdir() if q.is_file() and not q.name.startswith("."))
                          if p.is_dir() else [p])
        return videos
    if SHARED_VIDEOS.is_dir():
        found = sorted(q for q in SHARED_VIDEOS.iterdir() if q.suffix.lower() in (".mp4", ".avi", ".mov", ".mkv"))
        if found:
            return found[:count]
    if not CLIP.is_file():
        print(f"skipped: neither {SHARED_VIDEOS} nor {CLIP} is here")
        return None
    copies = []
    for i in range(count):
        copy = tmp / f"clip{i}.mp4"
        shutil.copy(CLIP, copy)
        copies.append(copy)
    return copies


def _sequential(videos, tmp: Path, tag: str, frames: int, threads) -> tuple[int, float, str | None]:
    """(frames, seconds, error) of one ``livepose run`` per video, one after another."""
    total, seconds = 0, 0.0
    for i, video in enumerate(videos):
        out = tmp / f"{tag}-{i}"
        t, done = livepose("run", video, "--jsonl", out / "x.jsonl", "--csv", out / "x.csv", "--max-frames", frames,
                           *(("--threads", threads) if threads else ()), "--quiet")
        if done.returncode != 0:
            return 0, 0.0, f"livepose run {video} failed: {done.stderr.strip()}"
        seconds += t
        total += sum(1 for _ in open(out / "x.jsonl", encoding="utf-8"))
    return total, seconds, None


def _batch(videos, tmp: Path, tag: str, frames: int, extra) -> tuple[int, float, str | None]:
    out = tmp / tag
    t, done = livepose("batch", *videos, "--out", out, "--jsonl", "--csv", "--max-frames", frames, "--quiet", *extra)
    if done.returncode != 0:
        return 0, 0.0, f"exit {done.returncode}: {done.stderr.strip().splitlines()[-1:]}"
    return frames_of(out), t, None


def main(argv=None) -> int:
    import statistics

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("videos", nargs="*", help="videos or folders (default: 4 shared videos, else 4 clip copies)")
    ap.add_argument("--count", type=int, default=4, help="videos taken by default (default 4)")
    ap.add_argument("--frames", type=int, default=100, help="--max-frames per video (default 100)")
    ap.add_argument("--threads", type=int, default=None,
                    help="network threads of each livepose run (default: its own, all cores)")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                    help="batch --workers values, each with cores / workers network threads (default 1 2); the "
                         "batch's own default (no --workers, no --threads) is always measured too")
    ap.add_argument("--ray", action="store_true", help="also livepose batch --ray local (needs ray)")
    ap.add_argument("--repeats", type=int, default=3, help="rounds, the setups interleaved in each (default 3)")
    ap.add_argument("--nodes", type=int, default=4, help="nodes for the projected figure (default 4)")
    ap.add_argument("--gpu-fps", type=float, default=None,
                    help="one video's frames/s on one GPU (from benchmarks/bench_gpu.py), for the GPU projection")
    args = ap.parse_args(argv)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp_name:
        tmp = Path(tmp_name)
        videos = pick_videos(args.videos, args.count, tmp)
        if not videos:
            return 0
        print(f"{len(videos)} videos, at most {args.frames} frames each, {cores} cores, {args.repeats} interleaved "
              f"rounds: " + ", ".join(v.name for v in videos))
        setups = [("batch (its defaults)", ())]
        setups += [(f"batch --workers {w} --threads {max(1, cores // w)}", ("--workers", w, "--threads", max(1, cores // w)))
                   for w in args.workers]
        if args.ray:
            setups.append(("batch --ray local", ("--ray", "local", "--cpus-per-video", max(1, cores // 2))))
        fps: dict[str, list[float]] = {"runs": []}
        ratios: dict[str, list[float]] = {}
        for r in range(args.repeats):
            order = [None] + list(range(len(setups)))
            order = order[r % len(order):] + order[:r % len(order)]  # rotate: no setup always first
            round_fps = {}
            for which in order:
                if which is None:
                    frames, seconds, error = _sequential(videos, tmp, f"seq{r}", args.frames, args.threads)
                    label = "runs"
                else:
                    label, extra = setups[which]
                    frames, seconds, error = _batch(videos, tmp, f"batch{r}-{which}", args.frames, extra)
                if error:
                    print(f"{label}: {error}")
                    return 1
                round_fps[label] = frames / seconds
            fps["runs"].append(round_fps["runs"])
            for label, _ in setups:
                fps.setdefault(label, []).append(round_fps[label])
                ratios.setdefault(label, []).append(round_fps[label] / round_fps["runs"])
        med = {k: statistics.median(v) for k, v in fps.items()}
        print(f"livepose run x {len(videos)}, one after another: {med['runs']:.2f} frames/s (median; rounds "
              + ", ".join(f"{v:.2f}" for v in fps["runs"]) + ")")
        for label, _ in setups:
            print(f"{label}: {med[label]:.2f} frames/s, {statistics.median(ratios[label]):.2f} x the runs one after "
                  f"another (median of the per-round ratios " + ", ".join(f"{x:.2f}" for x in ratios[label]) + ")")
        local = [(label, med[label]) for label, extra in setups if "--ray" not in extra]
        label, best = max(local, key=lambda kv: kv[1])
        print(f"projected, not measured: {args.nodes} nodes like this one = {args.nodes} x {best:.2f} = "
              f"{args.nodes * best:.1f} frames/s ({label}; videos are independent: the batch scales with nodes while "
              f"the shared --out storage keeps up; Ray's per-task start-up not counted)")
        if args.gpu_fps is not None:
            efficiency = min(1.0, best / med["runs"])
            print(f"projected, not measured: {args.nodes} nodes x 1 GPU each at {args.gpu_fps:g} frames/s per video "
                  f"(--gpu-fps, from bench_gpu.py) x the batch's efficiency here {efficiency:.2f} = "
                  f"{args.nodes * args.gpu_fps * efficiency:.0f} frames/s (--ray ADDRESS --gpus-per-video 1)")
        else:
            print("  (for N nodes with a GPU each, give --gpu-fps F: one video's frames/s on one GPU, measured "
                  "with benchmarks/bench_gpu.py)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
