"""OSC output: one OSC bundle per frame over UDP (TouchDesigner, Max, Blender NodeOSC, Unity).

Address space (``/livepose`` is the ``prefix``; documented in docs/streaming.md)::

    /livepose/frame                 i frame  f time  i people  i part  i parts
    /livepose/keyframe              i 0|1                    (carrying on only)
    /livepose/person/<id>           i id  s state  f score  then f x  f y  f conf per keypoint
    /livepose/person/<id>/<name>    f x  f y  f conf
    /livepose/person/<id>/carried   i 0|1 per keypoint       (carrying on only)
    /livepose/keypoints             s name ... (network order)          } the stream description,
    /livepose/limbs                 i a  i b ... (keypoint index pairs) } sent at open and then
    /livepose/stream                i width  i height  f fps            } every keypoints_every s

* ``<id>`` is the track id, or the person's index in the frame when tracking is off (then
  ``state`` is "none" and ids are not stable from frame to frame).
* ``state``: "tentative" or "confirmed" (the tracker's), or "none" without tracking.
* A missing joint is sent as x = y = conf = 0 (as OpenPose does): conf 0 means "not
  seen", never a position.  Coordinates are image pixels of the source (float32).
* Per frame one bundle (time tag "immediately"), so a receiver never mixes the joints of two
  frames: the ``/frame`` message first, then per person its array message and its keypoint
  messages (``mode`` picks which).  A bundle larger than ``max_bundle`` bytes is split by
  whole persons into several bundles, each starting with its own ``/frame`` message that
  numbers it: ``part`` k (0-based) of ``parts`` n; ``people`` is always the frame's total.
  Unsplit frames carry part 0 of 1, so ``/frame`` always has the same five arguments.
* Carrying on (``--keyframe-every`` K > 1, the frame's record has ``carried``): right after each
  ``/frame`` message (in every part of a split frame) ``/keyframe`` with 1 on a frame the
  network saw, 0 on a frame carried by optical flow; and per person, after its other messages
  and in every ``mode``, ``/person/<id>/carried`` with one int per keypoint in network order:
  1 carried by optical flow, 0 measured by the network or missing.  With carrying off neither
  is sent.
* The description bundle is separate from the frame bundles; a receiver started late
  learns the keypoint names within ``keypoints_every`` seconds.

Default ``max_bundle`` 8192: python-osc's UDP servers read datagrams through
``socketserver.UDPServer`` whose ``max_packet_size`` is 8192 bytes; a longer datagram is cut
and cannot be parsed.  Other receivers have similar fixed buffers, so keep this at or below
the smallest one among yours.  (8192 bytes is larger than an Ethernet frame: on a network it
travels as IP fragments, which is fine on a LAN; use a smaller limit over Wi-Fi if frames go
missing.)
"""

from __future__ import annotations

import math
import re
from typing import Callable

import numpy as np
from pythonosc import osc_bundle_builder, osc_message_builder
from pythonosc.osc_message import OscMessage

from livepose.records import FrameRecord, record_of
from livepose.settings import OSC_MODES
from livepose.sinks.stream.datagram import MAX_UDP_PAYLOAD, DatagramSink
from livepose.types import FrameResult, StreamInfo

DEFAULT_MAX_BUNDLE = 8192  # socketserver.UDPServer.max_packet_size, what python-osc's servers read
BUNDLE_HEADER = 16  # "#bundle\0" and the 8-byte time tag
NO_STATE = "none"

# Characters OSC 1.0 does not allow in an address part (they are pattern syntax), and space.
_NOT_IN_ADDRESS = re.compile(r"[\s#*,/?\[\]{}]")
_PREFIX = re.compile(r"^(/[^\s#*,/?\[\]{}]+)+$")


def address_part(name: str) -> str:
    """A keypoint name made safe for an OSC address (pattern characters become "_")."""
    return _NOT_IN_ADDRESS.sub("_", str(name)) or "_"


def _float(value) -> float:
    v = float(value)
    return v if math.isfinite(v) else 0.0


def _message(address: str, args: list[tuple[object, str]]) -> OscMessage:
    builder = osc_message_builder.OscMessageBuilder(address=address)
    for value, kind in args:
        builder.add_arg(value, kind)
    return builder.build()


def _bundle(messages: list[OscMessage]) -> bytes:
    builder = osc_bundle_builder.OscBundleBuilder(osc_bundle_builder.IMMEDIATELY)
    for message in messages:
        builder.add_content(message)
    return builder.build().dgram


def _bundle_size(messages: list[OscMessage]) -> int:
    return BUNDLE_HEADER + sum(4 + m.size for m in messages)


