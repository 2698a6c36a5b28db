"""Outputs of a run.  Every sink follows the contract in :mod:`livepose.sinks.base`:
``open(info)`` once, ``write(result)`` per frame, ``close()`` (idempotent; also on exit of
a ``with`` block).  The file formats are documented in docs/outputs.md, the streaming
outputs (WebSocket, OSC, UDP JSON; imported from their modules) in docs/streaming.md:
``livepose.sinks.websocket.WebSocketSink``, ``livepose.sinks.osc.OscSink``,
``livepose.sinks.udp.UdpSink``."""

from livepose.sinks.base import Sink
from livepose.sinks.display import DisplaySink, check_display
from livepose.sinks.files import (
    CSV_HEADER,
    JSONL_SCHEMA,
    VIDEO_FOURCC,
    CocoSink,
    CsvSink,
    JsonlSink,
    OpenPoseJsonSink,
    VideoSink,
)

__all__ = [
    "CSV_HEADER", "CocoSink", "CsvSink", "DisplaySink", "JSONL_SCHEMA", "JsonlSink", "OpenPoseJsonSink",
    "Sink", "VIDEO_FOURCC", "VideoSink", "check_display",
]
