"""Outputs of a run.  Every sink follows the contract in :mod:`livepose.sinks.base`:
``open(info)`` once, ``write(result)`` per frame, ``close()`` (idempotent; also on exit of
a ``with`` block); the people of a frame come from its record (:mod:`livepose.records`).

=============================  ==========================================================
:mod:`livepose.sinks.files`    files: video, JSON Lines, OpenPose JSON, COCO, CSV, photos
                               (docs/outputs.md)
:mod:`livepose.sinks.stream`   network: WebSocket server and viewer, OSC, UDP JSON
                               (docs/streaming.md)
:mod:`livepose.sinks.display`  the overlay window (runs on the caller's thread)
=============================  ==========================================================

Every name below is importable from here (``from livepose.sinks import JsonlSink``); each is
loaded on first use, so importing this package costs nothing until an output is asked for.
"""

from __future__ import annotations

import importlib

from livepose.sinks.base import Sink

_WHERE = {
    # files
    "CSV_HEADER": "files", "CSV_CARRIED_HEADER": "files", "JSONL_SCHEMA": "files", "VIDEO_FOURCC": "files",
    "CocoSink": "files",
    "CsvSink": "files", "ImageSink": "files", "JsonlSink": "files", "OpenPoseJsonSink": "files",
    "VideoSink": "files", "prepare_file": "files", "prepare_folder": "files", "write_json_atomic": "files",
    "write_bytes_atomic": "files",
    # the window
    "DisplaySink": "display", "check_display": "display",
    # network
    "WebSocketSink": "stream", "OscSink": "stream", "UdpSink": "stream",
}


def __getattr__(name: str):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = ["Sink", *sorted(_WHERE)]
