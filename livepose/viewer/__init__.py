"""The live viewer: a page, its script and its style sheet, served by the WebSocket output
(:mod:`livepose.sinks.stream.server`).  No Python code here; the files ship as package data."""
