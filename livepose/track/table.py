"""The tracker's memory: one row per live track, every array with the track as first axis.

:class:`TrackTable` is private to :class:`~livepose.track.tracker.PoseTracker` (it owns one and
replaces it on :meth:`~livepose.track.tracker.PoseTracker.reset`); it only holds, drops and
appends rows, the tracker does all the arithmetic on its arrays in place.

Lifecycle states in ``state``: the two that are reported (``TRACK_TENTATIVE``,
``TRACK_CONFIRMED`` from :mod:`livepose.types`) and :data:`COASTING`, which is internal: a
confirmed track that took no detection, predicted (for association only) until it takes one
again, when it becomes confirmed, or times out.  A coasting track is never in
:class:`~livepose.types.Tracks`: the tracker reports only the tracks that took a detection.

The per-joint arrays (``known``, ``joint_age`` and every array of the smoother's state, all
smoothers' alike) have the part as second axis, so :meth:`TrackTable.relabel` can swap a track's
left and right parts without knowing what the smoother's arrays mean.

Labelling (:mod:`livepose.track.tracker`): every per-joint array is in the track's own output
labelling; ``det_swapped`` says that this frame's detection was taken with its left and right
parts swapped into it, and ``label_run`` / ``label_vote`` hold the vote that decides when the
track adopts the network's labelling instead (both counted relative to the track's labelling).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from livepose.track.smoothers import Smoother
from livepose.types import TRACK_STATES, TRACK_TENTATIVE

#: Internal lifecycle state of a confirmed track unseen this frame; never reported.
COASTING = 2
assert COASTING not in TRACK_STATES


@dataclass(eq=False)
class TrackTable:
    """T tracks, P parts; every field has T rows (``filter``: a tuple of such arrays)."""

    ids: np.ndarray  # (T,) int64 track id
    state: np.ndarray  # (T,) int8 TRACK_TENTATIVE, TRACK_CONFIRMED or COASTING
    hits: np.ndarray  # (T,) int64 frames with a detection
    unseen: np.ndarray  # (T,) float64 seconds since the track last took a detection (or carried keypoints)
    net_unseen: np.ndarray  # (T,) float64 seconds since the track last took a network detection
    size: np.ndarray  # (T,) float64 person size in pixels (sqrt of the box area)
    known: np.ndarray  # (T, P) bool joint has a usable estimate
    joint_age: np.ndarray  # (T, P) float64 seconds since the joint was last measured
    det: np.ndarray  # (T,) int64 row of this frame's Poses taken, -1 none
    det_swapped: np.ndarray  # (T,) bool this frame's detection taken with its left/right parts swapped
    label_run: np.ndarray  # (T,) int64 mirrored matches minus matches as labelled, floored at 0
    label_vote: np.ndarray  # (T,) float64 evidence for the mirrored labelling minus against it, since birth
    filter: tuple  # the smoother's state (arrays of T rows)

    @classmethod
    def blank(cls, n: int, num_parts: int, smoother: Smoother) -> TrackTable:
        """``n`` new tentative tracks: no id (0), no hit, no joint known, no detection, no vote."""
        return cls(
            ids=np.zeros(n, np.int64),
            state=np.full(n, TRACK_TENTATIVE, np.int8),
            hits=np.zeros(n, np.int64),
            unseen=np.zeros(n, np.float64),
            net_unseen=np.zeros(n, np.float64),
            size=np.zeros(n, np.float64),
            known=np.zeros((n, num_parts), np.bool_),
            joint_age=np.full((n, num_parts), np.inf),
            det=np.full(n, -1, np.int64),
            det_swapped=np.zeros(n, np.bool_),
            label_run=np.zeros(n, np.int64),
            label_vote=np.zeros(n, np.float64),
            filter=smoother.blank(n, num_parts),
        )

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def keep(self, mask: np.ndarray) -> None:
        """Drop the tracks where ``mask`` (T,) bool is False."""
        if mask.all():
            return
        for name in _ARRAYS:
            setattr(self, name, getattr(self, name)[mask])
        self.filter = tuple(a[mask] for a in self.filter)

    def relabel(self, rows: np.ndarray, perm: np.ndarray) -> None:
        """Tracks ``rows``: joint ``p`` becomes what joint ``perm[p]`` was (every per-joint array;
        ``perm`` (P,) a permutation, e.g. the left/right swap)."""
        if len(rows) == 0:
            return
        self.known[rows] = self.known[rows][:, perm]
        self.joint_age[rows] = self.joint_age[rows][:, perm]
        filt = []
        for a in self.filter:
            a = a.copy()
            a[rows] = a[rows][:, perm]
            filt.append(a)
        self.filter = tuple(filt)

    def append(self, other: TrackTable) -> None:
        """Add ``other``'s tracks after these."""
        for name in _ARRAYS:
            setattr(self, name, np.concatenate([getattr(self, name), getattr(other, name)]))
        self.filter = tuple(np.concatenate([a, b]) for a, b in zip(self.filter, other.filter))


#: The fields that are one array each (``filter`` is a tuple of them).
_ARRAYS = tuple(f.name for f in fields(TrackTable) if f.name != "filter")
