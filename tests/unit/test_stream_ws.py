"""The WebSocket output on real sockets (loopback, port 0) with real results from the example clip:
hello and frame messages, many clients with one that never reads, token, control messages, JPEG
frames, bad input, connect/disconnect churn, the static whitelist, a busy port and closing."""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import socket
import struct
import threading
import time

import cv2
import numpy as np
import pytest

websockets = pytest.importorskip("websockets")
from websockets.exceptions import ConnectionClosed, InvalidStatus  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

from helpers import REPO, WAIT, serving, wait_until  # noqa: E402
from livepose.errors import OutputError  # noqa: E402
from livepose.sinks.stream.http import origin_allowed  # noqa: E402
from livepose.sinks.stream.jpeg import JPEG_MAGIC  # noqa: E402
from livepose.sinks.stream.messages import STREAM_SCHEMA  # noqa: E402
from livepose.sinks.stream.server import WebSocketSink  # noqa: E402
from livepose.types import TRACK_STATES  # noqa: E402



@pytest.fixture(scope="module")
def clip(clip_run):
    """(info, results): the example clip with tracking (ids, states)."""
    return clip_run


def renumbered(results, count):
    """``count`` results cycling through the clip, with frame indices 0, 1, 2, ... (real people)."""
    return [dataclasses.replace(results[k % len(results)],
                                frame=dataclasses.replace(results[k % len(results)].frame, index=k))
            for k in range(count)]


def recv_json(ws, timeout: float = WAIT) -> dict:
    message = ws.recv(timeout=timeout)
    assert isinstance(message, str), f"expected a text message, got {type(message).__name__}"
    return json.loads(message)


def recv_type(ws, kind: str, limit: int = 10_000) -> dict:
    """The next message of type ``kind`` (frames and other messages before it are skipped)."""
    for _ in range(limit):
        message = ws.recv(timeout=WAIT)
        if isinstance(message, str):
            doc = json.loads(message)
            if doc["type"] == kind:
                return doc
    raise AssertionError(f"no {kind} message in {limit} messages")


@pytest.fixture
def clients():
    """``open(url, **options)``: a client connection, closed at the end of the test."""
    with contextlib.ExitStack() as stack:
        def open_client(url: str, **options):
            options.setdefault("open_timeout", WAIT)
            options.setdefault("close_timeout", 2)
            return stack.enter_context(connect(url, **options))

        yield open_client


def join(clients, sink, **options):
    """A connected client that has its hello (so every frame written from now on reaches it)."""
    ws = clients(sink.ws_url, **options)
    hello = recv_json(ws)
    assert hello["type"] == "hello"
    return ws


def refused_status(url: str, **options) -> int:
    """The HTTP status of a refused WebSocket handshake."""
    with pytest.raises(InvalidStatus) as refused:
        with connect(url, open_timeout=WAIT, **options):
            pass
    return refused.value.response.status_code


