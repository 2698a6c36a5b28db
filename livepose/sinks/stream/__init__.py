"""Outputs that send over the network: a WebSocket server with the browser viewer, OSC, UDP JSON.

====================  ==================================================================
:mod:`.messages`      the ``livepose.stream/1`` messages (hello, frame; split by person)
:mod:`.server`        :class:`WebSocketSink`: the asyncio thread, the handshake, fan-out to clients
:mod:`.http`          who may connect (Origin/Host policy); the viewer's whitelisted files, CSP
:mod:`.auth`          the ``?token=`` check
:mod:`.clients`       per-client bounded buffers and drop counting
:mod:`.control`       the control protocol (ping, frames, status)
:mod:`.jpeg`          the optional pictures (``LPJ1`` binary messages)
:mod:`.osc`           :class:`OscSink`: OSC bundles over UDP
:mod:`.udp`           :class:`UdpSink`: the frame messages as UDP datagrams
:mod:`.datagram`      fire-and-forget UDP shared by OSC and UDP (never waits, counts errors)
====================  ==================================================================

The people in every message come from the frame's record (:mod:`livepose.records`).  The
messages and limits are documented in docs/streaming.md.  Names are imported on first use, so
``import livepose.sinks.stream`` loads neither websockets nor python-osc.
"""

from __future__ import annotations

import importlib

_WHERE = {
    "WebSocketSink": "server",
    "OscSink": "osc",
    "UdpSink": "udp",
    "DatagramSink": "datagram",
    "DatagramSender": "datagram",
    "STREAM_SCHEMA": "messages",
    "JPEG_MAGIC": "jpeg",
    "WS_PATH": "http",
    "STATIC_FILES": "http",
    "origin_allowed": "http",
    "host_port": "http",
    "MAX_INCOMING": "control",
}


def __getattr__(name: str):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = sorted(_WHERE)
