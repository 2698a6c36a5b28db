"""A WebSocket server for live keypoints, and the browser viewer it serves.

    with WebSocketSink("127.0.0.1", 8765) as sink:
        sink.open(info)          # binds, starts the server thread; a busy port is an OutputError
        sink.write(result)       # never waits for clients
    # close(): clients are closed with 1001 (going away), the thread ends

One server on one port answers both:

* ``ws://HOST:PORT/ws``: the stream, schema ``livepose.stream/1`` (:mod:`livepose.sinks.messages`):
  a ``hello`` on connect, then one ``frame`` message per frame; optionally, just before a frame's
  JSON, its picture as a binary message ``b"LPJ1" + uint32 LE frame index + JPEG``.  A client may
  send the control messages ``ping``, ``frames`` and ``status``; anything else is counted and
  ignored.  With a token, ``?token=...`` must be given in the URL, else HTTP 401.  A browser's
  connection from a page of another web site is refused with 403 (:func:`origin_allowed`).
* ``http://HOST:PORT/``: the viewer page (``/``, ``/index.html``, ``/viewer.js``, ``/viewer.css``
  and nothing else: a fixed table of the package's own files, never a path from the request).

Threads: the server runs an asyncio loop on its own daemon thread.  :meth:`WebSocketSink.write`
(the sink's worker thread) encodes a frame once and hands the bytes to the loop; each client has a
bounded buffer of frames drained by its own sender task, and when it is full the oldest frame is
dropped and counted for that client.  A client that stops reading therefore costs the others and
the pipeline nothing.  With no client connected, ``write`` returns at once without encoding.

The messages and limits are documented in docs/streaming.md.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import errno
import hmac
import importlib.resources
import ipaddress
import json
import logging
import os
import socket
import struct
import threading
import time
from typing import Callable
from urllib.parse import parse_qs, quote, urlsplit

import cv2
import numpy as np

from livepose.errors import OutputError
from livepose.sinks import messages
from livepose.sinks.base import Sink
from livepose.types import FrameResult, StreamInfo

# The websockets library logs handshake problems (port scanners, bad requests); the sink itself
# never prints, so its log goes nowhere unless the application configures logging.
_LOG = logging.getLogger(__name__)
_LOG.addHandler(logging.NullHandler())

WS_PATH = "/ws"
JPEG_MAGIC = b"LPJ1"  # binary message: magic, uint32 little-endian frame index, JPEG bytes
JPEG_HEADER = struct.Struct("<4sI")
MAX_INCOMING = 4096  # bytes: a control message is tiny; a larger one closes that client (1009)
SEND_BUFFER = 128 * 1024  # kernel send buffer per client (Linux doubles it): bounds a slow client's backlog
WRITE_LIMIT = 64 * 1024  # websockets' user-space write buffer high-water mark per client
CONTROL_BUFFER = 8  # pending replies (pong, status) per client; the oldest goes first
STATUS_INTERVAL = 1.0  # seconds: at most this often an unrequested status after new drops
CLOSE_TIMEOUT = 2.0  # seconds a client gets to answer a close before the connection is cut
START_TIMEOUT = 10.0

# The static files: request path -> (file in livepose/viewer, Content-Type).  Nothing else is served.
STATIC_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/viewer.js": ("viewer.js", "text/javascript; charset=utf-8"),
    "/viewer.css": ("viewer.css", "text/css; charset=utf-8"),
}
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def host_port(host: str, port: int) -> str:
    """``host:port`` with IPv6 literals in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _loopback_name(name: str | None) -> bool:
    """A host name or address that can only mean this machine."""
    if not name:
        return False
    name = name.lower().rstrip(".")
    return name == "localhost" or name.endswith(".localhost") or _is_loopback(name)


def _url_host(netloc: str) -> str | None:
    try:
        return urlsplit("//" + netloc).hostname
    except ValueError:
        return None


def origin_allowed(origin: str | None, host_header: str | None, listening_on_loopback: bool) -> bool:
    """Whether a WebSocket handshake with this Origin header may go on.

    Programs send no Origin: allowed (the token, if any, still applies).  Browsers always send
    one, and a page on any web site may open a WebSocket to any address, this machine's
    included; so a browser's connection is allowed only from a page on this machine
    (``http://localhost:...``, ``http://127.0.0.1:...``) or from a page of this very server (the
    viewer: Origin matching Host).  When the server listens on loopback only, the Host must also
    be a loopback name, which stops DNS rebinding (a site whose name resolves to 127.0.0.1).
    """
    if origin is None:
        return True
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False  # "null" (sandboxed or file pages) and anything odd
    if _loopback_name(parts.hostname):
        return True
    if host_header is None or parts.netloc.lower() != host_header.strip().lower():
        return False
    return not listening_on_loopback or _loopback_name(_url_host(host_header))


