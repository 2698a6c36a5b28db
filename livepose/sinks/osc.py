"""Kept for imports written before the split: the OSC output is :mod:`livepose.sinks.stream.osc`."""

from livepose.sinks.stream.osc import DEFAULT_MAX_BUNDLE, OSC_MODES, OscSink, address_part

__all__ = ["DEFAULT_MAX_BUNDLE", "OSC_MODES", "OscSink", "address_part"]
