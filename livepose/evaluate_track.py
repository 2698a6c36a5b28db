"""Tracking evaluation: run the estimator and a tracker over annotated videos and score the tracks.

Annotations are PoseTrack-style (COCO-like) JSON: ``images`` (``id``, ``file_name``, optionally
``frame_id`` and ``vid_id``) and ``annotations`` (``image_id``, ``track_id``, ``keypoints`` as
x, y, v triples, optionally ``head_rect`` [x1, y1, x2, y2], ``bbox_head`` [x, y, w, h] or
``bbox`` [x, y, w, h]).  Keypoints are in COCO-17 order unless ``categories[0].keypoints``
names them (PoseTrack 2018's head_bottom / head_top are then left out: the network has no such
parts).  Each ``vid_id`` is one sequence with a fresh tracker; its frames run in ``frame_id``
order (file name order without frame ids).

What is measured, all over the tracks as the pipeline presents them (``Tracks.smoothed_poses``:
smoothed coordinates of the joints measured in the frame, the track ids as person ids):

* CLEAR MOT and identity metrics (py-motmetrics): MOTA, MOTP, IDF1, identity switches,
  precision, recall, mostly tracked / lost.  A ground-truth person and a tracked person may be
  matched when at least half of the person's annotated joints are correct (PoseTrack's PCKh
  rule: within 0.5 x head size, head size = 0.6 x the head rectangle's diagonal); the distance
  is 1 - that fraction.
* Keypoint precision and recall over the matched pairs (correct / predicted joints, correct /
  annotated joints), for the smoothed and for the raw (detected) coordinates.
* Per ground-truth person: how many distinct track ids it was matched to (the bar: one).
* Jitter: the mean |x[t+1] - 2 x[t] + x[t-1]| (pixels) of the raw and of the smoothed joints,
  their ratio, and the lag the smoothing adds (the time shift that best aligns the smoothed
  trajectories with the raw ones).
* Median milliseconds per stage (preprocess, inference, decode, track).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from livepose.errors import InputError, LiveposeError
from livepose.evaluate import read_annotation_json
from livepose.images import read_image
from livepose.types import COCO17_NAMES, Poses, Tracks

DEFAULT_FPS = 25.0
PCK_THRESHOLD = 0.5  # a joint is correct within this fraction of the head size
HEAD_FROM_RECT = 0.6  # head size = 0.6 x head-rectangle diagonal (PoseTrack, MPII PCKh)
HEAD_FROM_BOX = 0.1  # fallback: head size = 0.1 x person-box diagonal (0.105 median on Bonn)
MIN_MATCH = 0.5  # a pair needs at least this fraction of correct joints to be matched
LAG_RANGE = 3.0  # frames searched either side for the smoothing lag
LAG_STEP = 0.1

MOT_METRICS = (
    "mota", "motp", "idf1", "idp", "idr", "num_switches", "precision", "recall", "num_frames",
    "num_objects", "num_predictions", "num_matches", "num_false_positives", "num_misses",
    "num_unique_objects", "mostly_tracked", "partially_tracked", "mostly_lost", "num_fragmentations",
)
STAGES = ("preprocess", "inference", "decode", "track")


# ----------------------------------------------------------------------------- annotations


def require_motmetrics() -> None:
    """Fail early, before any frame is processed, when the evaluation extra is missing."""
    try:
        import motmetrics  # noqa: F401
    except ImportError:
        raise LiveposeError(
            "tracking evaluation needs motmetrics: pip install motmetrics (or install livepose with the [eval] extra)"
        ) from None


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _box4(value) -> bool:
    return isinstance(value, (list, tuple)) and len(value) == 4 and all(_is_number(v) for v in value)


def load_posetrack(path: str | Path) -> dict:
    """Read a PoseTrack-style annotation file, checking every field evaluation uses.

    Raises InputError with one line naming the file and the missing or malformed field.
    Returns the parsed JSON object unchanged.
    """
    path = Path(path)
    data = read_annotation_json(path)
    for key in ("images", "annotations"):
        if key not in data:
            raise InputError(f"{path}: field '{key}' is missing")
        if not isinstance(data[key], list):
            raise InputError(f"{path}: field '{key}' is not a list")
    if not data["images"]:
        raise InputError(f"{path}: field 'images' is empty")
    names = _keypoint_names(data, path)
    ids = set()
    for k, img in enumerate(data["images"]):
        where = f"images[{k}]"
        if not isinstance(img, dict):
            raise InputError(f"{path}: field '{where}' is not an object")
        for key in ("id", "file_name"):
            if key not in img:
                raise InputError(f"{path}: field '{where}.{key}' is missing")
        if not isinstance(img["file_name"], str) or not img["file_name"]:
            raise InputError(f"{path}: field '{where}.file_name' is not a file name")
        if "frame_id" in img and not (_is_number(img["frame_id"])):
            raise InputError(f"{path}: field '{where}.frame_id' is not a number")
        rx, ry = img.get("ignore_regions_x"), img.get("ignore_regions_y")
        if rx is not None or ry is not None:
            if not (isinstance(rx, list) and isinstance(ry, list) and len(rx) == len(ry)
                    and all(isinstance(a, list) and isinstance(b, list) and len(a) == len(b)
                            and all(_is_number(v) for v in a + b) for a, b in zip(rx, ry))):
                raise InputError(f"{path}: fields '{where}.ignore_regions_x' and '_y' are not matching lists "
                                 "of polygon coordinates")
        if img["id"] in ids:
            raise InputError(f"{path}: field '{where}.id' repeats image id {img['id']!r}")
        ids.add(img["id"])
    for k, ann in enumerate(data["annotations"]):
        where = f"annotations[{k}]"
        if not isinstance(ann, dict):
            raise InputError(f"{path}: field '{where}' is not an object")
        for key in ("image_id", "track_id", "keypoints"):
            if key not in ann:
                raise InputError(f"{path}: field '{where}.{key}' is missing")
        if ann["image_id"] not in ids:
            raise InputError(f"{path}: field '{where}.image_id' names no image (id {ann['image_id']!r})")
        if not isinstance(ann["track_id"], (int, str)) or isinstance(ann["track_id"], bool):
            raise InputError(f"{path}: field '{where}.track_id' is not an integer or string id")
        kp = ann["keypoints"]
        if not isinstance(kp, list) or len(kp) != 3 * len(names):
            n = len(kp) if isinstance(kp, list) else "no"
            raise InputError(f"{path}: field '{where}.keypoints' has {n} values, expected {3 * len(names)} "
                             f"(x, y, v for {len(names)} keypoints)")
        if not all(_is_number(v) for v in kp):
            raise InputError(f"{path}: field '{where}.keypoints' holds a value that is not a number")
        for key in ("head_rect", "bbox_head", "bbox"):
            if key in ann and ann[key] is not None and not _box4(ann[key]):
                raise InputError(f"{path}: field '{where}.{key}' is not 4 numbers")
    return data


def _keypoint_names(data: dict, path: Path | str = "annotations") -> tuple[str, ...]:
    """The annotation's keypoint names: ``categories[0].keypoints`` when given, else COCO-17."""
    cats = data.get("categories")
    if isinstance(cats, list) and cats and isinstance(cats[0], dict) and "keypoints" in cats[0]:
        names = cats[0]["keypoints"]
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise InputError(f"{path}: field 'categories[0].keypoints' is not a list of names")
        if not set(names) & set(COCO17_NAMES):
            raise InputError(f"{path}: field 'categories[0].keypoints' shares no name with COCO-17 keypoints")
        return tuple(names)
    return COCO17_NAMES


