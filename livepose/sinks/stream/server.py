"""A WebSocket server for live keypoints, and the browser viewer it serves.

    with WebSocketSink("127.0.0.1", 8765) as sink:
        sink.open(info)          # binds, starts the server thread; a busy port is an OutputError
        sink.write(result)       # never waits for clients
    # close(): clients are closed with 1001 (going away), the thread ends

One server on one port answers both:

* ``ws://HOST:PORT/ws``: the stream, schema ``livepose.stream/1`` (:mod:`.messages`): a ``hello``
  on connect, then one ``frame`` message per frame; optionally, just before a frame's JSON, its
  picture as a binary message (:mod:`.jpeg`).  A client may send the control messages of
  :mod:`.control`; anything else is counted and ignored.  With a token (:mod:`.auth`),
  ``?token=...`` must be given in the URL, else HTTP 401.  A browser's connection from a page of
  another web site is refused with 403 (:func:`.http.origin_allowed`).
* ``http://HOST:PORT/``: the viewer page (:data:`.http.STATIC_FILES` and nothing else: a fixed
  table of the package's own files, never a path from the request).

Threads: the server runs an asyncio loop on its own daemon thread.  :meth:`WebSocketSink.write`
(the sink's worker thread) encodes a frame once and hands the bytes to the loop; each client has a
bounded buffer of frames (:mod:`.clients`) drained by its own sender task, and when it is full the
oldest frame is dropped and counted for that client.  A client that stops reading therefore costs
the others and the pipeline nothing; and one that reads nothing at all for ``send_timeout``
seconds (more than WRITE_LIMIT bytes waiting for it, nothing sent) is cut by a watchdog, so that
stalled clients do not keep the ``max_clients`` places.  What the library writes by itself (the
pong to every ping frame) has flow control too: a client is not read while its outgoing buffer
is full (:func:`_connection_class`).  With no client connected, ``write`` returns at once without
encoding.

The messages and limits are documented in docs/streaming.md.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import logging
import os
import socket
import threading
import time
from typing import Callable
from urllib.parse import quote, urlsplit

from livepose.errors import OutputError
from livepose.sinks.base import Sink
from livepose.sinks.stream import auth, control, messages
from livepose.sinks.stream.clients import Client
from livepose.sinks.stream.http import WS_PATH, host_port, is_loopback, load_static, local_host, \
    method_not_allowed, origin_allowed, static_response
from livepose.sinks.stream.jpeg import JpegEncoder, is_jpeg, jpeg_size
from livepose.types import FrameResult, StreamInfo

# The websockets library logs handshake problems (port scanners, bad requests); the sink itself
# never prints, so its log goes nowhere unless the application configures logging.
_LOG = logging.getLogger(__name__)
_LOG.addHandler(logging.NullHandler())

SEND_BUFFER = 128 * 1024  # kernel send buffer per client (Linux doubles it): bounds a slow client's backlog
WRITE_LIMIT = 64 * 1024  # websockets' user-space write buffer high-water mark per client
CLOSE_TIMEOUT = 2.0  # seconds a client gets to answer a close before the connection is cut
START_TIMEOUT = 10.0
SEND_TIMEOUT = 5.0  # seconds a client's outgoing data may stay above WRITE_LIMIT with nothing sent: then it is cut
HARD_WRITE_LIMIT = 1024 * 1024  # bytes buffered for one client above which it is cut at once
WATCH_INTERVAL = 0.1  # seconds between two checks of every client's outgoing buffer


def _connection_class():
    """websockets' server connection with flow control on what it writes by itself.

    The library answers every ping frame with a pong written straight to the transport, with no
    flow control: a client that sends pings and never reads would grow the server's memory
    without bound.  This connection stops reading from a client while its outgoing buffer is
    above the high-water mark (WRITE_LIMIT), so a ping flood costs at most that buffer plus the
    kernel's; the server's watchdog then cuts the client (see ``WebSocketSink._watch``)."""
    from websockets.asyncio.server import ServerConnection

    class FlowControlledConnection(ServerConnection):
        _reading_paused_for_writes = False

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            transport = self.transport
            if self.paused and not self._reading_paused_for_writes and not transport.is_closing():
                self._reading_paused_for_writes = True
                transport.pause_reading()

        def resume_writing(self) -> None:
            super().resume_writing()
            if self._reading_paused_for_writes:
                self._reading_paused_for_writes = False
                if not self.transport.is_closing():
                    self.transport.resume_reading()

    return FlowControlledConnection


class WebSocketSink(Sink):
    """Serve every frame's people to WebSocket clients and the viewer page to browsers.

    ``host``, ``port``: where to listen (port 0: any free port; after :meth:`open`, :attr:`port`
    is the real one).  ``token``: when set, clients must connect to ``/ws?token=TOKEN``.
    ``frames_width``: when set, clients may opt in to the frames themselves, as JPEG
    (``jpeg_quality``) downscaled to this width.  ``client_buffer``: frames buffered per client
    before the oldest is dropped.  ``max_clients``: more are refused with HTTP 503.
    ``send_timeout``: seconds a client may leave its outgoing data unread (more than WRITE_LIMIT
    bytes waiting and nothing sent) before it is cut (counted in :attr:`clients_evicted`), so
    that stalled clients do not hold the ``max_clients`` places for the whole run.
    ``announce`` and ``warn``: optional callables given one line each (the URLs at open; a
    warning when listening beyond this machine without a token).

    Counters (read them from any thread): :attr:`clients` (connected now), :attr:`clients_total`,
    :attr:`messages_sent`, :attr:`messages_dropped` (frames dropped from clients' buffers, each
    with its JPEG), :attr:`messages_ignored` (incoming messages that were not a control message),
    :attr:`refused` (HTTP 400/401/403/405/503 and 1013 closes), :attr:`clients_evicted` (cut for
    not reading, see ``send_timeout``), :attr:`jpeg_clients` (clients taking JPEG
    frames now), :attr:`frames_written`, :attr:`frames_unsent`
    (no client was connected) and :attr:`frames_behind` (the server thread was behind; not sent).
    """

    name = "websocket"

    def __init__(self, host: str = "127.0.0.1", port: int = 8765, *, token: str | None = None,
                 frames_width: int | None = None, jpeg_quality: int = 70, client_buffer: int = 32,
                 max_clients: int = 64, send_timeout: float = SEND_TIMEOUT,
                 announce: Callable[[str], None] | None = None, warn: Callable[[str], None] | None = None):
        if not 0 <= int(port) <= 65535:
            raise ValueError(f"port must be in 0..65535, not {port}")
        if frames_width is not None and int(frames_width) < 16:
            raise ValueError(f"frames_width must be at least 16 pixels, not {frames_width}")
        if not 1 <= int(jpeg_quality) <= 100:
            raise ValueError(f"jpeg_quality must be in 1..100, not {jpeg_quality}")
        if int(client_buffer) < 1 or int(max_clients) < 1:
            raise ValueError("client_buffer and max_clients must be at least 1")
        if not 0 < float(send_timeout) < float("inf"):
            raise ValueError(f"send_timeout must be a positive number of seconds, not {send_timeout}")
        auth.check_token_option(token)
        self.host = host
        self.port = int(port)
        self.token = token
        self.frames_width = None if frames_width is None else int(frames_width)
        self.jpeg_quality = int(jpeg_quality)
        self.client_buffer = int(client_buffer)
        self.max_clients = int(max_clients)
        self.send_timeout = float(send_timeout)
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
        self.clients_evicted = 0
        self.frames_written = 0
        self.frames_unsent = 0
        self.frames_behind = 0

        self._info: StreamInfo | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server = None
        self._watcher: asyncio.Task | None = None
        self._static: dict[str, tuple[bytes, str]] = {}
        self._hello = b""
        self._jpeg_size: tuple[int, int] | None = None
        self._jpeg: JpegEncoder | None = None  # reuses its downscale buffer (writer thread only)
        self._clients: dict[int, Client] = {}  # loop thread only
        self.jpeg_clients = 0  # clients that opted in to JPEG frames (written by the loop thread)
        self._queued = 0  # frames handed to the loop (writer thread only)
        self._dispatched = 0  # frames the loop has taken (loop thread only)
        self._closing = False
        self._closed = False
        self._close_lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------
    def open(self, info: StreamInfo) -> None:
        if self._thread is not None or self._closed:
            raise RuntimeError("WebSocketSink: open called twice or after close")
        self._static = load_static()
        sock = self._bind()
        self._info = info
        if self.frames_width is not None:
            self._jpeg_size = jpeg_size(info.size, self.frames_width)
            self._jpeg = JpegEncoder(self._jpeg_size[0], self.jpeg_quality)
        hello = messages.hello_document(info)
        hello.update({
            "frames": self._jpeg_size is not None,
            "frames_width": None if self._jpeg_size is None else self._jpeg_size[0],
            "frames_height": None if self._jpeg_size is None else self._jpeg_size[1],
            "buffer": self.client_buffer,
            "max_message": control.MAX_INCOMING,
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

        shown = local_host(self.host)
        self.url = f"http://{host_port(shown, self.port)}/"
        self.ws_url = f"ws://{host_port(shown, self.port)}{WS_PATH}"
        if self.announce is not None:
            query = "" if self.token is None else f"?token={quote(self.token, safe='')}"
            where = " (all interfaces)" if self.host in ("", "0.0.0.0", "::") else ""
            self.announce(f"live viewer at {self.url}{query}  WebSocket at {self.ws_url}{query}{where}")
        if self.warn is not None and not is_loopback(self.host):
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
            max_size=control.MAX_INCOMING, write_limit=WRITE_LIMIT, close_timeout=CLOSE_TIMEOUT, open_timeout=5,
            server_header="livepose", logger=_LOG, create_connection=_connection_class(),
        )
        self._watcher = asyncio.get_running_loop().create_task(self._watch())

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
        if self._watcher is not None:
            self._watcher.cancel()
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
        index = int(result.frame.index)
        jpeg = self._jpeg.message(result.frame.image, index) if self._jpeg is not None and self.jpeg_clients > 0 \
            else None
        self._queued += 1
        try:
            loop.call_soon_threadsafe(self._dispatch, index, data, jpeg)
        except RuntimeError:
            raise RuntimeError("WebSocketSink: write after close") from None

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
            if client.dropped != client.dropped_reported and now - client.status_at >= control.STATUS_INTERVAL:
                self._send_status(client, now)

    def _send_status(self, client: Client, now: float | None = None) -> None:
        client.status_at = time.monotonic() if now is None else now
        client.dropped_reported = client.dropped
        client.push_control(control.status_message(client, self.clients))

    async def _watch(self) -> None:
        """Cut the clients that do not read: more than WRITE_LIMIT bytes waiting for one and
        nothing sent to it for ``send_timeout`` seconds, or more than HARD_WRITE_LIMIT at all
        (what the library writes by itself, pongs and closes, has no other bound)."""
        while not self._closing:
            await asyncio.sleep(WATCH_INTERVAL)
            now = time.monotonic()
            for client in list(self._clients.values()):
                transport = client.connection.transport
                if client.evicted or transport is None:
                    continue
                waiting = transport.get_write_buffer_size()
                if waiting <= WRITE_LIMIT or client.sent != client.stall_sent:
                    client.stall_since = None if waiting <= WRITE_LIMIT else now
                    client.stall_sent = client.sent
                    continue
                if client.stall_since is None:
                    client.stall_since = now
                if waiting > HARD_WRITE_LIMIT or now - client.stall_since >= self.send_timeout:
                    self._evict(client)

    def _evict(self, client: Client) -> None:
        """Cut a client that does not read: no close handshake (it would never be read), the
        connection is aborted and its buffers freed; the handler then forgets the client."""
        if client.evicted:
            return
        client.evicted = True
        self.clients_evicted += 1
        _LOG.info("WebSocket client %d evicted: it read nothing for %.1f s", client.number, self.send_timeout)
        client.connection.transport.abort()

    def _process_request(self, connection, request):
        """Route a request: /ws (origin, token, capacity) goes on to the handshake; the static
        files are answered here; anything else is 404."""
        if request.method not in ("GET", "HEAD"):
            self.refused += 1
            return method_not_allowed(connection)
        origins, hosts = request.headers.get_all("Origin"), request.headers.get_all("Host")
        if len(origins) > 1 or len(hosts) > 1:
            self.refused += 1
            return connection.respond(400, "Bad request: more than one Origin or Host header.\n")
        parts = urlsplit(request.path)
        if parts.path != WS_PATH:
            return static_response(connection, self._static, parts.path, head=request.method == "HEAD")
        if request.method != "GET":
            self.refused += 1
            return method_not_allowed(connection)
        if not origin_allowed(origins[0] if origins else None, hosts[0] if hosts else None, is_loopback(self.host)):
            self.refused += 1
            return connection.respond(403, "Forbidden: WebSocket connections from pages of other sites are refused.\n")
        if not auth.token_accepted(parts.query, self.token):
            self.refused += 1
            return connection.respond(401, auth.REFUSED)
        if self.clients >= self.max_clients:
            self.refused += 1
            return connection.respond(503, f"Too many clients (at most {self.max_clients}); try again later.\n")
        return None

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
        client = Client(self.clients_total, connection, self.client_buffer)
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

    async def _send_loop(self, client: Client) -> None:
        from websockets.exceptions import ConnectionClosed

        connection = client.connection
        try:
            while True:
                batch = client.next_messages()
                if batch is None:
                    client.wake.clear()
                    await client.wake.wait()
                    continue
                for message in batch:
                    await connection.send(message, text=not is_jpeg(message))
                    client.sent += 1
                    self.messages_sent += 1
        except ConnectionClosed:
            return
        except Exception:
            _LOG.exception("sending to WebSocket client %d failed", client.number)
            await connection.close(1011, "internal error")

    def _receive(self, client: Client, message) -> None:
        """A control message (:mod:`.control`); anything else is counted and ignored (never a
        reason to close the client)."""
        try:
            request = control.read_request(message)
        except Exception:  # read_request expects none; a malformed message must never cost a 1011
            request = None
        if request is None:
            client.ignored += 1
            self.messages_ignored += 1
        elif request.kind == "ping":
            client.push_control(control.pong_message(request))
        elif request.kind == "frames":
            want = request.on and self._jpeg_size is not None
            if want != client.want_jpeg:
                client.want_jpeg = want
                self.jpeg_clients += 1 if want else -1
            self._send_status(client)
        else:  # status
            self._send_status(client)

    # -- diagnostics ---------------------------------------------------------------------------
    def task_count(self, timeout: float = 5.0) -> int:
        """Asyncio tasks alive on the server's loop (one per connection handler and one sender per
        client, plus the server's own); for diagnostics and tests."""
        if self._loop is None or self._closed:
            return 0

        async def count() -> int:
            return sum(1 for t in asyncio.all_tasks() if not t.done() and t is not asyncio.current_task())

        return asyncio.run_coroutine_threadsafe(count(), self._loop).result(timeout)

    def buffered_bytes(self, timeout: float = 5.0) -> int:
        """Bytes waiting in the server's outgoing buffers for all clients now (user space, not
        the kernel's); for diagnostics and tests."""
        if self._loop is None or self._closed:
            return 0

        async def total() -> int:
            return sum(c.connection.transport.get_write_buffer_size() for c in self._clients.values()
                       if c.connection.transport is not None)

        return asyncio.run_coroutine_threadsafe(total(), self._loop).result(timeout)

    def summary(self) -> str:
        """One line for the end of a run."""
        evicted = f", {self.clients_evicted} cut for not reading" if self.clients_evicted else ""
        return (f"WebSocket: {self.clients_total} clients, {self.messages_sent} messages sent, "
                f"{self.messages_dropped} frames dropped for slow clients, {self.refused} refused{evicted}")


__all__ = ["WebSocketSink"]
