"""Jitter and lag of offline smoothing (livepose.analysis.smooth) against raw and the live Kalman.

    python benchmarks/bench_offline_smooth.py                      # runs livepose on the bundled clip
    python benchmarks/bench_offline_smooth.py --jsonl run.jsonl    # or reads a `livepose run --jsonl` file
    python benchmarks/bench_offline_smooth.py --bonn               # eval-track figures, live vs offline

From one ``livepose run --jsonl`` output (by default ``livepose run examples/one-by-one-clip.mp4
--backend onnxruntime --jsonl X``, as tools/quality_baseline.py does) it takes, per track id and
joint, the raw keypoints (``raw``) and the live tracker's (``keypoints``: the causal Kalman
filter), smooths the raw ones offline with :func:`rts_smooth` (the tracker's model and default
TrackerConfig) and :func:`butterworth_smooth` (--cutoff Hz, default 6, lowered to 0.8 x the
Nyquist frequency when the video's rate is too low for it; the value used is printed), and prints
for each:

* jitter: mean magnitude of the frame-to-frame acceleration (second difference, pixels), the
  measure of tools/quality_baseline.py clip_figures, over the samples where raw and every method
  have the joint in three consecutive frames (the same samples for all); and its ratio to raw;
* lag: tests/helpers.py ``lag_frames`` against raw (frames, 0.1 steps; positive: trails).  A
  control row runs RTS on the time-reversed clip: a causal delay would change sign there.

With ``--bonn [FOLDER]`` (default: the shared data's bonn-posetrack) it instead scores the Bonn
PoseTrack sequence through ``evaluate_tracking`` (what ``livepose eval-track`` prints), once per
smoother: the live Kalman filter, ``--smoother offline`` (RTS over the tracker's model, process
noise x4: livepose.track.offline.RTS_PROCESS_NOISE_SCALE), the same at the tracker's own process
noise (x1), and ``offline-butterworth``; per row jitter raw / smoothed / ratio, lag, keypoint
precision / recall, MOTA, IDF1, identity switches (issue 14's bar: ratio <= 0.3, lag <= 0.1,
keypoint precision / recall not below the live filter's).

Prints figures only (no pass/fail).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from helpers import lag_frames  # noqa: E402  (the project's lag measure)
from livepose.analysis.smooth import butterworth_smooth, rts_smooth  # noqa: E402
from livepose.settings import TrackerConfig  # noqa: E402
from livepose.track.offline import RTS_PROCESS_NOISE_SCALE  # noqa: E402

CLIP = "examples/one-by-one-clip.mp4"


def load(lines: list[str]):
    """t (T,), raw xy (T, I, P, 2), raw conf (T, I, P), live xy (T, I, P, 2) over the track ids."""
    frames = [json.loads(line) for line in lines if line.strip()]
    ids = sorted({p["id"] for fr in frames for p in fr.get("people", []) if p.get("id") is not None})
    col = {i: c for c, i in enumerate(ids)}
    n_parts = max((len(p["keypoints"]) for fr in frames for p in fr.get("people", [])), default=0)
    shape = (len(frames), len(ids), n_parts)
    raw, live, conf = np.full(shape + (2,), np.nan), np.full(shape + (2,), np.nan), np.zeros(shape)
    for k, fr in enumerate(frames):
        for p in fr.get("people", []):
            if p.get("id") is None or p.get("raw") is None:
                continue
            c = col[p["id"]]
            for j, ((x, y, s), (lx, ly, _)) in enumerate(zip(p["raw"], p["keypoints"])):
                if x is not None and y is not None:
                    raw[k, c, j], conf[k, c, j] = (x, y), s
                if lx is not None and ly is not None:
                    live[k, c, j] = (lx, ly)
    t = np.array([fr["time"] for fr in frames], np.float64)
    return t, raw, conf, live, ids


def second_diff(xy: np.ndarray) -> np.ndarray:
    """(T-2, I, P) |x[k+2] - 2 x[k+1] + x[k]|, NaN where a frame lacks the joint."""
    a = xy[2:] - 2 * xy[1:-1] + xy[:-2]
    return np.hypot(a[..., 0], a[..., 1])


def bonn(folder: Path) -> None:
    """The Bonn PoseTrack figures of each smoother through evaluate_tracking (module docstring)."""
    from livepose.build import build_estimator
    from livepose.eval import evaluate_tracking
    from livepose.settings import ModelSettings, TrackerConfig
    from livepose.track import PoseTracker
    from livepose.track.offline import OfflineSmoothing

    ann = next((folder / "annotations").glob("*.json"), None)
    if ann is None:
        raise SystemExit(f"{folder}: no annotations/*.json (the Bonn PoseTrack data, see ../shared/data/README.md)")
    est = build_estimator(ModelSettings())
    rows = [("live kalman", None), ("offline (rts x4)", OfflineSmoothing()),
            ("offline rts x1", OfflineSmoothing(process_noise_scale=1.0)),
            ("offline-butterworth", OfflineSmoothing("butterworth"))]
    print(f"source: {ann} ({est.describe()})")
    print(f"{'smoother':<20} {'raw px':>7} {'smooth px':>9} {'ratio':>6} {'lag':>5} {'kp prec':>8} {'kp rec':>7} "
          f"{'MOTA':>6} {'IDF1':>6} {'switches':>8}")
    for name, offline in rows:
        report, _ = evaluate_tracking(est, lambda: PoseTracker(est.part_names, TrackerConfig()), ann, folder,
                                      offline=offline)
        j, kp, m = report["jitter"], report["keypoints"]["smoothed"], report["metrics"]
        print(f"{name:<20} {j['raw_px']:>7.3f} {j['smoothed_px']:>9.3f} {j['ratio']:>6.3f} {j['lag_frames']:>5.1f} "
              f"{kp['precision']:>8.4f} {kp['recall']:>7.4f} {m['mota']:>6.3f} {m['idf1']:>6.3f} {m['num_switches']:>8}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jsonl", help="a `livepose run --jsonl` file (default: run livepose on the bundled clip)")
    ap.add_argument("--cutoff", type=float, default=6.0, help="Butterworth cutoff, Hz (default 6)")
    ap.add_argument("--order", type=int, default=4, help="Butterworth order (default 4)")
    ap.add_argument("--bonn", nargs="?", const=str(ROOT.parent / "shared" / "data" / "bonn-posetrack"), metavar="DIR",
                    help="score the Bonn PoseTrack sequence per smoother instead (default DIR: ../shared/data/"
                         "bonn-posetrack)")
    args = ap.parse_args()
    if args.bonn:
        bonn(Path(args.bonn))
        return
    if args.jsonl:
        lines = Path(args.jsonl).read_text().splitlines()
        source = args.jsonl
    else:
        with tempfile.TemporaryDirectory(prefix="lp-offline-") as tmp:
            out = Path(tmp) / "clip.jsonl"
            cmd = [sys.executable, "-m", "livepose", "run", str(ROOT / CLIP), "--backend", "onnxruntime",
                   "--jsonl", str(out), "--no-display", "--quiet"]
            subprocess.run(cmd, check=True, cwd=ROOT)
            lines = out.read_text().splitlines()
        source = f"livepose run {CLIP} --backend onnxruntime"
    t, raw, conf, live, ids = load(lines)
    n_t, n_ids, n_parts = conf.shape
    rts = rts_smooth(t, raw, conf)  # per person: size from its joints, as the tracker
    rts4 = rts_smooth(t, raw, conf, TrackerConfig(process_noise=TrackerConfig().process_noise * RTS_PROCESS_NOISE_SCALE))
    fs = 1.0 / float(np.median(np.diff(t)))
    cutoff = min(args.cutoff, 0.8 * fs / 2)
    flat = raw.reshape(n_t, n_ids * n_parts, 2)
    bw = butterworth_smooth(t, flat, conf.reshape(n_t, -1) > 0, cutoff, args.order).reshape(raw.shape)
    # control: the same smoother run on the time-reversed clip; a causal delay would change sign,
    # a figure the same as rts's is a property of the clip and the lag measure, not of the smoother
    rts_rev = rts_smooth(-t[::-1], raw[::-1], conf[::-1])[::-1]
    methods = {"raw": raw, "live kalman": live, "rts (offline)": rts, "rts, time reversed": rts_rev,
               f"rts x{RTS_PROCESS_NOISE_SCALE:g} (run offline)": rts4,
               f"butterworth {cutoff:g} Hz": bw}
    acc = {name: second_diff(xy) for name, xy in methods.items()}
    common = np.logical_and.reduce([np.isfinite(a) for a in acc.values()])
    base = acc["raw"][common].mean() if common.any() else float("nan")
    print(f"source: {source}")
    print(f"{n_t} frames at {fs:g} FPS, {n_ids} ids, {n_parts} parts; jitter over {int(common.sum())} common samples")
    print(f"{'method':<24} {'jitter px':>10} {'ratio':>7} {'lag frames':>11}")
    for name, xy in methods.items():
        j = acc[name][common].mean() if common.any() else float("nan")
        pairs = [(raw[:, i], xy[:, i]) for i in range(n_ids)]
        print(f"{name:<24} {j:>10.3f} {j / base:>7.3f} {lag_frames(pairs):>11.1f}")


if __name__ == "__main__":
    main()
