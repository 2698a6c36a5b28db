"""Kept for imports written before the split: the WebSocket output is :mod:`livepose.sinks.stream.server`
(with :mod:`~livepose.sinks.stream.http`, :mod:`~livepose.sinks.stream.auth`,
:mod:`~livepose.sinks.stream.clients`, :mod:`~livepose.sinks.stream.control`, :mod:`~livepose.sinks.stream.jpeg`)."""

from livepose.sinks.stream.control import MAX_INCOMING
from livepose.sinks.stream.http import STATIC_FILES, WS_PATH, host_port, origin_allowed
from livepose.sinks.stream.jpeg import JPEG_MAGIC
from livepose.sinks.stream.server import WebSocketSink

__all__ = ["JPEG_MAGIC", "MAX_INCOMING", "STATIC_FILES", "WS_PATH", "WebSocketSink", "host_port", "origin_allowed"]
