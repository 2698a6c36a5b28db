"""UDP JSON output: one ``livepose.stream/1`` ``frame`` message per datagram (e.g. for Unity's
UdpClient), plus the ``hello`` message repeated, since UDP has no connection.

* Per frame one datagram holding the ``frame`` message of :mod:`livepose.sinks.stream.messages`.
  A frame too large for ``max_datagram`` is split by whole persons
  (:func:`~livepose.sinks.stream.messages.split_frame`): every part is a complete ``frame`` message
  with the same ``frame`` index plus ``part`` (0-based) and ``parts``, sent in order.
* ``hello`` (source, size, frame rate, keypoint names, limbs) is sent at open and again
  every ``hello_every`` seconds of wall time, so a receiver started late can read frames.
* Never waits and never fails the run on network trouble (see :mod:`livepose.sinks.stream.datagram`).
"""

from __future__ import annotations

from typing import Callable

from livepose.sinks.stream.datagram import MAX_UDP_PAYLOAD, DatagramSink
from livepose.sinks.stream.messages import encode, hello_document, split_frame
from livepose.types import FrameResult, StreamInfo

# 1400 bytes of JSON per datagram fits one Ethernet frame without IP fragmentation: the
# 1500-byte MTU less 20 (IPv4) or 40 (IPv6) bytes of IP header and 8 of UDP header leaves
# 1472 / 1452 bytes, and 1400 keeps a margin for PPPoE and VPN tunnels.  A fragmented
# datagram is lost when any fragment is (and some Wi-Fi and firewalls drop fragments), so
# staying under the MTU keeps frames arriving.  Three or so people fit in one datagram.
DEFAULT_MAX_DATAGRAM = 1400
MIN_DATAGRAM = 256


class UdpSink(DatagramSink):
    """Send each frame as JSON to ``host:port`` over UDP, never waiting.

    ``max_datagram``: the largest datagram in bytes before a frame is split by person (a
    single person larger than this still goes alone in one datagram; the ``hello`` message
    is never split).  ``hello_every``: seconds between repetitions of ``hello`` (None: only
    at open).  ``warn``: called with one line per kind of send error.
    Counters: ``datagrams_sent``, ``bytes_sent``, ``errors``, ``frames_written``.
    """

    name = "udp"
    label = "UDP"

    def __init__(self, host: str, port: int, *, max_datagram: int = DEFAULT_MAX_DATAGRAM,
                 hello_every: float | None = 5.0, warn: Callable[[str], None] | None = None):
        if not MIN_DATAGRAM <= int(max_datagram) <= MAX_UDP_PAYLOAD:
            raise ValueError(f"UDP max_datagram must be {MIN_DATAGRAM} to {MAX_UDP_PAYLOAD} bytes, "
                             f"got {max_datagram}")
        super().__init__(host, port, announce_every=hello_every, warn=warn)
        self.max_datagram = int(max_datagram)

    def announcement(self, info: StreamInfo) -> list[bytes]:
        return [encode(hello_document(info))]

    def frame_datagrams(self, result: FrameResult) -> list[bytes]:
        return split_frame(result, self.max_datagram)


__all__ = ["DEFAULT_MAX_DATAGRAM", "UdpSink"]