def upgrade_status(port: int, host: str, origin: str) -> int:
    """The status answering a browser-like WebSocket handshake with these Host and Origin headers."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
    try:
        conn.putrequest("GET", "/ws", skip_host=True, skip_accept_encoding=True)
        for name, value in [("Host", host), ("Origin", origin), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
                            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Sec-WebSocket-Version", "13")]:
            conn.putheader(name, value)
        conn.endheaders()
        return conn.getresponse().status
    finally:
        conn.close()


def check_frame(doc: dict, result, info) -> None:
    """A frame message says what the FrameResult says."""
    assert doc["type"] == "frame"
    assert doc["frame"] == result.frame.index
    assert doc["time"] == pytest.approx(result.frame.timestamp, abs=1e-4)
    assert (doc["width"], doc["height"]) == tuple(info.size) == result.frame.size
    assert isinstance(doc["captured"], float) and doc["latency_ms"] >= 0
    poses = result.poses
    assert len(doc["people"]) == len(poses)
    for n, person in enumerate(doc["people"]):
        assert person["id"] == int(result.person_ids[n])
        assert person["state"] == TRACK_STATES[int(result.people.state[n])]
        assert person["score"] == pytest.approx(float(poses.score[n]), abs=1e-4)
        keypoints = person["keypoints"]
        assert len(keypoints) == len(info.part_names)
        for p, (x, y, c) in enumerate(keypoints):
            if poses.conf[n, p] > 0:
                assert x == pytest.approx(float(poses.xy[n, p, 0]), abs=0.006)
                assert y == pytest.approx(float(poses.xy[n, p, 1]), abs=0.006)
                assert c == pytest.approx(float(poses.conf[n, p]), abs=6e-4)
            else:
                assert (x, y, c) == (None, None, 0)


# -- messages -----------------------------------------------------------------------------------

def test_hello_describes_the_stream(clip):
    info, _ = clip
    with serving(info, client_buffer=16) as sink:
        assert sink.port > 0 and sink.url == f"http://127.0.0.1:{sink.port}/"
        assert sink.ws_url == f"ws://127.0.0.1:{sink.port}/ws"
        with connect(sink.ws_url) as ws:
            hello = recv_json(ws)
    assert hello["type"] == "hello" and hello["schema"] == STREAM_SCHEMA
    assert hello["keypoints"] == list(info.part_names)
    assert hello["limbs"] == np.asarray(info.limbs).tolist()
    assert (hello["width"], hello["height"]) == (768, 432) and hello["fps"] == pytest.approx(10.0)
    assert hello["source"] == info.source and hello["model"] == info.model and hello["live"] is False
    assert hello["frames"] is False and hello["frames_width"] is None
    assert hello["buffer"] == 16 and hello["max_message"] == 4096


def test_frame_messages_match_the_results(clip, clients):
    info, results = clip
    with serving(info, client_buffer=len(results) + 8) as sink:
        sink.write(results[0])  # nobody is connected: skipped, nothing encoded
        assert (sink.frames_written, sink.frames_unsent, sink.messages_sent) == (1, 1, 0)
        with join(clients, sink) as ws:
            assert sink.clients == 1
            for result in results:
                sink.write(result)
            docs = [recv_json(ws) for _ in results]
        for doc, result in zip(docs, results):
            check_frame(doc, result, info)
        wait_until(lambda: sink.clients == 0, "the client to leave")
        assert sink.messages_dropped == 0 and sink.frames_behind == 0
        assert sink.messages_sent == 1 + len(results)


def test_a_stalled_client_loses_frames_and_nobody_else_does(clip, clients):
    """10 clients; one never reads (small receive buffer, JPEG frames on).  Every write returns
    while it is stalled, the 9 readers get every frame in order, and the stalled client's drops
    are counted and reported to it once it reads again."""
    info, results = clip
    readers_n, buffer = 9, 8
    with serving(info, frames_width=768, client_buffer=buffer, send_timeout=60) as sink:  # not cut here
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: no autotuning
        raw.connect(("127.0.0.1", sink.port))
        stalled = clients(sink.ws_url, sock=raw, max_queue=1)
        assert recv_json(stalled)["type"] == "hello"
        stalled.send(json.dumps({"type": "frames", "on": True}))
        reply = recv_json(stalled)  # from here on it reads nothing
        assert reply["type"] == "status" and reply["frames"] is True and reply["dropped"] == 0
        readers = [join(clients, sink) for _ in range(readers_n)]
        received = [[] for _ in range(readers_n)]
        progress = threading.Condition()
        stop = threading.Event()

        def read(k: int) -> None:
            try:
                while not stop.is_set():
                    doc = recv_json(readers[k])
                    if doc["type"] == "frame":
                        with progress:
                            received[k].append(doc["frame"])
                            progress.notify_all()
            except (ConnectionClosed, TimeoutError):
                return

        threads = [threading.Thread(target=read, args=(k,), daemon=True) for k in range(readers_n)]
        for t in threads:
            t.start()
        written = 0
        try:
            for result in renumbered(results, 4000):
                sink.write(result)  # returns although one client reads nothing
                written += 1
                with progress:  # lockstep: the readers never fall behind, so only the stalled client drops
                    ok = progress.wait_for(lambda: all(len(r) == written for r in received), WAIT)
                assert ok, f"a reader did not get frame {written - 1}"
                if sink.messages_dropped >= 3 * buffer:
                    break
        finally:
            stop.set()
        assert sink.messages_dropped >= 3 * buffer, "the stalled client never filled its buffer"
        assert written < 4000 and sink.frames_behind == 0 and sink.frames_unsent == 0
        for r in received:
            assert r == list(range(written))
        dropped = sink.messages_dropped

        # the stalled client wakes up: it is still connected and learns its drop count
        stalled.send(json.dumps({"type": "status"}))
        status = recv_type(stalled, "status")
        while status["dropped"] != dropped:  # an earlier unrequested status may come first
            status = recv_type(stalled, "status")
        assert status["dropped"] == dropped and status["frames"] is True
        assert status["clients"] == readers_n + 1 and sink.clients == readers_n + 1
        sink.close()  # every client gets 1001 (going away); the stalled one after what it still has
        with pytest.raises(ConnectionClosed):
            while True:
                stalled.recv(timeout=WAIT)
        for t in threads:
            t.join(WAIT)
        assert not any(t.is_alive() for t in threads)


# -- access and control messages ------------------------------------------------------------------

def test_token_is_required_when_set(clip, clients):
    info, results = clip
    with serving(info, token="s3cret/+ x") as sink:
        for url in (sink.ws_url, sink.ws_url + "?token=wrong", sink.ws_url + "?token="):
            assert refused_status(url) == 401
        assert sink.refused == 3 and sink.clients == 0
        ws = clients(sink.ws_url + "?token=s3cret%2F%2B+x")
        assert recv_json(ws)["type"] == "hello"
        sink.write(results[0])
        check_frame(recv_json(ws), results[0], info)


def test_pages_of_other_sites_are_refused(clip, clients):
    """Browsers send Origin: a page of another web site (or one whose name was made to resolve to
    127.0.0.1, DNS rebinding) gets 403; the viewer's own page and pages on this machine connect."""
    info, _ = clip
    with serving(info) as sink:
        port = sink.port
        assert refused_status(sink.ws_url, origin="https://evil.example") == 403
        assert refused_status(sink.ws_url, origin="null") == 403
        for origin in (f"http://127.0.0.1:{port}", "http://localhost:5500", "https://app.localhost"):
            assert recv_json(clients(sink.ws_url, origin=origin))["type"] == "hello"
        assert upgrade_status(port, f"evil.example:{port}", f"http://evil.example:{port}") == 403
        assert upgrade_status(port, f"127.0.0.1:{port}", f"http://127.0.0.1:{port}") == 101
        assert upgrade_status(port, f"localhost:{port}", f"http://localhost:{port}") == 101
        assert sink.refused == 3
    assert origin_allowed(None, "x:1", True)  # programs send no Origin
    assert origin_allowed("http://box.lan:8765", "box.lan:8765", False)  # the viewer, served on the network
    assert not origin_allowed("http://box.lan:8765", "box.lan:8765", True)
    assert not origin_allowed("http://evil.example:8765", "box.lan:8765", False)
    assert not origin_allowed("file://", "127.0.0.1:8765", True)


