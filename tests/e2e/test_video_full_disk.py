"""The annotated video survives a full disk and a SIGKILL (`livepose run --video --jsonl`).

Full disk: a 3 MB tmpfs (needs root and permission to mount; skipped otherwise, with the
reason) nearly filled by a filler file, so the outputs run out of space mid-run: exit 4, one
error line naming what failed, the JSONL valid up to its last full line, the video playable.
SIGKILL: killed mid-run (after 30 of the clip's 50 frames), the video decodes up to its last complete
fragment, under the temporary name the run left.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import CLIP, count_video_frames

ROOT = Path(__file__).resolve().parents[2]


def _cli(*argv) -> list[str]:
    return [sys.executable, "-m", "livepose.cli", *map(str, argv)]


def _output(folder: Path, name: str) -> Path | None:
    """``name`` in ``folder``, or the temporary file a killed run left of it
    (``.<name>.livepose-<pid>.tmp``, livepose.sinks.files.atomic), or None."""
    if (folder / name).exists():
        return folder / name
    temps = sorted(folder.glob(f".{name}.livepose-*.tmp")) + sorted(folder.glob(f"{name}.part"))
    return temps[0] if temps else None


def _jsonl_lines(folder: Path) -> list[dict]:
    """The JSONL's complete lines (under its own name or its temporary one); every line but a
    cut last one must parse."""
    path = _output(folder, "out.jsonl")
    assert path is not None, sorted(os.listdir(folder))
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    tail = lines.pop()  # after the last newline: b"" or a line cut by the disk / the kill
    docs = [json.loads(line) for line in lines]
    if tail:
        with pytest.raises(ValueError):
            json.loads(tail)
    indices = [d["frame"] for d in docs]
    assert indices == sorted(set(indices))  # in order (a --realtime run may drop frames)
    return docs


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("a full disk needs a small tmpfs: mounting one needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3M", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {(done.stderr or done.stdout).strip() or done.returncode}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)


def _fill(mount: Path, leave: int) -> None:
    st = os.statvfs(mount)
    free = st.f_bavail * st.f_frsize
    with open(mount / "filler", "wb") as fh:
        fh.write(b"\0" * max(0, free - leave))


def test_full_disk_mid_run_exits_4_and_leaves_valid_outputs(small_disk):
    # the clip makes ~400 kB of H.264 and ~50 kB of JSONL: 160 kB runs out about a third in
    _fill(small_disk, 160_000)
    out = small_disk
    done = subprocess.run(_cli("run", CLIP, "--video", out / "out.mp4", "--jsonl", out / "out.jsonl"),
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 4, done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, done.stderr
    assert "out.mp4" in errors[0] or "out.jsonl" in errors[0], errors[0]
    assert "No space left on device" in errors[0], errors[0]
    docs = _jsonl_lines(out)
    assert (out / "out.mp4").exists(), sorted(os.listdir(out))  # renamed into place after the failure
    frames = count_video_frames(out / "out.mp4")
    assert 0 < frames < 50, frames  # playable up to its last complete fragment
    said = re.search(r"out\.mp4 keeps the first (\d+) frame", errors[0])
    if said:  # the count the error line gives is what plays (the file was cut back to a fragment)
        assert frames == int(said.group(1)), (frames, errors[0])
    assert frames <= len(docs) + 12  # the video ends near where the run stopped


def test_sigkill_mid_run_leaves_a_playable_video(tmp_path):
    out = tmp_path
    proc = subprocess.Popen(_cli("run", CLIP, "--video", out / "out.mp4", "--jsonl", out / "out.jsonl"),
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            jsonl = _output(out, "out.jsonl")
            if jsonl is not None and jsonl.read_bytes().count(b"\n") >= 30:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    docs = _jsonl_lines(out)
    assert len(docs) >= 30
    video = _output(out, "out.mp4")
    assert video is not None, sorted(os.listdir(out))
    frames = count_video_frames(video)
    # every complete 1-second fragment (10 frames at the clip's 10 fps) plays
    assert 10 <= frames <= len(docs) + 5, (frames, len(docs))
