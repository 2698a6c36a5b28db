"""The live viewer: a page, its script and its style sheet, served by the WebSocket output
(:mod:`livepose.sinks.websocket`).  No Python code here; the files ship as package data."""
