"""GPU (or CPU) throughput: the bare network against batch size and input size, the whole
pipeline against the bare network, and live latency; ONNX Runtime with the providers livepose
chooses (TensorRT, CUDA, CPU) or those given.

    python benchmarks/bench_gpu.py                                   # a GPU machine, defaults
    python benchmarks/bench_gpu.py --frames 8 --runs 1 --batches 1,2 --sizes=-1x368 --live-frames 10   # CPU smoke

It prints, in one run:

* the device (GPU name, driver and memory from nvidia-smi when present, else the CPU model),
  the ONNX Runtime version, the providers this build has and the ones the session loaded;
* **bare network**: frames per second of the network alone on the video's frames, letterboxed
  in memory beforehand, for each input size (``--sizes``) and batch size (``--batches``); the
  frames go through the same runner as in the pipeline (I/O binding on CUDA/TensorRT); with
  ``--compare-binding``, the same with I/O binding forced on and off, on any provider;
* **pipeline**: ``livepose run VIDEO --batch N`` in-process with all five file outputs (video,
  JSONL, OpenPose JSON, COCO, CSV into a temporary folder) for each ``--pipeline-batches``,
  frames per second between the first and the last result (start-up excluded; the whole run's
  figure too), and its ratio to the bare network at the same size and batch;
* **live**: the video played as a live source at its frame rate (``realtime=True``, batch 1),
  latency from capture to result: median and p95, and frames dropped.

Each figure is the median of ``--runs`` runs (each run's figure in brackets).  The video
defaults to ``../shared/data/video/street-crowd-720p50.avi`` relative to the repository; when
it is absent the script prints ``skipped: ...`` and exits 0.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_pipeline import read_frames  # the same frames reader (this folder is on sys.path)

REPO = Path(__file__).resolve().parent.parent
DEFAULT_VIDEO = REPO.parent / "shared" / "data" / "video" / "street-crowd-720p50.avi"


def device_lines() -> list[str]:
    import onnxruntime

    lines = []
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=20).stdout.strip()
            lines += [f"GPU: {line.strip()}" for line in out.splitlines() if line.strip()] or ["GPU: nvidia-smi gave nothing"]
        except (OSError, subprocess.SubprocessError) as exc:
            lines.append(f"GPU: nvidia-smi failed ({exc})")
    else:
        lines.append("GPU: none found (no nvidia-smi)")
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    lines.append(f"CPU: {cpu}, {cores} cores usable")
    lines.append(f"onnxruntime {onnxruntime.__version__} ({onnxruntime.get_device()}), providers in this build: "
                 f"{', '.join(onnxruntime.get_available_providers())}")
    return lines


def fmt(values: list[float], digits: int = 1) -> str:
    med = statistics.median(values)
    runs = ", ".join(f"{v:.{digits}f}" for v in values)
    return f"{med:.{digits}f} ({runs})" if len(values) > 1 else f"{med:.{digits}f}"


def letterbox_all(card, size, frames):
    from livepose.preprocess import Preprocessor

    pre = Preprocessor(card.input, size)
    out = []
    for image in frames:
        tensor, box = pre(image)
        out.append((tensor.copy(), box))
    return out


def bare_fps(network, prepared, batch: int, io_binding: bool | None = None) -> float:
    """Frames per second of the network alone, ``batch`` frames a call, through the pipeline's runner."""
    runner = network.runner(ring=4)
    if io_binding is not None:
        from livepose.inference import BoundRunner

        runner = BoundRunner(network, 4) if io_binding else network
    tensors = np.concatenate([t for t, _ in prepared])
    calls = [tensors[i: i + batch] for i in range(0, len(prepared), batch)]
    shapes = {c.shape for c in calls}
    for shape in shapes:  # untimed: engine build, allocation, the ring's first call at each shape
        for _ in range(2):
            runner.run_raw(np.ascontiguousarray(tensors[: shape[0]]))
    t0 = time.perf_counter()
    for c in calls:
        runner.run_raw(c)
    return len(prepared) / (time.perf_counter() - t0)


class _Clock:
    """A sink that only notes when each result arrives (steady-state throughput)."""

    name = "clock"

    def __init__(self):
        self.times: list[float] = []

    def open(self, info):
        pass

    def write(self, result):
        self.times.append(time.perf_counter())

    def close(self):
        pass


def pipeline_fps(estimator, video: Path, frames: int, batch: int) -> tuple[float, float]:
    """(steady FPS between first and last result, whole-run FPS) with all five file outputs."""
    from livepose import sinks as S
    from livepose.capture import open_source
    from livepose.runner import run_video

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        source = open_source(str(video))
        clock = _Clock()
        outputs = [S.VideoSink(out / "out.mp4"), S.JsonlSink(out / "out.jsonl"),
                   S.OpenPoseJsonSink(out / "openpose", source.name), S.CocoSink(out / "coco.json"),
                   S.CsvSink(out / "out.csv"), clock]
        summary = run_video(source, estimator, outputs, max_frames=frames, quiet=True, batch=batch)
    t = clock.times
    steady = (len(t) - 1) / (t[-1] - t[0]) if len(t) > 1 and t[-1] > t[0] else summary.fps
    return steady, summary.fps


def live_latency(estimator, video: Path, frames: int) -> dict:
    from livepose.capture import open_source
    from livepose.pipeline import PoseStream

    source = open_source(str(video), realtime=True)
    latencies = []
    with PoseStream(source, estimator) as stream:
        for result in stream:
            latencies.append((time.perf_counter() - result.frame.captured_at) * 1e3)
            if len(latencies) >= frames:
                stream.stop_capture()
        dropped = source.dropped + stream.skipped
    if not latencies:
        return {"frames": 0, "dropped": dropped, "median_ms": float("nan"), "p95_ms": float("nan")}
    return {"frames": len(latencies), "dropped": dropped, "median_ms": statistics.median(latencies),
            "p95_ms": float(np.percentile(latencies, 95))}


