"""Fire-and-forget UDP, shared by the OSC and the UDP JSON outputs.

A streaming output must never slow or stall the pipeline, and UDP has no connection to
lose, so:

* the target is resolved once, at ``open``: a host that cannot be resolved is an
  :class:`OutputError` of one line naming the target (the run does not start);
* the socket is non-blocking and every send also passes ``MSG_DONTWAIT`` where the platform
  has it, so a full send buffer drops the datagram instead of waiting;
* the socket is *connected* (UDP ``connect`` only fixes the destination), which is what
  lets the kernel report "nobody is listening" (an ICMP port unreachable comes back as
  ECONNREFUSED on a later send);
* a failed send never raises: it is counted (``errors``, per kind in ``errors_by_kind``)
  and the first failure of each kind calls ``warn`` once with a line saying what the user
  can do; sending goes on, so a receiver started later gets the following frames.

Everything here is thread-safe enough for the sink contract: ``write`` comes from one
worker thread, ``close`` possibly from another.
"""

from __future__ import annotations

import errno
import socket
import threading
import time
from typing import Callable

from livepose.errors import OutputError
from livepose.sinks.base import Sink
from livepose.types import FrameResult, StreamInfo

# The largest UDP payload over IPv4: 65535 - 20 (IP header) - 8 (UDP header).
MAX_UDP_PAYLOAD = 65507

_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)

# errno -> (kind, what to tell the user).  One warning per kind per sink.
_FULL = ("buffer-full", "the network cannot keep up (send buffer full); frames are being dropped")
_UNREACHABLE = "unreachable"
_PROBLEMS: dict[int, tuple[str, str]] = {
    errno.ECONNREFUSED: ("refused", "nobody is listening (connection refused); still sending"),
    errno.ENETUNREACH: (_UNREACHABLE, "network unreachable; check the address and the network; still sending"),
    errno.EHOSTUNREACH: (_UNREACHABLE, "host unreachable; check the address and the network; still sending"),
    errno.EAGAIN: _FULL,
    errno.EWOULDBLOCK: _FULL,
    errno.ENOBUFS: _FULL,
    errno.EMSGSIZE: ("too-large", "a datagram of {size} bytes is too large for the network; "
                                  "it was dropped (lower the size limit)"),
    errno.EACCES: ("denied", "sending is not permitted ({reason}); check firewall rules; still trying"),
    errno.EPERM: ("denied", "sending is not permitted ({reason}); check firewall rules; still trying"),
}


