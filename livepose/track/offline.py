"""Zero-lag offline smoothing of tracked people, once the whole recording is known.

    smoothed = smooth_people(people, timestamps, tracker_config, OfflineSmoothing("rts"))

``people``: the tracker's :class:`~livepose.types.People` of every frame, in frame order (what a
live run with the Kalman tracker gives: the tracker is still needed for the ids).  Each track's
*raw measured* keypoints (``People.raw``, already in the track's own left/right labelling) are
smoothed over the whole track, forward and backward, by :mod:`livepose.analysis.smooth`:

* ``"rts"`` (default): the tracker's constant-velocity Kalman model, its parameters
  (``TrackerConfig`` ``measurement_noise``, ``init_speed``, ``joint_predict_seconds``, and
  ``process_noise`` times ``process_noise_scale``, 4 by default: :data:`RTS_PROCESS_NOISE_SCALE`
  says why), run forward, then a Rauch-Tung-Striebel pass backward
  (:func:`~livepose.analysis.smooth.rts_smooth`).  The person size that scales the noises is the
  tracker's (the box of the joints measured in the frame), carried over the frames the person is
  not reported.
* ``"butterworth"``: a zero-phase Butterworth low-pass (``cutoff_hz``, by default 6 Hz or a
  quarter of the frame rate when lower, ``order``; forward and backward) over each contiguous
  run of a joint (:func:`~livepose.analysis.smooth.butterworth_smooth`; a run of at most 27
  samples, for order 4, is left raw).

Left and right: a track's raw joints may change sides between frames (the tracker relabels a
person the network has come to label the other way; or takes a weak or ambiguous detection as
the network labelled it).  Each body point is smoothed along its own path: the frames are
brought into one labelling first (:func:`_labellings`), and written back in the raw labelling
where it lasts at least ``label_vote_frames`` frames (a relabelling), in the surrounding one where
it does not (:func:`_output_labellings`: the written joints keep their side; ``raw`` stays as
the tracker gave it).

Then short gaps of a joint (not measured for at most ``max_gap_s`` seconds, between two
measurements of the same track) are bridged on the straight line between the smoothed values
(:func:`~livepose.analysis.smooth.fill_gaps`); longer gaps stay missing, nothing is extrapolated
before a joint's first or after its last measurement.

The result has the same rows as the input (no person is added to or removed from a frame; the ids,
states, scores and raw detections are unchanged): ``poses`` holds the offline-smoothed
coordinates of the joints measured in the frame (the confidences as measured), ``predicted_xy``
the gap-filled joints of the frame (NaN elsewhere), in place of the live filter's values.
With carrying on (``--keyframe-every``) each frame keeps its ``keyframe`` and ``carried``: the
mask follows the written joints (the same left/right labelling as ``poses``), True where a
written joint was carried by optical flow.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from livepose.analysis.smooth import DEFAULT_MAX_GAP_S, butterworth_smooth, fill_gaps, rts_smooth
from livepose.errors import InputError
from livepose.settings import TrackerConfig
from livepose.track.cost import check_mirror, mirror_from_names, person_size
from livepose.types import People, Poses

METHODS = ("rts", "butterworth")

#: the ``--smoother`` names of the command line that mean offline smoothing, and their method
OFFLINE_SMOOTHERS = {"offline": "rts", "offline-butterworth": "butterworth"}

#: The RTS smoother runs the tracker's model with its process noise times this.  Why: for the
#: constant-velocity model the live filter's steady state is a 2nd-order low-pass whose cutoff
#: grows as process_noise ** (1/4), and the forward-backward smoother's response is that filter's
#: response squared, 1 / (1 + (f / fc) ** 4): at the tracker's own process noise it passes
#: movement at the live cutoff at 0.5 (the live filter 0.71), so fast limbs are flattened more
#: than live.  x4 raises its cutoff by sqrt(2): movement at the live cutoff passes at 0.8 (more
#: than live), while noise above it is still cut as the fourth power of frequency (live: the
#: square).  Measured on the Bonn PoseTrack sequence (docs/analysis.md, "Offline smoothing of a
#: run"): x1 jitter ratio 0.09 but keypoint precision / recall 0.948 / 0.928 (live 0.953 / 0.936);
#: x4 ratio 0.19, lag 0, precision / recall 0.955 / 0.936.
RTS_PROCESS_NOISE_SCALE = 4.0

#: the Butterworth cutoff when none is given (as ``livepose analyze --cutoff``), at most a quarter of the frame rate
BUTTERWORTH_CUTOFF_HZ = 6.0

#: :func:`_labellings`: a track's left/right labelling changed between two reported frames when the
#: earlier frame mirrored lies nearer the later one than as labelled by more than this many person sizes.
RELABEL_MARGIN = 0.1

#: one RTS call smooths several tracks together (their frames' union) within this many bytes of state
_GROUP_BYTES = 64 << 20
_BYTES_PER_SAMPLE = 8 * (4 + 8) * 2 + 64  # filtered and predicted means and covariances, and the rest


@dataclass(frozen=True)
class OfflineSmoothing:
    """How :func:`smooth_people` smooths: ``method`` (:data:`METHODS`), ``max_gap_s`` (the longest
    gap bridged, seconds; 0: none); for ``"rts"`` ``process_noise_scale`` (the tracker's
    ``process_noise`` is multiplied by it, :data:`RTS_PROCESS_NOISE_SCALE`), for ``"butterworth"``
    ``cutoff_hz`` (None: :data:`BUTTERWORTH_CUTOFF_HZ`, or a quarter of the frame rate when that
    is lower: 2.5 Hz at 10 FPS) and ``order``."""

    method: str = "rts"
    max_gap_s: float = DEFAULT_MAX_GAP_S
    process_noise_scale: float = RTS_PROCESS_NOISE_SCALE
    cutoff_hz: float | None = None
    order: int = 4

    def __post_init__(self) -> None:
        if not (isinstance(self.process_noise_scale, (int, float)) and 0 < self.process_noise_scale < float("inf")):
            raise InputError(f"offline smoothing: process_noise_scale must be above 0; got {self.process_noise_scale!r}")
        if self.method not in METHODS:
            raise InputError(f"offline smoothing: method must be one of {', '.join(METHODS)}; got {self.method!r}")
        if not (isinstance(self.max_gap_s, (int, float)) and 0 <= self.max_gap_s < float("inf")):
            raise InputError(f"offline smoothing: max_gap_s must be a number of seconds >= 0; got {self.max_gap_s!r}")
        if self.cutoff_hz is not None and not (isinstance(self.cutoff_hz, (int, float)) and self.cutoff_hz > 0):
            raise InputError(f"offline smoothing: cutoff_hz must be above 0; got {self.cutoff_hz!r}")
        if not (isinstance(self.order, int) and 1 <= self.order <= 10):
            raise InputError(f"offline smoothing: order must be a whole number 1 to 10; got {self.order!r}")

    @classmethod
    def from_smoother(cls, name: str, **kwargs) -> "OfflineSmoothing":
        """From a ``--smoother`` name of :data:`OFFLINE_SMOOTHERS`."""
        return cls(OFFLINE_SMOOTHERS[name], **kwargs)

    def describe(self) -> str:
        cutoff = (f"{self.cutoff_hz:g} Hz" if self.cutoff_hz is not None
                  else f"{BUTTERWORTH_CUTOFF_HZ:g} Hz or a quarter of the frame rate")
        what = (f"RTS over the tracker's Kalman model, process noise x{self.process_noise_scale:g}" if self.method == "rts"
                else f"zero-phase Butterworth {cutoff}, order {self.order}")
        return f"offline ({what}, gaps up to {self.max_gap_s:g} s filled)"

    def as_dict(self) -> dict:
        out = {"method": self.method, "max_gap_s": self.max_gap_s}
        if self.method == "rts":
            out["process_noise_scale"] = self.process_noise_scale
        else:  # cutoff_hz None: the default rule (describe)
            out.update(cutoff_hz=self.cutoff_hz, order=self.order)
        return out


def _track_rows(people: Sequence[People]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Track id -> (frames (K,), rows (K,)): where the track is reported, in frame order."""
    where: dict[int, tuple[list, list]] = {}
    for k, p in enumerate(people):
        if not p.tracked:
            if len(p):
                raise ValueError(f"smooth_people needs tracked people (with ids); frame {k} has untracked ones")
            continue
        for n, tid in enumerate(p.ids.tolist()):
            f, r = where.setdefault(int(tid), ([], []))
            f.append(k)
            r.append(n)
    return {tid: (np.asarray(f), np.asarray(r)) for tid, (f, r) in where.items()}


