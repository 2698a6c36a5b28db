"""Does suppressing false people before tracking lose correct detections, and does it calm the ids?

    python benchmarks/bench_suppress.py                              # cache (once), then the tables
    python benchmarks/bench_suppress.py --shared ../shared --sweep   # plus the tuning sweeps
    python benchmarks/bench_suppress.py --min-person-score 0.1 --no-pose-nms  # other settings than the defaults
    python benchmarks/bench_suppress.py --model lwop --sets coco,bonn  # another network, some sets only

The raw poses of every image and frame are computed once with ``PoseEstimator`` (the bundled
network unless --model, on --backend, default onnxruntime; ``suppress=SUPPRESS_OFF``: the
decoder's poses, before the suppression every command now applies) and cached as .npz files in --cache
(keyed by the network and its input size), so every later run and every tuning step only
re-runs :func:`livepose.suppress.suppress`, the COCO scoring and the tracker.

Sets (a missing one prints ``skipped: ...`` and the run goes on):

  COCO   tests/data/coco (4 val2017 photos) and <shared>/data/images/coco-train-mini (80 train2017
         photos): COCO keypoint AP and AR (pycocotools, via livepose.eval.coco.coco_eval and
         livepose.formats.coco_results) with and without suppression, the detections kept, and
         the correct detections lost: detections that are the match (OKS >= 0.5, COCO's greedy
         matching in score order, all images) of a person the unsuppressed run finds and that
         no detection of the suppressed run matches any more.
  videos <shared>/data/video/street-crowd-720p50.avi, dance-3people-720x1280.mp4,
         basketball-drill-426x240.mp4, pets09-s2l1-480x360-10fps.avi (first 300 frames), and the
         Bonn PoseTrack frames <shared>/data/bonn-posetrack/videos/060470979 (41 frames, 4 people):
         each frame's poses (suppressed or not) through a default ``PoseTracker``: people per
         frame, distinct ids, ids lasting >= 5 frames and < 5 frames (churn); for Bonn also MOTA,
         identity switches and misses (livepose.eval.track_metrics.TrackingScorer, as
         ``livepose eval-track``).
  timing ``suppress`` on the 20 largest crowds of the street video (or synthetic people), median
         and p90 microseconds per call.

``--sweep`` adds one table per rule: the rule alone at several values, AP, correct detections
lost and distinct ids summed over the videos.  Prints figures only (no pass/fail).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from livepose.types import Poses  # noqa: E402

DEFAULT_SHARED = Path(os.environ.get("LIVEPOSE_SHARED", ROOT.parent / "shared"))
DEFAULT_CACHE = Path(os.environ.get("TMPDIR", "/tmp")) / "livepose-bench-suppress"
VIDEOS = (  # (file under data/video, frames used)
    ("street-crowd-720p50.avi", 205),
    ("dance-3people-720x1280.mp4", 267),
    ("basketball-drill-426x240.mp4", 300),
    ("pets09-s2l1-480x360-10fps.avi", 300),
)
BONN_SEQ = "060470979"
SHORT = 5  # an id seen in fewer frames than this is churn


# ------------------------------------------------------------------------------ caching
def _pack(frames: list[Poses], part_names, **extra) -> dict:
    counts = np.array([len(p) for p in frames], np.int64)
    p = len(part_names)
    cat = (lambda a, shape: np.concatenate(a) if a else np.zeros(shape, np.float32))
    return dict(xy=cat([f.xy for f in frames], (0, p, 2)), conf=cat([f.conf for f in frames], (0, p)),
                score=cat([f.score for f in frames], (0,)), counts=counts, part_names=np.array(part_names), **extra)


def unpack(data) -> list[Poses]:
    names = tuple(str(n) for n in data["part_names"])
    ends = np.cumsum(data["counts"])
    starts = ends - data["counts"]
    return [Poses(xy=data["xy"][a:b], conf=data["conf"][a:b], score=data["score"][a:b], part_names=names)
            for a, b in zip(starts, ends)]


class Cache:
    """Raw poses per image or frame, computed once per network and input size."""

    def __init__(self, folder: Path, args):
        self.folder, self.args, self._estimator = folder, args, None
        from livepose.models import card_for
        from livepose.settings import DecodeConfig

        card = card_for(args.model)  # the key: the network's card and file, the engine, size and decoding
        model = Path(card.model_path)
        stamp = [model.stat().st_size, model.stat().st_mtime_ns] if model.is_file() else None
        key = json.dumps([Path(card.card_path).read_text(encoding="utf-8"), str(model), stamp, args.backend,
                          args.size, DecodeConfig().as_dict()], default=str)
        self.key = f"{card.name}.{hashlib.sha1(key.encode()).hexdigest()[:10]}"
        self.refresh = args.refresh
        folder.mkdir(parents=True, exist_ok=True)

    @property
    def estimator(self):
        if self._estimator is None:
            from livepose import PoseEstimator
            from livepose.settings import SUPPRESS_OFF

            size = tuple(int(v) for v in self.args.size.split("x")) if self.args.size else None
            self._estimator = PoseEstimator(model=self.args.model, backend=self.args.backend, size=size,
                                            threads=self.args.threads, suppress=SUPPRESS_OFF)  # the raw poses
            print(f"# network: {self._estimator.describe()}", flush=True)
        return self._estimator

    def get(self, name: str, images) -> dict:
        """``images()`` yields BGR frames; returns the cached npz content (computing it when absent)."""
        path = self.folder / f"{name}.{self.key}.npz"
        if path.is_file() and not self.refresh:
            with np.load(path) as data:
                return {k: data[k] for k in data.files}
        est = self.estimator
        frames, t0 = [], time.perf_counter()
        for image in images():
            frames.append(est(image)[0])
        data = _pack(frames, est.part_names, limbs=np.asarray(est.card.limbs, np.int32))
        np.savez_compressed(path, **data)
        print(f"# cached {name}: {len(frames)} frames in {time.perf_counter() - t0:.0f} s -> {path}", flush=True)
        return data


def _read_images(paths):
    import cv2

    def gen():
        for p in paths:
            image = cv2.imread(str(p), cv2.IMREAD_COLOR)
            if image is None:
                raise SystemExit(f"{p}: cannot read")
            yield image
    return gen


def _read_video(path: Path, max_frames: int):
    import cv2

    def gen():
        cap = cv2.VideoCapture(str(path))
        try:
            for _ in range(max_frames):
                ok, image = cap.read()
                if not ok:
                    break
                yield image
        finally:
            cap.release()
    return gen


def _video_fps(path: Path) -> float:
    import cv2

    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS)
    cap.release()
    return float(fps) if fps and fps > 0 else 25.0


# ------------------------------------------------------------------------------ data sets
class CocoSet:
    def __init__(self, name: str, annotations: Path, images_dir: Path):
        self.name, self.annotations, self.images_dir = name, annotations, images_dir

    def load(self, cache: Cache):
        from livepose.eval.annotations import load_coco_keypoints

        self.data = load_coco_keypoints(self.annotations)
        self.images = self.data["images"]
        raw = cache.get(f"coco-{self.name}", _read_images([self.images_dir / i["file_name"] for i in self.images]))
        self.poses, self.limbs = unpack(raw), raw["limbs"]
        return self


class VideoSet:
    def __init__(self, name: str, frames, fps: float, annotations: Path | None = None):
        self.name, self.frames, self.fps, self.annotations = name, frames, fps, annotations

    def load(self, cache: Cache):
        raw = cache.get(f"video-{self.name}", self.frames)
        self.poses, self.limbs = unpack(raw), raw["limbs"]
        self.timestamps = [k / self.fps for k in range(len(self.poses))]
        return self


def coco_sets(shared: Path) -> list[CocoSet]:
    out = [CocoSet("tests-coco", ROOT / "tests" / "data" / "coco" / "test_coco.json", ROOT / "tests" / "data" / "coco")]
    mini = shared / "data" / "images" / "coco-train-mini"
    if (mini / "person_keypoints_train2017.json").is_file():
        out.append(CocoSet("coco-train-mini", mini / "person_keypoints_train2017.json", mini))
    else:
        print(f"skipped: {mini} (coco-train-mini) is absent")
    return out


def video_sets(shared: Path) -> list[VideoSet]:
    out = []
    for name, frames in VIDEOS:
        path = shared / "data" / "video" / name
        if path.is_file():
            out.append(VideoSet(name, _read_video(path, frames), _video_fps(path)))
        else:
            print(f"skipped: {path} is absent")
    bonn = shared / "data" / "bonn-posetrack"
    ann = bonn / "annotations" / f"bonn_test_{BONN_SEQ}_frames_present.json"
    if ann.is_file() and (bonn / "videos" / BONN_SEQ).is_dir():
        from livepose.eval.annotations import load_posetrack, sequences
        from livepose.eval.tracking import DEFAULT_FPS

        data = load_posetrack(ann)
        seq = sequences(data, DEFAULT_FPS)[0]
        vs = VideoSet(f"bonn-{BONN_SEQ}", _read_images([bonn / i["file_name"] for i in seq.images]), DEFAULT_FPS, ann)
        vs.posetrack, vs.sequence = data, seq
        out.append(vs)
    else:
        print(f"skipped: {ann} or its frames are absent (Bonn PoseTrack)")
    return out


# ------------------------------------------------------------------------------ measuring
def apply(poses: list[Poses], limbs, settings) -> list[Poses]:
    from livepose.suppress import suppress

    return poses if settings is None else [suppress(p, limbs, settings) for p in poses]


def coco_score(cs: CocoSet, settings) -> dict:
    """AP and friends, detections, and the GT people matched at OKS 0.5 (COCO's own matching)."""
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    from livepose.eval.coco import coco_eval
    from livepose.formats import coco_results

    kept = apply(cs.poses, cs.limbs, settings)
    results = [r for img, p in zip(cs.images, kept) for r in coco_results(p, img["id"])]
    ids = [img["id"] for img in cs.images]
    metrics = coco_eval(cs.data, results, ids)
    matched: set = set()
    if results:
        gt = COCO()
        gt.dataset = cs.data
        with contextlib.redirect_stdout(io.StringIO()):
            gt.createIndex()
            ev = COCOeval(gt, gt.loadRes(results), "keypoints")
            ev.params.imgIds = ids
            ev.evaluate()
        everything = [0, 1e10] if [0, 1e10] in ev.params.areaRng else ev.params.areaRng[0]
        for e in ev.evalImgs:
            if e is None or list(e["aRng"]) != list(everything):
                continue
            m = np.asarray(e["dtMatches"])  # (T, D) GT id matched at each OKS threshold (0: none)
            if m.size:
                matched.update(int(g) for g in m[0] if g > 0)  # threshold 0.5
    return {"AP": metrics["AP"], "AP50": metrics["AP50"], "AR": metrics["AR"], "dets": len(results),
            "matched": matched}


def track_stats(vs: VideoSet, settings) -> dict:
    """People per frame, distinct ids, ids seen >= SHORT frames and fewer (churn); Bonn: MOTA too."""
    from livepose.track import PoseTracker, TrackerConfig
    from livepose.types import People

    kept = apply(vs.poses, vs.limbs, settings)
    names = kept[0].part_names if kept else ()
    tracker = PoseTracker(names, TrackerConfig())
    frames_of: dict[int, int] = {}
    scorer = gts = None
    if vs.annotations is not None:
        from livepose.eval.annotations import gt_frames
        from livepose.eval.track_metrics import TrackingScorer

        gts = gt_frames(vs.posetrack)
        joints = np.zeros(17, bool)
        for g in gts.values():
            if len(g.keypoints):
                joints |= (g.keypoints[:, :, 2] > 0).any(0)
        scorer = TrackingScorer(joints if joints.any() else None)
    for k, (p, t) in enumerate(zip(kept, vs.timestamps)):
        tracks = tracker.update(p, t)
        for i in tracks.ids.tolist():
            frames_of[i] = frames_of.get(i, 0) + 1
        if scorer is not None:
            scorer.add(vs.sequence.name, gts[vs.sequence.images[k]["id"]], People.from_tracks(tracks))
    lasting = sum(1 for v in frames_of.values() if v >= SHORT)
    out = {"frames": len(kept), "people": float(np.mean([len(p) for p in kept])) if kept else 0.0,
           "ids": len(frames_of), "lasting": lasting, "churn": len(frames_of) - lasting}
    if scorer is not None:
        m = scorer.mot_summary()[0]
        out.update(mota=m["mota"], switches=m["num_switches"], misses=m["num_misses"], fp=m["num_false_positives"])
    return out


def time_suppress(videos: list[VideoSet], settings, people: int = 20, calls: int = 300) -> dict:
    """Microseconds per ``suppress`` call on frames of ``people`` real poses: the busiest frames of
    the videos, each joined with the next busiest ones (moved right by 4000 pixels each) until it
    holds that many people; and per call of the decode stage's :class:`Suppressor` (made once per
    skeleton, ``copy=False``: the poses themselves back when nothing is dropped)."""
    from livepose.suppress import Suppressor, suppress

    pool = sorted(((p, v.limbs) for v in videos for p in v.poses if len(p)), key=lambda pl: -len(pl[0]))
    if not pool:
        return {}
    frames = []
    for k in range(min(20, len(pool))):
        joined, have = [], 0
        while have < people:
            joined.append(pool[(k + len(joined)) % len(pool)][0])
            have += len(joined[-1])
        xy = np.concatenate([p.xy + np.float32([4000.0 * m, 0.0]) for m, p in enumerate(joined)])[:people]
        conf = np.concatenate([p.conf for p in joined])[:people]
        score = np.concatenate([p.score for p in joined])[:people]
        frames.append((Poses(xy, conf, score, pool[k][0].part_names), pool[k][1]))
    stage = Suppressor(frames[0][0].part_names, frames[0][1], settings)
    ts, tstage = [], []
    for k in range(calls):
        p, limbs = frames[k % len(frames)]
        t0 = time.perf_counter()
        suppress(p, limbs, settings)
        t1 = time.perf_counter()
        stage(p, copy=False)
        tstage.append(time.perf_counter() - t1)
        ts.append(t1 - t0)
    ts, tstage = np.array(ts[20:]) * 1e6, np.array(tstage[20:]) * 1e6
    return {"people": people, "median_us": float(np.median(ts)), "p90_us": float(np.percentile(ts, 90)),
            "stage_median_us": float(np.median(tstage)), "stage_p90_us": float(np.percentile(tstage, 90)),
            "largest_frame": len(pool[0][0])}


def settings_from(args):
    from livepose.suppress import SuppressSettings

    base = SuppressSettings()
    changes = {k: v for k, v in (("min_person_score", args.min_person_score),
                                 ("pose_nms_distance", args.pose_nms_distance),
                                 ("pose_nms_overlap", args.pose_nms_overlap),
                                 ("pose_nms_box_parts", args.pose_nms_box_parts),
                                 ("pose_nms_box_margin", args.pose_nms_box_margin),
                                 ("max_limb_ratio", args.max_limb_ratio), ("limb_action", args.limb_action))
               if v is not None}
    if args.no_pose_nms:
        changes["pose_nms"] = False
    return base.with_(**changes)


def summary(cocos, videos, settings, base_coco=None) -> dict:
    """One line of figures for a setting: AP per COCO set, GT people lost, ids summed over the videos."""
    out = {}
    for cs in cocos:
        r = coco_score(cs, settings)
        out[f"AP {cs.name}"] = r["AP"]
        if base_coco is not None:
            out[f"lost {cs.name}"] = len(base_coco[cs.name]["matched"] - r["matched"])
    stats = [track_stats(v, settings) for v in videos]
    out["ids"] = sum(s["ids"] for s in stats)
    out["lasting"] = sum(s["lasting"] for s in stats)
    out["churn"] = sum(s["churn"] for s in stats)
    for v, s in zip(videos, stats):
        if "mota" in s:
            out["bonn ids"], out["bonn mota"] = s["ids"], s["mota"]
    return out


def print_table(rows: list[dict], keys: list[str] | None = None) -> None:
    keys = keys or list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("| " + " | ".join("---" if k in ("set", "video", "setting", "rule") else "---:" for k in keys) + " |")
    for r in rows:
        cells = []
        for k in keys:
            v = r.get(k, "")
            cells.append(f"{v:.4f}" if isinstance(v, float) and k.startswith(("AP", "AR", "mota", "bonn mota"))
                         else f"{v:.2f}" if isinstance(v, float) else str(v))
        print("| " + " | ".join(cells) + " |")
    print()


def sweep(cocos, videos, base_coco) -> None:
    """Each rule alone at several values, then one setting at a time moved from the defaults."""
    from livepose.suppress import SuppressSettings

    default = SuppressSettings()
    off = default.with_(min_person_score=0.0, pose_nms=False, max_limb_ratio=0.0)
    alone = [("all off", off)]
    alone += [(f"min_person_score={v}", off.with_(min_person_score=v)) for v in (0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.12, 0.15)]
    alone += [(f"nms same parts only, pose_nms_distance={v} pose_nms_overlap={o}",
               off.with_(pose_nms=True, pose_nms_box_parts=0, pose_nms_distance=v, pose_nms_overlap=o))
              for o in (0.5, 0.8) for v in (0.05, 0.1, 0.2, 0.3)]
    alone += [(f"nms box only, pose_nms_box_parts={v} pose_nms_box_margin={m}",
               off.with_(pose_nms=True, pose_nms_distance=0.0, pose_nms_box_parts=v, pose_nms_box_margin=m))
              for m in (0.0, 0.1, 0.2, 0.3, 0.5) for v in (3, 5, 6, 8)]
    alone += [(f"max_limb_ratio={v} limb_action={a}", off.with_(max_limb_ratio=v, limb_action=a))
              for a in ("cut", "drop") for v in (2.0, 2.5, 3.0, 4.0)]
    around = [("defaults", default)]
    for name, values in (("min_person_score", (0.0, 0.03, 0.05, 0.06)), ("pose_nms_distance", (0.0, 0.2, 0.3)),
                         ("pose_nms_overlap", (0.3, 0.8)), ("pose_nms_box_parts", (0, 4, 6, 8)),
                         ("pose_nms_box_margin", (0.0, 0.1, 0.3)), ("max_limb_ratio", (0.0, 2.0, 2.5, 4.0)),
                         ("limb_min_others", (1, 3)), ("limb_action", ("drop",))):
        around += [(f"{name}={v}", default.with_(**{name: v})) for v in values]
    for title, rows in (("each rule alone", alone), ("one setting moved from the defaults", around)):
        print(f"## Sweep: {title} (ids, ids lasting >= {SHORT} frames and churn summed over the videos; lost = GT "
              "people matched at OKS 0.5 without suppression and not with it)\n")
        print_table([{"setting": name, **summary(cocos, videos, st, base_coco)} for name, st in rows])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED,
                    help=f"shared data folder (default {DEFAULT_SHARED})")
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help=f"raw poses cache (default {DEFAULT_CACHE})")
    ap.add_argument("--model", default=None, help="network name or ONNX path (default: the bundled one)")
    ap.add_argument("--backend", default="onnxruntime")
    ap.add_argument("--size", default=None, help="network input WxH, e.g. -1x368 (default: the card's)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--cache-only", action="store_true", help="only compute the cache")
    ap.add_argument("--refresh", action="store_true", help="compute the raw poses again even when cached")
    ap.add_argument("--sets", default=None,
                    help="only the sets whose names contain one of these comma-separated words (e.g. coco,bonn)")
    ap.add_argument("--sweep", action="store_true", help="also the tuning sweeps (each rule alone)")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    g = ap.add_argument_group("settings (default: SuppressSettings())")
    g.add_argument("--min-person-score", type=float)
    g.add_argument("--no-pose-nms", action="store_true")
    g.add_argument("--pose-nms-distance", type=float)
    g.add_argument("--pose-nms-overlap", type=float)
    g.add_argument("--pose-nms-box-parts", type=int)
    g.add_argument("--pose-nms-box-margin", type=float)
    g.add_argument("--max-limb-ratio", type=float)
    g.add_argument("--limb-action", choices=("cut", "drop"))
    args = ap.parse_args(argv)
    cache = Cache(args.cache, args)
    wanted = [w for w in (args.sets or "").split(",") if w]
    chosen = (lambda name: not wanted or any(w in name for w in wanted))
    cocos = [s.load(cache) for s in coco_sets(args.shared) if chosen(s.name)]
    videos = [v.load(cache) for v in video_sets(args.shared) if chosen(v.name)]
    if args.cache_only:
        return 0
    settings = settings_from(args)
    print(f"# settings: {settings}\n")
    out: dict = {"settings": settings.as_dict(), "coco": [], "videos": []}

    base_coco = {cs.name: coco_score(cs, None) for cs in cocos}
    arrow = (lambda b, a, f="{}": f"{f.format(b)} → {f.format(a)}")
    rows = []
    for cs in cocos:
        b, a = base_coco[cs.name], coco_score(cs, settings)
        rows.append({"set": f"{cs.name} ({len(cs.images)} photos)", "AP": arrow(b["AP"], a["AP"], "{:.4f}"),
                     "AP50": arrow(b["AP50"], a["AP50"], "{:.4f}"), "AR": arrow(b["AR"], a["AR"], "{:.4f}"),
                     "people found": arrow(b["dets"], a["dets"]),
                     "GT people matched (OKS 0.5)": arrow(len(b["matched"]), len(a["matched"])),
                     "GT people lost": len(b["matched"] - a["matched"])})
    if rows:
        print("## COCO keypoints, without → with suppression\n")
        print_table(rows)
    out["coco"] = rows

    rows = []
    for vs in videos:
        b, a = track_stats(vs, None), track_stats(vs, settings)
        row = {"video": f"{vs.name} ({b['frames']} frames)", "people/frame": arrow(b["people"], a["people"], "{:.2f}"),
               "distinct ids": arrow(b["ids"], a["ids"]), f"ids >= {SHORT} frames": arrow(b["lasting"], a["lasting"]),
               f"churn (ids < {SHORT} frames)": arrow(b["churn"], a["churn"]), "MOTA": "", "id switches": ""}
        if "mota" in b:
            row.update({"MOTA": arrow(b["mota"], a["mota"], "{:.3f}"), "id switches": arrow(b["switches"], a["switches"])})
        rows.append(row)
    if rows:
        print("## Track ids (default PoseTracker), without → with suppression\n")
        print_table(rows)
    out["videos"] = rows

    timing = time_suppress(videos, settings)
    if timing:
        print(f"## Timing: suppress() on {timing['people']} people (the busiest frames, up to "
              f"{timing['largest_frame']} people, joined): median {timing['median_us']:.0f} us, "
              f"p90 {timing['p90_us']:.0f} us per call; the decode stage's Suppressor: median "
              f"{timing['stage_median_us']:.0f} us, p90 {timing['stage_p90_us']:.0f} us\n")
    out["timing"] = timing
    if args.sweep:
        sweep(cocos, videos, base_coco)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