@dataclass(frozen=True)
class GtFrame:
    """The annotated people of one frame, in COCO-17 order.

    ``track_ids``: (M,) ground-truth person ids; ``keypoints``: (M, 17, 3) x, y, v (v = 0 where
    not annotated, also for joints the annotation scheme lacks); ``head_size``: (M,) pixels.
    ``head_source``: (M,) where each head size came from: head_rect, bbox_head, bbox or keypoints.
    ``evaluate``: False for frames run through the tracker but not scored (``is_labeled`` false).
    ``ignore_regions``: (K, 2) polygons (PoseTrack's ignore_regions_x / _y) where predicted joints
    are dropped before matching (unannotated people); a prediction left without joints is dropped.
    """

    track_ids: np.ndarray
    keypoints: np.ndarray
    head_size: np.ndarray
    head_source: tuple[str, ...] = ()
    evaluate: bool = True
    ignore_regions: tuple[np.ndarray, ...] = ()

    @classmethod
    def from_arrays(cls, track_ids, keypoints, head_size) -> "GtFrame":
        kp = np.asarray(keypoints, np.float64).reshape(-1, 17, 3)
        return cls(np.asarray(track_ids), kp, np.asarray(head_size, np.float64).reshape(-1),
                   ("given",) * len(kp))


@dataclass
class Video:
    """One video of the annotation file: its name and its images in frame order."""

    name: str
    images: list[dict]
    timestamps: list[float]