def _groups(spans: list[tuple[int, int]], parts: int) -> list[list[int]]:
    """Tracks (indices into ``spans``, (first, last) frame) put together into one RTS call: a track
    joins the open group when that lengthens the group by fewer frames than the track's own span
    (one call over the union then costs less than two) and the group's state stays within
    :data:`_GROUP_BYTES`; tracks are taken in order of their first frame."""
    order = sorted(range(len(spans)), key=lambda i: spans[i])
    groups: list[list[int]] = []
    lo = hi = 0
    for i in order:
        a, b = spans[i]
        if groups:
            new_hi = max(hi, b)
            members = len(groups[-1]) + 1
            if (new_hi - hi) < (b - a + 1) and (new_hi - lo + 1) * members * parts * _BYTES_PER_SAMPLE <= _GROUP_BYTES:
                groups[-1].append(i)
                hi = new_hi
                continue
        groups.append([i])
        lo, hi = a, b
    return groups


def _labellings(xy: np.ndarray, measured: np.ndarray, size: np.ndarray, mirror: np.ndarray | None) -> np.ndarray:
    """(K,) bool per reported frame of one track (``xy`` (K, P, 2), ``measured`` (K, P), ``size``
    (K,)): the frame is in the mirror labelling of the track's first frame.

    The tracker relabels a track (swaps its left and right joints, state and outputs alike) when the
    network has labelled the person the other way for several frames; its outputs before and after
    name each body point by the other side's name.  Smoothing a joint across that frame would pull
    it towards the other side of the body, so the frames are brought into one labelling first.  A
    change between two consecutive reported frames: over the joints measured in both (with their
    partner measured in the earlier one), the mean distance to the earlier frame mirrored is below
    the distance as labelled by more than :data:`RELABEL_MARGIN` person sizes."""
    k_n = len(xy)
    flipped = np.zeros(k_n, bool)
    if mirror is None or k_n < 2:
        return flipped
    paired = mirror != np.arange(len(mirror))
    for k in range(1, k_n):
        a, b = xy[k - 1], xy[k]
        both = measured[k - 1] & measured[k] & measured[k - 1][mirror]
        change = False
        if (both & paired).any():
            as_is = np.linalg.norm(a[both] - b[both], axis=-1).mean()
            mirrored = np.linalg.norm(a[mirror][both] - b[both], axis=-1).mean()
            change = as_is - mirrored > RELABEL_MARGIN * max(size[k - 1], size[k])
        flipped[k] = flipped[k - 1] ^ change
    return flipped


