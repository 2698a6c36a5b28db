"""The pose tracker: identities over time and smoothed keypoints.

``PoseTracker(part_names, config).update(poses, timestamp) -> Tracks``, once per frame.

Per frame (T tracks, D detections, P parts):

1. Time step ``dt`` from the timestamps (clamped to ``min_dt`` when a timestamp repeats or
   goes backwards).  Tracks unseen for longer than ``max_lost_seconds`` are removed; every
   track's joints are predicted ``dt`` ahead by the smoother.
2. Association: OKS-style cost between each predicted skeleton and each detection
   (:mod:`.cost`; the tolerance widens with the time a track has been unseen), gated, and
   solved by the Hungarian method (:func:`.assign.assign`): first confirmed and lost tracks,
   then tentative tracks with the detections left, so a new, unproven track never takes a
   person from an established one.
3. Matched tracks update their joints: measured joints go through the filter (a joint without
   an estimate starts anew at the measurement with zero velocity); joints missing are predicted
   and flagged for ``joint_predict_seconds``, then unknown (NaN) until measured again.  Tracks
   unseen this frame: tentative ones are removed, confirmed ones become lost and coast (all
   their joints predicted, for association only, their uncertainty growing) until they come
   back, when their joints are updated as usual, or time out.
4. Each detection left over starts a tentative track with a new id (confirmed after
   ``min_hits`` frames with a detection); ids start at 1 and are never reused.  At most
   ``max_tracks`` tracks live at once: the longest-lost tracks make room, and when none is
   lost the lowest-scoring new detections get no track.

The tracker owns all state as arrays whose first axis is the track (bounded by
``max_tracks``); nothing grows over a run.  Lifecycle: TRACK_TENTATIVE -> TRACK_CONFIRMED
<-> TRACK_LOST -> removed.
"""

from __future__ import annotations

import math

import numpy as np

from livepose.track.assign import assign
from livepose.track.cost import box_size, pose_boxes, pose_cost
from livepose.track.kalman import ConstantVelocityKalman
from livepose.track.one_euro import OneEuroSmoother
from livepose.settings import SMOOTHERS, TrackerConfig
from livepose.types import TRACK_CONFIRMED, TRACK_LOST, TRACK_TENTATIVE, Poses, Tracks

class NoSmoother:
    """No smoothing: each joint's last measurement, held while it is missing."""

    def blank(self, n: int, num_parts: int) -> tuple:
        return (np.full((n, num_parts, 2), np.nan),)

    def predict(self, state: tuple, dt: float, size: np.ndarray) -> tuple:
        return state

    def update(self, state: tuple, z: np.ndarray, measured: np.ndarray, fresh: np.ndarray,
               conf: np.ndarray, size: np.ndarray) -> tuple:
        return (np.where(measured[..., None], z, state[0]),)

    @staticmethod
    def position(state: tuple) -> np.ndarray:
        return state[0]

    expected = position


def make_smoother(config: TrackerConfig):
    """The smoother object ``config.smoother`` names.

    Every smoother holds only parameters and works on a state tuple of arrays with the track as
    first axis: ``blank(n, P)``, ``predict(state, dt, size)``, ``update(state, z, measured,
    fresh, conf, size)``, ``position(state)`` (smoothed, for output) and ``expected(state)``
    (where the next measurement should be, for association).
    """
    if config.smoother == "kalman":
        return ConstantVelocityKalman(config.process_noise, config.measurement_noise, config.init_speed)
    if config.smoother == "one_euro":
        return OneEuroSmoother(config.one_euro_min_cutoff, config.one_euro_beta, config.one_euro_d_cutoff)
    return NoSmoother()


