"""Carrying keypoints between network frames (livepose.carry, ``--keyframe-every K``): its cost,
the speed it gives, and how close the carried keypoints stay to running the network every frame.

    python benchmarks/bench_carry.py cost                     # ms per frame, 10 people at 720p, one core
    python benchmarks/bench_carry.py fps --video V --frames 150 --repeats 3   # --frames 0: the whole video
    python benchmarks/bench_carry.py accuracy                  # dance, basketball, Bonn; K = 2, 3, 5
    python benchmarks/bench_carry.py bonn                      # eval-track MOTA / IDF1 / switches, K = 1 vs 3
    python benchmarks/bench_carry.py live --repeats 2          # a 30 fps video in real time, carrying off / on
    python benchmarks/bench_carry.py all --json carry.json

Sections:

  cost      ``CarryStage`` per frame (the grey copy made once, one forward and one backward
            ``calcOpticalFlowPyrLK`` call for every point), 10 people x 18 keypoints spread
            over real 1280x720 frames (street-crowd-720p50), OpenCV on one thread: median and
            p90 over --frames consecutive frames, and the grey copy alone.
  fps       ``livepose run VIDEO --jsonl`` in this process (one network loaded once, a new
            stream and outputs per run) with K = 1 and K = 3 in turn, interleaved A/B for
            --repeats rounds; median frames per second of each and their ratio, over the whole
            run (the stream's start and warm-up included) and in the steady state (first
            result to last).
  accuracy  per video: the network on every frame once (the reference: its detections, and
            the ids a tracker gives them); then for K = 2, 3, 5 and each carry mode (flow:
            optical flow; hold: the last network keypoints; predict: the Kalman prediction
            alone) the tracker run with the network on every K-th frame only, the same cached
            detections there.  On every other frame, each reported person is matched to the
            reference person through the detection its track took at the last network frame
            (the same detection in both runs), and the error is the mean distance in pixels of
            the track's keypoints (``Tracks.xy``: fused carried measurements, else predicted)
            to that person's network keypoints in that frame, over the joints both have (the
            smaller of as labelled and left/right mirrored, as a bottom-up network may flip a
            person).  Also: the fraction of those joints each mode gives a position for.
            For scale: with the network on every frame, the tracker's smoothed output is itself some
            pixels from the detections (``k1_smoothing_px``, the smoothing's lag and noise removal).
  bonn      ``evaluate_tracking`` on the Bonn sequence, network on every frame and K = 3.
  live      a 30 fps video (--video, default the dance clip) played in real time as a live
            source, results drawn, carrying off and on in turn (--repeats rounds): the share of
            the captured frames that get a result, network results per second, and the median
            capture-to-drawn latency (of the carried results apart).

Prints figures only (no pass/fail); --json writes them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SHARED = Path(os.environ.get("LIVEPOSE_SHARED", ROOT.parent / "shared")) / "data"
VIDEOS = {"dance": SHARED / "video" / "dance-3people-720x1280.mp4",
          "basketball": SHARED / "video" / "basketball-drill-426x240.mp4",
          "bonn": SHARED / "bonn-posetrack" / "videos" / "060470979"}
STREET = SHARED / "video" / "street-crowd-720p50.avi"
BONN_ANN = SHARED / "bonn-posetrack" / "annotations" / "bonn_test_060470979_frames_present.json"
BONN_FRAMES = SHARED / "bonn-posetrack"
MODES = ("flow", "hold", "predict")


# -- cost ------------------------------------------------------------------------------------------
def bench_cost(frames: int = 150, people: int = 10) -> dict:
    import cv2

    from livepose.carry import CarryStage
    from livepose.settings import CarrySettings
    from livepose.types import People, Poses

    from bench_pipeline import read_frames  # this folder is on sys.path

    cv2.setNumThreads(1)
    images = read_frames(STREET, frames + 1)
    h, w = images[0].shape[:2]
    rng = np.random.default_rng(0)
    # 10 people in a row across the frame, 18 keypoints each within a 120 x 300 box
    centres = np.stack([np.linspace(0.08, 0.92, people) * w, np.full(people, 0.55 * h)], axis=1)
    xy = (centres[:, None, :] + rng.uniform([-60, -150], [60, 150], (people, 18, 2))).astype(np.float32)
    names = tuple(f"p{i}" for i in range(18))
    poses = Poses(xy=xy, conf=np.full((people, 18), 0.7, np.float32), score=np.ones(people, np.float32),
                  part_names=names)
    last = People(poses)
    stage = CarryStage(CarrySettings(keyframe_every=1000, max_carry_frames=100_000))
    stage.see(images[0])
    carry_ms, kept = [], []
    for image in images[1:]:
        t0 = time.perf_counter()
        carried = stage(image, last)
        carry_ms.append((time.perf_counter() - t0) * 1e3)
        kept.append(float(carried.visible.mean()))
        last = People(poses)  # always the same points (no decay of the set being carried)
    grey_ms = []
    for image in images[1:]:
        t0 = time.perf_counter()
        stage.see(image)
        grey_ms.append((time.perf_counter() - t0) * 1e3)
    out = {"frame": f"{w}x{h}", "people": people, "points": people * 18, "flow_size": stage.settings.flow_size,
           "opencv_threads": 1, "frames": len(carry_ms),
           "carry_ms_median": round(statistics.median(carry_ms), 3),
           "carry_ms_p90": round(float(np.percentile(carry_ms, 90)), 3),
           "grey_copy_ms_median": round(statistics.median(grey_ms), 3),
           "points_kept": round(statistics.mean(kept), 3)}
    print(f"cost: {people} people x 18 points at {w}x{h}, flow image {stage.settings.flow_size} px, one thread: "
          f"carry {out['carry_ms_median']} ms median ({out['carry_ms_p90']} p90), of which the grey copy "
          f"{out['grey_copy_ms_median']} ms; {out['points_kept']:.0%} of points kept")
    return out


# -- fps -------------------------------------------------------------------------------------------
def _timed_run(config, estimator) -> tuple[float, float]:
    """One ``livepose run`` into its outputs: (frames per second over the whole run, start and
    warm-up included, as its summary line says; frames per second from the first result to the
    last, the steady state)."""
    from livepose.build import build
    from livepose.runner import OUTPUT_QUEUE, SinkRunner

    run = build(config, estimator=estimator)
    t0 = time.perf_counter()
    runner = SinkRunner(run.outputs, run.stream.info, queue_size=OUTPUT_QUEUE)
    stamps = []
    try:
        for result in run.stream:
            runner.write(result)
            stamps.append(time.perf_counter())
    finally:
        run.stream.close()
        runner.close()
    whole = len(stamps) / (time.perf_counter() - t0)
    steady = (len(stamps) - 1) / (stamps[-1] - stamps[0])
    return whole, steady


def bench_fps(video: Path, frames: int, repeats: int, size: str | None = None) -> dict:
    from livepose.build import build_estimator
    from livepose.preprocess import parse_size
    from livepose.settings import RunConfig

    base = RunConfig.from_overrides(source=str(video), max_frames=frames or None, quiet=True, display=False,
                                    **({"size": parse_size(size)} if size else {}))
    estimator = build_estimator(base.model, base.decode, warm_up=True, augment=base.augment, suppress=base.suppress)
    fps: dict[int, list[float]] = {1: [], 3: []}
    steady: dict[int, list[float]] = {1: [], 3: []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(repeats):
            for k in (1, 3) if r % 2 == 0 else (3, 1):  # interleaved, alternating which goes first
                config = RunConfig.from_overrides(base, jsonl=str(Path(tmp) / f"k{k}.jsonl"), keyframe_every=k)
                whole, settled = _timed_run(config, estimator)
                fps[k].append(whole)
                steady[k].append(settled)
                print(f"  fps K={k}: {whole:.2f} FPS whole run, {settled:.2f} steady", flush=True)
    m1, m3 = statistics.median(fps[1]), statistics.median(fps[3])
    s1, s3 = statistics.median(steady[1]), statistics.median(steady[3])
    out = {"video": video.name, "frames": frames or "all", "repeats": repeats, "fps_k1": [round(v, 2) for v in fps[1]],
           "fps_k3": [round(v, 2) for v in fps[3]], "median_k1": round(m1, 2), "median_k3": round(m3, 2),
           "ratio": round(m3 / m1, 2), "steady_k1": round(s1, 2), "steady_k3": round(s3, 2),
           "steady_ratio": round(s3 / s1, 2), "model": estimator.describe()}
    print(f"fps: {video.name}, {f'{frames} frames' if frames else 'the whole video'}, {repeats} rounds, --jsonl: K=1 {m1:.2f} FPS, K=3 {m3:.2f} FPS "
          f"(x{m3 / m1:.2f}) over the whole run; steady state K=1 {s1:.2f}, K=3 {s3:.2f} (x{s3 / s1:.2f}); "
          f"{estimator.describe()}")
    return out


# -- accuracy --------------------------------------------------------------------------------------
def _frames(path: Path, limit: int | None):
    from livepose.capture import open_source

    source = open_source(str(path))
    try:
        for n, frame in enumerate(source):
            if limit is not None and n >= limit:
                break
            yield frame
    finally:
        source.close()


def _reference(estimator, path: Path, limit: int | None):
    """The network on every frame: per frame its Poses, and the id the K = 1 tracker gives each detection."""
    from livepose.pipeline import PoseStream
    from livepose.capture import open_source
    from livepose.track import PoseTracker

    poses, stamps = [], []
    source = open_source(str(path))
    with PoseStream(source, estimator, max_frames=limit) as stream:
        for result in stream:
            poses.append(result.people.poses)
            stamps.append(result.frame.timestamp)
    tracker = PoseTracker(estimator.part_names, mirror=_mirror(estimator))
    ids, floor = [], []
    for p, t in zip(poses, stamps):
        tracks = tracker.update(p, t)
        row = np.full(len(p), -1, np.int64)
        row[tracks.det_index] = tracks.ids
        ids.append(row)
        both = np.isfinite(tracks.xy[..., 0]) & np.isfinite(tracks.xy_raw[..., 0])
        for n in range(len(tracks)):  # the tracker's own output against the detection it took
            if both[n].any():
                floor.append(float(np.linalg.norm(tracks.xy[n][both[n]] - tracks.xy_raw[n][both[n]], axis=1).mean()))
    return poses, stamps, ids, (round(float(np.mean(floor)), 2) if floor else None)


def _mirror(estimator):
    flip = getattr(estimator.card, "flip", None)
    return flip.parts if flip else None


def _simulate(estimator, path: Path, limit, poses, stamps, ref_ids, k: int, mode: str, noise: float | None = None) -> dict:
    from livepose.carry import CarryStage, keyframe_people
    from livepose.settings import CarrySettings
    from livepose.track import PoseTracker
    from livepose.types import People

    settings = CarrySettings(keyframe_every=k, carry_mode=mode)
    if noise is not None:
        settings = settings.with_(carry_noise=noise)
    mirror = _mirror(estimator)
    tracker = PoseTracker(estimator.part_names, mirror=mirror)
    stage = CarryStage(settings)
    origin: dict[int, tuple[int, int]] = {}  # track id -> (network frame, detection) it last took
    last = None
    errors, covered, wanted, carried_frames, lost_all = [], 0, 0, 0, 0
    raw_errors = []  # the carried measurements themselves (flow, hold), on the joints carried
    network_next, network_frames = False, 0  # as the pipeline: after a cut the network runs on the next frame
    for n, frame in enumerate(_frames(path, limit)):
        if n >= len(poses):
            break
        if n % k == 0 or network_next:
            network_frames += 1
            network_next = False
            tracks = tracker.update(poses[n], stamps[n])
            for i, d in zip(tracks.ids.tolist(), tracks.det_index.tolist()):
                origin[i] = (n, d)
            stage.see(frame.image)
            last = keyframe_people(People.from_tracks(tracks))
            continue
        carried = stage(frame.image, last)
        lost_all += int(carried.cut)
        network_next = carried.cut
        tracks = tracker.update_carried(carried, stamps[n], noise=settings.carry_noise)
        last = People.from_tracks(tracks)
        carried_frames += 1
        for row, i in enumerate(tracks.ids.tolist()):
            if i not in origin:
                continue
            key, det = origin[i]
            rid = ref_ids[key][det]
            match = np.flatnonzero(ref_ids[n] == rid) if rid >= 0 else []
            if len(match) == 0:
                continue
            ref = poses[n]
            rxy = np.where(ref.visible[match[0]][:, None], ref.xy[match[0]], np.nan)
            out = tracks.xy[row]
            have = np.isfinite(rxy[:, 0])
            wanted += int(have.sum())
            best = None
            for perm in ([None] if mirror is None else [None, mirror]):
                r = rxy if perm is None else rxy[perm]
                both = np.isfinite(r[:, 0]) & np.isfinite(out[:, 0])
                if both.any():
                    e = float(np.linalg.norm(out[both] - r[both], axis=1).mean())
                    if best is None or e < best[0]:
                        best = (e, int(both.sum()))
            if best is not None:
                errors.append(best[0])
                covered += best[1]
            if mode != "predict":
                raw = tracks.xy_raw[row]
                both = np.isfinite(raw[:, 0]) & np.isfinite(rxy[:, 0])
                options = [rxy] if mirror is None else [rxy, rxy[mirror]]
                errs = [float(np.linalg.norm(raw[b] - r[b], axis=1).mean())
                        for r in options if (b := both & np.isfinite(r[:, 0])).any()]
                if errs:
                    raw_errors.append(min(errs))
    return {"k": k, "mode": mode, "carried_frames": carried_frames,
            "network_share": round(network_frames / max(1, network_frames + carried_frames), 3),
            "people_frames": len(errors),
            "error_px": round(float(np.mean(errors)), 2) if errors else None,
            "median_px": round(float(np.median(errors)), 2) if errors else None,
            "joints_given": round(covered / wanted, 3) if wanted else None, "cuts": lost_all,
            "measurement_px": round(float(np.mean(raw_errors)), 2) if raw_errors else None,
            "carry_noise": settings.carry_noise}


def bench_accuracy(videos: list[str], ks: list[int], limit: int | None, noises: list[float] | None = None) -> dict:
    from livepose.build import build_estimator
    from livepose.settings import RunConfig

    base = RunConfig()
    estimator = build_estimator(base.model, base.decode, warm_up=True, augment=base.augment, suppress=base.suppress)
    out = {}
    for name in videos:
        path = VIDEOS[name]
        if not path.exists():
            print(f"accuracy: {path} not found, skipped")
            continue
        t0 = time.perf_counter()
        poses, stamps, ids, floor = _reference(estimator, path, limit)
        rows = [_simulate(estimator, path, limit, poses, stamps, ids, k, mode) for k in ks for mode in MODES]
        for noise in noises or ():  # the carried measurements' noise factor, for choosing its default
            rows += [_simulate(estimator, path, limit, poses, stamps, ids, k, "flow", noise) for k in ks]
        out[name] = {"frames": len(poses), "people_per_frame": round(float(np.mean([len(p) for p in poses])), 2),
                     "k1_smoothing_px": floor, "rows": rows, "seconds": round(time.perf_counter() - t0, 1)}
        print(f"accuracy: {name} ({len(poses)} frames, {out[name]['people_per_frame']} people per frame): "
              f"mean px error to the network on that frame (joints given); with the network on every frame the "
              f"smoothed output is {floor} px from it")
        for k in ks:
            cells = [r for r in rows if r["k"] == k]
            print(f"  K={k}: " + "  ".join(f"{r['mode']}{'' if r['carry_noise'] == 1.5 or r['mode'] != 'flow' else ' x' + str(r['carry_noise'])} "
                                        f"{r['error_px']} ({r['joints_given']}; measured {r['measurement_px']})"
                                        for r in cells))
    return out


def bench_bonn() -> dict:
    from livepose.build import build_estimator
    from livepose.eval import evaluate_tracking
    from livepose.settings import CarrySettings, RunConfig
    from livepose.track import PoseTracker

    if not BONN_ANN.exists():
        print(f"bonn: {BONN_ANN} not found, skipped")
        return {}
    base = RunConfig()
    estimator = build_estimator(base.model, base.decode, warm_up=True, augment=base.augment, suppress=base.suppress)
    out = {}
    for k in (1, 3):
        carry = CarrySettings(keyframe_every=k) if k > 1 else None
        report, _ = evaluate_tracking(estimator, lambda: PoseTracker(estimator.part_names, mirror=_mirror(estimator)),
                                      BONN_ANN, BONN_FRAMES, carry=carry)
        m = report["metrics"]
        out[f"k{k}"] = {"mota": round(m["mota"], 4), "idf1": round(m["idf1"], 4), "switches": m["num_switches"],
                        "keypoint_precision": report["keypoints"]["smoothed"]["precision"],
                        "keypoint_recall": report["keypoints"]["smoothed"]["recall"]}
        print(f"bonn K={k}: MOTA {m['mota']:.4f}  IDF1 {m['idf1']:.4f}  switches {m['num_switches']}  "
              f"keypoints P {report['keypoints']['smoothed']['precision']:.3f} "
              f"R {report['keypoints']['smoothed']['recall']:.3f}")
    return out


def bench_live(video: Path, rounds: int, size: str | None = None) -> dict:
    """A 30 fps file played in real time as a live source (render on, as the window would draw),
    carrying off and on in turn: the share of captured frames with a result, network results per
    second, and capture-to-drawn latency of the results (carried ones apart)."""
    from livepose.build import build_estimator
    from livepose.capture import open_source
    from livepose.pipeline import PoseStream
    from livepose.settings import CarrySettings, RunConfig
    from livepose.track import PoseTracker

    from livepose.preprocess import parse_size

    base = RunConfig.from_overrides(size=parse_size(size)) if size else RunConfig()
    estimator = build_estimator(base.model, base.decode, warm_up=True, augment=base.augment, suppress=base.suppress)
    rows = {"off": [], "carry": []}
    for r in range(rounds):
        for mode in ("off", "carry") if r % 2 == 0 else ("carry", "off"):
            source = open_source(str(video), realtime=True)
            carry = CarrySettings(keyframe_every=2) if mode == "carry" else None
            stream = PoseStream(source, estimator, tracker=PoseTracker(estimator.part_names, mirror=_mirror(estimator)),
                                render=True, carry=carry)
            lat, lat_carried, network, first = [], [], 0, None
            start_read = None
            with stream:
                for result in stream:
                    now = time.perf_counter()
                    if start_read is None:
                        start_read = source.frames_read - 1  # frames read before the first result are not counted
                        first = now
                    lat.append((now - result.frame.captured_at) * 1e3)
                    if result.timings.inference > 0:
                        network += 1
                    else:
                        lat_carried.append(lat[-1])
                seconds = time.perf_counter() - first
                captured = source.frames_read - start_read
            rows[mode].append({"results": len(lat), "captured": captured, "share": len(lat) / max(1, captured),
                               "network_per_s": network / seconds, "latency_ms": statistics.median(lat),
                               "carried_latency_ms": statistics.median(lat_carried) if lat_carried else None})
            print(f"  live {mode}: {rows[mode][-1]}", flush=True)
    out = {}
    for mode, rs in rows.items():
        out[mode] = {k: round(statistics.median([x[k] for x in rs]), 3) if rs[0][k] is not None else None
                     for k in rs[0]}
    out["network_ratio"] = round(out["carry"]["network_per_s"] / out["off"]["network_per_s"], 3)
    print(f"live: {video.name} in real time, {estimator.describe()}: carrying off {out['off']}; on {out['carry']}; network rate on/off "
          f"{out['network_ratio']}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("section", choices=("cost", "fps", "accuracy", "bonn", "live", "all"))
    ap.add_argument("--video", type=Path, default=STREET, help="fps: the video (default: street-crowd-720p50)")
    ap.add_argument("--frames", type=int, default=150, help="cost and fps: frames per run (fps: 0 for the whole video)")
    ap.add_argument("--repeats", type=int, default=3, help="fps: interleaved rounds")
    ap.add_argument("--videos", default="dance,basketball,bonn", help="accuracy: which videos")
    ap.add_argument("--ks", default="2,3,5", help="accuracy: keyframe intervals")
    ap.add_argument("--limit", type=int, default=None, help="accuracy: at most this many frames per video")
    ap.add_argument("--size", default=None, help="fps and live: the network's input size, e.g. -1x736 (a slower network)")
    ap.add_argument("--noises", default="", help="accuracy: also flow with these carry_noise factors, e.g. 1,2")
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args()
    figures = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()}}
    if args.section in ("cost", "all"):
        figures["cost"] = bench_cost(args.frames)
    if args.section in ("fps", "all"):
        figures["fps"] = bench_fps(args.video, args.frames, args.repeats, args.size)
    if args.section in ("accuracy", "all"):
        figures["accuracy"] = bench_accuracy(args.videos.split(","), [int(k) for k in args.ks.split(",")], args.limit,
                                             [float(v) for v in args.noises.split(",") if v])
    if args.section in ("bonn", "all"):
        figures["bonn"] = bench_bonn()
    if args.section in ("live", "all"):
        figures["live"] = bench_live(args.video if args.video != STREET else VIDEOS["dance"], max(2, args.repeats),
                                     args.size)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
