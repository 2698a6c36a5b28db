"""How long tracking and smoothing take per frame, against the number of people.

    python benchmarks/bench_track.py                         # 1, 10, 20, 50 people, 18 joints
    python benchmarks/bench_track.py --people 10,50 --frames 600 --json t.json

People walk to and fro on synthetic straight-line trajectories over a 1920x1080 frame (each
in its own cell of a grid, heights 80 to 300 pixels or the cell's, with limb swing), with
Gaussian jitter on every joint and a few joints missing at random; every frame gives the
tracker all of them, in a shuffled order.  The Poses for every frame are made before timing.

Sections:

  a) ``PoseTracker.update`` (association + lifecycle + smoothing + building the Tracks) per
     frame for each smoother (kalman, one_euro, none): median and p90 of --frames frames after
     --warmup frames (tracks confirmed), one core, GC off while timing.
  b) smoothing alone for the Kalman filters: the batched predict + update of livepose
     (all tracks and joints at once) against one filterpy ``KalmanFilter`` per joint
     (4 states x, vx, y, vy; predict + update for each joint of each person in a Python
     loop), the usual per-object way; ratio.  'n/a' when filterpy is not installed.

Prints figures only (no pass/fail).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from livepose.card import load_card  # noqa: E402
from livepose.track import ConstantVelocityKalman, PoseTracker, TrackerConfig  # noqa: E402
from livepose.types import Poses  # noqa: E402

# The skeleton is the bundled model card's (its part names, in the network's order).
PARTS = load_card().parts
# A standing person, offsets from the mid-hip in units of body height, by part name.
BODY = {
    "nose": (0.00, -0.45), "neck": (0.00, -0.35), "right_shoulder": (-0.10, -0.35), "right_elbow": (-0.13, -0.20),
    "right_wrist": (-0.14, -0.07), "left_shoulder": (0.10, -0.35), "left_elbow": (0.13, -0.20),
    "left_wrist": (0.14, -0.07), "right_hip": (-0.06, 0.00), "right_knee": (-0.06, 0.22), "right_ankle": (-0.06, 0.45),
    "left_hip": (0.06, 0.00), "left_knee": (0.06, 0.22), "left_ankle": (0.06, 0.45), "right_eye": (-0.02, -0.47),
    "left_eye": (0.02, -0.47), "right_ear": (-0.04, -0.46), "left_ear": (0.04, -0.46),
}
# limb swing: +1 and -1 swing in opposite phase
SWING_PHASE = {"right_wrist": 1.0, "left_ankle": 1.0, "left_wrist": -1.0, "right_ankle": -1.0}
TEMPLATE = np.array([BODY[p] for p in PARTS])
SWING = np.array([SWING_PHASE.get(p, 0.0) for p in PARTS])


def make_frames(n_people: int, n_frames: int, fps: float, jitter: float, missing: float, seed: int) -> list:
    """[(timestamp, Poses)] of ``n_people`` walking to and fro, each in a cell of a grid."""
    rng = np.random.default_rng(seed)
    cols = max(1, math.ceil(math.sqrt(n_people * 16 / 9)))
    rows = max(1, math.ceil(n_people / cols))
    cell = (1920 / cols, 1080 / rows)
    start = np.array([((i % cols + 0.5) * cell[0], (i // cols + 0.5) * cell[1]) for i in range(n_people)])
    height = np.minimum(rng.uniform(80, 300, n_people), 0.9 * cell[1])
    angle = rng.uniform(0, 2 * np.pi, n_people)
    direction = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    amplitude = 0.25 * min(cell) * direction  # back and forth in their own cell ...
    period = rng.uniform(3.0, 8.0, n_people)  # ... at up to 0.5 cell widths per second
    frames = []
    for k in range(n_frames):
        t = k / fps
        centre = start + amplitude * np.sin(2 * np.pi * t / period)[:, None]
        xy = centre[:, None] + TEMPLATE[None] * height[:, None, None]
        xy[..., 0] += SWING[None] * 0.06 * height[:, None] * math.sin(2 * math.pi * t)
        xy += rng.normal(0.0, jitter, xy.shape)
        conf = rng.uniform(0.3, 0.95, xy.shape[:2])
        gone = rng.random(xy.shape[:2]) < missing
        xy[gone], conf[gone] = np.nan, 0.0
        order = rng.permutation(n_people)
        frames.append((t, Poses(xy=xy[order].astype(np.float32), conf=conf[order].astype(np.float32),
                                score=rng.uniform(0.4, 0.9, n_people).astype(np.float32), part_names=PARTS)))
    return frames


def timed(fn, items) -> list[float]:
    """Milliseconds of fn(item) for each item, GC off."""
    gc.collect()
    gc.disable()
    try:
        out = []
        for item in items:
            t0 = time.perf_counter()
            fn(item)
            out.append((time.perf_counter() - t0) * 1e3)
    finally:
        gc.enable()
    return out


def percentile(values, q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if len(values) else float("nan")


def bench_tracker(frames: list, smoother: str, warmup: int) -> dict:
    tracker = PoseTracker(PARTS, TrackerConfig(smoother=smoother))
    for t, poses in frames[:warmup]:
        tracker.update(poses, t)
    times = timed(lambda f: tracker.update(f[1], f[0]), frames[warmup:])
    return {"median_ms": statistics.median(times), "p90_ms": percentile(times, 90), "tracks": len(tracker)}


def bench_batched_kalman(frames: list, warmup: int) -> float:
    """Median ms of the batched Kalman predict + update alone (all people, all joints)."""
    cfg = TrackerConfig()
    model = ConstantVelocityKalman(cfg.process_noise, cfg.measurement_noise, cfg.init_speed)
    n = len(frames[0][1])
    size = np.full(n, 150.0)
    state = model.blank(n, len(PARTS))
    seen = np.zeros((n, len(PARTS)), bool)

    def step(frame):
        nonlocal state, seen
        _, poses = frame
        measured = poses.conf > 0
        fresh = measured & ~seen
        state = model.predict(state, 1 / 30, size)
        state = model.update(state, poses.xy.astype(np.float64), measured, fresh, poses.conf, size)
        seen |= measured

    for f in frames[:warmup]:
        step(f)
    return statistics.median(timed(step, frames[warmup:]))


def bench_filterpy_loop(frames: list, warmup: int) -> float | None:
    """Median ms of one filterpy KalmanFilter per joint, predict + update in a Python loop."""
    try:
        from filterpy.common import Q_discrete_white_noise
        from filterpy.kalman import KalmanFilter
    except ImportError:
        return None
    cfg = TrackerConfig()
    n, p, dt = len(frames[0][1]), len(PARTS), 1 / 30
    q = (cfg.process_noise * 150.0) ** 2 / dt
    filters = []
    for _ in range(n * p):
        kf = KalmanFilter(dim_x=4, dim_z=2)
        kf.F = np.array([[1, dt, 0, 0], [0, 1, 0, 0], [0, 0, 1, dt], [0, 0, 0, 1]], float)
        kf.H = np.array([[1, 0, 0, 0], [0, 0, 1, 0]], float)
        kf.Q = Q_discrete_white_noise(dim=2, dt=dt, var=q, block_size=2)
        kf.P *= 100.0
        filters.append(kf)

    def step(frame):
        _, poses = frame
        xy = poses.xy.reshape(n * p, 2)
        conf = poses.conf.reshape(n * p)
        for i, kf in enumerate(filters):
            kf.predict()
            if conf[i] > 0:
                r = (cfg.measurement_noise * 150.0) ** 2 / max(float(conf[i]), 0.05)
                kf.update(xy[i], R=np.eye(2) * r)

    for f in frames[:warmup]:
        step(f)
    return statistics.median(timed(step, frames[warmup:]))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--people", default="1,10,20,50", help="comma-separated crowd sizes (default 1,10,20,50)")
    parser.add_argument("--frames", type=int, default=400, help="timed frames per case (default 400)")
    parser.add_argument("--warmup", type=int, default=30, help="frames run before timing (default 30)")
    parser.add_argument("--fps", type=float, default=30.0, help="frame rate of the synthetic video (default 30)")
    parser.add_argument("--jitter", type=float, default=2.0, help="keypoint noise, pixels (default 2)")
    parser.add_argument("--missing", type=float, default=0.05, help="fraction of joints missing (default 0.05)")
    parser.add_argument("--smoothers", default="kalman,one_euro,none", help="comma-separated (default all three)")
    parser.add_argument("--filterpy-frames", type=int, default=60,
                        help="timed frames for the filterpy loop (default 60)")
    parser.add_argument("--core", type=int, default=0, help="CPU core to pin to, -1 not to pin (default 0)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)

    counts = [int(c) for c in args.people.split(",") if c.strip()]
    smoothers = [s.strip() for s in args.smoothers.split(",") if s.strip()]
    saved = None
    if args.core >= 0 and hasattr(os, "sched_setaffinity"):
        saved = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {args.core})
    cpu = "unknown"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.lower().startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or cpu
    print(f"tracking benchmark: {cpu}, numpy {np.__version__}, Python {platform.python_version()}, "
          f"{'core ' + str(args.core) if saved is not None else 'not pinned'}; {len(PARTS)} joints, "
          f"{args.fps:g} FPS, jitter {args.jitter:g} px, {args.missing:.0%} joints missing")

    report = {"cpu": cpu, "joints": len(PARTS), "cases": []}
    try:
        print("\na) PoseTracker.update per frame, ms (median / p90 of %d frames)" % args.frames)
        print(f"{'people':>6} " + " ".join(f"{s:>18}" for s in smoothers))
        for n in counts:
            frames = make_frames(n, args.warmup + args.frames, args.fps, args.jitter, args.missing, args.seed)
            row = {"people": n}
            cells = []
            for s in smoothers:
                r = bench_tracker(frames, s, args.warmup)
                row[s] = r
                cells.append(f"{r['median_ms']:8.3f} / {r['p90_ms']:7.3f}")
            report["cases"].append(row)
            print(f"{n:>6} " + " ".join(f"{c:>18}" for c in cells))

        print("\nb) Kalman smoothing alone per frame, ms: batched (livepose) vs one filterpy KalmanFilter per joint")
        print(f"{'people':>6} {'batched':>10} {'filterpy loop':>14} {'ratio':>8}")
        for row in report["cases"]:
            n = row["people"]
            frames = make_frames(n, args.warmup + max(args.frames, args.filterpy_frames), args.fps, args.jitter,
                                 args.missing, args.seed)
            batched = bench_batched_kalman(frames, args.warmup)
            loop = bench_filterpy_loop(frames[: args.warmup + args.filterpy_frames], args.warmup)
            row["kalman_batched_ms"], row["filterpy_loop_ms"] = batched, loop
            ratio = "n/a" if loop is None else f"{loop / batched:7.1f}x"
            print(f"{n:>6} {batched:10.3f} {('n/a' if loop is None else f'{loop:.3f}'):>14} {ratio:>8}")
    finally:
        if saved is not None:
            os.sched_setaffinity(0, saved)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