def _ints(text: str) -> list[int]:
    values = [int(v) for v in text.split(",") if v.strip()]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive whole numbers separated by commas, got {text!r}")
    return values


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video", type=Path, default=DEFAULT_VIDEO, help=f"video file (default {DEFAULT_VIDEO})")
    ap.add_argument("--frames", type=int, default=128, help="frames per throughput measurement (default 128)")
    ap.add_argument("--runs", type=int, default=3, help="runs; medians are printed (default 3)")
    ap.add_argument("--batches", type=_ints, default=[1, 2, 4, 8, 16], help="bare network batch sizes (default 1,2,4,8,16)")
    ap.add_argument("--sizes", default="-1x368,-1x480,656x368",
                    help="network input sizes, comma separated (default -1x368,-1x480,656x368)")
    ap.add_argument("--pipeline-batches", type=_ints, default=[1, 8], help="pipeline --batch values (default 1,8)")
    ap.add_argument("--live-frames", type=int, default=100, help="frames of the live latency run (default 100; 0: skip)")
    ap.add_argument("--providers", help="ONNX Runtime providers, comma separated (default: livepose's choice)")
    ap.add_argument("--precision", choices=("fp32", "fp16"), default="fp32")
    ap.add_argument("--trt-cache", type=Path, help="TensorRT engine cache folder")
    ap.add_argument("--threads", type=int, help="ONNX Runtime threads (CPU provider)")
    ap.add_argument("--compare-binding", action="store_true",
                    help="also time the bare network with I/O binding forced on and off (first size, each batch)")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(REPO))

    from livepose import PoseEstimator
    from livepose.errors import LiveposeError
    from livepose.preprocess import parse_size

    for line in device_lines():
        print(line)
    if not args.video.is_file():
        print(f"skipped: {args.video} not found (pass --video PATH)")
        return 0
    try:
        sizes = [parse_size(s.strip()) for s in args.sizes.split(",") if s.strip()]
    except ValueError as exc:
        print(f"error: --sizes: {exc}", file=sys.stderr)
        return 2
    providers = [p.strip() for p in args.providers.split(",")] if args.providers else None
    try:
        est = PoseEstimator(backend="onnxruntime", providers=providers, precision=args.precision,
                            threads=args.threads, trt_cache=args.trt_cache, warm_up=False)
    except LiveposeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    net = est.network
    print(f"session: {net.describe()}; I/O binding in the pipeline: {'on' if net.io_binding else 'off'}")
    frames = read_frames(args.video, args.frames)
    h, w = frames[0].shape[:2]
    print(f"video: {args.video.name}, {w}x{h}, {len(frames)} frames per measurement, {args.runs} run(s)")

    print("\nbare network, frames per second (median of runs):")
    bare: dict[tuple, float] = {}
    for size in sizes:
        prepared = letterbox_all(est.card, size, frames)
        net_w, net_h = prepared[0][1].net_size
        net.prepare((net_w, net_h), max(args.batches + args.pipeline_batches))
        label = f"{size[0]}x{size[1]} -> {net_w}x{net_h}"
        for batch in args.batches:
            runs = [bare_fps(net, prepared, batch) for _ in range(args.runs)]
            bare[(size, batch)] = statistics.median(runs)
            print(f"  {label:<22} batch {batch:>2}: {fmt(runs)} FPS", flush=True)
            if args.compare_binding and size == sizes[0]:
                on = [bare_fps(net, prepared, batch, io_binding=True) for _ in range(args.runs)]
                off = [bare_fps(net, prepared, batch, io_binding=False) for _ in range(args.runs)]
                print(f"  {'':<22}   I/O binding on {fmt(on)}, off {fmt(off)} FPS "
                      f"(on/off {statistics.median(on) / statistics.median(off):.3f})", flush=True)

    size = sizes[0]
    est = est.with_size(size)  # the pipeline's input size, same session
    print(f"\npipeline, all five file outputs, input {size[0]}x{size[1]}:")
    prepared = letterbox_all(est.card, size, frames)
    for batch in args.pipeline_batches:
        if (size, batch) not in bare:
            bare[(size, batch)] = statistics.median(bare_fps(net, prepared, batch) for _ in range(args.runs))
        steady, whole, ratio = [], [], []
        for _ in range(args.runs):
            s, wfps = pipeline_fps(est, args.video, len(frames), batch)
            steady.append(s)
            whole.append(wfps)
            ratio.append(s / bare[(size, batch)])
        print(f"  batch {batch:>2}: {fmt(steady)} FPS steady, {fmt(whole)} FPS whole run; bare network "
              f"{bare[(size, batch)]:.1f} FPS; ratio {fmt(ratio, 3)}", flush=True)

    if args.live_frames > 0:
        print(f"\nlive (realtime=True, batch 1), input {size[0]}x{size[1]}:")
        lives = [live_latency(est, args.video, args.live_frames) for _ in range(args.runs)]
        print(f"  latency capture -> result: median {fmt([lv['median_ms'] for lv in lives], 0)} ms, "
              f"p95 {fmt([lv['p95_ms'] for lv in lives], 0)} ms; frames {[lv['frames'] for lv in lives]}, "
              f"dropped {[lv['dropped'] for lv in lives]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