class OscSink(DatagramSink):
    """Send each frame as OSC to ``host:port`` over UDP, never waiting (see the module doc).

    ``prefix``: the first address part(s), e.g. "/livepose" or "/studio/cam1".
    ``mode``: "both" (default), "keypoints" (only per-keypoint messages) or "arrays" (only
    the one message per person).  ``max_bundle``: largest datagram in bytes before a frame
    is split by person (one person who alone is larger still goes in one bundle).
    ``keypoints_every``: seconds between repetitions of the description bundle (None: only
    at open).  ``warn``: called with one line per kind of send error.
    Counters: ``bundles_sent``, ``bytes_sent``, ``errors``, ``frames_written``.
    """

    name = "osc"
    label = "OSC"

    def __init__(self, host: str, port: int, *, prefix: str = "/livepose", mode: str = "both",
                 max_bundle: int = DEFAULT_MAX_BUNDLE, keypoints_every: float | None = 5.0,
                 warn: Callable[[str], None] | None = None):
        if mode not in OSC_MODES:
            raise ValueError(f"OSC mode must be one of {', '.join(OSC_MODES)}, got {mode!r}")
        if not _PREFIX.match(prefix):
            raise ValueError(f"OSC prefix must look like /name or /name/name (no spaces or #*,?[]{{}}), "
                             f"got {prefix!r}")
        if not 256 <= int(max_bundle) <= MAX_UDP_PAYLOAD:
            raise ValueError(f"OSC max_bundle must be 256 to {MAX_UDP_PAYLOAD} bytes, got {max_bundle}")
        super().__init__(host, port, announce_every=keypoints_every, warn=warn)
        self.prefix = prefix
        self.mode = mode
        self.max_bundle = int(max_bundle)
        self._names: tuple[str, ...] = ()

    @property
    def bundles_sent(self) -> int:
        return self.datagrams_sent

    def announcement(self, info: StreamInfo) -> list[bytes]:
        """The description bundle: keypoint names, limbs, source size and frame rate."""
        self._names = tuple(address_part(n) for n in info.part_names)
        limbs = [int(i) for i in np.asarray(info.limbs).reshape(-1)]
        fps = float(info.fps) if info.fps and info.fps > 0 else 0.0
        messages = [
            _message(f"{self.prefix}/keypoints", [(str(n), "s") for n in info.part_names]),
            _message(f"{self.prefix}/limbs", [(i, "i") for i in limbs]),
            _message(f"{self.prefix}/stream", [(int(info.size[0]), "i"), (int(info.size[1]), "i"), (fps, "f")]),
        ]
        return [_bundle(messages)]

    def person_messages(self, result: FrameResult | FrameRecord, n: int) -> list[OscMessage]:
        """The messages of person ``n`` of a frame (a result or its record), for this sink's mode."""
        record = record_of(result)
        pid = record.person_key(n)
        base = f"{self.prefix}/person/{pid}"
        rows = record.xyc[n].tolist()  # x y conf per keypoint, 0 0 0 where missing (conf 0); float32 as sent
        out = []
        if self.mode != "keypoints":
            state = NO_STATE if record.states is None else record.states[n]
            args = [(pid, "i"), (state, "s"), (_float(record.score[n]), "f")]
            args.extend((v, "f") for row in rows for v in row)
            out.append(_message(base, args))
        if self.mode != "arrays":
            for name, (x, y, c) in zip(self._names, rows):
                out.append(_message(f"{base}/{name}", [(x, "f"), (y, "f"), (c, "f")]))
        carried = record.json_carried  # carrying on: 0/1 per keypoint (0 where missing), in every mode
        if carried is not None:
            out.append(_message(f"{base}/carried", [(v, "i") for v in carried[n]]))
        return out

    def frame_message(self, result: FrameResult | FrameRecord, part: int, parts: int) -> OscMessage:
        record = record_of(result)
        return _message(f"{self.prefix}/frame", [(record.index, "i"), (_float(record.time), "f"),
                                                 (len(record), "i"), (part, "i"), (parts, "i")])

    def head_messages(self, result: FrameResult | FrameRecord, part: int, parts: int) -> list[OscMessage]:
        """What starts each bundle of a frame: ``/frame``, then with carrying on ``/keyframe``."""
        record = record_of(result)
        head = [self.frame_message(record, part, parts)]
        if record.carried is not None:
            head.append(_message(f"{self.prefix}/keyframe", [(int(record.keyframe), "i")]))
        return head

    def frame_datagrams(self, result: FrameResult | FrameRecord) -> list[bytes]:
        """The frame's bundle, or its parts when larger than ``max_bundle``."""
        record = record_of(result)
        people = [self.person_messages(record, n) for n in range(len(record))]
        head = _bundle_size(self.head_messages(record, 0, 1))  # the same size for every part
        groups: list[list[list[OscMessage]]] = [[]]
        used = head
        for messages in people:
            size = _bundle_size(messages) - BUNDLE_HEADER
            if groups[-1] and used + size > self.max_bundle:
                groups.append([])
                used = head
            groups[-1].append(messages)
            used += size
        return [
            _bundle(self.head_messages(record, k, len(groups)) + [m for person in group for m in person])
            for k, group in enumerate(groups)
        ]


__all__ = ["DEFAULT_MAX_BUNDLE", "OSC_MODES", "OscSink", "address_part"]
