"""Receive livepose's OSC output and print one line per frame.

    livepose run examples/one-by-one-clip.mp4 --osc 127.0.0.1:9000
    python examples/receivers/osc_receiver.py --port 9000

Each line: the frame index, the number of people, and per person its id, track state and
nose position (x, y in source pixels; "-" when the nose was not seen).  Needs python-osc
(installed with livepose).  The address space is documented in docs/streaming.md.

Start the receiver first or last: the keypoint names are repeated every few seconds
(``/livepose/keypoints``), so a late receiver learns them soon.
"""

from __future__ import annotations

import argparse

from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_server import BlockingOSCUDPServer


class FramePrinter:
    """Collects the messages of one frame bundle (or of its parts) and prints the frame."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.names: list[str] = []  # keypoint names, from /keypoints
        self.frame: list | None = None  # [index, time, people, part, parts] of the latest /frame
        self.people: dict[str, dict] = {}  # id -> state and nose (x, y, conf), this frame

    def on_keypoints(self, address: str, *names: str) -> None:
        self.names = list(names)

    def on_frame(self, address: str, index: int, time: float, people: int, part: int, parts: int) -> None:
        if part == 0:
            self.people = {}
        self.frame = [index, time, people, part, parts]

    def on_person(self, address: str, *args) -> None:
        """Both kinds of person message (``--osc-mode`` decides which come)."""
        pid_and_name = address[len(f"{self.prefix}/person/"):].split("/")
        person = self.people.setdefault(pid_and_name[0], {"state": "", "nose": None})
        if len(pid_and_name) == 1:  # /prefix/person/<id>: i id, s state, f score, x y conf per keypoint
            person["state"] = args[1]
            if "nose" in self.names:
                k = 3 * self.names.index("nose")
                person["nose"] = tuple(args[3 + k: 6 + k])
        elif pid_and_name[1] == "nose":  # /prefix/person/<id>/nose: f x, f y, f conf
            person["nose"] = tuple(args)

    def on_bundle_end(self) -> None:
        if self.frame is None:
            return
        index, _time, people, part, parts = self.frame
        if part < parts - 1:
            return  # more parts of this frame to come
        line = f"frame {index}: {people} people"
        for pid, person in self.people.items():
            nose = person["nose"]
            where = f"({nose[0]:.1f}, {nose[1]:.1f})" if nose and nose[2] > 0 else "-"  # conf 0: not seen
            line += f"; id {pid} {person['state']} nose {where}".replace("  ", " ")
        print(line, flush=True)
        self.frame = None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    parser.add_argument("--port", type=int, default=9000, help="UDP port (default 9000)")
    parser.add_argument("--prefix", default="/livepose", help="the OSC prefix livepose sends with")
    args = parser.parse_args()

    printer = FramePrinter(args.prefix)
    dispatcher = Dispatcher()
    dispatcher.map(f"{args.prefix}/keypoints", printer.on_keypoints)
    dispatcher.map(f"{args.prefix}/frame", printer.on_frame)
    dispatcher.map(f"{args.prefix}/person/*", printer.on_person)

    class Server(BlockingOSCUDPServer):
        """python-osc's one-thread server (datagrams handled in order), printing after
        each datagram, i.e. after each bundle."""

        def finish_request(self, request, client_address):
            super().finish_request(request, client_address)
            if OscBundle.dgram_is_bundle(request[0]):
                printer.on_bundle_end()

    server = Server((args.host, args.port), dispatcher)
    print(f"listening for OSC on {args.host}:{args.port} (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