def _local_host(host: str) -> str:
    """The host to put in a URL for this machine: a wildcard address becomes loopback."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


def _load_static() -> dict[str, tuple[bytes, str]]:
    files = importlib.resources.files("livepose.viewer")
    loaded: dict[str, bytes] = {}
    out = {}
    for path, (name, ctype) in STATIC_FILES.items():
        if name not in loaded:
            try:
                loaded[name] = files.joinpath(name).read_bytes()
            except OSError as exc:
                raise OutputError(
                    f"the viewer's file {name} is missing from the livepose installation ({exc.strerror or exc})"
                ) from None
        out[path] = (loaded[name], ctype)
    return out


class _Client:
    """One connected client: its buffers, its sender task and its counters (loop thread only)."""

    def __init__(self, number: int, connection, buffer: int):
        self.number = number
        self.connection = connection
        self.frames: collections.deque = collections.deque()  # items: tuples of messages of one frame
        self.capacity = buffer
        self.control: collections.deque = collections.deque(maxlen=CONTROL_BUFFER)
        self.wake = asyncio.Event()
        self.want_jpeg = False
        self.last_frame: int | None = None
        self.sent = 0
        self.dropped = 0
        self.dropped_reported = 0
        self.status_at = 0.0
        self.ignored = 0
        self.sender: asyncio.Task | None = None

    def push_frame(self, item: tuple) -> bool:
        """Queue one frame's messages; drops the oldest frame when full.  True when one was dropped."""
        dropped = len(self.frames) >= self.capacity
        if dropped:
            self.frames.popleft()
            self.dropped += 1
        self.frames.append(item)
        self.wake.set()
        return dropped

    def push_control(self, data: bytes) -> None:
        self.control.append(data)
        self.wake.set()


