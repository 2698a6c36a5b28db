"""The WebSocket server under attack, on real sockets (loopback, port 0): a client that floods
ping frames and never reads, clients that stop reading JPEG frames and hold every place,
malformed control messages (NaN, Infinity, deep nesting, invalid UTF-8, oversize), duplicated
headers and HTTP methods other than GET/HEAD."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import threading
import time

import pytest

websockets = pytest.importorskip("websockets")
from websockets.exceptions import ConnectionClosed, InvalidStatus  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

from helpers import WAIT, serving, wait_until  # noqa: E402
from livepose.sinks.stream.server import HARD_WRITE_LIMIT  # noqa: E402

HANDSHAKE = ("GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")


@pytest.fixture(scope="module")
def clip(clip_run):
    return clip_run


@contextlib.contextmanager
def writing(sink, results, fps: float = 30.0):
    """Frames written to the sink from a thread (the pipeline's side) until the block ends."""
    stop = threading.Event()

    def run() -> None:
        k = 0
        while not stop.is_set():
            sink.write(results[k % len(results)])
            k += 1
            time.sleep(1 / fps)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(WAIT)


def rss_bytes() -> int:
    with open(f"/proc/{os.getpid()}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def frame(opcode: int, payload: bytes) -> bytes:
    """A client's (masked, with a zero mask) WebSocket frame, FIN set."""
    n = len(payload)
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    else:
        head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
    return head + b"\0\0\0\0" + payload


def raw_client(port: int) -> socket.socket:
    """A WebSocket connection on a plain socket with a tiny receive buffer, past the handshake;
    the caller reads nothing more."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: no autotuning
    sock.settimeout(WAIT)
    sock.connect(("127.0.0.1", port))
    sock.sendall(HANDSHAKE.format(port=port).encode())
    response = b""
    while b"\r\n\r\n" not in response:
        chunk = sock.recv(1)  # byte by byte: nothing past the headers is read
        assert chunk, "closed during the handshake"
        response += chunk
    assert response.startswith(b"HTTP/1.1 101"), response
    return sock


def is_cut(sock: socket.socket, limit: float = WAIT) -> bool:
    """Whether the server has closed this connection (reads what is left until EOF or reset)."""
    sock.settimeout(limit)
    try:
        while sock.recv(65536):
            pass
        return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


# -- 1. a ping flood from a client that never reads ------------------------------------------------

def test_ping_flood_without_reading_is_bounded_and_cut(clip):
    """Pings (125 bytes each, so pongs of the same size) for 4 s and nothing read: the server
    stops reading that client, its outgoing buffer never passes the hard limit, memory stays
    within a few MB, and the client is cut after the send timeout.  Before: ~10 MB/s of pongs
    piled up in the transport, without bound."""
    info, results = clip
    with serving(info, send_timeout=1.0) as sink, connect(sink.ws_url, open_timeout=WAIT) as reader:
        flood = raw_client(sink.port)
        wait_until(lambda: sink.clients == 2, "both clients")
        burst = frame(0x9, b"p" * 125) * 512
        rss0 = rss_bytes()
        peak_buffer, peak_rss, sent, cut = 0, 0, 0, False
        flood.settimeout(0.2)
        deadline = time.monotonic() + 4.0
        while time.monotonic() < deadline:
            try:
                flood.sendall(burst)
                sent += len(burst)
            except TimeoutError:
                pass  # the server stopped reading: TCP back-pressure
            except (ConnectionResetError, BrokenPipeError):
                cut = True
                break
            peak_buffer = max(peak_buffer, sink.buffered_bytes())
            peak_rss = max(peak_rss, rss_bytes())
        assert sent > 64 * 1024, "the flood never got going"
        assert cut or is_cut(flood, 5.0), "the ping-flooding client was not cut"
        wait_until(lambda: sink.clients == 1, "the flooding client to be forgotten")
        assert sink.clients_evicted == 1
        assert peak_buffer <= HARD_WRITE_LIMIT + 256 * 1024, peak_buffer
        assert peak_rss - rss0 < 50 * 1024 * 1024, (peak_rss - rss0)
        # the good client never noticed
        reader.send(json.dumps({"type": "ping", "t": 7}))
        while True:
            doc = json.loads(reader.recv(timeout=WAIT))
            if doc["type"] == "pong":
                break
        assert doc["t"] == 7
        flood.close()


# -- 2. stalled JPEG clients holding every place ----------------------------------------------------

def test_stalled_clients_are_evicted_and_new_ones_get_in(clip):
    """max_clients clients take JPEG frames and stop reading; the next client is refused with 503
    at first, gets in within the send timeout plus a margin, and the stalled ones are cut."""
    info, results = clip
    places, timeout = 4, 1.0
    with serving(info, frames_width=768, max_clients=places, send_timeout=timeout) as sink:
        stalled = [raw_client(sink.port) for _ in range(places)]
        for sock in stalled:
            sock.sendall(frame(0x1, json.dumps({"type": "frames", "on": True}).encode()))
        wait_until(lambda: sink.jpeg_clients == places, "the stalled clients to take frames")
        with writing(sink, results):
            with pytest.raises(InvalidStatus) as refused:
                with connect(sink.ws_url, open_timeout=WAIT):
                    pass
            assert refused.value.response.status_code == 503
            start = time.monotonic()
            newcomer = None
            while newcomer is None:
                assert time.monotonic() - start < timeout + 15, "no place freed for a new client"
                try:
                    newcomer = connect(sink.ws_url, open_timeout=WAIT)
                except InvalidStatus as exc:
                    assert exc.response.status_code == 503
                    time.sleep(0.1)
            with newcomer:
                assert json.loads(newcomer.recv(timeout=WAIT))["type"] == "hello"
                assert json.loads(newcomer.recv(timeout=WAIT))["type"] == "frame"  # it gets frames
            wait_until(lambda: sink.clients_evicted == places, "every stalled client to be cut")
        for sock in stalled:
            assert is_cut(sock, 5.0)
            sock.close()
        assert "cut for not reading" in sink.summary()


def test_a_slow_but_reading_client_is_not_evicted(clip):
    """A client that reads slowly (JPEG frames, well behind) keeps its place: only a client that
    reads nothing for the send timeout is cut."""
    info, results = clip
    with serving(info, frames_width=768, send_timeout=1.0, client_buffer=4) as sink:
        with connect(sink.ws_url, open_timeout=WAIT, max_queue=1) as slow:
            slow.recv(timeout=WAIT)
            slow.send(json.dumps({"type": "frames", "on": True}))
            with writing(sink, results, fps=60):
                deadline = time.monotonic() + 3.0
                got = 0
                while time.monotonic() < deadline:
                    slow.recv(timeout=WAIT)
                    got += 1
                    time.sleep(0.05)
            assert got > 10 and sink.clients_evicted == 0 and sink.clients == 1


# -- 3. malformed messages ------------------------------------------------------------------------

@pytest.mark.parametrize("message", [
    '{"type": "ping", "t": NaN}', '{"type": "ping", "t": Infinity}', '{"type": "ping", "t": -Infinity}',
    '{"type": "frames", "on": NaN}', "NaN", '{"type": "ping", "t": 1, "x": [NaN]}',
    "[" * 2000 + "]" * 2000, "[" * 4000, '{"type": "ping", "t": ' + '{"a": ' * 500 + "1" + "}" * 501,
    '{"type": "ping", "t": 1' + "0" * 4000 + "}", '{"type": "ping", "t": "\\ud800"}',
], ids=["nan", "inf", "-inf", "frames-nan", "bare-nan", "nested-nan", "deep-2000", "deep-unclosed",
        "deep-object", "huge-int", "lone-surrogate"])
def test_malformed_messages_are_ignored(clip, message):
    """Each is ignored (counted) and the client stays connected: a ping right after is answered.
    Before: NaN/Infinity and deep nesting closed the client with 1011."""
    info, _ = clip
    with serving(info) as sink:
        with connect(sink.ws_url, open_timeout=WAIT) as ws:
            assert json.loads(ws.recv(timeout=WAIT))["type"] == "hello"
            ws.send(message)
            ws.send(json.dumps({"type": "ping", "t": 1}))
            reply = json.loads(ws.recv(timeout=WAIT))
            if reply["type"] == "pong" and reply.get("t") != 1:  # the malformed ping's own pong
                reply = json.loads(ws.recv(timeout=WAIT))
            assert reply["type"] == "pong" and reply["t"] == 1
            assert sink.clients == 1


@pytest.mark.parametrize("message, code", [
    (b"\xff\xfe{}", 1007),  # a text frame that is not UTF-8: the protocol's close, not 1011
    ("[" * 10000 + "]" * 10000, 1009),  # 10000-deep nesting is over max_size
    ("x" * 1_000_000, 1009),
])
def test_invalid_utf8_and_oversize_close_that_client_only(clip, message, code):
    info, _ = clip
    with serving(info) as sink:
        with connect(sink.ws_url, open_timeout=WAIT) as other, \
                connect(sink.ws_url, open_timeout=WAIT, close_timeout=2) as ws:
            assert json.loads(ws.recv(timeout=WAIT))["type"] == "hello"
            ws.send(message, text=True)
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    ws.recv(timeout=WAIT)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == code
            wait_until(lambda: sink.clients == 1, "the closed client to be forgotten")
            assert json.loads(other.recv(timeout=WAIT))["type"] == "hello"
            other.send(json.dumps({"type": "ping"}))
            assert json.loads(other.recv(timeout=WAIT))["type"] == "pong"


# -- 4. HTTP: duplicated headers and other methods ----------------------------------------------------

def raw_request(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as sock:
        sock.sendall(request)
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk


@pytest.mark.parametrize("headers", [
    "Origin: http://127.0.0.1\r\nOrigin: http://evil.example\r\n",
    "Origin: http://127.0.0.1\r\nOrigin: http://127.0.0.1\r\n",
    "Host: 127.0.0.1\r\n",  # a second Host
])
def test_duplicated_origin_or_host_is_one_clean_400(clip, headers):
    info, _ = clip
    with serving(info) as sink:
        request = (HANDSHAKE.format(port=sink.port)[:-2] + headers + "\r\n").encode()
        response = raw_request(sink.port, request)
        assert response.startswith(b"HTTP/1.1 400 "), response[:200]
        assert b"more than one" in response
        assert sink.refused == 1 and sink.clients == 0


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "FOO"])
def test_other_methods_get_405_with_allow(clip, method):
    """Before: every method got the page (or the handshake)."""
    info, _ = clip
    with serving(info) as sink:
        for path in ["/", "/viewer.js", "/ws", "/nothing"]:
            conn = http.client.HTTPConnection("127.0.0.1", sink.port, timeout=WAIT)
            try:
                conn.request(method, path)
                response = conn.getresponse()
                body = response.read()
            finally:
                conn.close()
            assert response.status == 405, (method, path)
            assert response.getheader("Allow") == "GET, HEAD"
            assert b"<html" not in body.lower() and b"function" not in body
        assert sink.refused == 4 and sink.clients_total == 0


def test_head_gets_the_headers_without_the_page(clip):
    info, _ = clip
    with serving(info) as sink:
        response = raw_request(sink.port, f"HEAD / HTTP/1.1\r\nHost: 127.0.0.1:{sink.port}\r\n\r\n".encode())
        head, _, body = response.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 ") and b"Content-Type: text/html" in head
        assert body == b""
