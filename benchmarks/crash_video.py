"""The annotated video's writer: its cost per frame, and what survives a SIGKILL.

    python benchmarks/crash_video.py [VIDEO]          # default: examples/one-by-one-clip.mp4

1. Cost: the clip's frames (repeated to 150) written with PyAV (the writer livepose uses:
   fragmented MP4, H.264 where the wheel has it) and with OpenCV's VideoWriter (the old one,
   the fallback without PyAV): wall and CPU milliseconds per frame, and the file size.
2. Crash: ``livepose run VIDEO --video out.mp4 --jsonl out.jsonl`` killed with SIGKILL after
   a few frames; the video must decode (frames > 0, up to its last complete fragment) and every
   JSONL line but a possibly cut last one must parse.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from livepose.sinks.files import video as V  # noqa: E402


def read_frames(path: Path, n: int = 150):
    """``n`` frames: the video's, looped as often as needed."""
    from bench_pipeline import read_frames as every_frame  # this folder is on sys.path

    frames = every_frame(path)
    return (frames * (n // max(1, len(frames)) + 1))[:n]


def cost(make, path: Path, frames) -> tuple[float, float, int]:
    writer = make(path)
    wall, cpu = time.perf_counter(), time.process_time()
    for image in frames:
        writer.write(image)
    writer.close()
    n = len(frames)
    return ((time.perf_counter() - wall) / n * 1000, (time.process_time() - cpu) / n * 1000, path.stat().st_size)


def decoded_frames(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


def output(folder: Path, name: str) -> Path:
    """``name``, or the temporary file a killed run left of it (``.<name>.livepose-<pid>.tmp``)."""
    temps = sorted(folder.glob(f".{name}.livepose-*.tmp"))
    return folder / name if (folder / name).exists() or not temps else temps[0]


def crash(video: Path, folder: Path, after_s: float = 60.0, lines: int = 25) -> None:
    out, jsonl = folder / "out.mp4", folder / "out.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "livepose.cli", "run", str(video), "--video", str(out),
                             "--jsonl", str(jsonl), "--quiet"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + after_s
    while time.monotonic() < deadline and proc.poll() is None:
        if output(folder, jsonl.name).exists() and output(folder, jsonl.name).read_bytes().count(b"\n") >= lines:
            break
        time.sleep(0.05)
    if proc.poll() is not None:
        print("the run ended before it could be killed")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    out, jsonl = output(folder, out.name), output(folder, jsonl.name)
    lines = jsonl.read_bytes().splitlines() if jsonl.exists() else []
    whole = 0
    for n, line in enumerate(lines):
        try:
            json.loads(line)
            whole += 1
        except ValueError:
            assert n == len(lines) - 1, f"line {n + 1} of {len(lines)} is not JSON"
    print(f"SIGKILL after {whole} JSONL lines: {out.name} {out.stat().st_size if out.exists() else 0} bytes, "
          f"{decoded_frames(out) if out.exists() else 0} frames decode")


def main() -> None:
    video = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "examples" / "one-by-one-clip.mp4"
    frames = read_frames(video)
    size = (frames[0].shape[1], frames[0].shape[0])
    fps = cv2.VideoCapture(str(video)).get(cv2.CAP_PROP_FPS) or 25.0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        print(f"{video.name}: {size[0]}x{size[1]} at {fps:g} fps, {len(frames)} frames written")
        rows = []
        if V.HAVE_AV:
            for preset in ("ultrafast", "superfast", "veryfast"):
                V.X264_OPTIONS = {"preset": preset}
                codec = V.choose_codec(".mp4", size)
                rows.append((f"PyAV {codec} {preset}" + (" (used)" if preset == "superfast" else ""), cost(lambda p: V.PyAVWriter(p, size, fps), tmp / "a.mp4", frames)))
            rows.append(("PyAV mpeg4", cost(lambda p: V.PyAVWriter(p, size, fps, codec="mpeg4"), tmp / "b.mp4", frames)))
        rows.append(("OpenCV mp4v", cost(lambda p: V.OpenCVWriter(p, size, fps), tmp / "c.mp4", frames)))
        for name, (wall, cpu, size_b) in rows:
            print(f"  {name:28s} {wall:6.2f} ms/frame wall {cpu:6.2f} ms/frame CPU {size_b / 1e6:6.2f} MB")
        crash(video, tmp)


if __name__ == "__main__":
    main()