def test_max_clients_refuses_with_503(clip, clients):
    info, _ = clip
    with serving(info, max_clients=2) as sink:
        first, second = join(clients, sink), join(clients, sink)
        assert refused_status(sink.ws_url) == 503
        first.close()
        wait_until(lambda: sink.clients == 1, "a place to free up")
        with join(clients, sink):
            assert sink.clients == 2
        second.close()


def test_ping_gets_pong(clip, clients):
    info, _ = clip
    with serving(info) as sink, join(clients, sink) as ws:
        ws.send(json.dumps({"type": "ping", "t": 42.5}))
        pong = recv_json(ws)
        assert pong["type"] == "pong" and pong["t"] == 42.5 and abs(pong["time"] - time.time()) < 3600
        ws.send(json.dumps({"type": "ping"}))
        assert set(recv_json(ws)) == {"type", "time"}
        assert sink.messages_ignored == 0


def test_jpeg_frames_on_request(clip, clients):
    """With frames_width, a client that opts in gets b"LPJ1" + index + JPEG of that width just
    before each frame's JSON; one that does not gets the JSON only; opting out stops them."""
    info, results = clip
    picks = results[10:15]
    with serving(info, frames_width=320, jpeg_quality=90) as sink:
        viewer, plain = join(clients, sink), join(clients, sink)
        viewer.send(json.dumps({"type": "frames", "on": True}))
        status = recv_json(viewer)
        assert status["type"] == "status" and status["frames"] is True
        for result in picks:
            sink.write(result)
        for result in picks:
            binary = viewer.recv(timeout=WAIT)
            assert isinstance(binary, bytes) and binary[:4] == JPEG_MAGIC == b"LPJ1"
            assert struct.unpack("<I", binary[4:8])[0] == result.frame.index
            image = cv2.imdecode(np.frombuffer(binary[8:], np.uint8), cv2.IMREAD_COLOR)
            assert image is not None and image.shape == (180, 320, 3)  # 768x432 at width 320
            expected = cv2.resize(result.frame.image, (320, 180), interpolation=cv2.INTER_AREA)
            assert np.abs(image.astype(int) - expected).mean() < 6  # the same picture
            check_frame(recv_json(viewer), result, info)
            check_frame(recv_json(plain), result, info)  # no binary before it
        viewer.send(json.dumps({"type": "frames", "on": False}))
        assert recv_json(viewer)["frames"] is False
        sink.write(picks[0])
        assert recv_json(viewer)["frame"] == picks[0].frame.index  # JSON, no JPEG first


