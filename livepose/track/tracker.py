"""The pose tracker: identities over time and smoothed keypoints.

``PoseTracker(part_names, config).update(poses, timestamp) -> Tracks``, once per frame.

Per frame (T tracks, D detections, P parts):

1. Time step ``dt`` from the timestamps (clamped to ``min_dt`` when a timestamp repeats or
   goes backwards).  Tracks unseen for longer than ``max_lost_seconds`` are removed; every
   track's joints are predicted ``dt`` ahead by the smoother.
2. Association: OKS-style cost between each predicted skeleton and each detection
   (:mod:`.cost`; the tolerance widens with the time a track has been unseen), gated, and
   solved by the Hungarian method (:func:`.assign.assign`): first confirmed and coasting
   tracks, then tentative tracks with the detections left, so a new, unproven track never
   takes a person from an established one.  Mirror tolerance (``mirror_match``, on by
   default): the cost of a pair is the smaller of the detection's as labelled and with its left
   and right parts swapped (``mirror``, the card's flip pairs), so a person the network labels
   mirrored in some frames (bottom-up networks do, for people seen from the side or the back)
   keeps the id.
3. Matched tracks update their joints: measured joints go through the filter (a joint without
   an estimate starts anew at the measurement with zero velocity); joints missing are predicted
   and flagged for ``joint_predict_seconds``, then unknown (NaN) until measured again.  Tracks
   unseen this frame: tentative ones are removed, confirmed ones coast (all their joints
   predicted, for association only, their uncertainty growing) until they come back, when
   their joints are updated as usual and the person has the same id, or time out.
   Labelling (``mirror_match``): each track has its own left/right labelling; its per-joint
   state and its outputs are in it.  A detection matched mirrored relative to it (the mirrored
   cost lower than as labelled by more than ``mirror_margin``; nearer than that the geometry
   does not tell, and the detection is taken as the network labelled it) is taken with its left
   and right parts swapped into the track's labelling: the update sees each body point where
   its filter is (no filter is pulled across the body, the velocities carry on).  Each match is
   also a vote: taken mirrored, for the network's labelling; taken as labelled, against it (a
   detection with no left or right part seen does not vote).  A track adopts the network's labelling, swapping its own
   joints (every per-joint array, the smoother's state included:
   :meth:`.table.TrackTable.relabel`), when its mirrored matches outnumber those as labelled
   by ``label_vote_frames`` (k) since the count last stood at 0 (a count floored at 0: k
   mirrored frames in a row, or a clear majority of the recent ones): a person the network
   mislabels for fewer than k frames keeps the output labelling, one it relabels for good (who
   turned round, say) is relabelled at the k-th frame.  A tentative track, whose labelling is
   only what its first frames said, also adopts it when the majority of its frames so far says
   so, each frame weighed by the summed confidence of the detection's left and right parts:
   the example clip's walker (lwop, onnxruntime fp32), labelled mirrored in the weak frames 0
   and 2, is relabelled at frame 1 and keeps that.  ``label_vote_frames`` 0 or 1: every
   mirrored match relabels, the output follows the network's labels each frame (with
   ``mirror_margin`` 0 too: exactly the tracker before the vote).
   The outputs may therefore name joints otherwise than the network did in that frame, where
   the vote says the network flipped the person: ``xy`` and ``xy_raw``, ``conf`` and
   ``predicted`` alike (the detection's values swapped); ``det_index`` still names the
   detection taken.  Following the network each frame, each flip jumps both skeletons by twice
   the body's width: on the example clip jitter raw / smoothed 9.03 / 7.48 px (ratio 0.83)
   against 5.37 / 3.69 px (0.69) with the vote (benchmarks/README.md).
4. Each detection left over starts a tentative track with a new id (confirmed after
   ``min_hits`` frames with a detection); ids start at 1 and are never reused.  At most
   ``max_tracks`` tracks live at once: the tracks coasting longest make room, and when none
   coasts the lowest-scoring new detections get no track.
5. Reported (:class:`~livepose.types.Tracks`): the tracks that took a detection this frame,
   in detection order; a coasting track is not reported.

Carried frames (:meth:`PoseTracker.update_carried`, the network not run: :mod:`livepose.carry`):
time passes as in 1., then each track of the last result takes its carried keypoints, found by
id (no association, no new track, no hit counted: a track is only confirmed by the network), as
measurements whose noise is ``noise`` times a detection's; a joint not carried is predicted.  A
carried track counts as seen (it does not time out), but the association tolerance of step 2
widens with the time since its last network detection, as if it had been unseen.
Every track carried from is reported (its lost joints predicted; with nothing carried, every
joint predicted), in the carried order, with ``carried`` set and ``det_index`` -1.  The next
network frame is associated as usual, from predictions that took the carried keypoints.

The tracker owns all state in one :class:`~livepose.track.table.TrackTable`, arrays whose first
axis is the track (bounded by ``max_tracks``); nothing grows over a run.  Lifecycle:
TRACK_TENTATIVE -> TRACK_CONFIRMED <-> COASTING (internal, :data:`.table.COASTING`) -> removed.
The smoothers (:mod:`.smoothers`) follow one protocol and keep their state in the same table.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from livepose.settings import TrackerConfig
from livepose.track.assign import assign
from livepose.track.cost import box_size, check_mirror, mirror_from_names, mirrored_pose_cost, pose_boxes
from livepose.track.smoothers import make_smoother
from livepose.track.table import COASTING, TrackTable
from livepose.types import TRACK_CONFIRMED, TRACK_TENTATIVE, Carried, Poses, Tracks


class PoseTracker:
    """Identities and smoothed keypoints for a stream of :class:`~livepose.types.Poses`.

    One instance per stream (it owns the ids and the memory; not thread-safe).
    ``update(poses, timestamp)`` returns the tracks that took a detection this frame
    (tentative and confirmed), one row per detection taken, in detection order.

    ``mirror``: (P,) the part each part is under a left/right mirror (an involution: a model
    card's ``flip.parts``); None: from the part names (``left_*`` <-> ``right_*``,
    :func:`.cost.mirror_from_names`).  Used when ``config.mirror_match`` is on; ``self.mirror``
    is the permutation in use (None: mirror matching off, or no part has a partner).

    With mirror matching a track's outputs are in its own, stable left/right labelling, which may
    differ from the network's labels of a frame (the module docstring, 3.): ``xy``, ``xy_raw``,
    ``conf`` and ``predicted`` of such a row are the detection's left and right parts swapped.
    """

    def __init__(self, part_names: tuple[str, ...], config: TrackerConfig | None = None, *,
                 mirror: np.ndarray | None = None):
        self.part_names = tuple(part_names)
        if not self.part_names:
            raise ValueError("part_names must name at least one part")
        if config is not None and not isinstance(config, TrackerConfig):
            raise ValueError(f"config must be a TrackerConfig, got {type(config).__name__}")
        self.config = config if config is not None else TrackerConfig()
        perm = mirror_from_names(self.part_names) if mirror is None else check_mirror(mirror, len(self.part_names))
        if perm is not None and (perm == np.arange(len(perm))).all():
            perm = None  # nothing to swap
        self.mirror = perm if self.config.mirror_match else None
        # the parts a mirror relabels: their confidence is a detection's evidence on its labelling
        self._paired = (perm != np.arange(len(perm))) if self.mirror is not None else None
        self._smoother = make_smoother(self.config)
        self._next_id = 1
        self._last_timestamp: float | None = None
        self._table = TrackTable.blank(0, len(self.part_names), self._smoother)

    # ----------------------------------------------------------------------- inspection

    def __len__(self) -> int:
        """Tracks alive now (tentative, confirmed and coasting); never more than ``max_tracks``."""
        return len(self._table)

    @property
    def track_ids(self) -> np.ndarray:
        """(T,) ids of the tracks alive now (coasting ones included)."""
        return self._table.ids.copy()

    @property
    def track_states(self) -> np.ndarray:
        """(T,) internal lifecycle state of the tracks alive now: TRACK_TENTATIVE, TRACK_CONFIRMED or
        :data:`livepose.track.table.COASTING` (a confirmed track unseen, kept to give the person the
        same id back).  For inspection and tests; :class:`~livepose.types.Tracks` never holds COASTING."""
        return self._table.state.copy()

    def reset(self) -> None:
        """Forget every track (ids keep counting up: they are never reused)."""
        self._last_timestamp = None
        self._table = TrackTable.blank(0, len(self.part_names), self._smoother)

    # --------------------------------------------------------------------------- update

    def update(self, poses: Poses, timestamp: float) -> Tracks:
        """Take one frame's detections; return the tracks that took one (see the class)."""
        cfg = self.config
        if tuple(poses.part_names) != self.part_names:
            raise ValueError(f"poses have parts {poses.part_names}, the tracker was made for {self.part_names}")
        dt = self._step(timestamp)

        # Detections: a joint counts when its confidence is positive and its coordinates finite.
        det_xy = np.asarray(poses.xy, dtype=np.float64)
        det_conf = np.fmax(np.asarray(poses.conf, dtype=np.float64), 0.0)  # NaN -> 0
        det_vis = (det_conf > 0.0) & np.isfinite(det_xy).all(axis=2)
        det_rows = np.flatnonzero(det_vis.any(axis=1))  # poses with no usable joint are ignored
        d_xy, d_vis, d_conf = det_xy[det_rows], det_vis[det_rows], det_conf[det_rows]
        d_boxes = pose_boxes(d_xy, d_vis)
        d_size = box_size(d_boxes, cfg.min_person_size)

        # 1. time passes: retire tracks unseen too long, predict the others.
        self._time_passes(dt)
        tab, smoother = self._table, self._smoother

        # 2. association, established tracks first.
        n_tracks = len(tab)
        track_of_det = np.full(len(det_rows), -1, np.int64)
        mirrored = None
        if n_tracks and len(det_rows):
            predicted = smoother.expected(tab.filter)
            # A track seen once has no velocity yet: its tolerance widens at the speed a new person may have.
            spread = np.where(tab.hits <= 1, max(cfg.unseen_spread, cfg.init_speed), cfg.unseen_spread)
            # widening with the time since the last network detection (carried keypoints are not one)
            tolerance = tab.size * np.sqrt(cfg.oks_kappa**2 + (spread * tab.net_unseen) ** 2)
            t_boxes = pose_boxes(predicted, tab.known)
            cost, mirrored = mirrored_pose_cost(predicted, tab.known, d_xy, d_vis, tolerance, cfg.iou_weight,
                                                gate=cfg.gate, track_boxes=t_boxes, det_boxes=d_boxes,
                                                mirror=self.mirror, margin=cfg.mirror_margin)
            free = np.arange(len(det_rows))
            tentative = tab.state == TRACK_TENTATIVE
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
        if mirrored is not None and self.mirror is not None and len(taken):
            # the label vote; the detections matched mirrored that do not relabel their track are
            # taken with their parts swapped into its labelling
            tab.det_swapped[t_rows] = self._vote(t_rows, mirrored[t_rows, taken], self._evidence(d_conf[taken],
                                                                                                d_vis[taken]))
        if n_tracks:
            p = len(self.part_names)
            z = np.full((n_tracks, p, 2), np.nan)
            measured = np.zeros((n_tracks, p), np.bool_)
            conf = np.zeros((n_tracks, p))
            z[t_rows] = d_xy[taken]
            measured[t_rows] = d_vis[taken]
            conf[t_rows] = d_conf[taken]
            swapped = np.flatnonzero(tab.det_swapped)
            if len(swapped):
                z[swapped] = z[swapped][:, self.mirror]
                measured[swapped] = measured[swapped][:, self.mirror]
                conf[swapped] = conf[swapped][:, self.mirror]
            fresh = measured & ~tab.known  # joints without an estimate start at the measurement
            tab.filter = smoother.update(tab.filter, z, measured, fresh, conf, tab.size)
            # A seen track forgets the joints it has not measured for joint_predict_seconds; a coasting
            # track keeps predicting all of its joints (for association) until it is seen again.
            stale = tab.joint_age > cfg.joint_predict_seconds
            tab.known = np.where(matched[:, None], measured | (tab.known & ~stale), tab.known)
            tab.joint_age[measured] = 0.0
            tab.det[t_rows] = det_rows[taken]
            tab.hits[t_rows] += 1
            tab.unseen[t_rows] = 0.0
            tab.net_unseen[t_rows] = 0.0
            seen_state = np.where(tab.hits >= cfg.min_hits, TRACK_CONFIRMED, TRACK_TENTATIVE)
            unseen_state = np.where(tab.state == TRACK_TENTATIVE, TRACK_TENTATIVE, COASTING)
            tab.state = np.where(matched, seen_state, unseen_state).astype(np.int8)
            if len(t_rows):  # the size of the skeleton the detection was matched to
                tab.size[t_rows] = box_size(t_boxes[t_rows], cfg.min_person_size)
            tab.keep(matched | (tab.state != TRACK_TENTATIVE))

        # 4. new tracks for the detections left, best score first, within max_tracks.
        new = np.flatnonzero(track_of_det < 0)
        if len(new):
            new = new[np.argsort(-poses.score[det_rows[new]], kind="stable")]
            room = cfg.max_tracks - len(tab)
            if room < len(new):
                coasting = np.flatnonzero(tab.state == COASTING)
                evict = coasting[np.argsort(-tab.unseen[coasting], kind="stable")][: len(new) - room]
                if len(evict):
                    keep = np.ones(len(tab), np.bool_)
                    keep[evict] = False
                    tab.keep(keep)
                room = cfg.max_tracks - len(tab)
                new = new[:room]
            if len(new):
                tab.append(self._births(new, det_rows, d_xy, d_vis, d_conf, d_size))

        return self._report(poses, det_vis)

    def update_carried(self, carried: Carried, timestamp: float, *, noise: float = 1.5) -> Tracks:
        """A frame the network did not see: ``carried`` (:class:`~livepose.types.Carried`, with ids)
        the last result's people moved to it; ``noise`` the carried keypoints' measurement noise as a
        multiple of a detection's (module docstring, carried frames)."""
        cfg = self.config
        if tuple(carried.poses.part_names) != self.part_names:
            raise ValueError(f"carried poses have parts {carried.poses.part_names}, the tracker was made for "
                             f"{self.part_names}")
        if carried.ids is None:
            raise ValueError("carried people need track ids")
        self._time_passes(self._step(timestamp))
        tab, smoother = self._table, self._smoother
        n_tracks, p = len(tab), len(self.part_names)
        if n_tracks == 0 or len(carried) == 0:  # nobody to carry: still a carried frame
            return dataclasses.replace(Tracks.empty(self.part_names), carried=np.zeros((0, p), np.bool_))
        same = tab.ids[:, None] == carried.ids[None, :]  # (T, N): ids are unique on both sides
        row_of = np.where(same.any(axis=0), same.argmax(axis=0), -1)  # each carried person's track row
        found = np.flatnonzero(row_of >= 0)
        rows = row_of[found]
        c_xy = np.asarray(carried.poses.xy, np.float64)[found]
        c_conf = np.fmax(np.asarray(carried.poses.conf, np.float64), 0.0)[found]
        c_vis = (c_conf > 0.0) & np.isfinite(c_xy).all(axis=2)
        z = np.full((n_tracks, p, 2), np.nan)
        measured = np.zeros((n_tracks, p), np.bool_)
        conf = np.zeros((n_tracks, p))
        z[rows], measured[rows], conf[rows] = c_xy, c_vis, c_conf
        fresh = measured & ~tab.known
        tab.filter = smoother.update(tab.filter, z, measured, fresh, conf, tab.size, noise)
        seen = np.zeros(n_tracks, np.bool_)
        seen[rows] = c_vis.any(axis=1)
        stale = tab.joint_age > cfg.joint_predict_seconds
        tab.known = np.where(seen[:, None], measured | (tab.known & ~stale), tab.known)
        tab.joint_age[measured] = 0.0
        tab.unseen[seen] = 0.0
        known = tab.known[rows]
        pos = self._smoother.position(tuple(a[rows] for a in tab.filter))
        return Tracks(
            ids=tab.ids[rows].copy(),
            xy=np.where(known[..., None], pos, np.nan).astype(np.float32),
            xy_raw=np.where(c_vis[..., None], c_xy, np.nan).astype(np.float32),
            conf=np.where(c_vis, c_conf, 0.0).astype(np.float32),
            predicted=known & ~c_vis,
            state=tab.state[rows].copy(),
            det_index=np.full(len(rows), -1, np.int32),
            score=np.asarray(carried.poses.score, np.float32)[found].copy(),
            part_names=self.part_names,
            carried=c_vis.copy(),
        )

    def _step(self, timestamp: float) -> float:
        """Seconds since the last frame (at least ``min_dt``; the first frame: ``min_dt``)."""
        timestamp = float(timestamp)
        if not math.isfinite(timestamp):
            raise ValueError(f"timestamp must be a finite number of seconds, got {timestamp}")
        last, self._last_timestamp = self._last_timestamp, timestamp
        return self.config.min_dt if last is None else max(timestamp - last, self.config.min_dt)

    def _time_passes(self, dt: float) -> None:
        """``dt`` seconds pass: tracks unseen too long are retired, the others predicted."""
        tab = self._table
        tab.unseen += dt
        tab.net_unseen += dt
        tab.joint_age += dt
        tab.keep(tab.unseen <= self.config.max_lost_seconds)
        tab.det[:] = -1
        tab.det_swapped[:] = False
        tab.filter = self._smoother.predict(tab.filter, dt, tab.size)

    def _births(self, new: np.ndarray, det_rows, d_xy, d_vis, d_conf, d_size) -> TrackTable:
        k = len(new)
        born = TrackTable.blank(k, len(self.part_names), self._smoother)
        born.ids = np.arange(self._next_id, self._next_id + k, dtype=np.int64)
        self._next_id += k
        born.state[:] = TRACK_CONFIRMED if self.config.min_hits <= 1 else TRACK_TENTATIVE
        born.hits[:] = 1
        born.size = d_size[new].copy()
        vis = d_vis[new]
        born.known = vis.copy()
        born.joint_age = np.where(vis, 0.0, np.inf)
        born.det = det_rows[new].astype(np.int64)
        born.filter = self._smoother.update(born.filter, d_xy[new], vis, vis, d_conf[new], born.size)
        if self._paired is not None:  # the first frame's labelling: the first vote for it
            born.label_vote = -self._evidence(d_conf[new], vis)
        return born

    def _evidence(self, conf: np.ndarray, vis: np.ndarray) -> np.ndarray:
        """(N,) how much N detections say about their left/right labelling: the summed confidence
        of their left and right parts (0: none visible, no vote)."""
        return np.where(vis & self._paired, conf, 0.0).sum(axis=1)

    def _vote(self, rows: np.ndarray, mirrored: np.ndarray, weight: np.ndarray) -> np.ndarray:
        """The label vote of tracks ``rows``, matched this frame, ``mirrored`` (M,) relative to their
        labelling, with evidence ``weight`` (M,): the tracks whose vote is carried relabel (module
        docstring, 3.).  Returns (M,) bool: the detection is taken with its parts swapped (matched
        mirrored, the track keeping its labelling)."""
        tab, k = self._table, self.config.label_vote_frames
        run = tab.label_run[rows]
        run = np.where(weight > 0.0, np.where(mirrored, run + 1, np.maximum(run - 1, 0)), run)
        vote = tab.label_vote[rows] + np.where(mirrored, weight, -weight)
        tentative = tab.state[rows] == TRACK_TENTATIVE
        switch = mirrored & ((run >= k) | (tentative & (vote > 0.0)))
        tab.label_run[rows] = np.where(switch, 0, run)
        tab.label_vote[rows] = np.where(switch, -vote, vote)  # now counted relative to the new labelling
        tab.relabel(rows[switch], self.mirror)
        return mirrored & ~switch

    def _report(self, poses: Poses, det_vis: np.ndarray) -> Tracks:
        """The tracks that took a detection this frame (never a coasting one), in detection order."""
        tab = self._table
        rows = np.flatnonzero(tab.det >= 0)
        if len(rows) == 0:
            return Tracks.empty(self.part_names)
        rows = rows[np.argsort(tab.det[rows], kind="stable")]
        det = tab.det[rows]
        known = tab.known[rows]
        pos = self._smoother.position(tuple(a[rows] for a in tab.filter))
        raw_xy, raw_conf, vis = poses.xy[det], poses.conf[det], det_vis[det]
        swapped = tab.det_swapped[rows]
        if swapped.any():  # those detections' values in their track's labelling
            parts = np.where(swapped[:, None], self.mirror[None, :], np.arange(len(self.part_names))[None, :])
            at = (det[:, None], parts)
            raw_xy, raw_conf, vis = poses.xy[at], poses.conf[at], det_vis[at]
        return Tracks(
            ids=tab.ids[rows].copy(),
            xy=np.where(known[..., None], pos, np.nan).astype(np.float32),
            xy_raw=np.where(vis[..., None], raw_xy, np.nan).astype(np.float32),
            conf=np.where(vis, raw_conf, 0.0).astype(np.float32),
            predicted=known & ~vis,
            state=tab.state[rows].copy(),
            det_index=det.astype(np.int32),
            score=np.asarray(poses.score[det], dtype=np.float32).copy(),
            part_names=self.part_names,
        )
