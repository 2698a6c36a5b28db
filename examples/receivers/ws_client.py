#!/usr/bin/env python3
"""Print the people livepose streams over WebSocket, one line per frame.

Start livepose with the WebSocket output, then run this in another terminal:

    livepose run 0 --ws 127.0.0.1:8765
    python examples/receivers/ws_client.py ws://127.0.0.1:8765/ws
    python examples/receivers/ws_client.py ws://127.0.0.1:8765/ws --token SECRET --frames 100

Each line: the frame index, its time in the source, the number of people, then each person's
id with the nose and neck positions in image pixels ("-" where the part was not found).  The
first message on a connection (``hello``) names the keypoints, so the script looks the parts up
by name instead of assuming an order.  When the server goes away the script connects again with
a growing pause (give --once to stop instead); Ctrl-C ends it cleanly.  The messages are
documented in docs/streaming.md.

Needs only the ``websockets`` package (installed with livepose).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI
from websockets.sync.client import connect

SHOWN_PARTS = ("nose", "neck")


def with_token(url: str, token: str | None) -> str:
    """``url`` with ``token=...`` added to its query (browsers and this script cannot send headers)."""
    if not token:
        return url
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "token"]
    query.append(("token", token))
    return urlunsplit(parts._replace(query=urlencode(query)))


def position(keypoint) -> str:
    x, y, _conf = keypoint
    return "-" if x is None else f"({x:.0f}, {y:.0f})"


def frame_line(frame: dict, parts: dict[str, int]) -> str:
    people = frame["people"]
    text = f"frame {frame['frame']:6d}  t={frame['time']:8.2f}s  {len(people)} people"
    for n, person in enumerate(people):
        who = f"#{person['id']}" if person["id"] is not None else f"[{n}]"
        where = "  ".join(f"{name} {position(person['keypoints'][parts[name]])}"
                          for name in SHOWN_PARTS if name in parts)
        text += f"  |  {who} {where}"
    return text


def follow(url: str, frames: int | None, printed: int) -> int:
    """Print frames from one connection until it ends or ``frames`` have been printed in all;
    returns the number printed so far."""
    with connect(url, open_timeout=10, max_size=2**24) as ws:
        parts: dict[str, int] = {}
        for message in ws:
            if isinstance(message, bytes):
                continue  # a JPEG picture (only sent after {"type": "frames", "on": true})
            doc = json.loads(message)
            kind = doc.get("type")
            if kind == "hello":
                parts = {name: k for k, name in enumerate(doc["keypoints"])}
                print(f"connected: {doc['source']} {doc['width']}x{doc['height']}, model {doc['model']}, "
                      f"{len(doc['keypoints'])} keypoints", flush=True)
            elif kind == "frame":
                print(frame_line(doc, parts), flush=True)
                printed += 1
                if frames is not None and printed >= frames:
                    break
            elif kind == "status" and doc.get("dropped"):
                print(f"(the server dropped {doc['dropped']} frames for this client: it read too slowly)",
                      file=sys.stderr, flush=True)
    return printed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", nargs="?", default="ws://127.0.0.1:8765/ws",
                        help="the WebSocket address livepose printed (default: %(default)s)")
    parser.add_argument("--token", help="the token livepose was given, if any")
    parser.add_argument("--frames", type=int, metavar="N", help="stop after N frames (default: run until Ctrl-C)")
    parser.add_argument("--once", action="store_true", help="exit when the connection ends instead of reconnecting")
    args = parser.parse_args(argv)
    if args.frames is not None and args.frames < 1:
        parser.error("--frames must be at least 1")
    url = with_token(args.url, args.token)

    printed, pause = 0, 0.5
    try:
        while True:
            try:
                printed = follow(url, args.frames, printed)
                pause = 0.5
                if args.frames is not None and printed >= args.frames:
                    return 0
                print("the server closed the connection", file=sys.stderr)
            except InvalidURI as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            except InvalidStatus as exc:
                code = exc.response.status_code
                print(f"error: the server refused the connection (HTTP {code}"
                      f"{': wrong or missing --token' if code == 401 else ''})", file=sys.stderr)
                if code in (401, 403, 404):
                    return 1
            except (OSError, ConnectionClosed, TimeoutError) as exc:
                print(f"connection lost or refused ({exc})", file=sys.stderr)
            if args.once:
                return 1
            print(f"connecting again in {pause:.1f} s (Ctrl-C to stop)", file=sys.stderr)
            time.sleep(pause)
            pause = min(pause * 2, 10.0)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