class PoseTracker:
    """Identities and smoothed keypoints for a stream of :class:`~livepose.types.Poses`.

    One instance per stream (it owns the ids and the memory; not thread-safe).
    ``update(poses, timestamp)`` returns the tracks that took a detection this frame
    (tentative and confirmed), one row per detection taken, in detection order.
    """

    def __init__(self, part_names: tuple[str, ...], config: TrackerConfig | None = None):
        self.part_names = tuple(part_names)
        if not self.part_names:
            raise ValueError("part_names must name at least one part")
        if config is not None and not isinstance(config, TrackerConfig):
            raise ValueError(f"config must be a TrackerConfig, got {type(config).__name__}")
        self.config = config if config is not None else TrackerConfig()
        self._smoother = make_smoother(self.config)
        self._next_id = 1
        self._last_timestamp: float | None = None
        self._set_rows(self._blank_rows(0))

    # ----------------------------------------------------------------- state (first axis T)

    def _blank_rows(self, n: int) -> dict:
        p = len(self.part_names)
        return {
            "ids": np.zeros(n, np.int64),
            "state": np.full(n, TRACK_TENTATIVE, np.int8),
            "hits": np.zeros(n, np.int64),
            "unseen": np.zeros(n, np.float64),  # seconds since the track last took a detection
            "size": np.zeros(n, np.float64),  # person size in pixels (sqrt of the box area)
            "known": np.zeros((n, p), np.bool_),  # joint has a usable estimate
            "joint_age": np.full((n, p), np.inf),  # seconds since the joint was last measured
            "det": np.full(n, -1, np.int64),  # row of this frame's Poses taken, -1 none
            "filter": self._smoother.blank(n, p),
        }

    def _set_rows(self, rows: dict) -> None:
        self._ids, self._state, self._hits = rows["ids"], rows["state"], rows["hits"]
        self._unseen, self._size, self._known = rows["unseen"], rows["size"], rows["known"]
        self._joint_age, self._det, self._filter = rows["joint_age"], rows["det"], rows["filter"]

    def _rows(self) -> dict:
        return {"ids": self._ids, "state": self._state, "hits": self._hits, "unseen": self._unseen,
                "size": self._size, "known": self._known, "joint_age": self._joint_age, "det": self._det,
                "filter": self._filter}

    def _keep(self, keep: np.ndarray) -> None:
        """Drop the tracks where ``keep`` is False."""
        if keep.all():
            return
        self._set_rows({k: (tuple(a[keep] for a in v) if k == "filter" else v[keep]) for k, v in self._rows().items()})

    def _append(self, new: dict) -> None:
        self._set_rows({k: (tuple(np.concatenate([a, b]) for a, b in zip(v, new[k])) if k == "filter"
                            else np.concatenate([v, new[k]])) for k, v in self._rows().items()})

    # ----------------------------------------------------------------------- inspection

    def __len__(self) -> int:
        """Tracks alive now (tentative, confirmed and lost); never more than ``max_tracks``."""
        return int(self._ids.shape[0])

    @property
    def track_ids(self) -> np.ndarray:
        """(T,) ids of the tracks alive now."""
        return self._ids.copy()

    @property
    def track_states(self) -> np.ndarray:
        """(T,) TRACK_* state of the tracks alive now."""
        return self._state.copy()

    def reset(self) -> None:
        """Forget every track (ids keep counting up: they are never reused)."""
        self._last_timestamp = None
        self._set_rows(self._blank_rows(0))

    # --------------------------------------------------------------------------- update

    def update(self, poses: Poses, timestamp: float) -> Tracks:
        """Take one frame's detections; return the tracks that took one (see the class)."""
        cfg = self.config
        if tuple(poses.part_names) != self.part_names:
            raise ValueError(f"poses have parts {poses.part_names}, the tracker was made for {self.part_names}")
        timestamp = float(timestamp)
        if not math.isfinite(timestamp):
            raise ValueError(f"timestamp must be a finite number of seconds, got {timestamp}")
        if self._last_timestamp is None:
            dt = cfg.min_dt
        else:
            dt = max(timestamp - self._last_timestamp, cfg.min_dt)
        self._last_timestamp = timestamp

        # Detections: a joint counts when its confidence is positive and its coordinates finite.
        det_xy = np.asarray(poses.xy, dtype=np.float64)
        det_conf = np.fmax(np.asarray(poses.conf, dtype=np.float64), 0.0)  # NaN -> 0
        det_vis = (det_conf > 0.0) & np.isfinite(det_xy).all(axis=2)
        det_rows = np.flatnonzero(det_vis.any(axis=1))  # poses with no usable joint are ignored
        d_xy, d_vis, d_conf = det_xy[det_rows], det_vis[det_rows], det_conf[det_rows]
        d_boxes = pose_boxes(d_xy, d_vis)
        d_size = box_size(d_boxes, cfg.min_person_size)

        # 1. time passes: retire tracks lost too long, predict the others.
        self._unseen += dt
        self._joint_age += dt
        self._keep(self._unseen <= cfg.max_lost_seconds)
        self._det[:] = -1
        self._filter = self._smoother.predict(self._filter, dt, self._size)

        # 2. association, established tracks first.
        n_tracks = len(self)
        track_of_det = np.full(len(det_rows), -1, np.int64)
        if n_tracks and len(det_rows):
            predicted = self._smoother.expected(self._filter)
            # A track seen once has no velocity yet: its tolerance widens at the speed a new person may have.
            spread = np.where(self._hits <= 1, max(cfg.unseen_spread, cfg.init_speed), cfg.unseen_spread)
            tolerance = self._size * np.sqrt(cfg.oks_kappa**2 + (spread * self._unseen) ** 2)
            t_boxes = pose_boxes(predicted, self._known)
            cost = pose_cost(predicted, self._known, d_xy, d_vis, tolerance, cfg.iou_weight, gate=cfg.gate,
                             track_boxes=t_boxes, det_boxes=d_boxes)
            free = np.arange(len(det_rows))
            tentative = self._state == TRACK_TENTATIVE
            for rows in (np.flatnonzero(~tentative), np.flatnonzero(tentative)):
                if len(rows) == 0 or len(free) == 0:
                    continue
                matches, _, left = assign(cost[np.ix_(rows, free)], cfg.gate)
                track_of_det[free[matches[:, 1]]] = rows[matches[:, 0]]
                free = free[left]

        # 3. matched tracks take their detection.
        taken = np.flatnonzero(track_of_det >= 0)
        t_rows = track_of_det[taken]
        matched = np.zeros(n_tracks, np.bool_)
        matched[t_rows] = True
        if n_tracks:
            p = len(self.part_names)
            z = np.full((n_tracks, p, 2), np.nan)
            measured = np.zeros((n_tracks, p), np.bool_)
            conf = np.zeros((n_tracks, p))
            z[t_rows] = d_xy[taken]
            measured[t_rows] = d_vis[taken]
            conf[t_rows] = d_conf[taken]
            fresh = measured & ~self._known  # joints without an estimate start at the measurement
            self._filter = self._smoother.update(self._filter, z, measured, fresh, conf, self._size)
            # A seen track forgets the joints it has not measured for joint_predict_seconds; a lost
            # track keeps predicting all of its joints (for association) until it is seen again.
            stale = self._joint_age > cfg.joint_predict_seconds
            self._known = np.where(matched[:, None], measured | (self._known & ~stale), self._known)
            self._joint_age[measured] = 0.0
            self._det[t_rows] = det_rows[taken]
            self._hits[t_rows] += 1
            self._unseen[t_rows] = 0.0
            seen_state = np.where(self._hits >= cfg.min_hits, TRACK_CONFIRMED, TRACK_TENTATIVE)
            unseen_state = np.where(self._state == TRACK_TENTATIVE, TRACK_TENTATIVE, TRACK_LOST)
            self._state = np.where(matched, seen_state, unseen_state).astype(np.int8)
            if len(t_rows):  # the size of the skeleton the detection was matched to
                self._size[t_rows] = box_size(t_boxes[t_rows], cfg.min_person_size)
            self._keep(matched | (self._state != TRACK_TENTATIVE))

        # 4. new tracks for the detections left, best score first, within max_tracks.
        new = np.flatnonzero(track_of_det < 0)
        if len(new):
            new = new[np.argsort(-poses.score[det_rows[new]], kind="stable")]
            room = cfg.max_tracks - len(self)
            if room < len(new):
                lost = np.flatnonzero(self._state == TRACK_LOST)
                evict = lost[np.argsort(-self._unseen[lost], kind="stable")][: len(new) - room]
                if len(evict):
                    keep = np.ones(len(self), np.bool_)
                    keep[evict] = False
                    self._keep(keep)
                room = cfg.max_tracks - len(self)
                new = new[:room]
            if len(new):
                self._append(self._births(new, det_rows, d_xy, d_vis, d_conf, d_size))

        return self._report(poses, det_vis)

    def _births(self, new: np.ndarray, det_rows, d_xy, d_vis, d_conf, d_size) -> dict:
        k = len(new)
        rows = self._blank_rows(k)
        rows["ids"] = np.arange(self._next_id, self._next_id + k, dtype=np.int64)
        self._next_id += k
        rows["state"][:] = TRACK_CONFIRMED if self.config.min_hits <= 1 else TRACK_TENTATIVE
        rows["hits"][:] = 1
        rows["size"] = d_size[new].copy()
        vis = d_vis[new]
        rows["known"] = vis.copy()
        rows["joint_age"] = np.where(vis, 0.0, np.inf)
        rows["det"] = det_rows[new].astype(np.int64)
        rows["filter"] = self._smoother.update(rows["filter"], d_xy[new], vis, vis, d_conf[new], rows["size"])
        return rows

    def _report(self, poses: Poses, det_vis: np.ndarray) -> Tracks:
        rows = np.flatnonzero(self._det >= 0)
        if len(rows) == 0:
            return Tracks.empty(self.part_names)
        rows = rows[np.argsort(self._det[rows], kind="stable")]
        det = self._det[rows]
        known = self._known[rows]
        vis = det_vis[det]
        pos = self._smoother.position(tuple(a[rows] for a in self._filter))
        return Tracks(
            ids=self._ids[rows].copy(),
            xy=np.where(known[..., None], pos, np.nan).astype(np.float32),
            xy_raw=np.where(vis[..., None], poses.xy[det], np.nan).astype(np.float32),
            conf=np.where(vis, poses.conf[det], 0.0).astype(np.float32),
            predicted=known & ~vis,
            state=self._state[rows].copy(),
            det_index=det.astype(np.int32),
            score=np.asarray(poses.score[det], dtype=np.float32).copy(),
            part_names=self.part_names,
        )
