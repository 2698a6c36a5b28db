"""Messages for the streaming outputs (WebSocket, UDP JSON; OSC carries the same fields).

Schema ``livepose.stream/1`` (documented in docs/streaming.md):

* ``hello``: sent once to each client on connect: the stream's source, size, frame rate, the
  network's keypoint names and limbs (so frame messages need not repeat them).
* ``frame``: one per frame: index, source time, capture wall-clock time, latency, size and
  the people (id, track state, score, one [x, y, conf] per keypoint).

Everything here is pure: dicts in, bytes out, no sockets.  The people come from the frame's
record (:mod:`livepose.records`), so their numbers are rounded once per frame for every output;
a frame document is built once per frame and the same bytes go to every client.
"""

from __future__ import annotations

import json
import time

import numpy as np

from livepose.records import num, record_of
from livepose.types import TRACK_STATES, StreamInfo

STREAM_SCHEMA = "livepose.stream/1"
TRACK_STATE_NAMES = TRACK_STATES  # state code -> name, as sent ("tentative", "confirmed")


def hello_document(info: StreamInfo) -> dict:
    """The message a client gets first: what the stream is and how to read frame messages."""
    w, h = info.size
    return {
        "type": "hello",
        "schema": STREAM_SCHEMA,
        "model": info.model,
        "source": info.source,
        "live": bool(info.is_live),
        "width": int(w),
        "height": int(h),
        "fps": num(info.fps, 3) if info.fps and info.fps > 0 else None,
        "keypoints": list(info.part_names),
        "limbs": [[int(a), int(b)] for a, b in np.asarray(info.limbs).reshape(-1, 2)],
    }


def people_documents(result) -> list[dict]:
    """One dict per person: ``id`` (null without tracking), ``state`` (null without tracking),
    ``score`` and ``keypoints`` (the smoothed ones with tracking on); with carrying on
    (``--keyframe-every``) also ``carried``, 0/1 per keypoint.  ``result``: a FrameResult or its
    FrameRecord."""
    record = record_of(result)
    ids, scores, keypoints = record.json_ids, record.json_scores, record.json_keypoints
    states = record.states or (None,) * len(record)
    people = [{"id": ids[n], "state": states[n], "score": scores[n], "keypoints": keypoints[n]}
              for n in range(len(record))]
    carried = record.json_carried  # carrying on (--keyframe-every): 1 per keypoint carried by optical flow
    if carried is not None:
        for person, mask in zip(people, carried):
            person["carried"] = mask
    return people


def capture_wall_time(captured_at: float) -> float:
    """Unix time of a ``time.perf_counter()`` reading taken in this process."""
    return time.time() - (time.perf_counter() - captured_at)


def frame_document(result, people: list[dict] | None = None) -> dict:
    """The ``frame`` message for one result or record (``people`` may be given pre-built or a subset)."""
    record = record_of(result)
    now = time.perf_counter()
    return {
        "type": "frame",
        "frame": record.index,
        "time": record.json_time,
        "captured": round(capture_wall_time(record.captured_at), 4),
        "latency_ms": round((now - record.captured_at) * 1e3, 1),
        "width": record.width,
        "height": record.height,
        "people": people_documents(record) if people is None else people,
    } | ({} if record.carried is None else {"keyframe": record.keyframe})


def encode(document: dict) -> bytes:
    """Compact UTF-8 JSON (no NaN: numbers are already rounded or null)."""
    return json.dumps(document, separators=(",", ":"), allow_nan=False).encode("utf-8")


def split_frame(result, max_bytes: int) -> list[bytes]:
    """The frame message as one or more encoded parts, each at most ``max_bytes`` when possible.

    One part when the whole frame fits.  Otherwise the people are split over parts in order,
    each part a complete ``frame`` message with ``part`` (0-based) and ``parts`` (count) added,
    so a receiver can tell when it has all of a frame.  A single person larger than
    ``max_bytes`` (only with very small limits) still goes alone in one part.
    """
    record = record_of(result)
    people = people_documents(record)
    whole = frame_document(record, people)
    data = encode(whole)
    if len(data) <= max_bytes or len(people) <= 1:
        return [data]
    base = dict(whole, people=[], part=0, parts=0)
    overhead = len(encode(base)) + 8  # room for the part numbers' digits
    sizes = [len(encode(p)) + 1 for p in people]
    groups: list[list[dict]] = [[]]
    used = overhead
    for person, size in zip(people, sizes):
        if groups[-1] and used + size > max_bytes:
            groups.append([])
            used = overhead
        groups[-1].append(person)
        used += size
    return [encode(dict(base, people=group, part=k, parts=len(groups))) for k, group in enumerate(groups)]


__all__ = [
    "STREAM_SCHEMA", "TRACK_STATE_NAMES", "capture_wall_time", "encode", "frame_document", "hello_document",
    "num", "people_documents", "split_frame",
]
