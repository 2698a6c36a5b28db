"""The annotated video's writer (PyAV): frames read back, a cut file still plays, every write
error is one OutputError line naming the file, and the OpenCV fallback warns."""

from __future__ import annotations

import errno
import io
import os

import cv2
import numpy as np
import pytest

from helpers import video_frames
from livepose.errors import OutputError
from livepose.sinks.files import video as V

av = pytest.importorskip("av")
AV_OPEN = av.open  # the tests below patch av.open for the writer; reading uses the real one

SIZE = (160, 96)
FPS = 10.0
N = 35  # 3.5 s: three complete 1-second fragments and a part


def _frames(n: int = N, size=SIZE):
    """Distinct, compressible pictures: a moving bar on a gradient."""
    w, h = size
    base = np.tile(np.linspace(0, 200, w, dtype=np.uint8), (h, 1))
    out = []
    for i in range(n):
        image = np.stack([base, np.roll(base, i, axis=1), np.full_like(base, 60)], axis=2)
        x = (i * 4) % (w - 8)
        image[:, x:x + 8] = 255
        out.append(np.ascontiguousarray(image))
    return out


def _write(path, n: int = N, size=SIZE, fps: float = FPS, **kw) -> V.PyAVWriter:
    writer = V.PyAVWriter(path, size, fps, **kw)
    for image in _frames(n, size):
        writer.write(image)
    writer.close()
    return writer


def _av_count(path) -> tuple[int, tuple[int, int] | None]:
    """Frames PyAV decodes (as a player would) before the end or the first error of a cut
    file, the decoder's delayed frames included, and their size."""
    n, size = 0, None
    with AV_OPEN(str(path)) as container:
        stream = container.streams.video[0]
        packets = container.demux(stream)
        while True:
            try:
                packet = next(packets)
            except (StopIteration, av.FFmpegError):
                break
            try:
                frames = stream.decode(packet)  # the last packet (None) flushes the decoder
            except av.FFmpegError:
                continue
            for frame in frames:
                n += 1
                size = (frame.width, frame.height)
            if packet.size == 0:
                return n, size
        try:
            for frame in stream.decode(None):
                n += 1
                size = (frame.width, frame.height)
        except av.FFmpegError:
            pass
    return n, size


@pytest.mark.parametrize("suffix", sorted(V.VIDEO_FORMATS))
def test_every_frame_reads_back_with_opencv_and_pyav(tmp_path, suffix):
    path = tmp_path / f"out{suffix}"
    writer = _write(path)
    if suffix != ".avi" and any(V._has_encoder(c) for c in V.H264_ENCODERS):
        assert writer.codec in V.H264_ENCODERS
    frames = video_frames(path)
    assert len(frames) == N and all(f.shape == (SIZE[1], SIZE[0], 3) for f in frames)
    assert _av_count(path) == (N, SIZE)
    assert cv2.VideoCapture(str(path)).get(cv2.CAP_PROP_FPS) == pytest.approx(FPS, rel=0.01)
    # the pictures came through (lossy, but close)
    assert np.abs(frames[5].astype(int) - _frames()[5].astype(int)).mean() < 8


def test_odd_size_and_ntsc_rate(tmp_path):
    path = tmp_path / "odd.mp4"
    writer = _write(path, n=12, size=(101, 57), fps=29.97)
    assert writer.codec == "mpeg4"  # H.264 in 4:2:0 needs even sides
    assert _av_count(path) == (12, (101, 57))
    assert cv2.VideoCapture(str(path)).get(cv2.CAP_PROP_FPS) == pytest.approx(29.97, rel=0.001)


def test_keyframe_every_second(tmp_path):
    path = tmp_path / "gop.mp4"
    _write(path)
    with av.open(str(path)) as container:
        keys = [i for i, p in enumerate(container.demux(video=0)) if p.size and p.is_keyframe]
    assert keys[0] == 0 and max(b - a for a, b in zip(keys, keys[1:] + [N])) <= FPS


def _boxes(data: bytes) -> list[tuple[bytes, int, int]]:
    """The top-level boxes of an MP4: (type, start, end)."""
    out, at = [], 0
    while at + 8 <= len(data):
        size, kind = int.from_bytes(data[at:at + 4], "big"), data[at + 4:at + 8]
        out.append((kind, at, at + size))
        at += size
    return out