def head_size(ann: dict, kp17: np.ndarray) -> tuple[float, str]:
    """PoseTrack's head size of one annotation, and where it came from.

    0.6 x the diagonal of ``head_rect`` ([x1, y1, x2, y2]) or of ``bbox_head`` ([x, y, w, h]);
    without a head box, 0.1 x the diagonal of ``bbox`` ([x, y, w, h]) or of the box around the
    annotated keypoints (on Bonn, 0.6 x head diagonal is 0.105 x the person box's diagonal).
    """
    if _box4(ann.get("head_rect")):
        x1, y1, x2, y2 = ann["head_rect"]
        return HEAD_FROM_RECT * math.hypot(x2 - x1, y2 - y1), "head_rect"
    if _box4(ann.get("bbox_head")):
        _, _, w, h = ann["bbox_head"]
        return HEAD_FROM_RECT * math.hypot(w, h), "bbox_head"
    if _box4(ann.get("bbox")) and ann["bbox"][2] > 0 and ann["bbox"][3] > 0:
        _, _, w, h = ann["bbox"]
        return HEAD_FROM_BOX * math.hypot(w, h), "bbox"
    vis = kp17[:, 2] > 0
    if vis.sum() >= 2:
        span = kp17[vis, :2].max(0) - kp17[vis, :2].min(0)
        return HEAD_FROM_BOX * float(np.hypot(*span)), "keypoints"
    return 0.0, "none"


