"""The WebSocket server's HTTP side: who may connect (Origin and Host policy), and the viewer's
static files, a fixed whitelist served with a strict Content-Security-Policy.

Nothing here touches sockets: the server (:mod:`.server`) asks :func:`origin_allowed` and
answers static requests with :func:`static_response`.
"""

from __future__ import annotations

import importlib.resources
import ipaddress
from urllib.parse import urlsplit

from livepose.errors import OutputError

WS_PATH = "/ws"

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


def is_loopback(host: str) -> bool:
    """An address (or ``localhost``) of this machine only."""
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
    return name == "localhost" or name.endswith(".localhost") or is_loopback(name)


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


def local_host(host: str) -> str:
    """The host to put in a URL for this machine: a wildcard address becomes loopback."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


def load_static() -> dict[str, tuple[bytes, str]]:
    """Request path -> (body, Content-Type) for every whitelisted file, read from the package."""
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


ALLOWED_METHODS = "GET, HEAD"


def method_not_allowed(connection):
    """405 with an Allow header: only GET (and HEAD for the static files) is served."""
    response = connection.respond(405, "Method not allowed: only GET and HEAD.\n")
    response.headers["Allow"] = ALLOWED_METHODS
    return response


def static_response(connection, static: dict[str, tuple[bytes, str]], path: str, head: bool = False):
    """The answer to a GET (``head``: a HEAD) of ``path`` (not /ws): the file when whitelisted,
    else 404.  A HEAD gets the same headers and no body."""
    from websockets.datastructures import Headers
    from websockets.http11 import Response

    found = static.get(path)
    if found is None:
        return connection.respond(404, "Not found.\n")
    body, ctype = found
    headers = Headers([
        ("Content-Type", ctype),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
        ("X-Content-Type-Options", "nosniff"),
        ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
        ("Referrer-Policy", "no-referrer"),
        ("Connection", "close"),
    ])
    return Response(200, "OK", headers, b"" if head else body)


__all__ = [
    "ALLOWED_METHODS", "CONTENT_SECURITY_POLICY", "STATIC_FILES", "WS_PATH", "host_port", "is_loopback", "load_static",
    "local_host", "method_not_allowed", "origin_allowed", "static_response",
]
