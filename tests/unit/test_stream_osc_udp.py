"""OSC and UDP JSON outputs on real results, received on real loopback sockets.

The receivers parse what arrived with python-osc (OSC) and json (UDP) and compare it with
the FrameResults: one complete bundle / datagram per frame (or all its numbered parts), in
order, with the values of the results.  Network trouble (nobody listening, a full buffer)
must never raise or wait; a host that cannot be resolved stops the run at open.
"""

from __future__ import annotations

import json
import socket
import threading
import time

import cv2
import numpy as np
import pytest
from pythonosc import dispatcher as osc_dispatcher
from pythonosc import osc_server
from pythonosc.osc_bundle import OscBundle

from helpers import COCO_DIR, UdpReceiver, first_frames
from livepose.errors import OutputError
from livepose.sinks.stream.osc import DEFAULT_MAX_BUNDLE, OscSink
from livepose.sinks.stream.udp import DEFAULT_MAX_DATAGRAM, UdpSink
from livepose.track import PoseTracker, TrackerConfig
from livepose.types import TRACK_STATES, Frame, FrameResult, People, StreamInfo

CLIP_FRAMES = 25
CROWD_PHOTO = COCO_DIR / "000000197388.jpg"  # five people
WAIT = 10.0  # seconds a receiver waits for a datagram that must come (loopback: at once)


# -- fixtures ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def clip(clip_run):
    """(info, tracked results) of the example clip's first frames, one person walking."""
    info, results = first_frames(clip_run, CLIP_FRAMES)
    assert len(results) == CLIP_FRAMES and all(r.people.tracked for r in results)
    assert sum(len(r.poses) for r in results) > 0
    assert any((~r.poses.visible).any() for r in results), "the clip should have missing joints"
    return info, results


@pytest.fixture(scope="module")
def crowd(estimator):
    """(info, tracked results): a COCO photo with five people, as four frames through the
    tracker (first tentative, then confirmed tracks), for splitting by person."""
    image = cv2.imread(str(CROWD_PHOTO))
    poses = estimator(image)[0]
    tracker = PoseTracker(tuple(estimator.part_names), TrackerConfig())
    results = []
    for index in range(4):
        frame = Frame(index=index, timestamp=index / 25.0, captured_at=time.perf_counter(), image=image)
        tracks = tracker.update(poses, frame.timestamp)
        results.append(FrameResult(frame, People.from_tracks(tracks)))
    assert all(len(r.poses) >= 4 for r in results)
    info = StreamInfo(source=str(CROWD_PHOTO), size=(image.shape[1], image.shape[0]), fps=25.0, frame_count=4,
                      is_live=False, model=estimator.card.name, part_names=estimator.part_names,
                      limbs=estimator.card.limbs)
    return info, results


@pytest.fixture
def receiver():
    r = UdpReceiver(wait=WAIT)
    yield r
    r.close()


