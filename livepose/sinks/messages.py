"""Kept for imports written before the split: the stream messages are :mod:`livepose.sinks.stream.messages`."""

from livepose.sinks.stream.messages import (
    STREAM_SCHEMA, TRACK_STATE_NAMES, capture_wall_time, encode, frame_document, hello_document, num,
    people_documents, split_frame, triples,
)

__all__ = [
    "STREAM_SCHEMA", "TRACK_STATE_NAMES", "capture_wall_time", "encode", "frame_document", "hello_document",
    "num", "people_documents", "split_frame", "triples",
]