def _natural_key(name: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def sequences(data: dict, fps: float) -> list[Video]:
    """The videos of an annotation file (by ``vid_id``), each with its images in frame order and
    their timestamps: (frame_id - first frame_id) / fps, or position / fps without frame ids."""
    titles = {}
    if isinstance(data.get("videos"), list):
        titles = {str(v.get("id")): str(v["name"]) for v in data["videos"] if isinstance(v, dict) and "name" in v}
    groups: dict[str, list[dict]] = {}
    for img in data["images"]:
        groups.setdefault(str(img.get("vid_id", "")), []).append(img)
    out = []
    for name, imgs in groups.items():
        if all("frame_id" in img for img in imgs):
            imgs = sorted(imgs, key=lambda img: (img["frame_id"], _natural_key(img["file_name"])))
            first = imgs[0]["frame_id"]
            stamps = [(img["frame_id"] - first) / fps for img in imgs]
        else:
            imgs = sorted(imgs, key=lambda img: _natural_key(img["file_name"]))
            stamps = [k / fps for k in range(len(imgs))]
        if not name:
            name = str(Path(imgs[0]["file_name"]).parent) if len(groups) == 1 else "(no vid_id)"
        out.append(Video(titles.get(name, name), imgs, stamps))
    return out


def gt_frames(data: dict) -> dict:
    """``image id -> GtFrame`` for every image (empty frames included)."""
    names = _keypoint_names(data)
    index = np.array([names.index(n) if n in names else -1 for n in COCO17_NAMES])
    per_image: dict = {img["id"]: [] for img in data["images"]}
    for ann in data["annotations"]:
        per_image[ann["image_id"]].append(ann)
    out = {}
    for img in data["images"]:
        anns = per_image[img["id"]]
        kps = np.zeros((len(anns), 17, 3), np.float64)
        sizes, sources, tids = [], [], []
        for m, ann in enumerate(anns):
            raw = np.asarray(ann["keypoints"], np.float64).reshape(-1, 3)
            kps[m, index >= 0] = raw[index[index >= 0]]
            kps[m, kps[m, :, 2] <= 0] = 0.0
            s, src = head_size(ann, kps[m])
            sizes.append(s)
            sources.append(src)
            tids.append(ann["track_id"])
        regions = tuple(np.stack([np.asarray(x, np.float32), np.asarray(y, np.float32)], axis=1)
                        for x, y in zip(img.get("ignore_regions_x") or [], img.get("ignore_regions_y") or [])
                        if len(x) >= 3)
        out[img["id"]] = GtFrame(np.array(tids, dtype=object), kps, np.array(sizes, np.float64), tuple(sources),
                                 evaluate=img.get("is_labeled", True) is not False, ignore_regions=regions)
    return out


# ----------------------------------------------------------------------------- metric pieces


def keypoint_correct(gt: np.ndarray, head: np.ndarray, pred_xy: np.ndarray) -> np.ndarray:
    """(M, N, 17) bool: joint j of prediction n lies within 0.5 x head size of annotation m's
    joint j, for joints annotated in m (gt (M, 17, 3) with v > 0) and found in n (pred_xy
    (N, 17, 2), NaN where missing)."""
    d = np.linalg.norm(gt[:, None, :, :2] - pred_xy[None].astype(np.float64), axis=-1)  # (M, N, 17)
    with np.errstate(invalid="ignore"):
        ok = d <= PCK_THRESHOLD * head[:, None, None]
    return ok & (gt[:, None, :, 2] > 0) & np.isfinite(d)


def match_scores(gt: np.ndarray, head: np.ndarray, pred_xy: np.ndarray) -> np.ndarray:
    """(M, N) PoseTrack match score: the fraction of each annotation's annotated joints that the
    prediction has correct (0 for an annotation without annotated joints)."""
    annotated = (gt[:, :, 2] > 0).sum(-1)
    correct = keypoint_correct(gt, head, pred_xy).sum(-1)
    return np.where(annotated[:, None] > 0, correct / np.maximum(annotated[:, None], 1), 0.0)


def match_distances(scores: np.ndarray) -> np.ndarray:
    """motmetrics distances: 1 - score, NaN (not allowed) where the score is below 0.5."""
    return np.where(scores >= MIN_MATCH, 1.0 - scores, np.nan)


def jitter(raw: np.ndarray, smoothed: np.ndarray | None = None) -> dict:
    """Mean absolute frame-to-frame acceleration of joint trajectories, in pixels.

    ``raw`` and ``smoothed``: (F, ..., 2) trajectories over consecutive frames (frames first, then
    any joint axes), NaN where a joint is unknown.  Acceleration |x[t+1] - 2x[t] + x[t-1]|
    (the 2-D norm) is averaged over every joint and t with the raw joint measured at t-1, t and
    t+1; the smoothed one over the same samples.  Returns raw, smoothed, ratio and samples.
    """
    raw = np.asarray(raw, np.float64)
    acc_raw = raw[2:] - 2 * raw[1:-1] + raw[:-2]
    ok = np.isfinite(acc_raw).all(-1)
    out = {"raw": float(np.linalg.norm(acc_raw[ok], axis=-1).mean()) if ok.any() else None,
           "samples": int(ok.sum())}
    if smoothed is not None:
        sm = np.asarray(smoothed, np.float64)
        acc_sm = sm[2:] - 2 * sm[1:-1] + sm[:-2]
        ok &= np.isfinite(acc_sm).all(-1)
        out["samples"] = int(ok.sum())
        out["raw"] = float(np.linalg.norm(acc_raw[ok], axis=-1).mean()) if ok.any() else None
        out["smoothed"] = float(np.linalg.norm(acc_sm[ok], axis=-1).mean()) if ok.any() else None
        out["ratio"] = (out["smoothed"] / out["raw"]) if ok.any() and out["raw"] > 0 else None
    return out


def _lag_windows(raw: np.ndarray, smoothed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each sample t with the raw joint measured and the smoothed one known at t-3..t+3:
    the raw point (K, 2) and the smoothed window (K, 7, 2)."""
    r = int(LAG_RANGE)
    raw = np.asarray(raw, np.float64)
    sm = np.asarray(smoothed, np.float64)
    f = raw.shape[0]
    if f < 2 * r + 1:
        return np.zeros((0, 2)), np.zeros((0, 2 * r + 1, 2))
    win = np.stack([sm[k:f - 2 * r + k] for k in range(2 * r + 1)], axis=1)  # (F-2r, 7, ..., 2)
    mid = raw[r:f - r]
    ok = np.isfinite(mid).all(-1) & np.isfinite(win).all(-1).all(1)
    win = np.moveaxis(win, 1, -2)  # (F-2r, ..., 7, 2)
    return mid[ok], win[ok]


def smoothing_lag(raw_windows: Sequence[tuple[np.ndarray, np.ndarray]] | None = None, *,
                  raw: np.ndarray | None = None, smoothed: np.ndarray | None = None) -> dict:
    """The delay, in frames, that smoothing adds: the shift s in [-3, 3] (0.1 steps) minimising
    sum |smoothed(t + s) - raw(t)|^2, with the smoothed trajectory linearly interpolated between
    frames.  Positive: the smoothed trajectory lags behind the raw one.

    Give ``raw`` and ``smoothed`` (F, ..., 2) for one set of trajectories, or ``raw_windows``
    (pairs from ``_lag_windows``) to pool several.  Returns lag (None without samples),
    samples, and the RMS residual at the lag and at 0.
    """
    if raw_windows is None:
        raw_windows = [_lag_windows(raw, smoothed)]
    pts = np.concatenate([p for p, _ in raw_windows]) if raw_windows else np.zeros((0, 2))
    wins = np.concatenate([w for _, w in raw_windows]) if raw_windows else np.zeros((0, 7, 2))
    if len(pts) == 0:
        return {"lag": None, "samples": 0, "rms_at_lag": None, "rms_at_0": None}
    r = int(LAG_RANGE)
    shifts = np.round(np.arange(-round(LAG_RANGE / LAG_STEP), round(LAG_RANGE / LAG_STEP) + 1) * LAG_STEP, 6)
    sse = np.empty(len(shifts))
    for k, s in enumerate(shifts):
        pos = r + s
        lo = min(int(math.floor(pos + 1e-9)), 2 * r - 1)
        frac = pos - lo
        interp = wins[:, lo] * (1.0 - frac) + wins[:, lo + 1] * frac
        sse[k] = ((interp - pts) ** 2).sum()
    best = int(np.argmin(sse))
    zero = int(np.argmin(np.abs(shifts)))
    return {"lag": float(shifts[best]), "samples": int(len(pts)),
            "rms_at_lag": float(math.sqrt(sse[best] / len(pts))), "rms_at_0": float(math.sqrt(sse[zero] / len(pts)))}


def in_regions(xy: np.ndarray, regions: Sequence[np.ndarray]) -> np.ndarray:
    """(...,) bool: which points of ``xy`` (..., 2) lie inside (or on) any polygon."""
    import cv2

    flat = np.asarray(xy, np.float64).reshape(-1, 2)
    out = np.zeros(len(flat), bool)
    finite = np.isfinite(flat).all(1)
    for poly in regions:
        contour = np.asarray(poly, np.float32).reshape(-1, 1, 2)
        for k in np.flatnonzero(finite & ~out):
            out[k] = cv2.pointPolygonTest(contour, (float(flat[k, 0]), float(flat[k, 1])), False) >= 0
    return out.reshape(np.shape(xy)[:-1])


def _coco_index(part_names: tuple[str, ...]) -> np.ndarray:
    try:
        return np.array([part_names.index(n) for n in COCO17_NAMES])
    except ValueError:
        missing = [n for n in COCO17_NAMES if n not in part_names]
        raise LiveposeError(f"the tracker's parts cannot give COCO-17 keypoints, missing: {missing}") from None


def _round(v, nd=4):
    if v is None:
        return None
    v = float(v)
    return round(v, nd) if math.isfinite(v) else None


# ----------------------------------------------------------------------------- the scorer


@dataclass
class _TrackHistory:
    frames: list = field(default_factory=list)  # frame position in its sequence
    raw: list = field(default_factory=list)  # (P, 2) each
    smoothed: list = field(default_factory=list)


class TrackingScorer:
    """Accumulates (ground truth, tracks) frame by frame; ``report()`` gives the metrics.

    ``joints``: (17,) bool, the COCO-17 joints the annotation scheme has (default: the joints
    annotated at least once, decided by the caller; all 17 when None).  Hypotheses are the rows
    of ``Tracks.smoothed_poses()`` with at least one joint measured in the frame.
    """

    def __init__(self, joints: np.ndarray | None = None):
        require_motmetrics()
        import motmetrics as mm

        self._mm = mm
        self.joints = np.ones(17, bool) if joints is None else np.asarray(joints, bool)
        self.accumulators: dict[str, object] = {}
        self._frame_gt: dict[str, list] = {}  # sequence -> per motmetrics frame: (kp, head, pred, raw, hyp ids, GT ids)
        self._histories: dict[tuple[str, int], _TrackHistory] = {}
        self._present: dict[tuple[str, object], int] = {}
        self._oids: dict[tuple[str, object], int] = {}
        self._position: dict[str, int] = {}
        self._index_cache: dict[tuple[str, ...], np.ndarray] = {}
        self.head_sources: dict[str, int] = {}
        self.ignored_gt = 0
        self.ignored_joints = 0

    def _index(self, names: tuple[str, ...]) -> np.ndarray:
        if names not in self._index_cache:
            self._index_cache[names] = _coco_index(names)
        return self._index_cache[names]

    def add(self, sequence: str, gt: GtFrame | None, tracks: Tracks) -> None:
        """One frame of ``sequence`` (frames in order).  ``gt`` None or ``evaluate`` False: the
        frame only extends the trajectories (jitter), it is not scored."""
        pos = self._position.get(sequence, -1) + 1
        self._position[sequence] = pos
        for n, tid in enumerate(tracks.ids):
            h = self._histories.setdefault((sequence, int(tid)), _TrackHistory())
            raw = np.where(((tracks.conf[n] > 0) & ~tracks.predicted[n])[:, None], tracks.xy_raw[n], np.nan)
            h.frames.append(pos)
            h.raw.append(raw.astype(np.float64))
            h.smoothed.append(tracks.xy[n].astype(np.float64))
        if gt is None or not gt.evaluate:
            return
        shown = tracks.smoothed_poses()
        raw_measured = (tracks.conf > 0) & np.isfinite(tracks.xy_raw[..., 0])
        if gt.ignore_regions:
            inside = in_regions(shown.xy, gt.ignore_regions)
            self.ignored_joints += int((inside & shown.visible).sum())
            shown = Poses(np.where(inside[..., None], np.float32(np.nan), shown.xy),
                          np.where(inside, np.float32(0), shown.conf), shown.score, shown.part_names)
            raw_measured &= ~in_regions(tracks.xy_raw, gt.ignore_regions)
        keep = shown.visible.any(1)
        idx = self._index(tracks.part_names)
        pred = shown.xy[keep][:, idx]
        raw = np.where(raw_measured[..., None], tracks.xy_raw, np.nan)[keep][:, idx]
        hyp = [int(i) for i in tracks.ids[keep]]
        kp = gt.keypoints.copy()
        kp[:, ~self.joints] = 0.0
        has = (kp[:, :, 2] > 0).any(1) & (gt.head_size > 0)
        self.ignored_gt += int((~has).sum())
        kp, head = kp[has], gt.head_size[has]
        tids = [gt.track_ids[m] for m in np.flatnonzero(has)]
        for m in np.flatnonzero(has):
            src = gt.head_source[m] if m < len(gt.head_source) else "given"
            self.head_sources[src] = self.head_sources.get(src, 0) + 1
        for t in tids:
            self._present[(sequence, t)] = self._present.get((sequence, t), 0) + 1
        dist = match_distances(match_scores(kp, head, pred)) if len(kp) and len(hyp) else np.zeros((len(kp), len(hyp)))
        acc = self.accumulators.get(sequence)
        if acc is None:
            acc = self.accumulators[sequence] = self._mm.MOTAccumulator(auto_id=True)
            self._frame_gt[sequence] = []
        oids = [self._oid(sequence, t) for t in tids]
        acc.update(oids, hyp, dist)
        self._frame_gt[sequence].append((kp, head, pred, raw, hyp, tids))

    def _oid(self, sequence: str, track_id) -> int:
        """motmetrics wants hashable, comparable object ids: number the GT track ids."""
        key = (sequence, track_id)
        if key not in self._oids:
            self._oids[key] = len(self._oids)
        return self._oids[key]

    # ---------------------------------------------------------------- results

    def mot_summary(self) -> tuple[dict, list[dict]]:
        """(overall metrics, per-sequence metrics) from motmetrics."""
        mm = self._mm
        names = list(self.accumulators)
        if not names:
            return {k: None for k in MOT_METRICS}, []
        mh = mm.metrics.create()
        summary = mh.compute_many([self.accumulators[n] for n in names], names=names, metrics=list(MOT_METRICS),
                                  generate_overall=len(names) > 1)
        rows = {str(name): {k: _metric_value(k, summary.loc[name, k]) for k in MOT_METRICS}
                for name in summary.index}
        overall = rows["OVERALL"] if len(names) > 1 else rows[names[0]]
        if len(names) > 1:  # motmetrics' pooled MOTP is NaN as soon as one video has no match
            d = [acc.mot_events.D[acc.mot_events.Type.isin(["MATCH", "SWITCH"])] for acc in self.accumulators.values()]
            d = np.concatenate([x.to_numpy(float) for x in d])
            overall["motp"] = _round(d.mean()) if len(d) else None
        per_seq = [{"sequence": n, **rows[n]} for n in names]
        return overall, per_seq

    def matches(self):
        """Yield (sequence, frame k, gt row, hypothesis id, GT track id) for every match."""
        for seq, acc in self.accumulators.items():
            ev = acc.mot_events
            ev = ev[ev.Type.isin(["MATCH", "SWITCH"])]
            oid_to_tid = {v: k[1] for k, v in self._oids.items() if k[0] == seq}
            frames = self._frame_gt[seq]
            for (fid, _), row in ev.iterrows():
                kp, head, pred, raw, hyp, tids = frames[int(fid)]
                tid = oid_to_tid[int(row.OId)]
                m = tids.index(tid)
                yield seq, int(fid), m, int(row.HId), tid

    def keypoint_metrics(self) -> dict:
        """PoseTrack-style keypoint precision and recall over the matched pairs."""
        tot = {"smoothed": [0, 0, 0], "raw": [0, 0, 0]}  # correct, predicted, annotated
        for seq, fid, m, hid, _ in self.matches():
            kp, head, pred, raw, hyp, _ = self._frame_gt[seq][fid]
            n = hyp.index(hid)
            for key, xy in (("smoothed", pred), ("raw", raw)):
                correct = keypoint_correct(kp[m:m + 1], head[m:m + 1], xy[n:n + 1])[0, 0]
                tot[key][0] += int(correct.sum())
                tot[key][1] += int((np.isfinite(xy[n, :, 0]) & self.joints).sum())
                tot[key][2] += int((kp[m, :, 2] > 0).sum())
        out = {}
        for key, (c, p, a) in tot.items():
            out[key] = {"precision": _round(c / p) if p else None, "recall": _round(c / a) if a else None,
                        "correct": c, "predicted": p, "annotated": a}
        return out

    def gt_tracks(self) -> list[dict]:
        """Per ground-truth person: frames annotated, frames matched, the distinct ids it got."""
        ids: dict = {}
        covered: dict = {}
        for seq, _, _, hid, tid in self.matches():
            ids.setdefault((seq, tid), [])
            if hid not in ids[(seq, tid)]:
                ids[(seq, tid)].append(hid)
            covered[(seq, tid)] = covered.get((seq, tid), 0) + 1
        out = []
        for (seq, tid), n in self._present.items():
            got = ids.get((seq, tid), [])
            out.append({"sequence": seq, "track_id": _jsonable_id(tid), "frames_present": n,
                        "frames_covered": covered.get((seq, tid), 0), "ids": got, "num_ids": len(got)})
        return out

    def jitter_metrics(self) -> dict:
        """Raw and smoothed jitter and the smoothing lag, pooled over every track and joint."""
        raws, sms, windows = [], [], []
        for h in self._histories.values():
            span = h.frames[-1] - h.frames[0] + 1
            p = h.raw[0].shape[0]
            raw = np.full((span, p, 2), np.nan)
            sm = np.full((span, p, 2), np.nan)
            pos = np.asarray(h.frames) - h.frames[0]
            raw[pos] = np.stack(h.raw)
            sm[pos] = np.stack(h.smoothed)
            raws.append(raw)
            sms.append(sm)
            windows.append(_lag_windows(raw, sm))
        acc_raw, acc_sm = [], []
        for raw, sm in zip(raws, sms):
            a_r = raw[2:] - 2 * raw[1:-1] + raw[:-2]
            a_s = sm[2:] - 2 * sm[1:-1] + sm[:-2]
            ok = np.isfinite(a_r).all(-1) & np.isfinite(a_s).all(-1)
            acc_raw.append(np.linalg.norm(a_r[ok], axis=-1))
            acc_sm.append(np.linalg.norm(a_s[ok], axis=-1))
        a_r = np.concatenate(acc_raw) if acc_raw else np.zeros(0)
        a_s = np.concatenate(acc_sm) if acc_sm else np.zeros(0)
        lag = smoothing_lag(windows)
        raw_px = float(a_r.mean()) if len(a_r) else None
        sm_px = float(a_s.mean()) if len(a_s) else None
        return {
            "raw_px": _round(raw_px, 3), "smoothed_px": _round(sm_px, 3),
            "ratio": _round(sm_px / raw_px) if raw_px else None, "samples": int(len(a_r)),
            "lag_frames": lag["lag"], "lag_samples": lag["samples"],
            "rms_to_raw_px_at_lag": _round(lag["rms_at_lag"], 3), "rms_to_raw_px_at_0": _round(lag["rms_at_0"], 3),
        }

    def report(self) -> dict:
        overall, per_seq = self.mot_summary()
        tracks = self.gt_tracks()
        return {
            "metrics": overall,
            "keypoints": self.keypoint_metrics(),
            "jitter": self.jitter_metrics(),
            "gt_tracks": tracks,
            "every_person_one_id": bool(tracks) and all(t["num_ids"] == 1 for t in tracks),
            "sequences": per_seq,
            "head_size_sources": dict(self.head_sources),
            "gt_people_ignored": self.ignored_gt,
            "joints_in_ignore_regions": self.ignored_joints,
        }


def _metric_value(name: str, v):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return None
    if name.startswith("num_") or name.startswith("mostly_") or name == "partially_tracked":
        return int(v)
    return _round(v)


def _jsonable_id(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    return v


# ----------------------------------------------------------------------------- the run


def _tracker_config(tracker) -> dict | None:
    cfg = getattr(tracker, "config", None)
    if cfg is None:
        return None
    if hasattr(cfg, "as_dict"):
        return cfg.as_dict()
    if dataclasses.is_dataclass(cfg):
        return json.loads(json.dumps(dataclasses.asdict(cfg), default=str))
    return None


def _people(tracks: Tracks, image_id) -> list[dict]:
    """PoseTrack-style predictions of one frame: COCO-17 smoothed keypoints with track ids."""
    shown = tracks.smoothed_poses()
    keep = np.flatnonzero(shown.visible.any(1))
    coco = shown.to_coco17()
    out = []
    for n in keep:
        vis = coco.visible[n]
        kp = np.zeros((17, 3))
        kp[:, :2] = np.where(vis[:, None], coco.xy[n], 0.0)
        kp[:, 2] = np.where(vis, coco.conf[n], 0.0)
        out.append({"image_id": _jsonable_id(image_id), "track_id": int(tracks.ids[n]), "category_id": 1,
                    "keypoints": [round(float(v), 2) for v in kp.ravel()],
                    "scores": [round(float(v), 4) for v in kp[:, 2]],
                    "score": round(float(tracks.score[n]), 5), "state": int(tracks.state[n])})
    return out


def evaluate_tracking(
    estimator,
    tracker_factory: Callable[[], object] | None,
    annotations_path: str | Path,
    frames_dir: str | Path,
    fps: float | None = None,
    on_frame: Callable[[str, int, float], None] | None = None,
) -> tuple[dict, list[dict]]:
    """Run ``estimator`` and a fresh tracker per video over an annotated set and score the tracks.

    ``estimator``: a PoseEstimator (``poses, times = estimator(image)``).  ``tracker_factory()``
    returns a new PoseTracker (None: ``PoseTracker(estimator.part_names, TrackerConfig())``).
    ``frames_dir``: the folder the images' ``file_name`` are relative to.  ``fps``: frame rate
    for the tracker's timestamps (default 25; timestamps are frame_id / fps from each video's
    first frame).  ``on_frame(file_name, tracks_shown, milliseconds)`` after each frame.

    Returns (report, per-frame results); the report is JSON-serialisable, each per-frame result
    is {"sequence", "image_id", "file_name", "frame_id", "timestamp", "people": [PoseTrack-style
    predictions: image_id, track_id, keypoints (COCO-17 x, y, confidence), scores, score, state]}.
    A frame whose image cannot be read is listed in ``failed_frames``; its people count as missed.
    """
    require_motmetrics()
    data = load_posetrack(annotations_path)
    frames_dir = Path(frames_dir)
    if not frames_dir.is_dir():
        raise InputError(f"{frames_dir}: frames folder not found")
    if fps is not None and not (fps > 0):
        raise InputError(f"fps must be positive, got {fps}")
    if tracker_factory is None:
        from livepose.track import PoseTracker, TrackerConfig

        def tracker_factory():
            return PoseTracker(estimator.part_names, TrackerConfig())

    rate = float(fps) if fps else DEFAULT_FPS
    gts = gt_frames(data)
    joints = np.zeros(17, bool)
    for g in gts.values():
        if len(g.keypoints):
            joints |= (g.keypoints[:, :, 2] > 0).any(0)
    scorer = TrackingScorer(joints if joints.any() else None)
    seqs = sequences(data, rate)
    times: dict[str, list[float]] = {k: [] for k in STAGES}
    failed: list[str] = []
    results: list[dict] = []
    tracker_cfg = None
    part_names = tuple(estimator.part_names)
    t_start = time.perf_counter()
    for seq in seqs:
        tracker = tracker_factory()
        if tracker_cfg is None:
            tracker_cfg = _tracker_config(tracker)
        for img, stamp in zip(seq.images, seq.timestamps):
            path = frames_dir / img["file_name"]
            gt = gts[img["id"]]
            try:
                image = read_image(path)
            except InputError as exc:
                failed.append(str(exc))
                scorer.add(seq.name, gt, Tracks.empty(part_names))
                continue
            poses, stage = estimator(image)
            t0 = time.perf_counter()
            tracks = tracker.update(poses, stamp)
            t_track = (time.perf_counter() - t0) * 1e3
            scorer.add(seq.name, gt, tracks)
            times["preprocess"].append(stage.preprocess)
            times["inference"].append(stage.inference)
            times["decode"].append(stage.decode)
            times["track"].append(t_track)
            people = _people(tracks, img["id"])
            results.append({"sequence": seq.name, "image_id": _jsonable_id(img["id"]), "file_name": img["file_name"],
                            "frame_id": img.get("frame_id"), "timestamp": round(stamp, 6), "people": people})
            if on_frame:
                on_frame(img["file_name"], len(people), stage.total + t_track)
    num_frames = sum(len(s.images) for s in seqs)
    if failed and len(failed) == num_frames:
        raise InputError(f"{frames_dir}: none of the {len(failed)} annotated frames could be read ({failed[0]})")
    scored = scorer.report()
    joint_names = [n for n, j in zip(COCO17_NAMES, scorer.joints) if j]
    report = {
        "annotations": str(annotations_path),
        "frames": str(frames_dir),
        "model": estimator.card.name,
        "input_size": list(estimator.preprocess.size),
        "decode": estimator.decoder.config.as_dict(),
        "providers": estimator.network.providers,
        "tracker": tracker_cfg,
        "fps": rate,
        "fps_source": "given" if fps else f"default ({DEFAULT_FPS:g}; the annotations give none)",
        "num_sequences": len(seqs),
        "num_frames": num_frames - len(failed),
        "num_gt_people": len(scored["gt_tracks"]),
        "num_gt_poses": sum(t["frames_present"] for t in scored["gt_tracks"]),
        "failed_frames": failed,
        "matching": {
            "rule": (f"a joint is correct within {PCK_THRESHOLD:g} x head size; a person pair may match when "
                     f">= {MIN_MATCH:g} of the annotated joints are correct; distance = 1 - fraction correct"),
            "head_size": (f"{HEAD_FROM_RECT:g} x head_rect diagonal (or bbox_head); without one, fallback "
                          f"{HEAD_FROM_BOX:g} x diagonal of bbox (or of the annotated keypoints' box)"),
            "head_size_sources": scored["head_size_sources"],
            "joints": joint_names,
            "coordinates": "smoothed (Tracks.smoothed_poses: joints measured in the frame)",
            "gt_people_ignored": scored["gt_people_ignored"],
            "predicted_joints_in_ignore_regions": scored["joints_in_ignore_regions"],
        },
        "metrics": scored["metrics"],
        "keypoints": scored["keypoints"],
        "jitter": scored["jitter"],
        "every_person_one_id": scored["every_person_one_id"],
        "gt_tracks": scored["gt_tracks"],
        "sequences": scored["sequences"],
        "timings_ms": {k: round(float(np.median(v)), 2) if v else None for k, v in times.items()},
        "seconds": round(time.perf_counter() - t_start, 2),
    }
    return report, results
