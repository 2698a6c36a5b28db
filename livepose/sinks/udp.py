"""Kept for imports written before the split: the UDP JSON output is :mod:`livepose.sinks.stream.udp`."""

from livepose.sinks.stream.udp import DEFAULT_MAX_DATAGRAM, UdpSink

__all__ = ["DEFAULT_MAX_DATAGRAM", "UdpSink"]