@pytest.mark.parametrize("suffix", [".mp4", ".mov", ".mkv"])
def test_a_file_cut_anywhere_still_plays_its_complete_parts(tmp_path, suffix):
    """SIGKILL or a crash: the file ends at any byte; what was complete still decodes.

    Every cut after the first complete fragment (MP4) or cluster (Matroska) plays at least that
    fragment, except, for MP4, a cut inside a fragment's header (``moof``, ~2% of the offsets
    here): FFmpeg then refuses to open a file that short.  A SIGKILL cannot cut there (a fragment
    goes out in whole writes of 32 kB, header first) and after a full disk the writer cuts the
    file back to its last complete fragment."""
    whole = tmp_path / f"whole{suffix}"
    _write(whole)
    data = whole.read_bytes()
    if suffix == ".mkv":
        first, headers = len(data) // 3, []  # clusters of one second: the first ends before a third
    else:
        boxes = _boxes(data)
        assert [k for k, _, _ in boxes[:3]] == [b"ftyp", b"moov", b"moof"] and boxes[-1][2] == len(data)
        mdats = [(s, e) for k, s, e in boxes if k == b"mdat"]
        first = mdats[0][1]
        headers = [(s, e) for k, s, e in boxes if k == b"moof"]
    cut_path = tmp_path / f"cut{suffix}"
    tried = 0
    for cut in range(first, len(data), 41):
        if any(s <= cut < e for s, e in headers):
            continue
        cut_path.write_bytes(data[:cut])
        n, size = _av_count(cut_path)
        assert FPS * 0.8 <= n <= N and size == SIZE, (cut, n)
        tried += 1
    assert tried > 100
    cut_path.write_bytes(data[: len(data) // 2])
    assert 0 < len(video_frames(cut_path)) <= N


def test_a_killed_writer_leaves_every_complete_fragment(tmp_path):
    """Frames written and never closed (the process dies): fragments already flushed play."""
    path = tmp_path / "killed.mp4"
    writer = V.PyAVWriter(path, SIZE, FPS)
    for image in _frames(N):
        writer.write(image)
    snapshot = path.read_bytes()  # what is on disk when the process is killed now
    (tmp_path / "snap.mp4").write_bytes(snapshot)
    n, _ = _av_count(tmp_path / "snap.mp4")
    assert n >= writer.frames_on_disk >= 20  # 3 s of 3.5 s (the last fragment is still in memory)
    writer.close()
    assert writer.frames_on_disk == N


# ---- errors ---------------------------------------------------------------------------


def _one_line(err: OutputError, name: str) -> str:
    message = str(err)
    assert "\n" not in message and message.startswith(name), message
    return message


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full on this system")
def test_a_full_device_is_an_output_error_naming_the_file():
    with pytest.raises(OutputError) as err:
        _write("/dev/full", n=5, suffix=".mp4", label="clip_poses.mp4")
    assert "No space left on device" in _one_line(err.value, "clip_poses.mp4")


class _FullAfter(io.RawIOBase):
    """A file on a disk that fills up after ``limit`` bytes (writes then fail with ENOSPC)."""

    def __init__(self, path, limit: int):
        self._fh = open(path, "wb", buffering=0)  # every write on disk at once, as FFmpeg's file protocol
        self.limit = limit

    def writable(self):
        return True

    def seekable(self):
        return self._fh.seekable()

    def seek(self, *args):
        return self._fh.seek(*args)

    def tell(self):
        return self._fh.tell()

    def write(self, data):
        # what fits is written, then ENOSPC (as FFmpeg's file protocol retries a short write)
        room = max(0, self.limit - self._fh.tell())
        self._fh.write(bytes(data[:room]))
        if len(data) > room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return len(data)

    def close(self):
        self._fh.close()
        super().close()


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_disk_full_mid_run_raises_at_once_and_leaves_a_playable_file(tmp_path, monkeypatch, suffix):
    whole = tmp_path / f"whole{suffix}"
    _write(whole)
    limit = int(whole.stat().st_size * 0.6)
    path = tmp_path / f"full{suffix}"
    real_open = av.open
    monkeypatch.setattr(V.av, "open", lambda p, *a, **kw: real_open(_FullAfter(path, limit), *a, **kw))
    writer = V.PyAVWriter(path, SIZE, FPS, suffix=suffix, label=path)
    written = 0
    with pytest.raises(OutputError) as err:
        for image in _frames():
            writer.write(image)
            written += 1
        writer.close()
    assert "No space left on device" in _one_line(err.value, str(path))
    assert written < N and writer.failed
    with pytest.raises(OutputError, match="earlier write failed"):
        writer.write(_frames(1)[0])
    writer.close()  # after a failure: releases, raises nothing more
    writer.close()
    n, size = _av_count(path)
    assert 0 < n <= written and size == SIZE
    assert n == writer.frames_on_disk  # what the writer says the file keeps, it keeps
    if suffix == ".mp4":  # cut back to its last complete fragment
        data = path.read_bytes()
        assert _boxes(data)[-1][2] == len(data) and _boxes(data)[-1][0] == b"mdat"


def test_the_sink_reports_a_full_disk_naming_its_path(tmp_path, monkeypatch):
    """Through VideoSink (what the runner sees): OutputError naming the output path."""
    from livepose.types import Frame, FrameResult, StreamInfo

    path = tmp_path / "out.mp4"
    real_open = av.open
    # room for the header and two 1-second fragments (~6.7 kB), not for the third
    monkeypatch.setattr(V.av, "open", lambda p, *a, **kw: real_open(_FullAfter(p, 7000), *a, **kw))
    info = StreamInfo(source="x", size=SIZE, fps=FPS, frame_count=N, is_live=False, model="m",
                      part_names=("nose",), limbs=())
    sink = V.VideoSink(path)
    sink.open(info)
    with pytest.raises(OutputError) as err:
        for i, image in enumerate(_frames()):
            frame = Frame(index=i, timestamp=i / FPS, captured_at=0.0, image=image)
            sink._write(FrameResult(frame, None, picture=image), None, info)
        sink.close()
    _one_line(err.value, str(path))
    assert not path.exists()  # still under its temporary name
    sink.close()  # renamed into place: valid up to its last complete fragment
    assert path.exists() and not list(tmp_path.glob(".*"))
    n, size = _av_count(path)
    assert n >= sink.frames_written >= 9 and size == SIZE  # at least the first fragment


def _info():
    from livepose.types import StreamInfo

    return StreamInfo(source="x", size=SIZE, fps=FPS, frame_count=N, is_live=False, model="m",
                      part_names=("nose",), limbs=())


def test_the_video_is_renamed_into_place_when_complete(tmp_path):
    path = tmp_path / "out.mkv"
    path.write_bytes(b"an earlier result")
    sink = V.VideoSink(path)
    sink.open(_info())
    for image in _frames(12):
        sink._writer.write(image)
    assert path.read_bytes() == b"an earlier result"  # untouched until the video is complete
    sink.close()
    sink.close()
    assert _av_count(path) == (12, SIZE) and sink.frames_written == 12
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mkv"]


def test_discard_keeps_the_earlier_file(tmp_path):
    path = tmp_path / "out.mp4"
    path.write_bytes(b"an earlier result")
    sink = V.VideoSink(path)
    sink.open(_info())
    for image in _frames(3):
        sink._writer.write(image)
    sink.discard()
    sink.close()
    assert path.read_bytes() == b"an earlier result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]


def test_no_frame_at_all_is_an_empty_video_not_an_empty_file(tmp_path):
    path = tmp_path / "none.mp4"
    with V.VideoSink(path) as sink:
        sink.open(_info())
    assert path.stat().st_size > 0 and _av_count(path) == (0, None)


def test_without_pyav_opencv_writes_with_one_warning(tmp_path, monkeypatch):
    from livepose.types import StreamInfo

    monkeypatch.setattr(V, "HAVE_AV", False)
    warnings = []
    info = StreamInfo(source="x", size=SIZE, fps=FPS, frame_count=N, is_live=False, model="m",
                      part_names=("nose",), limbs=())
    path = tmp_path / "cv.mp4"
    with V.VideoSink(path, warn=warnings.append) as sink:
        sink.open(info)
        for image in _frames(10):
            sink._writer.write(image)
    assert len(warnings) == 1 and "\n" not in warnings[0] and "PyAV" in warnings[0] and str(path) in warnings[0]
    assert sink.codec == V.VIDEO_FOURCC[".mp4"]
    assert len(video_frames(path)) == 10


def test_an_h264_encoder_that_will_not_open_falls_back_to_mpeg4(tmp_path, monkeypatch):
    real = V.PyAVWriter._add_stream

    def refuse_h264(self, name, rate):
        if name != "mpeg4":
            raise av.FFmpegError(22, "avcodec_open2 failed")
        return real(self, name, rate)

    monkeypatch.setattr(V.PyAVWriter, "_add_stream", refuse_h264)
    writer = _write(tmp_path / "fallback.mp4", n=12)
    assert writer.codec == "mpeg4" and _av_count(tmp_path / "fallback.mp4") == (12, SIZE)
