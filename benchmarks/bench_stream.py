"""Streaming cost: pipeline throughput on a file with and without WebSocket clients.

    python benchmarks/bench_stream.py                          # shared street video, else the bundled clip
    python benchmarks/bench_stream.py --video match.mp4 --frames 200 --runs 5 --clients 10

Each run processes the same frames twice, in alternating order (so drift of a shared
machine hits both alike):

* without streaming: the pipeline with a JSON Lines output;
* with streaming: the same plus the WebSocket server, and ``--clients`` clients connected
  from another process before the first frame: one of them asks for the JPEG pictures too
  (``--ws-frames`` width, 640 by default; 0: none) and then never reads (its TCP window
  fills, then its messages are dropped), the others read the JSON messages;
  with ``--osc-udp`` an OSC and a UDP-JSON output to receivers in that process as well.

Prints frames per second of both, their ratio (the bar: at least 0.95), and for the reading
clients whether each got every frame in order; the stalled client's drop count.  Medians
over ``--runs``.  Exits 1 when a reading client missed a frame or got one out of order.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED_VIDEO = REPO.parent / "shared" / "data" / "video" / "street-crowd-720p50.avi"
BUNDLED_VIDEO = REPO / "examples" / "one-by-one-clip.mp4"


# -- the clients' process ------------------------------------------------------------------------
async def _reader(url: str, name: str, results: dict) -> None:
    from websockets.asyncio.client import connect

    frames: list[int] = []
    async with connect(url, max_size=None) as ws:
        async for message in ws:
            if isinstance(message, bytes):
                continue
            doc = json.loads(message)
            if doc.get("type") == "frame":
                frames.append(doc["frame"])
    results[name] = frames


async def _staller(url: str, stop: asyncio.Event) -> None:
    from websockets.asyncio.client import connect

    # max_queue=1: the library stops reading the socket once one message waits, so the TCP
    # window fills and the server sees a client that does not read
    async with connect(url, max_queue=1, max_size=None) as ws:
        await ws.send(json.dumps({"type": "frames", "on": True}))  # the heaviest client: JPEG too
        await stop.wait()
        ws.transport.abort()


def _udp_count(sock: socket.socket) -> list[int]:
    frames: list[int] = []
    sock.setblocking(False)
    while True:
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return frames
        if data.startswith(b"{"):
            doc = json.loads(data)
            if doc.get("type") == "frame" and doc.get("part", 0) == 0:
                frames.append(doc["frame"])
        else:
            frames.append(-1)  # an OSC bundle


async def _clients_main(url: str, n: int) -> None:
    results: dict[str, list[int]] = {}
    stop = asyncio.Event()
    tasks = [asyncio.create_task(_reader(url, f"reader{k}", results)) for k in range(n - 1)]
    staller = asyncio.create_task(_staller(url, stop))
    print("connected", flush=True)
    await asyncio.gather(*tasks, return_exceptions=True)
    stop.set()
    await asyncio.gather(staller, return_exceptions=True)
    print(json.dumps(results), flush=True)


def clients_process(url: str, n: int) -> None:
    asyncio.run(_clients_main(url, n))


# -- the pipeline's process --------------------------------------------------------------------
def one_pass(estimator, video: Path, frames: int, out: Path, clients: int, stream: bool, osc_udp: bool,
             ws_frames: int) -> dict:
    from livepose import sinks as S
    from livepose.capture import open_source
    from livepose.pipeline import PoseStream
    from livepose.runner import SinkRunner
    from livepose.track import PoseTracker

    source = open_source(str(video))
    pose_stream = PoseStream(source, estimator, max_frames=frames, tracker=PoseTracker(estimator.card.parts))
    outputs = [S.JsonlSink(out / "out.jsonl")]
    ws = proc = None
    receivers: list[socket.socket] = []
    if stream:
        from livepose.sinks.stream.server import WebSocketSink

        ws = WebSocketSink("127.0.0.1", 0, client_buffer=32, frames_width=ws_frames or None)
        outputs.append(ws)
        if osc_udp:
            from livepose.sinks.stream.osc import OscSink
            from livepose.sinks.stream.udp import UdpSink

            for _ in range(2):
                r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                r.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
                r.bind(("127.0.0.1", 0))
                receivers.append(r)
            outputs.append(OscSink("127.0.0.1", receivers[0].getsockname()[1]))
            outputs.append(UdpSink("127.0.0.1", receivers[1].getsockname()[1], max_datagram=60000))
    runner = SinkRunner(outputs, pose_stream.info)
    try:
        if ws is not None:
            url = f"ws://127.0.0.1:{ws.port}/ws"
            proc = subprocess.Popen([sys.executable, __file__, "--client-mode", url, "--clients", str(clients)],
                                    stdout=subprocess.PIPE, text=True)
            assert proc.stdout.readline().strip() == "connected"
            deadline = time.monotonic() + 30
            while ws.clients < clients and time.monotonic() < deadline:
                time.sleep(0.05)
        t0 = time.perf_counter()
        done = 0
        while True:
            result = pose_stream.get()
            if result is None:
                break
            runner.write(result)
            done += 1
        seconds = time.perf_counter() - t0
    finally:
        pose_stream.close()
        runner.close()
    report = {"fps": done / seconds, "frames": done}
    if ws is not None:
        report["dropped"] = ws.messages_dropped
        got = json.loads(proc.communicate(timeout=60)[0].strip().splitlines()[-1])
        expected = list(range(done))
        report["readers_complete"] = sum(1 for v in got.values() if v == expected)
        report["readers"] = len(got)
    if receivers:
        time.sleep(0.2)
        osc, udp = (_udp_count(r) for r in receivers)
        report["osc_bundles"], report["udp_frames"] = len(osc), len(udp)
        for r in receivers:
            r.close()
    return report


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--video", type=Path, help="default: the shared street video, else the bundled clip")
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--osc-udp", action="store_true", help="also stream OSC and UDP JSON")
    ap.add_argument("--ws-frames", type=int, default=640, help="JPEG width for the stalled client (0: none)")
    ap.add_argument("--client-mode", metavar="URL", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.client_mode:
        clients_process(args.client_mode, args.clients)
        return 0
    video = args.video or (SHARED_VIDEO if SHARED_VIDEO.is_file() else BUNDLED_VIDEO)
    if not video.is_file():
        print(f"skipped: {video} not found")
        return 0
    sys.path.insert(0, str(REPO))
    from livepose.estimator import PoseEstimator

    estimator = PoseEstimator()
    print(f"video: {video.name}, {args.frames} frames, {args.clients} WebSocket clients (1 never reads), "
          f"network: {estimator.describe()}")
    plain, streamed, ok = [], [], True
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.runs):
            order = (False, True) if run % 2 == 0 else (True, False)
            for stream in order:
                r = one_pass(estimator, video, args.frames, Path(tmp), args.clients, stream, args.osc_udp,
                             args.ws_frames)
                (streamed if stream else plain).append(r)
                if stream:
                    complete = r["readers_complete"] == r["readers"] == args.clients - 1
                    ok &= complete
                    extra = (f", OSC bundles {r['osc_bundles']}, UDP frames {r['udp_frames']}"
                             if "osc_bundles" in r else "")
                    print(f"run {run + 1} streaming: {r['fps']:.2f} FPS, {r['readers_complete']}/{r['readers']} "
                          f"reading clients got all {r['frames']} frames in order, stalled client's drops "
                          f"{r['dropped']}{extra}")
                else:
                    print(f"run {run + 1} plain:     {r['fps']:.2f} FPS")
    fps_plain = statistics.median(r["fps"] for r in plain)
    fps_stream = statistics.median(r["fps"] for r in streamed)
    ratios = [s["fps"] / p["fps"] for p, s in zip(plain, streamed)]
    print(f"median FPS without streaming {fps_plain:.2f}, with streaming {fps_stream:.2f}: "
          f"ratio {fps_stream / fps_plain:.3f} (per run: {', '.join(f'{x:.3f}' for x in ratios)}; bar >= 0.95)")
    print("every reading client got every frame in order" if ok else "FAIL: a reading client missed frames")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