def free_port() -> int:
    """A UDP port on loopback that nobody listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def once(make) -> dict:
    """Options that send the stream description only at open (counts stay exact on a slow machine)."""
    return {"keypoints_every": None} if make is OscSink else {"hello_every": None}


def untracked(results: list[FrameResult]) -> list[FrameResult]:
    """The same poses as a run without tracking would give them: no ids, no states."""
    return [FrameResult(r.frame, People.detected(r.poses)) for r in results]


# -- OSC helpers -------------------------------------------------------------------------------
def osc_messages(dgram: bytes) -> list[tuple[str, list]]:
    assert OscBundle.dgram_is_bundle(dgram), "every datagram is an OSC bundle"
    return [(m.address, list(m.params)) for m in OscBundle(dgram)]


def osc_exchange(sink: OscSink, receiver: UdpReceiver, results, prefix="/livepose"):
    """Write each result and read what arrives for it: (descriptions, per frame its bundles).

    Checks the order on the way: the parts of frame k come after frame k-1's, numbered
    0..n-1, and nothing else arrives."""
    descriptions, frames = [], []
    for r in results:
        sink.write(r)
        parts = []
        while True:
            messages = osc_messages(receiver.get())
            if messages[0][0] == f"{prefix}/keypoints":
                descriptions.append(messages)
                continue
            address, (index, t, people, part, nparts) = messages[0]
            assert address == f"{prefix}/frame"
            assert index == r.frame.index, "bundles arrive in frame order"
            assert part == len(parts) and 0 < nparts, "parts arrive numbered, in order"
            assert people == len(r.poses)
            assert np.float32(t) == np.float32(r.frame.timestamp)
            parts.append(messages)
            if part == nparts - 1:
                break
        assert len({p[0][1][4] for p in parts}) == 1, "every part gives the same count"
        frames.append(parts)
    assert receiver.pending() == [], "nothing but the frames' bundles"
    return descriptions, frames


def expected_person(result: FrameResult, n: int) -> tuple[int, str, np.ndarray]:
    pid = int(result.person_ids[n]) if result.person_ids is not None else n
    state = "none" if not result.people.tracked else TRACK_STATES[int(result.people.state[n])]
    # x, y, conf per keypoint with 0, 0, 0 for a missing one (the OpenPose convention)
    return pid, state, result.poses.flat_triples()[n].reshape(-1, 3)


def check_osc_people(result: FrameResult, parts: list, names, mode: str, prefix="/livepose") -> None:
    """The frame's bundles hold each person exactly once, whole, in the frame's order, with
    the result's values to float32 precision."""
    seen = []
    for messages in parts:
        by_person: dict[int, dict] = {}
        order = []
        for address, params in messages[1:]:
            rest = address[len(f"{prefix}/person/"):]
            assert address.startswith(f"{prefix}/person/"), address
            pid_text, _, name = rest.partition("/")
            pid = int(pid_text)
            if pid not in by_person:
                by_person[pid] = {}
                order.append(pid)
            by_person[pid][name or None] = params
        for pid in order:
            seen.append((pid, by_person[pid]))
    assert len(seen) == len(result.poses), "each person exactly once"
    for n, (pid, got) in enumerate(seen):
        want_id, want_state, want = expected_person(result, n)
        assert pid == want_id
        if mode in ("both", "arrays"):
            array = got[None]
            assert array[0] == want_id and array[1] == want_state
            assert np.float32(array[2]) == np.float32(result.poses.score[n])
            np.testing.assert_array_equal(np.array(array[3:], np.float32).reshape(-1, 3), want)
        else:
            assert None not in got
        if mode in ("both", "keypoints"):
            assert [k for k in got if k is not None] == list(names), "one message per keypoint, network order"
            np.testing.assert_array_equal(np.array([got[k] for k in names], np.float32), want)
        else:
            assert list(got) == [None]


# -- OSC -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("tracking", [True, False])
def test_osc_one_bundle_per_frame_with_the_results_values(clip, receiver, tracking):
    info, results = clip
    results = results if tracking else untracked(results)
    sink = OscSink("127.0.0.1", receiver.port, keypoints_every=None)
    sink.open(info)
    first = osc_messages(receiver.get())
    assert first == [
        ("/livepose/keypoints", list(info.part_names)),
        ("/livepose/limbs", [int(i) for i in np.asarray(info.limbs).reshape(-1)]),
        ("/livepose/stream", [info.size[0], info.size[1], pytest.approx(info.fps)]),
    ]
    descriptions, frames = osc_exchange(sink, receiver, results)
    sink.close()
    assert descriptions == [], "keypoints_every=None: the description only at open"
    assert [len(parts) for parts in frames] == [1] * len(results), "one bundle per frame"
    for result, parts in zip(results, frames):
        assert parts[0][0][1][3:] == [0, 1], "an unsplit frame is part 0 of 1"
        check_osc_people(result, parts, info.part_names, "both")
    assert sink.bundles_sent == 1 + len(results) and sink.errors == 0
    assert sink.frames_written == len(results)
    if not tracking:
        states = {p[1][1] for parts in frames for p in parts[0] if p[0].count("/") == 3}
        assert states == {"none"}


@pytest.mark.parametrize("mode", ["keypoints", "arrays"])
def test_osc_modes(crowd, receiver, mode):
    info, results = crowd
    sink = OscSink("127.0.0.1", receiver.port, mode=mode, prefix="/studio/cam1", keypoints_every=None)
    sink.open(info)
    assert osc_messages(receiver.get())[0] == ("/studio/cam1/keypoints", list(info.part_names))
    _, frames = osc_exchange(sink, receiver, results, prefix="/studio/cam1")
    sink.close()
    for result, parts in zip(results, frames):
        assert len(parts) == 1
        check_osc_people(result, parts, info.part_names, mode, prefix="/studio/cam1")
    states = [p[1][1] for parts in frames for p in parts[0][1:] if mode == "arrays"]
    if mode == "arrays":
        assert "tentative" in states and "confirmed" in states


