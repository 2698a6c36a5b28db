"""Video pipeline speed: file throughput against the bare network, and live latency.

    python benchmarks/bench_pipeline.py                       # the two shared videos
    python benchmarks/bench_pipeline.py --videos a.mp4 --frames 200 --runs 3

For each video, in the same run:

* bare network: ONNX Runtime alone on the video's frames, already letterboxed in memory
  (no decoding of the file, no decoding of poses, no outputs): frames per second;
* pipeline: ``livepose run VIDEO --video --jsonl --openpose-json --coco --csv`` in-process
  (file decoding, letterboxing, inference, pose decoding and all five file outputs);
* the ratio pipeline / bare network (the bar: at least 0.95);
* live: the video played as a live source at its frame rate (newest frame only), each
  result drawn on this thread as the overlay window would be; latency from capture to the
  drawn overlay: median, p95, the median of the first and the last third (lag must not
  grow), and median latency / median inference time (the bar: at most 1.3).

Medians over ``--runs`` runs.  Prints "skipped: ..." and exits 0 when a video is absent.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
SHARED_VIDEO = REPO.parent / "shared" / "data" / "video"
DEFAULT_VIDEOS = [SHARED_VIDEO / "street-crowd-720p50.avi", SHARED_VIDEO / "pets09-s2l1-480x360-10fps.avi"]


def read_frames(path: Path, limit: int | None = None) -> list[np.ndarray]:
    """The video's first ``limit`` frames (None: all of them) as BGR arrays, decoded by OpenCV."""
    cap = cv2.VideoCapture(str(path))
    frames = []
    while limit is None or len(frames) < limit:
        ok, image = cap.read()
        if not ok:
            break
        frames.append(image)
    cap.release()
    return frames


def bare_network_fps(estimator, frames: list[np.ndarray]) -> tuple[float, float]:
    """Frames per second and median ms of the network alone on pre-letterboxed frames."""
    from livepose.preprocess import Preprocessor

    pre = Preprocessor(estimator.card.input, estimator.size)
    prepared = []
    for image in frames:
        tensor, box = pre(image)
        prepared.append((tensor.copy(), box))
    net = estimator.network
    net.run(*prepared[0])
    times = []
    t0 = time.perf_counter()
    for tensor, box in prepared:
        t = time.perf_counter()
        net.run(tensor, box)
        times.append((time.perf_counter() - t) * 1e3)
    return len(prepared) / (time.perf_counter() - t0), statistics.median(times)


def pipeline_fps(estimator, video: Path, frames: int, out: Path) -> float:
    from livepose import sinks as S
    from livepose.capture import open_source
    from livepose.runner import run_video

    source = open_source(str(video))
    outputs = [S.VideoSink(out / "out.mp4"), S.JsonlSink(out / "out.jsonl"),
               S.OpenPoseJsonSink(out / "openpose", source.name), S.CocoSink(out / "coco.json"),
               S.CsvSink(out / "out.csv")]
    summary = run_video(source, estimator, outputs, max_frames=frames, quiet=True)
    return summary.fps


def live_latency(estimator, video: Path, frames: int) -> dict:
    from livepose.capture import open_source
    from livepose.pipeline import PoseStream
    from livepose.render import draw_poses

    source = open_source(str(video), realtime=True)
    latencies, inference = [], []
    with PoseStream(source, estimator) as stream:
        for result in stream:
            draw_poses(result.frame.image.copy(), result.poses, estimator.card.limbs, result.person_ids)
            latencies.append((time.perf_counter() - result.frame.captured_at) * 1e3)
            inference.append(result.timings_ms["inference"])
            if len(latencies) >= frames:
                stream.stop_capture()
        dropped = source.dropped + stream.skipped
    third = max(1, len(latencies) // 3)
    return {
        "frames": len(latencies),
        "dropped": dropped,
        "median_ms": statistics.median(latencies),
        "p95_ms": float(np.percentile(latencies, 95)),
        "first_third_ms": statistics.median(latencies[:third]),
        "last_third_ms": statistics.median(latencies[-third:]),
        "inference_ms": statistics.median(inference),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", nargs="+", type=Path, default=DEFAULT_VIDEOS)
    ap.add_argument("--frames", type=int, default=150, help="frames per measurement (default 150)")
    ap.add_argument("--runs", type=int, default=3, help="runs; medians are printed (default 3)")
    ap.add_argument("--threads", type=int, default=None, help="ONNX Runtime threads (default: all cores)")
    ap.add_argument("--no-live", action="store_true", help="skip the live latency part")
    ap.add_argument("--backend", default="auto", help="inference engine: auto, onnxruntime, openvino (default auto)")
    ap.add_argument("--precision", default="auto", help="auto, fp32, bf16, int8, fp16 (default auto)")
    args = ap.parse_args()

    import onnxruntime

    from livepose import PoseEstimator

    print(f"machine: {len(__import__('os').sched_getaffinity(0))} cores, onnxruntime {onnxruntime.__version__}")
    estimator = PoseEstimator(threads=args.threads, backend=args.backend, precision=args.precision)
    for video in args.videos:
        if not video.is_file():
            print(f"skipped: {video} not found")
            continue
        frames = read_frames(video, args.frames)
        h, w = frames[0].shape[:2]
        box = estimator.plan((w, h))
        print(f"\n{video.name}: {len(frames)} frames of {w}x{h}, network input {box.net_size[0]}x{box.net_size[1]}")
        bare, pipe, ratio, live = [], [], [], []
        for run in range(args.runs):
            b, _ = bare_network_fps(estimator, frames)
            with tempfile.TemporaryDirectory() as tmp:
                p = pipeline_fps(estimator, video, len(frames), Path(tmp))
            bare.append(b)
            pipe.append(p)
            ratio.append(p / b)
            print(f"  run {run + 1}: bare network {b:.2f} FPS, pipeline with all file outputs {p:.2f} FPS, "
                  f"ratio {p / b:.3f}", flush=True)
            if not args.no_live:
                lv = live_latency(estimator, video, min(len(frames), args.frames))
                live.append(lv)
                print(f"          live: {lv['frames']} frames, {lv['dropped']} dropped, latency median "
                      f"{lv['median_ms']:.0f} ms, p95 {lv['p95_ms']:.0f} ms, first/last third "
                      f"{lv['first_third_ms']:.0f}/{lv['last_third_ms']:.0f} ms, inference {lv['inference_ms']:.0f} ms, "
                      f"latency/inference {lv['median_ms'] / lv['inference_ms']:.2f}", flush=True)
        print(f"  median of {args.runs}: bare {statistics.median(bare):.2f} FPS, pipeline "
              f"{statistics.median(pipe):.2f} FPS, ratio {statistics.median(ratio):.3f}")
        if live:
            med = statistics.median(lv["median_ms"] for lv in live)
            inf = statistics.median(lv["inference_ms"] for lv in live)
            p95 = statistics.median(lv["p95_ms"] for lv in live)
            print(f"  live median of {args.runs}: latency median {med:.0f} ms, p95 {p95:.0f} ms, "
                  f"latency/inference {med / inf:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