def format_target(host: str, port: int) -> str:
    """``host:port``, with an IPv6 address in brackets: ``[::1]:9000``."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class DatagramSender:
    """One connected, non-blocking UDP socket to ``host:port`` with error counting.

    ``label`` starts every message ("OSC", "UDP").  ``warn``: called with one line the first
    time each kind of send error happens (never for later ones); None: count silently.
    Counters: ``datagrams_sent``, ``bytes_sent``, ``errors`` (datagrams not sent) and
    ``errors_by_kind`` (kind -> count; kinds: refused, unreachable, buffer-full, too-large,
    denied, or ``errno-N`` for anything else).
    """

    def __init__(self, label: str, host: str, port: int, *, warn: Callable[[str], None] | None = None):
        self.label = label
        self.host = str(host)
        self.port = int(port)
        self.target = format_target(self.host, self.port)
        if not 1 <= self.port <= 65535:
            raise OutputError(f"{label} target {self.target}: the port must be 1 to 65535")
        self.warn = warn
        self.sock: socket.socket | None = None
        self.address: tuple | None = None
        self._connected = False
        self.datagrams_sent = 0
        self.bytes_sent = 0
        self.errors = 0
        self.errors_by_kind: dict[str, int] = {}

    def _prefix(self) -> str:
        return f"{self.label} target {self.target}"

    def open(self) -> None:
        """Resolve the host (IPv4 preferred) and make the socket; OutputError when impossible."""
        try:
            infos = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_DGRAM)
        except socket.gaierror as exc:
            raise OutputError(f"{self._prefix()}: cannot resolve host ({exc.strerror or exc})") from None
        except UnicodeError:
            raise OutputError(f"{self._prefix()}: cannot resolve host (not a valid host name)") from None
        if not infos:
            raise OutputError(f"{self._prefix()}: cannot resolve host (no address)")
        # A name with both kinds of address goes to IPv4: most OSC/UDP receivers
        # (TouchDesigner, python-osc, Unity's UdpClient(port)) listen on IPv4 only.
        family, _, proto, _, address = next((i for i in infos if i[0] == socket.AF_INET), infos[0])
        try:
            sock = socket.socket(family, socket.SOCK_DGRAM, proto)
        except OSError as exc:
            raise OutputError(f"{self._prefix()}: cannot create a UDP socket ({exc.strerror or exc})") from None
        sock.setblocking(False)
        if family == socket.AF_INET:
            try:  # lets the target be a broadcast address (several receivers on a LAN)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            except OSError:
                pass
        self.sock, self.address = sock, address
        self._connect()

    def _connect(self) -> bool:
        """Fix the destination (no packet is sent); a failure (no route yet) is a send error."""
        try:
            self.sock.connect(self.address)
        except OSError as exc:
            self._count(exc, 0)
            return False
        self._connected = True
        return True

    def send(self, data: bytes) -> bool:
        """Send one datagram now or drop it; True when the kernel took it.  Never raises
        for network trouble and never waits."""
        sock = self.sock
        if sock is None:
            raise RuntimeError(f"{self._prefix()}: send before open or after close")
        if not self._connected and not self._connect():
            return False
        try:
            sent = sock.send(data, _DONTWAIT)
        except OSError as exc:
            self._count(exc, len(data))
            return False
        self.datagrams_sent += 1
        self.bytes_sent += sent
        return True

    def _count(self, exc: OSError, size: int) -> None:
        code = exc.errno
        kind, text = _PROBLEMS.get(code, (f"errno-{code}", "cannot send ({reason}); still sending"))
        self.errors += 1
        first = kind not in self.errors_by_kind
        self.errors_by_kind[kind] = self.errors_by_kind.get(kind, 0) + 1
        if first and self.warn is not None:
            reason = exc.strerror or type(exc).__name__
            self.warn(f"{self._prefix()}: " + text.format(size=size, reason=reason))

    def close(self) -> None:
        sock, self.sock = self.sock, None
        self._connected = False
        if sock is not None:
            sock.close()


class DatagramSink(Sink):
    """Shared lifecycle of the UDP outputs: open resolves the target and sends the stream
    description (the "announcement"); write sends each frame's datagrams and repeats the
    announcement every ``announce_every`` seconds of wall time (0: before every frame; None:
    only at open), since over UDP a receiver may start at any time; close is idempotent.

    Subclasses give ``label`` and implement :meth:`announcement` and :meth:`frame_datagrams`.
    """

    label = "UDP"

    def __init__(self, host: str, port: int, *, announce_every: float | None,
                 warn: Callable[[str], None] | None = None):
        if announce_every is not None and not announce_every >= 0:
            raise ValueError(f"the announcement interval must be at least 0 seconds, got {announce_every}")
        self.sender = DatagramSender(self.label, host, port, warn=warn)
        self.announce_every = announce_every
        self.frames_written = 0
        self._info: StreamInfo | None = None
        self._announce: list[bytes] = []
        self._announced_at = 0.0
        self._closed = False
        self._lock = threading.Lock()

    # -- what a subclass sends -------------------------------------------------------------
    def announcement(self, info: StreamInfo) -> list[bytes]:
        raise NotImplementedError

    def frame_datagrams(self, result: FrameResult) -> list[bytes]:
        raise NotImplementedError

    # -- counters --------------------------------------------------------------------------
    @property
    def target(self) -> str:
        return self.sender.target

    @property
    def datagrams_sent(self) -> int:
        return self.sender.datagrams_sent

    @property
    def bytes_sent(self) -> int:
        return self.sender.bytes_sent

    @property
    def errors(self) -> int:
        return self.sender.errors

    @property
    def errors_by_kind(self) -> dict[str, int]:
        return dict(self.sender.errors_by_kind)

    # -- the contract ----------------------------------------------------------------------
    def open(self, info: StreamInfo) -> None:
        with self._lock:
            if self._closed or self._info is not None:
                raise RuntimeError(f"{type(self).__name__}: open called twice or after close")
            self._announce = self.announcement(info)
            self.sender.open()
            self._info = info
            self._send_announcement()

    def _send_announcement(self) -> None:
        self._announced_at = time.monotonic()
        for data in self._announce:
            self.sender.send(data)

    def write(self, result: FrameResult) -> None:
        with self._lock:
            if self._info is None or self._closed:
                raise RuntimeError(f"{type(self).__name__}: write before open or after close")
            every = self.announce_every
            if every is not None and time.monotonic() - self._announced_at >= every:
                self._send_announcement()
            for data in self.frame_datagrams(result):
                self.sender.send(data)
            self.frames_written += 1

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self.sender.close()

    def summary(self) -> str:
        text = (f"{self.label} to {self.target}: {self.frames_written} frames in "
                f"{self.datagrams_sent} datagrams ({self.bytes_sent / 1e6:.2f} MB)")
        if self.errors:
            kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.errors_by_kind.items()))
            text += f", {self.errors} not sent ({kinds})"
        return text


__all__ = ["DatagramSender", "DatagramSink", "MAX_UDP_PAYLOAD", "format_target"]
