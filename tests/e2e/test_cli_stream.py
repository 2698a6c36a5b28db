"""`livepose run` with streaming outputs, from the command line, on the bundled clip."""

from __future__ import annotations

import json
import socket
import threading

import pytest

from helpers import CLIP, UdpReceiver, error_line, run_cli


def test_run_streams_udp_and_osc_one_message_per_frame(tmp_path, capsys, part_names):
    from pythonosc.osc_bundle import OscBundle

    udp, osc = UdpReceiver(rcvbuf=1 << 22), UdpReceiver(rcvbuf=1 << 22)
    try:
        code, out, err = run_cli(capsys, "run", CLIP, "--max-frames", 8, "--threads", 2, "-q",
                                 "--jsonl", tmp_path / "a.jsonl", "--udp", f"127.0.0.1:{udp.port}",
                                 "--osc", f"127.0.0.1:{osc.port}")
        assert code == 0, err
        udp_docs = [json.loads(d) for d in udp.pending()]
        osc_data = osc.pending()
    finally:
        udp.close()
        osc.close()
    frames = [d for d in udp_docs if d["type"] == "frame"]
    assert [d["frame"] for d in frames] == list(range(8))
    assert any(d["type"] == "hello" and d["keypoints"] == list(part_names) for d in udp_docs)
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
        code, out, err = run_cli(capsys, "run", CLIP, "--max-frames", 2, "--ws", port, "--jsonl", tmp_path / "a.jsonl")
    finally:
        blocker.close()
    assert code == 4
    line = error_line(err, after_start_line=True)
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
    code, out, err = run_cli(capsys, "run", CLIP, "--threads", 2, "--ws", f"0.0.0.0:{port}", "--realtime",
                         "--max-frames", 30)
    t.join(10)
    assert code == 0, err
    assert "warning: the WebSocket server on 0.0.0.0" in err
    assert "http://" in err  # the viewer's address is announced
    assert got and got == sorted(got) and len(set(got)) == len(got)


@pytest.mark.parametrize("argv, needle", [
    (["--ws-frames"], "--ws"),
    (["--ws-token", "x"], "--ws"),
    (["--osc", "127.0.0.1:0"], "port"),
])
def test_run_stream_option_misuse(capsys, argv, needle):
    code, out, err = run_cli(capsys, "run", CLIP, "--max-frames", 1, "--no-display", *argv)
    assert code == 2
    assert needle in error_line(err, after_start_line=True)


def test_run_unresolvable_receiver(tmp_path, capsys):
    code, out, err = run_cli(capsys, "run", CLIP, "--max-frames", 2, "--udp", "no-such-host.invalid:5005",
                         "--jsonl", tmp_path / "a.jsonl")
    assert code == 4
    assert "no-such-host.invalid:5005" in error_line(err, after_start_line=True)