class WebSocketSink(Sink):
    """Serve every frame's people to WebSocket clients and the viewer page to browsers.

    ``host``, ``port``: where to listen (port 0: any free port; after :meth:`open`, :attr:`port`
    is the real one).  ``token``: when set, clients must connect to ``/ws?token=TOKEN``.
    ``frames_width``: when set, clients may opt in to the frames themselves, as JPEG
    (``jpeg_quality``) downscaled to this width.  ``client_buffer``: frames buffered per client
    before the oldest is dropped.  ``max_clients``: more are refused with HTTP 503.
    ``announce`` and ``warn``: optional callables given one line each (the URLs at open; a
    warning when listening beyond this machine without a token).

    Counters (read them from any thread): :attr:`clients` (connected now), :attr:`clients_total`,
    :attr:`messages_sent`, :attr:`messages_dropped` (frames dropped from clients' buffers, each
    with its JPEG), :attr:`messages_ignored` (incoming messages that were not a control message),
    :attr:`refused` (HTTP 401/403/503 and 1013 closes), :attr:`jpeg_clients` (clients taking JPEG
    frames now), :attr:`frames_written`, :attr:`frames_unsent`
    (no client was connected) and :attr:`frames_behind` (the server thread was behind; not sent).
    """

    name = "websocket"

    def __init__(self, host: str = "127.0.0.1", port: int = 8765, *, token: str | None = None,
                 frames_width: int | None = None, jpeg_quality: int = 70, client_buffer: int = 32,
                 max_clients: int = 64, announce: Callable[[str], None] | None = None,
                 warn: Callable[[str], None] | None = None):
        if not 0 <= int(port) <= 65535:
            raise ValueError(f"port must be in 0..65535, not {port}")
        if frames_width is not None and int(frames_width) < 16:
            raise ValueError(f"frames_width must be at least 16 pixels, not {frames_width}")
        if not 1 <= int(jpeg_quality) <= 100:
            raise ValueError(f"jpeg_quality must be in 1..100, not {jpeg_quality}")
        if int(client_buffer) < 1 or int(max_clients) < 1:
            raise ValueError("client_buffer and max_clients must be at least 1")
        if token is not None and not token:
            raise ValueError("an empty token would accept nobody; give None for no token")
        self.host = host
        self.port = int(port)
        self.token = token
        self.frames_width = None if frames_width is None else int(frames_width)
        self.jpeg_quality = int(jpeg_quality)
        self.client_buffer = int(client_buffer)
        self.max_clients = int(max_clients)
        self.announce = announce
        self.warn = warn
        self.url: str | None = None  # the viewer page, once open (without the token)
        self.ws_url: str | None = None  # the WebSocket endpoint, once open (without the token)

        self.clients = 0
        self.clients_total = 0
        self.messages_sent = 0
        self.messages_dropped = 0
        self.messages_ignored = 0
        self.refused = 0
        self.frames_written = 0
        self.frames_unsent = 0
        self.frames_behind = 0

        self._info: StreamInfo | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server = None
        self._static: dict[str, tuple[bytes, str]] = {}
        self._hello = b""
        self._jpeg_size: tuple[int, int] | None = None
        self._clients: dict[int, _Client] = {}  # loop thread only
        self.jpeg_clients = 0  # clients that opted in to JPEG frames (written by the loop thread)
        self._jpeg_small: np.ndarray | None = None  # reused downscale buffer (writer thread only)
        self._queued = 0  # frames handed to the loop (writer thread only)
        self._dispatched = 0  # frames the loop has taken (loop thread only)
        self._closing = False
        self._closed = False
        self._close_lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------
    def open(self, info: StreamInfo) -> None:
        if self._thread is not None or self._closed:
            raise RuntimeError("WebSocketSink: open called twice or after close")
        self._static = _load_static()
        sock = self._bind()
        self._info = info
        w, h = int(info.size[0]), int(info.size[1])
        if self.frames_width is not None:
            jw = min(self.frames_width, w)  # never upscale
            self._jpeg_size = (jw, max(1, round(h * jw / w)))
        hello = messages.hello_document(info)
        hello.update({
            "frames": self._jpeg_size is not None,
            "frames_width": None if self._jpeg_size is None else self._jpeg_size[0],
            "frames_height": None if self._jpeg_size is None else self._jpeg_size[1],
            "buffer": self.client_buffer,
            "max_message": MAX_INCOMING,
        })
        self._hello = messages.encode(hello)

        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=self._run_loop, args=(loop,), name="livepose-websocket", daemon=True)
        thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._start(sock), loop).result(START_TIMEOUT)
        except BaseException as exc:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(START_TIMEOUT)
            sock.close()
            if isinstance(exc, (OSError, concurrent.futures.TimeoutError)):
                raise OutputError(f"{host_port(self.host, self.port)}: cannot start the WebSocket server ({exc})") from None
            raise
        self._loop, self._thread = loop, thread

        shown = _local_host(self.host)
        self.url = f"http://{host_port(shown, self.port)}/"
        self.ws_url = f"ws://{host_port(shown, self.port)}{WS_PATH}"
        if self.announce is not None:
            query = "" if self.token is None else f"?token={quote(self.token, safe='')}"
            where = " (all interfaces)" if self.host in ("", "0.0.0.0", "::") else ""
            self.announce(f"live viewer at {self.url}{query}  WebSocket at {self.ws_url}{query}{where}")
        if self.warn is not None and not _is_loopback(self.host):
            self.warn(f"the WebSocket server on {host_port(self.host, self.port)} accepts connections from other "
                      "machines" + ("" if self.token else "; give a token (--ws-token) to restrict it"))

    def _bind(self) -> socket.socket:
        """The listening socket, bound now so that a busy port fails here with one line."""
        where = host_port(self.host, self.port)
        advice = "choose another port with --ws HOST:PORT"
        try:
            infos = socket.getaddrinfo(self.host or None, self.port, type=socket.SOCK_STREAM,
                                       flags=socket.AI_PASSIVE)
        except socket.gaierror as exc:
            raise OutputError(f"{where}: cannot listen for WebSocket clients (unknown host: {exc.strerror}); "
                              f"give an address of this machine with --ws HOST:PORT") from None
        family, _, _, _, address = infos[0]
        try:
            sock = socket.create_server(address[:2], family=family, backlog=128)
        except OSError as exc:
            reason = (os.strerror(exc.errno) if exc.errno else str(exc)).lower()
            if exc.errno == errno.EADDRNOTAVAIL:
                advice = "give an address of this machine (or 0.0.0.0 for all) with --ws HOST:PORT"
            elif exc.errno == errno.EACCES and 0 < self.port < 1024:
                advice = "ports below 1024 need privileges; choose another port with --ws HOST:PORT"
            raise OutputError(f"{where}: cannot listen for WebSocket clients ({reason}); {advice}") from None
        self.port = int(sock.getsockname()[1])
        return sock

    def _run_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

    async def _start(self, sock: socket.socket) -> None:
        from websockets.asyncio.server import serve

        self._server = await serve(
            self._handle, sock=sock, process_request=self._process_request, compression=None,
            max_size=MAX_INCOMING, write_limit=WRITE_LIMIT, close_timeout=CLOSE_TIMEOUT, open_timeout=5,
            server_header="livepose", logger=_LOG,
        )

    def close(self) -> None:
        """Close every client with 1001 (going away) and stop the server thread.  Idempotent."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(CLOSE_TIMEOUT + 3)
        except (concurrent.futures.TimeoutError, RuntimeError):
            pass  # the thread is a daemon; stopping the loop below is enough
        try:
            loop.call_soon_threadsafe(loop.stop)
        except RuntimeError:
            pass  # already closed
        thread.join(CLOSE_TIMEOUT + 3)

    async def _shutdown(self) -> None:
        self._closing = True
        server = self._server
        if server is None:
            return
        server.close(close_connections=True)
        try:
            await asyncio.wait_for(server.wait_closed(), CLOSE_TIMEOUT + 2)
        except asyncio.TimeoutError:
            pass

    # -- the pipeline side -------------------------------------------------------------------
    def write(self, result: FrameResult) -> None:
        """Hand one frame to the clients; never waits for them (called from the sink's thread)."""
        loop = self._loop
        if loop is None or self._closed:
            raise RuntimeError("WebSocketSink: write before open or after close")
        self.frames_written += 1
        if self.clients == 0:
            self.frames_unsent += 1
            return
        if self._queued - self._dispatched >= self.client_buffer:
            self.frames_behind += 1  # the server thread is starved; do not pile up work for it
            return
        data = messages.encode(messages.frame_document(result))
        jpeg = self._jpeg(result) if self._jpeg_size is not None and self.jpeg_clients > 0 else None
        self._queued += 1
        try:
            loop.call_soon_threadsafe(self._dispatch, int(result.frame.index), data, jpeg)
        except RuntimeError:
            raise RuntimeError("WebSocketSink: write after close") from None

    def _jpeg(self, result: FrameResult) -> bytes | None:
        image = result.frame.image
        h, w = image.shape[:2]
        jw = min(self._jpeg_size[0], w)
        size = (jw, max(1, round(h * jw / w)))
        if size == (w, h):
            small = image
        else:  # resized into a reused buffer: imencode is done with it before the next frame
            if self._jpeg_small is None or self._jpeg_small.shape[:2] != (size[1], size[0]):
                self._jpeg_small = np.empty((size[1], size[0], image.shape[2]), image.dtype)
            small = cv2.resize(image, size, dst=self._jpeg_small, interpolation=cv2.INTER_AREA)
        ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
        if not ok:
            return None
        return JPEG_HEADER.pack(JPEG_MAGIC, int(result.frame.index) & 0xFFFFFFFF) + buf.tobytes()

    # -- the loop side -------------------------------------------------------------------------
    def _dispatch(self, index: int, data: bytes, jpeg: bytes | None) -> None:
        self._dispatched += 1
        if self._closing:
            return
        now = time.monotonic()
        for client in self._clients.values():
            item = (jpeg, data) if jpeg is not None and client.want_jpeg else (data,)
            if client.push_frame(item):
                self.messages_dropped += 1
            client.last_frame = index
            if client.dropped != client.dropped_reported and now - client.status_at >= STATUS_INTERVAL:
                self._send_status(client, now)

    def _status(self, client: _Client) -> bytes:
        return messages.encode({
            "type": "status",
            "time": round(time.time(), 4),
            "frame": client.last_frame,
            "sent": client.sent,
            "dropped": client.dropped,
            "ignored": client.ignored,
            "frames": client.want_jpeg,
            "clients": self.clients,
        })

    def _send_status(self, client: _Client, now: float | None = None) -> None:
        client.status_at = time.monotonic() if now is None else now
        client.dropped_reported = client.dropped
        client.push_control(self._status(client))

    def _process_request(self, connection, request):
        """Route a request: /ws (token, capacity) goes on to the handshake; the static files are
        answered here; anything else is 404."""
        from websockets.datastructures import Headers
        from websockets.http11 import Response

        parts = urlsplit(request.path)
        path = parts.path
        if path == WS_PATH:
            origin = request.headers.get("Origin")
            if not origin_allowed(origin, request.headers.get("Host"), _is_loopback(self.host)):
                self.refused += 1
                return connection.respond(403, "Forbidden: WebSocket connections from pages of other sites are refused.\n")
            if self.token is not None:
                given = parse_qs(parts.query, keep_blank_values=True).get("token", [""])[0]
                if not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), self.token.encode("utf-8")):
                    self.refused += 1
                    return connection.respond(401, "Unauthorized: connect to /ws?token=TOKEN with the right token.\n")
            if self.clients >= self.max_clients:
                self.refused += 1
                return connection.respond(503, f"Too many clients (at most {self.max_clients}); try again later.\n")
            return None
        static = self._static.get(path)
        if static is None:
            return connection.respond(404, "Not found.\n")
        body, ctype = static
        headers = Headers([
            ("Content-Type", ctype),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            ("X-Content-Type-Options", "nosniff"),
            ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
            ("Referrer-Policy", "no-referrer"),
            ("Connection", "close"),
        ])
        return Response(200, "OK", headers, body)

    async def _handle(self, connection) -> None:
        from websockets.exceptions import ConnectionClosed

        if self.clients >= self.max_clients or self._closing:  # several handshakes raced past the 503 check
            self.refused += 1
            await connection.close(1013, "too many clients")
            return
        sock = connection.transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
            except OSError:
                pass
        self.clients_total += 1
        client = _Client(self.clients_total, connection, self.client_buffer)
        self._clients[client.number] = client  # frames from now on are buffered for it
        self.clients = len(self._clients)
        try:
            # the hello goes first, before any frame; once a client has it, it gets every frame
            # written after (its buffer permitting)
            await connection.send(self._hello, text=True)
            client.sent += 1
            self.messages_sent += 1
            client.sender = asyncio.get_running_loop().create_task(self._send_loop(client))
            async for message in connection:
                self._receive(client, message)
        except ConnectionClosed:
            pass  # including 1009: a message over MAX_INCOMING
        finally:
            del self._clients[client.number]
            self.clients = len(self._clients)
            if client.want_jpeg:
                self.jpeg_clients -= 1
            if client.sender is not None:
                client.sender.cancel()
                await asyncio.gather(client.sender, return_exceptions=True)

    async def _send_loop(self, client: _Client) -> None:
        from websockets.exceptions import ConnectionClosed

        connection = client.connection
        try:
            while True:
                if client.control:
                    await connection.send(client.control.popleft(), text=True)
                    client.sent += 1
                    self.messages_sent += 1
                elif client.frames:
                    for message in client.frames.popleft():
                        await connection.send(message, text=not message.startswith(JPEG_MAGIC))
                        client.sent += 1
                        self.messages_sent += 1
                else:
                    client.wake.clear()
                    await client.wake.wait()
        except ConnectionClosed:
            return
        except Exception:
            _LOG.exception("sending to WebSocket client %d failed", client.number)
            await connection.close(1011, "internal error")

    def _receive(self, client: _Client, message) -> None:
        """The control messages; anything else is counted and ignored."""
        doc = None
        if isinstance(message, str):
            try:
                doc = json.loads(message)
            except ValueError:
                doc = None
        kind = doc.get("type") if isinstance(doc, dict) else None
        if kind == "ping":
            pong = {"type": "pong", "time": round(time.time(), 4)}
            echo = doc.get("t")
            if isinstance(echo, (int, float, str)) and not isinstance(echo, bool) and len(str(echo)) <= 64:
                pong["t"] = echo
            client.push_control(messages.encode(pong))
        elif kind == "frames" and isinstance(doc.get("on"), bool):
            want = doc["on"] and self._jpeg_size is not None
            if want != client.want_jpeg:
                client.want_jpeg = want
                self.jpeg_clients += 1 if want else -1
            self._send_status(client)
        elif kind == "status":
            self._send_status(client)
        else:
            client.ignored += 1
            self.messages_ignored += 1

    # -- diagnostics ---------------------------------------------------------------------------
    def task_count(self, timeout: float = 5.0) -> int:
        """Asyncio tasks alive on the server's loop (one per connection handler and one sender per
        client, plus the server's own); for diagnostics and tests."""
        if self._loop is None or self._closed:
            return 0

        async def count() -> int:
            return sum(1 for t in asyncio.all_tasks() if not t.done() and t is not asyncio.current_task())

        return asyncio.run_coroutine_threadsafe(count(), self._loop).result(timeout)

    def summary(self) -> str:
        """One line for the end of a run."""
        return (f"WebSocket: {self.clients_total} clients, {self.messages_sent} messages sent, "
                f"{self.messages_dropped} frames dropped for slow clients, {self.refused} refused")


__all__ = ["JPEG_MAGIC", "MAX_INCOMING", "STATIC_FILES", "WS_PATH", "WebSocketSink", "host_port", "origin_allowed"]
