"""The control protocol: the few messages a WebSocket client may send, and the replies.

* ``{"type": "ping", "t": any}``: answered with ``pong`` (the ``t`` echoed when a number or a
  short string) and the server's time.
* ``{"type": "frames", "on": true|false}``: opt in to (out of) the JPEG pictures; answered
  with a ``status``.
* ``{"type": "status"}``: answered with a ``status`` (the client's counters).

Anything else (not JSON, NaN or Infinity, nesting too deep, not an object, another type, a
binary message) is counted and ignored, and the client stays connected; a message over
``MAX_INCOMING`` bytes closes that client (1009), a text message that is not UTF-8 too (1007).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass

from livepose.sinks.stream.clients import Client
from livepose.sinks.stream.messages import encode

MAX_INCOMING = 4096  # bytes: a control message is tiny; a larger one closes that client (1009)
STATUS_INTERVAL = 1.0  # seconds: at most this often an unrequested status after new drops


@dataclass(frozen=True)
class Request:
    """A control message: ``kind`` "ping", "frames" or "status"; ``on`` for frames, ``echo`` for ping."""

    kind: str
    on: bool = False
    echo: object = None


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def read_request(message) -> Request | None:
    """The control request in a message, or None when it is not one (to be counted and ignored).

    Never raises: NaN and Infinity (not JSON) and nesting too deep for the parser make a message
    that is not a control message like any other."""
    doc = None
    if isinstance(message, str):
        try:
            doc = json.loads(message, parse_constant=_no_constant)
        except (ValueError, RecursionError):
            doc = None
    kind = doc.get("type") if isinstance(doc, dict) else None
    if kind == "ping":
        echo = doc.get("t")
        ok = isinstance(echo, (int, float, str)) and not isinstance(echo, bool) and len(str(echo)) <= 64 \
            and (not isinstance(echo, float) or math.isfinite(echo))
        return Request("ping", echo=echo if ok else None)
    if kind == "frames" and isinstance(doc.get("on"), bool):
        return Request("frames", on=doc["on"])
    if kind == "status":
        return Request("status")
    return None


def pong_message(request: Request) -> bytes:
    pong = {"type": "pong", "time": round(time.time(), 4)}
    if request.echo is not None:
        pong["t"] = request.echo
    return encode(pong)


def status_message(client: Client, clients: int) -> bytes:
    """A client's counters: last frame given to it, messages sent, frames dropped, messages
    ignored, whether it takes pictures, and how many clients are connected."""
    return encode({
        "type": "status",
        "time": round(time.time(), 4),
        "frame": client.last_frame,
        "sent": client.sent,
        "dropped": client.dropped,
        "ignored": client.ignored,
        "frames": client.want_jpeg,
        "clients": clients,
    })


__all__ = ["MAX_INCOMING", "Request", "STATUS_INTERVAL", "pong_message", "read_request", "status_message"]
