"""Kept for imports written before the split: fire-and-forget UDP is :mod:`livepose.sinks.stream.datagram`."""

from livepose.sinks.stream.datagram import MAX_UDP_PAYLOAD, DatagramSender, DatagramSink, format_target

__all__ = ["DatagramSender", "DatagramSink", "MAX_UDP_PAYLOAD", "format_target"]
