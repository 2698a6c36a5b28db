"""Stream URLs: telling a URL from a path, hiding its password in messages, opening it with timeouts."""

from __future__ import annotations

import re
from typing import Any, Callable
from urllib.parse import urlsplit, urlunsplit

import cv2

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def _is_stream_url(spec: str) -> bool:
    """A URL of a stream (rtsp://, http://, ...); file:// URLs are paths, not streams."""
    return bool(_URL.match(spec)) and not spec.lower().startswith("file://")


def _redact(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.hostname or ""
        if parts.port is not None:
            host = f"{host}:{parts.port}"
        user = parts.username or ""
        return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
    except ValueError:
        return url


def _stream_opener(url: str, timeout_s: float) -> Callable[[], Any]:
    ms = max(1, int(timeout_s * 1000))

    def opener() -> Any:
        return cv2.VideoCapture(
            url, cv2.CAP_FFMPEG, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]
        )

    return opener