def test_osc_split_keeps_persons_whole_and_numbers_parts(crowd, receiver):
    info, results = crowd
    whole = OscSink("127.0.0.1", receiver.port, keypoints_every=None)
    whole.open(info)
    receiver.get()
    size = len(whole.frame_datagrams(results[-1])[0])
    whole.close()
    limit = size // 2  # at least two parts; still larger than any one person
    sink = OscSink("127.0.0.1", receiver.port, max_bundle=limit, keypoints_every=None)
    sink.open(info)
    receiver.get()
    _, frames = osc_exchange(sink, receiver, results)
    sink.close()
    for result, parts in zip(results, frames):
        assert 1 < len(parts) < len(result.poses) + 1
        assert all(p[0][1][4] == len(parts) for p in parts)
        check_osc_people(result, parts, info.part_names, "both")
    sizes = [len(d) for r in results for d in sink.frame_datagrams(r)]
    assert max(sizes) <= limit
    assert sink.bundles_sent == 1 + sum(len(parts) for parts in frames)


def test_osc_description_repeats(clip, receiver):
    info, results = clip
    sink = OscSink("127.0.0.1", receiver.port, keypoints_every=0)  # 0: before every frame
    sink.open(info)
    receiver.get()
    descriptions, frames = osc_exchange(sink, receiver, results[:5])
    sink.close()
    assert len(descriptions) == 5 and len(frames) == 5
    assert all(d[0] == ("/livepose/keypoints", list(info.part_names)) for d in descriptions)


def test_osc_python_osc_server_reads_default_bundles():
    """The default limit is what python-osc's own server reads per datagram."""
    assert DEFAULT_MAX_BUNDLE == osc_server.ThreadingOSCUDPServer.max_packet_size == 8192


def test_osc_bad_options():
    for kwargs in ({"mode": "all"}, {"prefix": "livepose"}, {"prefix": "/live pose"}, {"prefix": "/a/"},
                   {"max_bundle": 100}, {"max_bundle": 70000}, {"keypoints_every": -1}):
        with pytest.raises(ValueError):
            OscSink("127.0.0.1", 9000, **kwargs)
    with pytest.raises(OutputError, match="port"):
        OscSink("127.0.0.1", 0)


# -- UDP JSON ------------------------------------------------------------------------------------
def udp_exchange(sink: UdpSink, receiver: UdpReceiver, results):
    """Write each result and read its datagram(s): (hellos, per frame its parsed parts)."""
    hellos, frames = [], []
    for r in results:
        sink.write(r)
        parts = []
        while True:
            data = receiver.get()
            assert len(data) <= sink.max_datagram
            doc = json.loads(data)
            if doc["type"] == "hello":
                hellos.append(doc)
                continue
            assert doc["type"] == "frame" and doc["frame"] == r.frame.index, "frames in order"
            parts.append(doc)
            if doc.get("part", 0) == doc.get("parts", 1) - 1:
                break
        assert [p.get("part", 0) for p in parts] == list(range(len(parts)))
        frames.append(parts)
    assert receiver.pending() == []
    return hellos, frames


def check_udp_people(result: FrameResult, parts: list[dict]) -> None:
    people = [p for part in parts for p in part["people"]]
    assert len(people) == len(result.poses)
    for n, person in enumerate(people):
        assert person["id"] == (None if result.person_ids is None else int(result.person_ids[n]))
        want = TRACK_STATES[int(result.people.state[n])] if result.people.tracked else None
        assert person["state"] == want
        assert len(person["keypoints"]) == result.poses.conf.shape[1]
        for p, (x, y, c) in enumerate(person["keypoints"]):
            if result.poses.conf[n, p] > 0:
                # rounded to 2 (x, y) and 3 (conf) decimals
                assert x == pytest.approx(float(result.poses.xy[n, p, 0]), abs=0.005 + 1e-6)
                assert y == pytest.approx(float(result.poses.xy[n, p, 1]), abs=0.005 + 1e-6)
                assert c == pytest.approx(float(result.poses.conf[n, p]), abs=0.0005 + 1e-7)
            else:
                assert (x, y, c) == (None, None, 0)


