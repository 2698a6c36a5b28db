"""The WebSocket stream's token: with one set, a client must connect to ``/ws?token=TOKEN``."""

from __future__ import annotations

import hmac
from urllib.parse import parse_qs

REFUSED = "Unauthorized: connect to /ws?token=TOKEN with the right token.\n"  # the 401 body


def check_token_option(token: str | None) -> None:
    """An empty token would accept nobody: ValueError (None means no token)."""
    if token is not None and not token:
        raise ValueError("an empty token would accept nobody; give None for no token")


def token_accepted(query: str, token: str | None) -> bool:
    """Whether a request's query string carries ``token`` (always True without a token).

    Compared in constant time; a missing or empty ``token=`` is refused."""
    if token is None:
        return True
    given = parse_qs(query, keep_blank_values=True).get("token", [""])[0]
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), token.encode("utf-8"))


__all__ = ["REFUSED", "check_token_option", "token_accepted"]
