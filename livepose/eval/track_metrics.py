"""Scoring tracked poses against ground truth: the metric pieces and :class:`TrackingScorer`.

What is measured, all over the people as the pipeline presents them (``People.poses``: smoothed
coordinates of the joints measured in the frame, the track ids as person ids):

* CLEAR MOT and identity metrics (py-motmetrics): MOTA, MOTP, IDF1, identity switches,
  precision, recall, mostly tracked / lost.  A ground-truth person and a tracked person may be
  matched when at least half of the person's annotated joints are correct (PoseTrack's PCKh
  rule: within 0.5 x head size, head size = 0.6 x the head rectangle's diagonal); the distance
  is 1 - that fraction.
* Keypoint precision and recall over the matched pairs (correct / predicted joints, correct /
  annotated joints), for the smoothed and for the raw (detected) coordinates.
* Per ground-truth person: how many distinct track ids it was matched to (the bar: one).
* Jitter: the mean |x[t+1] - 2 x[t] + x[t-1]| (pixels) of the raw and of the smoothed joints
  (every joint the tracker knows: measured or predicted), their ratio, and the lag the
  smoothing adds (the time shift that best aligns the smoothed trajectories with the raw ones).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from livepose.errors import LiveposeError
from livepose.eval.annotations import GtFrame
from livepose.types import COCO17_NAMES, People, Poses

PCK_THRESHOLD = 0.5  # a joint is correct within this fraction of the head size
MIN_MATCH = 0.5  # a pair needs at least this fraction of correct joints to be matched
LAG_RANGE = 3.0  # frames searched either side for the smoothing lag
LAG_STEP = 0.1

MOT_METRICS = (
    "mota", "motp", "idf1", "idp", "idr", "num_switches", "precision", "recall", "num_frames",
    "num_objects", "num_predictions", "num_matches", "num_false_positives", "num_misses",
    "num_unique_objects", "mostly_tracked", "partially_tracked", "mostly_lost", "num_fragmentations",
)


def require_motmetrics() -> None:
    """Fail early, before any frame is processed, when the evaluation extra is missing."""
    try:
        import motmetrics  # noqa: F401
    except ImportError:
        raise LiveposeError(
            "tracking evaluation needs motmetrics: pip install motmetrics (or install livepose with the [eval] extra)"
        ) from None


# ----------------------------------------------------------------------------- the joints of People


def smoothed_xy(people: People) -> np.ndarray:
    """(N, P, 2) every joint the tracker knows, smoothed: ``poses.xy`` where measured this frame,
    ``predicted_xy`` where predicted; NaN where unknown (untracked people: ``poses.xy``)."""
    if people.predicted_xy is None:
        return people.poses.xy
    return np.where(np.isfinite(people.predicted_xy), people.predicted_xy, people.poses.xy)


def measured_raw(people: People) -> np.ndarray:
    """(N, P) bool: the joints detected this frame (raw confidence > 0, not a prediction)."""
    if people.raw is None:
        return people.poses.conf > 0
    return (people.raw.conf > 0) & ~np.isfinite(people.predicted_xy[..., 0])


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
    """Accumulates (ground truth, tracked people) frame by frame; ``report()`` gives the metrics.

    ``joints``: (17,) bool, the COCO-17 joints the annotation scheme has (default: the joints
    annotated at least once, decided by the caller; all 17 when None).  Hypotheses are the rows
    of ``People.poses`` (smoothed coordinates of the joints measured in the frame) with at
    least one joint.
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

    def add(self, sequence: str, gt: GtFrame | None, people: People) -> None:
        """One frame of ``sequence`` (frames in order): the tracked ``people`` the pipeline gave
        for it (an untracked, empty People for a frame that could not be read).  ``gt`` None or
        ``evaluate`` False: the frame only extends the trajectories (jitter), it is not scored."""
        pos = self._position.get(sequence, -1) + 1
        self._position[sequence] = pos
        if not people.tracked and len(people):
            raise ValueError("TrackingScorer scores tracked people (with ids); got untracked detections")
        ids = people.ids if people.tracked else np.zeros(0, np.int64)
        raw_poses = people.raw if people.tracked else people.poses
        smoothed = smoothed_xy(people)
        measured = measured_raw(people)
        for n, tid in enumerate(ids):
            h = self._histories.setdefault((sequence, int(tid)), _TrackHistory())
            raw = np.where(measured[n][:, None], raw_poses.xy[n], np.nan)
            h.frames.append(pos)
            h.raw.append(raw.astype(np.float64))
            h.smoothed.append(smoothed[n].astype(np.float64))
        if gt is None or not gt.evaluate:
            return
        shown = people.poses
        raw_measured = (raw_poses.conf > 0) & np.isfinite(raw_poses.xy[..., 0])
        if gt.ignore_regions:
            inside = in_regions(shown.xy, gt.ignore_regions)
            self.ignored_joints += int((inside & shown.visible).sum())
            shown = Poses(np.where(inside[..., None], np.float32(np.nan), shown.xy),
                          np.where(inside, np.float32(0), shown.conf), shown.score, shown.part_names)
            raw_measured &= ~in_regions(raw_poses.xy, gt.ignore_regions)
        keep = shown.visible.any(1)
        idx = self._index(people.part_names)
        pred = shown.xy[keep][:, idx]
        raw = np.where(raw_measured[..., None], raw_poses.xy, np.nan)[keep][:, idx]
        hyp = [int(i) for i in ids[keep]]
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
