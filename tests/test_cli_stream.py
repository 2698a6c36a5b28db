"""`livepose run` with streaming outputs, from the command line, on the bundled clip."""

from __future__ import annotations

import argparse
import json
import socket
import threading

import pytest

from conftest import REPO
from livepose.cli import _endpoint, main

CLIP = REPO / "examples" / "one-by-one-clip.mp4"  # 50 frames, 768x432, 10 fps


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    """The single error line (the start line naming the network may come before it)."""
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("network: ")]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("text, expected", [
    ("8765", ("127.0.0.1", 8765, False)),
    ("0", ("127.0.0.1", 0, False)),
    ("0.0.0.0:9000", ("0.0.0.0", 9000, True)),
    ("localhost:5005", ("localhost", 5005, True)),
    ("[::1]:8765", ("::1", 8765, True)),
])
def test_endpoint_parsing(text, expected):
    assert _endpoint(text) == expected


@pytest.mark.parametrize("text", ["abc", "host:", ":80", "host:x", "70000", "[::1]8765", "-1"])
def test_endpoint_rejects(text):
    with pytest.raises(argparse.ArgumentTypeError):
        _endpoint(text)


def _udp_receiver() -> socket.socket:
    r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    r.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    r.bind(("127.0.0.1", 0))
    return r


def _drain(sock: socket.socket) -> list[bytes]:
    sock.setblocking(False)
    out = []
    while True:
        try:
            out.append(sock.recv(65536))
        except BlockingIOError:
            return out


def test_run_streams_udp_and_osc_one_message_per_frame(tmp_path, capsys):
    from pythonosc.osc_bundle import OscBundle

    udp, osc = _udp_receiver(), _udp_receiver()
    try:
        code, out, err = run(capsys, "run", CLIP, "--max-frames", 8, "--threads", 2, "-q",
                             "--jsonl", tmp_path / "a.jsonl",
                             "--udp", f"127.0.0.1:{udp.getsockname()[1]}",
                             "--osc", f"127.0.0.1:{osc.getsockname()[1]}")
        assert code == 0, err
        udp_docs = [json.loads(d) for d in _drain(udp)]
        osc_data = _drain(osc)
    finally:
        udp.close()
        osc.close()
    frames = [d for d in udp_docs if d["type"] == "frame"]
    assert [d["frame"] for d in frames] == list(range(8))
    assert any(d["type"] == "hello" and len(d["keypoints"]) == 18 for d in udp_docs)
    lines = [json.loads(x) for x in (tmp_path / "a.jsonl").read_text().splitlines()]
    for doc, line in zip(frames, lines):  # the same people, ids and keypoints as the file output
        assert [p["id"] for p in doc["people"]] == [p["id"] for p in line["people"]]
        assert [p["keypoints"] for p in doc["people"]] == [p["keypoints"] for p in line["people"]]
    bundles = [OscBundle(d) for d in osc_data if OscBundle.dgram_is_bundle(d)]
    frame_numbers = []
    for bundle in bundles:
        for content in bundle:
            if getattr(content, "address", None) == "/livepose/frame":
                frame_numbers.append(content.params[0])
    assert frame_numbers == list(range(8))


def test_run_ws_port_in_use_is_one_line_and_exit_4(tmp_path, capsys):
    blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]
    try:
        code, out, err = run(capsys, "run", CLIP, "--max-frames", 2, "--ws", port, "--jsonl", tmp_path / "a.jsonl")
    finally:
        blocker.close()
    assert code == 4
    line = one_error_line(err)
    assert f"127.0.0.1:{port}" in line and "--ws" in line


def test_run_ws_serves_clients_and_warns_for_open_host(tmp_path, capsys):
    from websockets.sync.client import connect

    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    got: list[int] = []

    def client():
        for _ in range(200):  # the server starts once the network is loaded
            try:
                ws = connect(f"ws://127.0.0.1:{port}/ws", open_timeout=1)
                break
            except OSError:
                threading.Event().wait(0.05)
        else:
            return
        with ws:
            for message in ws:
                if isinstance(message, str):
                    doc = json.loads(message)
                    if doc["type"] == "frame":
                        got.append(doc["frame"])

    t = threading.Thread(target=client, daemon=True)
    t.start()
    code, out, err = run(capsys, "run", CLIP, "--threads", 2, "--ws", f"0.0.0.0:{port}", "--realtime",
                         "--max-frames", 30)
    t.join(10)
    assert code == 0, err
    assert "warning: the WebSocket server on 0.0.0.0" in err
    assert f"http://" in err  # the viewer's address is announced
    assert got and got == sorted(got) and len(set(got)) == len(got)


@pytest.mark.parametrize("argv, needle", [
    (["--ws-frames"], "--ws"),
    (["--ws-token", "x"], "--ws"),
    (["--osc", "127.0.0.1:0"], "port"),
])
def test_run_stream_option_misuse(capsys, argv, needle):
    code, out, err = run(capsys, "run", CLIP, "--max-frames", 1, "--no-display", *argv)
    assert code == 2
    assert needle in one_error_line(err)


def test_run_unresolvable_receiver(tmp_path, capsys):
    code, out, err = run(capsys, "run", CLIP, "--max-frames", 2, "--udp", "no-such-host.invalid:5005",
                         "--jsonl", tmp_path / "a.jsonl")
    assert code == 4
    assert "no-such-host.invalid:5005" in one_error_line(err)
