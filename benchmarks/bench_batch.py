"""Throughput of ``livepose batch`` against one ``livepose run`` after another on the same videos.

    python benchmarks/bench_batch.py [VIDEO_OR_FOLDER ...] [--frames 100] [--threads 1] [--workers 1 2]
                                     [--ray] [--nodes 4] [--gpu-fps F]

Default videos: four of ../shared/data/video (each cut to --frames frames by ``--max-frames``);
if that folder is absent, four copies of the bundled examples/one-by-one-clip.mp4; a path given
that does not exist prints ``skipped: ...`` and the script ends (exit 0).  Everything runs the CLI
as a user does (``python -m livepose``), one subprocess per measurement, each with a fresh --out,
JSONL and CSV outputs, ``--threads`` network threads per run or worker.  Printed, all measured in
this run: total frames / wall seconds of (a) ``livepose run`` once per video, in sequence (each
paying its own start and network load, as a shell loop would), (b) ``livepose batch`` with each
``--workers`` value, (c) with ``--ray``, ``livepose batch --ray local``; and each ratio to (a).

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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("videos", nargs="*", help="videos or folders (default: 4 shared videos, else 4 clip copies)")
    ap.add_argument("--count", type=int, default=4, help="videos taken by default (default 4)")
    ap.add_argument("--frames", type=int, default=100, help="--max-frames per video (default 100)")
    ap.add_argument("--threads", type=int, default=1, help="network threads per run / worker (default 1)")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="batch --workers values (default 1 2)")
    ap.add_argument("--ray", action="store_true", help="also livepose batch --ray local (needs ray)")
    ap.add_argument("--nodes", type=int, default=4, help="nodes for the projected figure (default 4)")
    ap.add_argument("--gpu-fps", type=float, default=None,
                    help="one video's frames/s on one GPU (from benchmarks/bench_gpu.py), for the GPU projection")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp_name:
        tmp = Path(tmp_name)
        videos = pick_videos(args.videos, args.count, tmp)
        if not videos:
            return 0
        common = ("--jsonl", "--csv", "--max-frames", args.frames, "--threads", args.threads, "--quiet")
        print(f"{len(videos)} videos, at most {args.frames} frames each, {args.threads} network thread(s) per "
              f"run/worker, {os.cpu_count()} cores: " + ", ".join(v.name for v in videos))
        # (a) one livepose run after another
        seq_seconds, seq_frames = 0.0, 0
        for i, video in enumerate(videos):
            out = tmp / f"seq{i}"
            seconds, done = livepose("run", video, "--jsonl", out / "x.jsonl", "--csv", out / "x.csv", "--max-frames",
                                     args.frames, "--threads", args.threads, "--quiet")
            if done.returncode != 0:
                print(f"livepose run {video} failed: {done.stderr.strip()}")
                return 1
            seq_seconds += seconds
            seq_frames += sum(1 for _ in open(out / "x.jsonl", encoding="utf-8"))
        seq_fps = seq_frames / seq_seconds
        print(f"livepose run x {len(videos)}, one after another: {seq_frames} frames in {seq_seconds:.1f} s = "
              f"{seq_fps:.2f} frames/s (1.00)")
        best = None
        runs = [(f"livepose batch --workers {w}", ("--workers", w), w) for w in args.workers]
        if args.ray:
            runs.append(("livepose batch --ray local", ("--ray", "local", "--cpus-per-video", args.threads), None))
        for label, extra, workers in runs:
            out = tmp / f"batch-{len(extra)}-{extra[-1]}"
            seconds, done = livepose("batch", *videos, "--out", out, *common, *extra)
            if done.returncode != 0:
                print(f"{label}: failed (exit {done.returncode}): {done.stderr.strip().splitlines()[-1:]}")
                continue
            frames = frames_of(out)
            fps = frames / seconds
            print(f"{label}: {frames} frames in {seconds:.1f} s = {fps:.2f} frames/s ({fps / seq_fps:.2f} x the "
                  f"runs one after another)")
            if workers is not None and (best is None or fps > best[1]):
                best = (workers, fps)
        if best is not None:
            workers, fps = best
            efficiency = min(1.0, fps / (workers * seq_fps))
            print(f"projected, not measured: {args.nodes} nodes like this one = {args.nodes} x {fps:.2f} = "
                  f"{args.nodes * fps:.1f} frames/s (videos are independent: the batch scales with nodes while the "
                  f"shared --out storage keeps up; Ray's per-task start-up not counted)")
            if args.gpu_fps is not None:
                print(f"projected, not measured: {args.nodes} nodes x 1 GPU each at {args.gpu_fps:g} frames/s per video "
                      f"(--gpu-fps, from bench_gpu.py) x the batch efficiency measured here {efficiency:.2f} "
                      f"({fps:.2f} frames/s with {workers} workers / ({workers} x {seq_fps:.2f})) = "
                      f"{args.nodes * args.gpu_fps * efficiency:.0f} frames/s (--ray ADDRESS --gpus-per-video 1)")
            else:
                print("  (for N nodes with a GPU each, give --gpu-fps F: one video's frames/s on one GPU, measured "
                      "with benchmarks/bench_gpu.py)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
