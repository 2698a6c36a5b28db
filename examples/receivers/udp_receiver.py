"""Receive livepose's UDP JSON output and print one line per frame.

    livepose run examples/one-by-one-clip.mp4 --udp 127.0.0.1:5005
    python examples/receivers/udp_receiver.py --port 5005

Every datagram is one JSON object (schema ``livepose.stream/1``, docs/streaming.md):

* ``{"type": "hello", "keypoints": [...], "limbs": [...], ...}``: what the stream is; sent at
  the start and again every few seconds, so this receiver may start at any time;
* ``{"type": "frame", "frame": N, "people": [...], ...}``: one frame.  A frame too large for
  one datagram comes as several, each with ``"part"`` (0-based) and ``"parts"``; this
  receiver puts them back together and prints the frame once it has every part.

Each line: the frame index, the number of people, and per person its id, track state and
nose position (x, y in source pixels; "-" when the nose was not seen).  Standard library only.
"""

from __future__ import annotations

import argparse
import json
import socket


class Reassembler:
    """Collects the parts of a frame; yields whole frames.  UDP may lose or reorder
    datagrams: a frame whose parts do not all arrive is dropped when a later frame starts."""

    def __init__(self) -> None:
        self.index: int | None = None
        self.parts: dict[int, dict] = {}

    def add(self, message: dict) -> dict | None:
        """The whole frame once ``message`` completes it, else None."""
        parts = int(message.get("parts", 1))
        if parts == 1:
            return message
        if message["frame"] != self.index:
            self.index, self.parts = message["frame"], {}
        self.parts[int(message["part"])] = message
        if len(self.parts) < parts:
            return None
        people = [p for k in sorted(self.parts) for p in self.parts[k]["people"]]
        whole = dict(self.parts[0], people=people)
        whole.pop("part")
        whole.pop("parts")
        self.index, self.parts = None, {}
        return whole


def describe(frame: dict, nose: int | None) -> str:
    line = f"frame {frame['frame']}: {len(frame['people'])} people"
    for n, person in enumerate(frame["people"]):
        if nose is None:
            where = "?"  # no hello yet (it repeats every few seconds)
        else:
            x, y, conf = person["keypoints"][nose]
            where = f"({x:.1f}, {y:.1f})" if conf else "-"  # missing: [null, null, 0]
        state = f" {person['state']}" if person["state"] else ""  # null without tracking
        who = f"id {person['id']}" if person["id"] is not None else f"person {n}"  # null without tracking
        line += f"; {who}{state} nose {where}"
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    parser.add_argument("--port", type=int, default=5005, help="UDP port (default 5005)")
    args = parser.parse_args()

    sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((args.host, args.port))
    print(f"listening for UDP JSON on {args.host}:{args.port} (Ctrl-C stops)", flush=True)
    frames = Reassembler()
    nose: int | None = None  # index of "nose" in the keypoint names, from hello
    try:
        while True:
            data = sock.recv(65536)  # livepose keeps datagrams under 1400 bytes; any size is read whole
            try:
                message = json.loads(data)
            except ValueError:
                continue  # not ours
            if message.get("type") == "hello":
                names = message["keypoints"]
                nose = names.index("nose") if "nose" in names else None
            elif message.get("type") == "frame":
                whole = frames.add(message)
                if whole is not None:
                    print(describe(whole, nose), flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()


if __name__ == "__main__":
    main()