def _output_labellings(flipped: np.ndarray, min_run: int) -> np.ndarray:
    """(K,) bool: the labelling each frame is written in (True: mirrored from the first frame's).

    The raw one (``flipped``, :func:`_labellings`), except in a run of fewer than ``min_run`` frames
    (the tracker's ``label_vote_frames``) with one labelling: the network labelled the person the
    other way for a moment and the tracker took it as labelled (weak frames, a tentative track, a
    person seen from the side) instead of relabelling the track; such a run is written in the
    labelling of the nearest run long enough to be the track's (the one before it, at the start the
    one after it; when no run is that long, the longest), so the written joints keep their side."""
    k_n = len(flipped)
    if k_n == 0:
        return flipped.copy()
    edges = np.flatnonzero(np.diff(flipped.astype(np.int8))) + 1
    starts = np.r_[0, edges]
    stops = np.r_[edges, k_n]
    lengths = stops - starts
    long = lengths >= max(1, int(min_run))
    if not long.any():
        long = lengths == lengths.max()
        long[np.argmax(long) + 1:] = False
    out = flipped.copy()
    kept = np.flatnonzero(long)
    for r in np.flatnonzero(~long):
        before = kept[kept < r]
        src = before[-1] if len(before) else kept[kept > r][0]
        out[starts[r]:stops[r]] = flipped[starts[src]]
    return out