@pytest.mark.parametrize("tracking", [True, False])
def test_udp_one_datagram_per_frame(clip, receiver, tracking):
    info, results = clip
    results = results if tracking else untracked(results)
    sink = UdpSink("127.0.0.1", receiver.port, hello_every=None)
    sink.open(info)
    hello = json.loads(receiver.get())
    assert hello["type"] == "hello" and hello["schema"] == "livepose.stream/1"
    assert hello["keypoints"] == list(info.part_names) and len(hello["limbs"]) == len(info.limbs)
    hellos, frames = udp_exchange(sink, receiver, results)
    sink.close()
    assert hellos == [] and [len(p) for p in frames] == [1] * len(results)
    for result, parts in zip(results, frames):
        assert "part" not in parts[0]
        assert (parts[0]["width"], parts[0]["height"]) == info.size
        check_udp_people(result, parts)
    assert sink.datagrams_sent == 1 + len(results) and sink.errors == 0


def test_udp_split_and_hello_repetition(crowd, receiver):
    info, results = crowd
    limit = 900  # a person of 18 keypoints is about 500 bytes of JSON: several parts per frame
    sink = UdpSink("127.0.0.1", receiver.port, max_datagram=limit, hello_every=0)
    sink.open(info)
    assert json.loads(receiver.get())["keypoints"] == list(info.part_names)
    hellos, frames = udp_exchange(sink, receiver, results)
    sink.close()
    assert len(hellos) == len(results), "hello_every=0: a hello before every frame"
    for result, parts in zip(results, frames):
        assert len(parts) > 1 and all(p["parts"] == len(parts) for p in parts)
        check_udp_people(result, parts)
    assert DEFAULT_MAX_DATAGRAM <= 1472, "one Ethernet frame (1500 MTU) without fragmentation"


# -- network trouble -----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["osc", "udp"])
def test_nobody_listening_counts_and_warns_once(clip, kind):
    info, results = clip
    warnings = []
    port = free_port()
    make = OscSink if kind == "osc" else UdpSink
    sink = make("127.0.0.1", port, warn=warnings.append, **once(make))
    sink.open(info)
    for r in results:
        sink.write(r)  # never raises
    sink.close()
    assert sink.errors > 0 and sink.errors_by_kind == {"refused": sink.errors}
    assert sink.datagrams_sent + sink.errors == 1 + len(results)
    assert len(warnings) == 1, warnings
    label = "OSC" if kind == "osc" else "UDP"
    assert warnings[0] == f"{label} target 127.0.0.1:{port}: nobody is listening (connection refused); still sending"


@pytest.mark.parametrize("make", [OscSink, UdpSink])
def test_unresolvable_host_is_one_line_output_error(clip, make):
    info, _ = clip
    sink = make("nohost.invalid", 9000)
    with pytest.raises(OutputError) as caught:
        sink.open(info)
    message = str(caught.value)
    label = "OSC" if make is OscSink else "UDP"
    assert message.startswith(f"{label} target nohost.invalid:9000: cannot resolve host (")
    assert "\n" not in message
    sink.close()


def test_receiver_that_never_reads_never_stalls_writes(clip):
    """A receiver with a tiny buffer that never reads: every write returns, the kernel drops
    what does not fit, and what arrived is whole."""
    info, results = clip
    slow = UdpReceiver(rcvbuf=1024, wait=WAIT)
    try:
        sink = OscSink("127.0.0.1", slow.port, keypoints_every=None)
        sink.open(info)
        sink.sender.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1024)
        assert sink.sender.sock.gettimeout() == 0.0, "the socket never waits"
        rounds = 4
        for _ in range(rounds):
            for r in results:
                sink.write(r)
        sink.close()
        attempted = 1 + rounds * len(results)
        assert sink.bundles_sent + sink.errors == attempted
        arrived = slow.pending()
        assert len(arrived) < attempted, "the receiver's buffer was full, so some were dropped"
        for data in arrived:
            assert osc_messages(data)[0][0] in ("/livepose/frame", "/livepose/keypoints")
    finally:
        slow.close()


