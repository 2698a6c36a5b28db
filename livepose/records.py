"""One record per frame under every output: what the serialisers write, computed once.

    record = record_of(result)     # the pipeline's, or made now for a result built by hand
    record.ids, record.states, record.score, record.xyc, record.seen, ...   # numpy, per person
    record.json_keypoints          # [[x, y, conf] | [None, None, 0], ...] per person (cached)

Every output reads the people of a frame from here: the JSON Lines file, the stream messages
(WebSocket, UDP JSON), OSC, OpenPose JSON, COCO results, CSV and the tracking evaluation.  The
missing-part convention is applied once, in :meth:`FrameRecord.from_people`: a keypoint is
*seen* when its confidence is > 0 and both coordinates are finite; a missing one is 0, 0, 0 in
:attr:`FrameRecord.xyc` (the OpenPose convention) and ``[null, null, 0]`` in the JSON lists.

The arrays are made at once (vectorised, microseconds).  The Python lists of rounded numbers for
the JSON shapes are made the first time an output asks for them and then shared by every output
of the frame (a lock makes sure they are built once even when outputs run on several threads).

Rounding (each format keeps its own, see docs/outputs.md and docs/streaming.md): JSON Lines and
stream messages 2 decimals for x, y, 3 for conf, 4 for scores and times; OpenPose 3; COCO 2 and
5 for the score; CSV 2 and 3.  Rounding is Python's ``round`` on the float32 value as a float.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from dataclasses import dataclass, field

import numpy as np

from livepose.types import TRACK_STATES, Frame, FrameResult, People, Poses

# Decimal places of the JSON shapes (JSON Lines and the stream messages).
XY_DIGITS = 2
CONF_DIGITS = 3
SCORE_DIGITS = 4
TIME_DIGITS = 4


def num(value: float, digits: int) -> float | None:
    """A rounded float for JSON, None for NaN (JSON has no NaN)."""
    v = float(value)
    return None if math.isnan(v) else round(v, digits)


def _seen(xy: np.ndarray, conf: np.ndarray) -> np.ndarray:
    """(N, P) bool: the keypoints present (conf > 0 and finite x and y)."""
    return (conf > 0) & np.isfinite(xy[..., 0]) & np.isfinite(xy[..., 1])


def _xyc(xy: np.ndarray, conf: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """(N, P, 3) float32 x, y, conf with 0, 0, 0 where a keypoint is missing."""
    out = np.zeros(conf.shape + (3,), np.float32)
    out[..., :2] = np.where(seen[..., None], xy, np.float32(0.0))
    out[..., 2] = np.where(seen, conf, np.float32(0.0))
    return out


def json_triples(xyc: np.ndarray, seen: np.ndarray) -> list:
    """Per person, per part ``[x, y, conf]`` rounded (2, 2, 3 decimals); ``[None, None, 0]`` where
    missing.  ``xyc``: (N, P, 3), ``seen``: (N, P)."""
    return [
        [[round(x, XY_DIGITS), round(y, XY_DIGITS), round(c, CONF_DIGITS)] if s else [None, None, 0]
         for (x, y, c), s in zip(rows, mask)]
        for rows, mask in zip(xyc.tolist(), seen.tolist())
    ]


@dataclass(frozen=True, eq=False)
class FrameRecord:
    """The serialisable view of one frame (N people, P parts; the same rows as ``result.people``).

    Frame: ``index``, ``time`` (seconds on the source's clock), ``captured_at``
    (``time.perf_counter()`` when read), ``width``, ``height``, ``part_names``.

    People: ``score`` (N,) float32; ``xyc`` (N, P, 3) float32 the keypoints written and drawn (the
    smoothed ones with tracking on) with 0, 0, 0 where missing; ``seen`` (N, P) bool.
    With tracking (:attr:`tracked`): ``ids`` (N,) int64, ``state`` (N,) int8 and ``states`` (N
    names, ``livepose.types.TRACK_STATES``); ``raw_xyc`` / ``raw_seen`` the detections as found;
    ``predicted_xy`` (N, P, 2) float32 the tracker's prediction for joints not measured this frame,
    NaN elsewhere, and ``predicted`` (N, P) bool where it is given.  Without tracking these are None
    (``ids`` may be given alone by :func:`livepose.formats` callers that pass ids with bare poses).

    Carrying (:mod:`livepose.carry`, ``--keyframe-every``): ``keyframe`` False for a frame the
    network did not see; ``carried`` (N, P) bool the keypoints carried there by optical flow (all
    False on a network frame).  ``carried`` None: carrying is off (every keypoint the network's).

    Cached JSON shapes (built on first use, shared): :attr:`json_ids`, :attr:`json_scores`,
    :attr:`json_keypoints`, :attr:`json_raw`, :attr:`json_predicted`, :attr:`json_carried`;
    :attr:`json_time`.
    """

    index: int
    time: float
    captured_at: float
    width: int
    height: int
    part_names: tuple[str, ...]
    score: np.ndarray
    xyc: np.ndarray
    seen: np.ndarray
    ids: np.ndarray | None = None
    state: np.ndarray | None = None
    states: tuple[str, ...] | None = None
    raw_xyc: np.ndarray | None = None
    raw_seen: np.ndarray | None = None
    predicted_xy: np.ndarray | None = None
    predicted: np.ndarray | None = None
    carried: np.ndarray | None = None
    keyframe: bool = True
    # what the record was made from (identity checks in record_of) and the lazily built lists
    _source: tuple = field(default=(), repr=False)
    _cache: dict = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # -- making one ---------------------------------------------------------------------------
    @classmethod
    def from_result(cls, result: FrameResult) -> "FrameRecord":
        """The record of a result (cheap: a few vectorised numpy operations)."""
        return cls.from_frame(result.frame, result.people)

    @classmethod
    def from_frame(cls, frame: Frame, people: People) -> "FrameRecord":
        """The record of ``frame``'s ``people``, for a result about to be made of them::

            FrameResult(frame, people, timings, record=FrameRecord.from_frame(frame, people))
        """
        return cls.from_people(people, index=frame.index, time=frame.timestamp, captured_at=frame.captured_at,
                               size=frame.size, _source=(frame, people))

    @classmethod
    def from_people(cls, people: People, *, index: int = 0, time: float = 0.0, captured_at: float = 0.0,
                    size: tuple[int, int] = (0, 0), _source: tuple = ()) -> "FrameRecord":
        """The record of a frame's people; the frame fields default to 0 (photos, formats)."""
        carrying = dict(carried=None if people.carried is None else np.asarray(people.carried, np.bool_),
                        keyframe=bool(people.keyframe))
        if not people.tracked:
            record = cls.from_poses(people.poses, index=index, time=time, captured_at=captured_at, size=size,
                                    _source=_source)
            return dataclasses.replace(record, **carrying) if people.carried is not None else record
        poses, raw = people.poses, people.raw
        seen = _seen(poses.xy, poses.conf)
        raw_seen = _seen(raw.xy, raw.conf)
        predicted = np.isfinite(people.predicted_xy[..., 0])
        state = np.asarray(people.state)
        return cls(
            index=int(index), time=float(time), captured_at=float(captured_at), width=int(size[0]),
            height=int(size[1]), part_names=tuple(poses.part_names), score=poses.score,
            xyc=_xyc(poses.xy, poses.conf, seen), seen=seen, ids=np.asarray(people.ids), state=state,
            states=tuple(TRACK_STATES[s] for s in state.tolist()), raw_xyc=_xyc(raw.xy, raw.conf, raw_seen),
            raw_seen=raw_seen, predicted_xy=people.predicted_xy, predicted=predicted, _source=_source, **carrying,
        )

    @classmethod
    def from_poses(cls, poses: Poses, ids: np.ndarray | None = None, *, index: int = 0, time: float = 0.0,
                   captured_at: float = 0.0, size: tuple[int, int] = (0, 0), _source: tuple = ()) -> "FrameRecord":
        """The record of bare poses (no tracking; ``ids`` optional, e.g. for OpenPose's person_id)."""
        if ids is not None and np.shape(ids) != (len(poses),):
            raise ValueError(f"person ids of shape {np.shape(ids)} do not match {len(poses)} poses")
        seen = _seen(poses.xy, poses.conf)
        return cls(index=int(index), time=float(time), captured_at=float(captured_at), width=int(size[0]),
                   height=int(size[1]), part_names=tuple(poses.part_names), score=poses.score,
                   xyc=_xyc(poses.xy, poses.conf, seen), seen=seen,
                   ids=None if ids is None else np.asarray(ids), _source=_source)

    # -- pickling (a result may be sent to another process): the lock is made anew ----------------
    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        del state["_lock"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, _lock=threading.Lock())

    # -- what it holds ------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.score.shape[0])

    @property
    def tracked(self) -> bool:
        """Tracking was on: ids, states, raw and predicted joints are given."""
        return self.state is not None

    def person_key(self, n: int) -> int:
        """Person ``n``'s id, or its row in the frame without ids (OSC addresses, CSV)."""
        return n if self.ids is None else int(self.ids[n])

    def _cached(self, name: str, make):
        value = self._cache.get(name)
        if value is None:
            with self._lock:
                value = self._cache.get(name)
                if value is None:
                    value = self._cache[name] = make()
        return value

    @property
    def json_time(self) -> float:
        return round(self.time, TIME_DIGITS)

    @property
    def json_ids(self) -> list:
        """Per person its id (int), or None without ids."""
        return self._cached("ids", lambda: [None] * len(self) if self.ids is None else
                            [int(v) for v in self.ids.tolist()])

    @property
    def json_scores(self) -> list:
        """Per person its score rounded to 4 decimals (None for NaN)."""
        return self._cached("scores", lambda: [num(v, SCORE_DIGITS) for v in self.score.tolist()])

    @property
    def json_keypoints(self) -> list:
        """Per person its ``[x, y, conf]`` per part (:func:`json_triples`)."""
        return self._cached("keypoints", lambda: json_triples(self.xyc, self.seen))

    @property
    def json_raw(self) -> list | None:
        """Per person the detection's ``[x, y, conf]`` per part (tracking only, else None)."""
        if self.raw_xyc is None:
            return None
        return self._cached("raw", lambda: json_triples(self.raw_xyc, self.raw_seen))

    @property
    def json_predicted(self) -> list | None:
        """Per person, per part ``[x, y]`` predicted by the tracker, or None (tracking only)."""
        if self.predicted_xy is None:
            return None

        def make() -> list:
            return [[[num(x, XY_DIGITS), num(y, XY_DIGITS)] if p else None for (x, y), p in zip(rows, mask)]
                    for rows, mask in zip(self.predicted_xy.tolist(), self.predicted.tolist())]

        return self._cached("predicted", make)

    @property
    def json_carried(self) -> list | None:
        """Per person, per part 1 where the keypoint was carried by optical flow, 0 where the network
        measured it (or it is missing); None when carrying is off."""
        if self.carried is None:
            return None
        return self._cached("carried", lambda: (self.carried & self.seen).astype(np.int8).tolist())


def record_of(result) -> FrameRecord:
    """The result's record: the one the pipeline attached (``result.record``), else made now.

    A record attached to another frame or other people (e.g. a result copied with
    ``dataclasses.replace(result, frame=...)``) is not used.  A FrameRecord is returned as it is.
    """
    if isinstance(result, FrameRecord):
        return result
    record = result.record
    if isinstance(record, FrameRecord) and len(record._source) == 2 \
            and record._source[0] is result.frame and record._source[1] is result.people:
        return record
    return FrameRecord.from_result(result)


def attach_record(result: FrameResult) -> FrameResult:
    """The result with its record attached (made once, shared by every output)."""
    return dataclasses.replace(result, record=FrameRecord.from_result(result))


__all__ = ["FrameRecord", "attach_record", "json_triples", "num", "record_of"]