def test_frames_request_without_frames_width(clip, clients):
    info, results = clip
    with serving(info) as sink, join(clients, sink) as ws:
        ws.send(json.dumps({"type": "frames", "on": True}))
        assert recv_json(ws)["frames"] is False  # the server has no pictures to give
        sink.write(results[0])
        check_frame(recv_json(ws), results[0], info)


def test_bad_messages_are_ignored_and_oversize_closes_only_that_client(clip, clients):
    info, results = clip
    with serving(info) as sink:
        reader, noisy, big = join(clients, sink), join(clients, sink), join(clients, sink)
        junk = ["not json", b"\x00\x01binary", '{"type":"nope"}', "[1,2]", '{"type":"frames","on":"yes"}',
                '"ping"', "{", '{"no":"type"}']
        for message in junk:
            noisy.send(message)
        noisy.send(json.dumps({"type": "status"}))
        status = recv_type(noisy, "status")
        assert status["ignored"] == len(junk) and sink.messages_ignored == len(junk)
        big.send("x" * 10_000)  # over the 4096-byte limit: that client is closed (1009)
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                big.recv(timeout=WAIT)
        assert closed.value.rcvd is None or closed.value.rcvd.code == 1009
        assert closed.value.sent is None or closed.value.sent.code == 1009
        wait_until(lambda: sink.clients == 2, "the oversize client to be dropped")
        for result in results[:3]:
            sink.write(result)
        for ws in (reader, noisy):
            for result in results[:3]:
                check_frame(recv_type(ws, "frame"), result, info)
        with join(clients, sink) as late:  # the server still accepts clients
            sink.write(results[3])
            check_frame(recv_json(late), results[3], info)


