"""Soak test of the WebSocket output: a looping real video for N minutes with 10 clients, two of them hostile.

    python benchmarks/soak_stream.py                    # 30 minutes, the bundled clip looped
    python benchmarks/soak_stream.py --minutes 3 --video match.mp4 --clients 10 --ws-frames 640
    python benchmarks/soak_stream.py --minutes 3 --quiet-run   # the same readers, no hostile client

The video (``--video``, default examples/one-by-one-clip.mp4) is looped into a temporary file
long enough for ``--minutes`` and played by ``livepose run VIDEO --ws 127.0.0.1:0 --ws-frames W
--realtime`` with every file output (``--jsonl``, ``--csv``, ``--coco``, ``--video``,
``--openpose-json``) in a process of its own (the server measured is that process); at the end
the files are checked to hold the same frames.  This
process connects ``--clients`` clients before the video starts:

* one **stalled** client: asks for the JPEG frames and then reads nothing (a tiny receive
  buffer); when the server cuts it, another one takes its place, so there is always one;
* one **ping flooder**: sends WebSocket ping frames as fast as the server takes them and never
  reads (the pongs pile up unless the server bounds them); replaced likewise when cut;
* the others **read** every message (JSON frames), checking that the frame numbers increase.

Prints the server's resident memory (VmRSS) every ``--interval`` seconds (default 60), and at
the end: memory at the first report, at the end and at its peak (growth = end - first), frames
written to the JSONL file and received by each reader (with the JSONL frames the server dropped for
that reader), how many hostile clients the server cut (seen by the clients, and the server's
summary line), and whether every frame of the JSONL is there in order.  Exits 1 when a reader
saw a frame out of order, the JSONL misses a frame, or the run failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUNDLED_VIDEO = REPO / "examples" / "one-by-one-clip.mp4"
HANDSHAKE = ("GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")


def looped_video(source: Path, seconds: float, folder: Path) -> tuple[Path, int, float]:
    """The source looped into an MJPEG .avi at least ``seconds`` long: (path, frames, fps)."""
    import cv2

    from bench_pipeline import read_frames  # this folder is on sys.path

    cap = cv2.VideoCapture(str(source))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    cap.release()
    frames = read_frames(source)
    if not frames:
        sys.exit(f"{source}: no frames could be read")
    total = int(seconds * fps) + 1
    path = folder / "looped.avi"
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    for k in range(total):
        writer.write(frames[k % len(frames)])
    writer.release()
    return path, total, fps


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def ws_frame(opcode: int, payload: bytes) -> bytes:
    head = bytes([0x80 | opcode, 0x80 | len(payload)])
    return head + b"\0\0\0\0" + payload  # masked with a zero mask; payloads under 126 bytes here


def raw_client(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    sock.sendall(HANDSHAKE.format(port=port).encode())
    response = b""
    while b"\r\n\r\n" not in response:
        chunk = sock.recv(1)
        if not chunk:
            raise ConnectionResetError("closed during the handshake")
        response += chunk
    if not response.startswith(b"HTTP/1.1 101"):
        raise ConnectionRefusedError(response.split(b"\r\n", 1)[0].decode(errors="replace"))
    return sock


class Hostile:
    """The stalled client and the ping flooder, each replaced when the server cuts it."""

    def __init__(self, port: int, stop: threading.Event):
        self.port, self.stop = port, stop
        self.cut = {"stalled": 0, "flood": 0}
        self.refused = {"stalled": 0, "flood": 0}
        self.pings_sent = 0

    def _connect(self, kind: str) -> socket.socket | None:
        try:
            return raw_client(self.port)
        except (OSError, ConnectionRefusedError):
            self.refused[kind] += 1
            time.sleep(0.5)
            return None

    def stalled(self) -> None:
        while not self.stop.is_set():
            sock = self._connect("stalled")
            if sock is None:
                continue
            try:
                sock.sendall(ws_frame(0x1, json.dumps({"type": "frames", "on": True}).encode()))
                sock.settimeout(0.5)
                probe = ws_frame(0xA, b"")  # an unsolicited pong: ignored by the server, fails once cut
                while not self.stop.is_set():  # read nothing
                    try:
                        sock.sendall(probe)
                    except TimeoutError:
                        pass
                    time.sleep(0.5)
            except (ConnectionResetError, BrokenPipeError):
                self.cut["stalled"] += 1
            finally:
                sock.close()

    def flood(self) -> None:
        burst = ws_frame(0x9, b"p" * 125) * 256
        while not self.stop.is_set():
            sock = self._connect("flood")
            if sock is None:
                continue
            sock.settimeout(0.2)
            try:
                while not self.stop.is_set():
                    try:
                        sock.sendall(burst)
                        self.pings_sent += 256
                    except TimeoutError:
                        pass  # the server stopped reading us
            except (ConnectionResetError, BrokenPipeError):
                self.cut["flood"] += 1
            finally:
                sock.close()


async def reader(url: str, stats: dict) -> None:
    from websockets.asyncio.client import connect

    async with connect(url, open_timeout=30, max_size=None) as ws:
        async for message in ws:
            if not isinstance(message, str):
                continue
            doc = json.loads(message)
            if doc.get("type") != "frame":
                continue
            frame = doc["frame"]
            last = stats["last"]
            if last is not None:
                if frame <= last:
                    stats["out_of_order"] += 1
                else:
                    stats["gaps"] += frame - last - 1
            stats["last"] = frame
            stats["frames"] += 1
            stats["seen"].append(frame)


def every_output_agrees(folder: Path, frames: list) -> str:
    """Whether the CSV, the OpenPose folder and the video hold exactly the JSONL's frames (one line)."""
    import csv

    import cv2

    want = sorted(f for f in frames if f is not None)
    try:
        with open(folder / "out.csv", newline="") as fh:
            csv_frames = sorted({int(r["frame"]) for r in csv.DictReader(fh)})
    except OSError as exc:
        return f"out.csv unreadable ({exc})"
    openpose = sorted(int(p.name.split("_")[-2]) for p in (folder / "openpose").glob("*_keypoints.json"))
    cap = cv2.VideoCapture(str(folder / "out.mp4"))
    video = 0
    while cap.read()[0]:
        video += 1
    cap.release()
    problems = []
    if not set(csv_frames) <= set(want):  # the CSV has rows only for frames with people
        problems.append("the CSV has frames the JSONL lacks")
    if openpose != want:
        problems.append(f"OpenPose folder {len(openpose)} frames, JSONL {len(want)}")
    if video != len(want):
        problems.append(f"video {video} frames, JSONL {len(want)}")
    if problems:
        return "; ".join(problems)
    return f"every output holds the JSONL's {len(want)} frames (video {video}, OpenPose {len(openpose)}, CSV {len(csv_frames)} with people)"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=30.0, help="how long (default 30)")
    ap.add_argument("--video", type=Path, default=BUNDLED_VIDEO, help="the video to loop (default: the bundled clip)")
    ap.add_argument("--clients", type=int, default=10, help="clients in all, two of them hostile (default 10)")
    ap.add_argument("--ws-frames", type=int, default=640, help="JPEG width for the stalled client (default 640)")
    ap.add_argument("--interval", type=float, default=60.0, help="seconds between memory reports (default 60)")
    ap.add_argument("--quiet-run", action="store_true", help="no hostile clients: the reference memory")
    ap.add_argument("--livepose", default=None, help="the livepose command (default: python -m livepose)")
    args = ap.parse_args()
    if args.clients < 3 and not args.quiet_run:
        ap.error("--clients must be at least 3 (one stalled, one flooding, one reading)")

    seconds = args.minutes * 60
    with tempfile.TemporaryDirectory(prefix="livepose-soak-") as tmp:
        folder = Path(tmp)
        made = time.monotonic()
        video, total, fps = looped_video(args.video, seconds + 5, folder)
        print(f"looped {args.video.name} into {total} frames at {fps:g} fps ({time.monotonic() - made:.0f} s)",
              flush=True)
        jsonl = folder / "out.jsonl"
        command = ([args.livepose] if args.livepose else [sys.executable, "-m", "livepose"]) + [
            "run", str(video), "--ws", "127.0.0.1:0", "--ws-frames", str(args.ws_frames), "--realtime",
            "--jsonl", str(jsonl), "--csv", str(folder / "out.csv"), "--coco", str(folder / "out.coco.json"),
            "--video", str(folder / "out.mp4"), "--openpose-json", str(folder / "openpose")]
        errors = open(folder / "stderr.txt", "w+")
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True, cwd=REPO)
        port = None
        deadline = time.monotonic() + 120
        while port is None and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            errors.seek(0)
            found = re.search(r"ws://127\.0\.0\.1:(\d+)/ws", errors.read() + "")
            port = int(found.group(1)) if found else None
        if port is None:
            proc.kill()
            errors.seek(0)
            print(errors.read(), file=sys.stderr)
            print("livepose did not announce its WebSocket port", file=sys.stderr)
            return 1

        stop = threading.Event()
        n_readers = args.clients if args.quiet_run else args.clients - 2
        stats = [{"frames": 0, "gaps": 0, "out_of_order": 0, "last": None, "error": None, "seen": []}
                 for _ in range(n_readers)]

        def run_readers() -> None:
            async def all_readers():
                async def one(s):
                    try:
                        await reader(f"ws://127.0.0.1:{port}/ws", s)
                    except Exception as exc:  # the end of the run closes them (1001)
                        s["error"] = f"{type(exc).__name__}: {exc}"
                await asyncio.gather(*(one(s) for s in stats))
            asyncio.run(all_readers())

        threads = [threading.Thread(target=run_readers, daemon=True)]
        hostile = Hostile(port, stop)
        if not args.quiet_run:
            threads += [threading.Thread(target=hostile.stalled, daemon=True),
                        threading.Thread(target=hostile.flood, daemon=True)]
        for t in threads:
            t.start()

        start = time.monotonic()
        samples = []
        next_report = start + args.interval
        print(f"server pid {proc.pid}, port {port}; {n_readers} readers"
              + ("" if args.quiet_run else ", 1 stalled, 1 ping flooder"), flush=True)
        while proc.poll() is None and time.monotonic() - start < seconds:
            time.sleep(0.5)
            if time.monotonic() >= next_report:
                next_report += args.interval
                rss = rss_mib(proc.pid)
                samples.append(rss)
                print(f"{(time.monotonic() - start) / 60:5.1f} min  server RSS {rss:7.1f} MiB  "
                      f"reader frames {min(s['frames'] for s in stats)}..{max(s['frames'] for s in stats)}  "
                      f"cut: stalled {hostile.cut['stalled']} flood {hostile.cut['flood']}  "
                      f"pings sent {hostile.pings_sent}", flush=True)
        peak = rss_mib(proc.pid, "VmHWM")
        end_rss = rss_mib(proc.pid)
        ran = time.monotonic() - start
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        stop.set()
        for t in threads:
            t.join(5)
        errors.seek(0)
        log = errors.read()
        summary = [line for line in (log + out).splitlines() if line.startswith("WebSocket:")]

        written = []
        with open(jsonl) as f:
            for line in f:
                try:
                    written.append(json.loads(line).get("frame"))
                except ValueError:
                    pass
        in_order = all(b > a for a, b in zip(written, written[1:]))
        files_agree = every_output_agrees(folder, written)
        source_gaps = sum(b - a - 1 for a, b in zip(written, written[1:]) if b > a)

        print(f"\nran {ran / 60:.1f} min; livepose exit {proc.returncode}")
        if samples:
            print(f"server RSS: first report {samples[0]:.1f} MiB, end {end_rss:.1f} MiB, peak (VmHWM) {peak:.1f} MiB; "
                  f"growth {end_rss - samples[0]:+.1f} MiB")
        print(f"JSONL: {len(written)} frames, in order: {in_order} ({source_gaps} source frames skipped by "
              f"--realtime: the pipeline was behind)")
        wrote = set(written)
        for k, s in enumerate(stats):
            seen, first, last = set(s["seen"]), (s["seen"] or [0])[0], (s["seen"] or [-1])[-1]
            missed = sum(1 for f in wrote if first <= f <= last and f not in seen)
            print(f"reader {k}: {s['frames']} frames, {missed} of the JSONL's frames missed (dropped by the server "
                  f"for it), {s['out_of_order']} out of order" + (f" ({s['error']})" if s["error"] else ""))
        if not args.quiet_run:
            print(f"hostile clients cut by the server: stalled {hostile.cut['stalled']}, flood {hostile.cut['flood']} "
                  f"(refused at connect: {hostile.refused}); pings sent {hostile.pings_sent}")
        print("server: " + (summary[-1] if summary else "(no summary line)"))
        print("files: " + files_agree)
        bad = proc.returncode not in (0, 130, -signal.SIGINT) or not in_order or any(s["out_of_order"] for s in stats) \
            or not files_agree.startswith("every output holds")
        if bad:
            print(log[-2000:], file=sys.stderr)
        return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