def smooth_people(people: Sequence[People], timestamps, config: TrackerConfig | None = None,
                  smoothing: OfflineSmoothing | None = None, *, mirror=None) -> list[People]:
    """The offline-smoothed people of every frame (module docstring); ``timestamps`` (T,) seconds,
    one per frame of ``people``.  ``config``: the tracker's settings (the RTS model; default
    TrackerConfig()).  ``mirror``: (P,) the left/right permutation of the parts (the tracker's
    ``mirror``, e.g. a card's flip pairs; None: from the part names when ``config.mirror_match``);
    a track the tracker relabelled is smoothed in one labelling (:func:`_labellings`) and written
    back in each frame's own (:func:`_output_labellings`).  Frames without tracked people are
    returned as they are."""
    cfg = config if config is not None else TrackerConfig()
    how = smoothing if smoothing is not None else OfflineSmoothing()
    model = dataclasses.replace(cfg, process_noise=cfg.process_noise * how.process_noise_scale)
    people = list(people)
    t = np.asarray(timestamps, dtype=np.float64)
    if t.shape != (len(people),):
        raise ValueError(f"timestamps must be one per frame ({len(people)}), got shape {t.shape}")
    tracks = _track_rows(people)
    if not tracks:
        return people
    names = next(p for p in people if p.tracked and len(p)).part_names
    n_parts = len(names)
    if mirror is None and cfg.mirror_match:
        mirror = mirror_from_names(names)
    elif mirror is not None:
        mirror = check_mirror(mirror, n_parts)
    ident = np.arange(n_parts)
    new_xy = [None if not p.tracked else np.array(p.poses.xy, dtype=np.float32) for p in people]
    new_pred = [None if not p.tracked else np.full_like(p.predicted_xy, np.nan, dtype=np.float32) for p in people]
    new_conf = [None if not p.tracked else np.array(p.poses.conf, dtype=np.float32) for p in people]
    # carrying on: the keypoints carried by optical flow (``People.carried``, in the raw labelling)
    new_carried = [None if not p.tracked or p.carried is None else np.array(p.carried, dtype=np.bool_)
                   for p in people]
    ids = list(tracks)
    spans = [(int(tracks[i][0][0]), int(tracks[i][0][-1])) for i in ids]
    for group in _groups(spans, n_parts):
        lo = min(spans[g][0] for g in group)
        hi = max(spans[g][1] for g in group)
        n_t, m = hi - lo + 1, len(group)
        xy = np.full((n_t, m, n_parts, 2), np.nan)
        conf = np.zeros((n_t, m, n_parts))
        size = np.full((n_t, m), np.nan)
        perms = []  # per track, per reported frame: its parts in the track's first labelling
        perms_in = []  # per track, per reported frame: its raw parts into the first labelling
        for j, g in enumerate(group):
            frames, rows = tracks[ids[g]]
            raw_xy = np.stack([np.asarray(people[k].raw.xy[n], np.float64) for k, n in zip(frames, rows)])
            raw_c = np.fmax(np.stack([np.asarray(people[k].raw.conf[n], np.float64) for k, n in zip(frames, rows)]), 0.0)
            ok = (raw_c > 0) & np.isfinite(raw_xy).all(-1)
            sz = np.full(len(frames), np.nan)
            seen = ok.any(-1)
            if seen.any():  # the tracker's size: the box of the measured joints
                sz[seen] = person_size(raw_xy[seen], ok[seen], cfg.min_person_size)
            idx = np.where(np.isfinite(sz), np.arange(len(sz)), 0)
            np.maximum.accumulate(idx, out=idx)
            sz = np.where(np.isfinite(sz[idx]), sz[idx], cfg.min_person_size)
            flipped = _labellings(raw_xy, ok, sz, mirror)
            swap = mirror if mirror is not None else ident
            perm = np.where(flipped[:, None], swap, ident)  # each frame's raw into the first frame's labelling
            perms_in.append(perm)
            # ... and back into the labelling written: the raw one, but for runs too short to be a relabel
            perms.append(np.where(_output_labellings(flipped, cfg.label_vote_frames)[:, None], swap, ident))
            at = frames - lo
            rows_k = np.arange(len(frames))[:, None]
            xy[at, j] = np.where(ok[..., None], raw_xy, np.nan)[rows_k, perm]
            conf[at, j] = np.where(ok, raw_c, 0.0)[rows_k, perm]
            size[at, j] = sz
        for j in range(m):  # carried over the frames the person is not reported
            s = size[:, j]
            idx = np.where(np.isfinite(s), np.arange(n_t), 0)
            np.maximum.accumulate(idx, out=idx)
            size[:, j] = np.where(np.isfinite(s[idx]), s[idx], cfg.min_person_size)
        measured = conf > 0
        tt = t[lo:hi + 1]
        if how.method == "rts":
            sm = rts_smooth(tt, xy, conf, model, size=size[:, :, None])
        else:
            cutoff = how.cutoff_hz
            if cutoff is None:
                steps = np.diff(t)
                step = float(np.median(steps)) if len(steps) else 0.0
                cutoff = min(BUTTERWORTH_CUTOFF_HZ, 0.25 / step) if step > 0 else BUTTERWORTH_CUTOFF_HZ
            try:
                sm = butterworth_smooth(tt, xy.reshape(n_t, m * n_parts, 2), measured.reshape(n_t, -1),
                                        cutoff_hz=cutoff, order=how.order).reshape(xy.shape)
            except ValueError as exc:
                hint = " (the RTS smoother, 'offline', takes irregular timestamps)" if "timestamps" in str(exc) else ""
                raise InputError(f"offline Butterworth smoothing: {exc}{hint}") from None
        filled = fill_gaps(tt, sm.reshape(n_t, m * n_parts, 2), measured.reshape(n_t, -1),
                           how.max_gap_s).reshape(xy.shape)
        for j, g in enumerate(group):
            frames, rows = tracks[ids[g]]
            for i, (k, n) in enumerate(zip(frames.tolist(), rows.tolist())):
                perm = perms[j][i]  # the output labelling (an involution: the same permutation maps back)
                meas = measured[k - lo, j][perm]
                new_xy[k][n] = np.where(meas[:, None], sm[k - lo, j][perm], np.nan)
                new_conf[k][n] = np.where(meas, conf[k - lo, j][perm], 0.0)
                f = filled[k - lo, j][perm]
                raw = people[k].raw  # gap-filled: where neither written nor detected (as the tracker predicts)
                free = ~meas & ~((raw.conf[n] > 0) & np.isfinite(raw.xy[n, :, 0]))
                new_pred[k][n] = np.where((free & np.isfinite(f[:, 0]))[:, None], f, np.nan)
                if new_carried[k] is not None:  # raw labelling -> first -> written, as conf went
                    src = perms_in[j][i][perm]
                    new_carried[k][n] = people[k].carried[n][src] & (new_conf[k][n] > 0)
    out = []
    for k, p in enumerate(people):
        if not p.tracked:
            out.append(p)
            continue
        poses = Poses(xy=new_xy[k].astype(np.float32), conf=new_conf[k].astype(np.float32), score=p.poses.score,
                      part_names=p.poses.part_names)
        out.append(People(poses, ids=p.ids, state=p.state, raw=p.raw, predicted_xy=new_pred[k].astype(np.float32),
                          carried=new_carried[k], keyframe=p.keyframe))
    return out


__all__ = ["METHODS", "OFFLINE_SMOOTHERS", "OfflineSmoothing", "RTS_PROCESS_NOISE_SCALE", "smooth_people"]