def test_connect_disconnect_churn_leaves_no_tasks(clip, clients):
    """100 clients connect and leave (cleanly, before the hello, or by resetting the TCP
    connection) while frames are written; then the server has only its own tasks and serves."""
    info, results = clip
    with serving(info, frames_width=160) as sink:
        idle_tasks = sink.task_count()
        stop = threading.Event()
        writes = [0]

        def feed() -> None:
            k = 0
            while not stop.is_set():
                sink.write(results[k % len(results)])
                writes[0] += 1
                k += 1
                time.sleep(0.002)

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        try:
            for i in range(100):
                with connect(sink.ws_url, open_timeout=WAIT, close_timeout=2) as ws:
                    if i % 3 == 0:
                        assert recv_json(ws)["type"] == "hello"
                        if i % 2 == 0:
                            ws.send(json.dumps({"type": "frames", "on": True}))
                        ws.recv(timeout=WAIT)
                    elif i % 3 == 2:  # vanish mid-stream: RST, no closing handshake
                        ws.recv(timeout=WAIT)
                        ws.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        ws.socket.shutdown(socket.SHUT_RDWR)
                    # i % 3 == 1: leave without reading anything
        finally:
            stop.set()
            feeder.join(WAIT)
        assert writes[0] > 0 and sink.clients_total == 100
        wait_until(lambda: sink.clients == 0, "every client to be gone")
        wait_until(lambda: sink.task_count() == idle_tasks, "the clients' tasks to end")
        assert sink.jpeg_clients == 0
        with join(clients, sink) as ws:
            sink.write(results[7])
            check_frame(recv_json(ws), results[7], info)


# -- the static files ---------------------------------------------------------------------------

def http_get(port: int, path: str) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
    try:
        conn.request("GET", path)  # the path goes out as given: no normalisation
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def test_static_files_are_a_whitelist(clip):
    info, _ = clip
    viewer = REPO / "livepose" / "viewer"
    with serving(info) as sink:
        for path, name, ctype in [("/", "index.html", "text/html"), ("/index.html", "index.html", "text/html"),
                                  ("/?token=abc", "index.html", "text/html"),
                                  ("/viewer.js", "viewer.js", "text/javascript"),
                                  ("/viewer.css", "viewer.css", "text/css")]:
            status, headers, body = http_get(sink.port, path)
            assert status == 200, path
            assert headers["content-type"].startswith(ctype) and "charset=utf-8" in headers["content-type"]
            assert headers["cache-control"] == "no-store"
            assert body == (viewer / name).read_bytes()
        pyproject = (REPO / "pyproject.toml").read_bytes()
        for path in ["/../pyproject.toml", "/livepose/cli.py", "/%2e%2e/", "/%2e%2e/pyproject.toml",
                     "/viewer.js/../../../pyproject.toml", "/..%2f..%2fpyproject.toml", "//etc/passwd",
                     "/index.html/", "/VIEWER.JS", "/__init__.py", "/viewer", "/websocket.py",
                     "/livepose/viewer/index.html", "/favicon.ico", "/./viewer.js"]:
            status, _, body = http_get(sink.port, path)
            assert status == 404, path
            assert pyproject not in body and b"import" not in body


# -- lifecycle ------------------------------------------------------------------------------------

def test_busy_port_is_one_line_output_error(clip):
    info, _ = clip
    with serving(info) as first:
        second = WebSocketSink("127.0.0.1", first.port)
        with pytest.raises(OutputError) as failed:
            second.open(info)
        message = str(failed.value)
        assert "\n" not in message and message.startswith(f"127.0.0.1:{first.port}: ")
        assert "address already in use" in message and "--ws" in message
        second.close()  # nothing to close, no error
        with connect(first.ws_url) as ws:  # the first server is unaffected
            assert recv_json(ws)["type"] == "hello"


def test_close_disconnects_clients_and_is_idempotent(clip, clients):
    info, results = clip
    sink = WebSocketSink("127.0.0.1", 0)
    sink.close()  # before open: nothing happens
    sink = WebSocketSink("127.0.0.1", 0)
    sink.open(info)
    port = sink.port
    connected = [join(clients, sink) for _ in range(3)]
    sink.write(results[0])
    sink.close()
    for ws in connected:
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=WAIT)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001  # going away
    sink.close()
    with pytest.raises(RuntimeError):
        sink.write(results[1])
    with pytest.raises(OSError):
        with connect(f"ws://127.0.0.1:{port}/ws", open_timeout=5):
            pass
    assert "3 clients" in sink.summary()