@pytest.mark.parametrize("make", [OscSink, UdpSink])
def test_full_send_buffer_drops_and_warns_without_blocking(clip, receiver, make):
    """A real full buffer: a datagram socket pair whose reader never reads, filled until the
    kernel refuses more, then put in place of the sink's socket.  It is left *blocking*, so
    only the sink's own send flags keep write from waiting forever."""
    info, results = clip
    warnings = []
    sink = make("127.0.0.1", receiver.port, warn=warnings.append, **once(make))
    sink.open(info)
    full, reader = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    full.setblocking(False)
    while True:
        try:
            full.send(b"x" * 1000)
        except BlockingIOError:
            break
    full.setblocking(True)
    own, sink.sender.sock = sink.sender.sock, full
    own.close()
    done = threading.Event()

    def write_all():
        for r in results:
            sink.write(r)
        done.set()

    writer = threading.Thread(target=write_all, daemon=True)
    writer.start()
    writer.join(60.0)  # a hang guard only: the writes take milliseconds
    assert done.is_set(), "write blocked on a full send buffer"
    sink.close()
    reader.close()
    assert sink.errors == len(results) and sink.errors_by_kind == {"buffer-full": len(results)}
    assert len(warnings) == 1 and "cannot keep up (send buffer full)" in warnings[0]
    assert warnings[0].startswith(f"{sink.label} target 127.0.0.1:{receiver.port}: ")


@pytest.mark.parametrize("make", [OscSink, UdpSink])
def test_close_is_idempotent(clip, receiver, make):
    info, results = clip
    sink = make("127.0.0.1", receiver.port)
    with pytest.raises(RuntimeError):
        sink.write(results[0])  # before open
    with sink:
        sink.open(info)
        sink.write(results[0])
    sink.close()
    sink.close()
    assert sink.sender.sock is None
    with pytest.raises(RuntimeError):
        sink.write(results[0])
    receiver.get()  # the announcement
    receiver.get()  # the frame
    assert receiver.pending() == []


# -- real receivers ----------------------------------------------------------------------------
def test_python_osc_server_and_a_udp_socket_get_every_frame(clip):
    """The clip's frames written to both outputs, as the run does (one thread per output), reach
    python-osc's own server (every message of every bundle dispatched) and a UDP socket.
    (The run's scheduling of outputs is the pipeline's test.)"""
    info, results = clip
    frames = 10
    osc_got: list[tuple[str, list]] = []
    dispatcher = osc_dispatcher.Dispatcher()
    dispatcher.set_default_handler(lambda address, *args: osc_got.append((address, list(args))))
    server = osc_server.BlockingOSCUDPServer(("127.0.0.1", 0), dispatcher)
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    serving.start()
    udp = UdpReceiver(wait=WAIT)
    try:
        sinks = [OscSink("127.0.0.1", server.server_address[1]), UdpSink("127.0.0.1", udp.port)]
        workers = []
        for sink in sinks:
            sink.open(info)

            def feed(sink=sink) -> None:
                for r in results[:frames]:
                    sink.write(r)
                sink.close()

            workers.append(threading.Thread(target=feed, daemon=True))
        for w in workers:
            w.start()
        for w in workers:
            w.join(WAIT)
        assert all(s.frames_written == frames for s in sinks)
        # UDP: read until the last frame is in (loopback delivers at once; WAIT is a guard)
        docs = []
        while not docs or docs[-1].get("frame") != frames - 1:
            doc = json.loads(udp.get())
            if doc["type"] == "frame":
                docs.append(doc)
        assert [d["frame"] for d in docs] == list(range(frames))
        # OSC: python-osc's own server dispatched every message of every bundle
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline and not any(
                a == "/livepose/frame" and p[0] == frames - 1 for a, p in list(osc_got)):
            time.sleep(0.02)
    finally:
        server.shutdown()
        serving.join()
        server.server_close()
        udp.close()
    got = list(osc_got)
    assert got[0][0] == "/livepose/keypoints" and got[0][1] == list(info.part_names)
    frame_messages = [p for a, p in got if a == "/livepose/frame"]
    assert [p[0] for p in frame_messages] == list(range(frames))
    assert all(p[3:] == [0, 1] for p in frame_messages)
    arrays = [a for a, p in got if a.count("/") == 3 and a.startswith("/livepose/person/")]
    assert len(arrays) == sum(p[2] for p in frame_messages) == sum(len(d["people"]) for d in docs)
    assert sinks[0].errors == 0 and sinks[1].errors == 0
