"""The annotated video: the input with skeletons drawn, same size and frame rate.

Written with FFmpeg through PyAV (the ``av`` package) so that it survives what OpenCV's
writer does not:

* every write error (a full disk, a removed drive, a read-only remount) is an ``OutputError``
  of one line naming the file, at the frame it happens (OpenCV ignores them and the file is
  left without its index, unplayable); the file is then cut back to its last complete part
  and still renamed into place;
* the file stays playable up to its last complete part if the run is killed or crashes:
  ``.mp4``/``.mov`` are fragmented MP4 (``frag_keyframe+empty_moov+default_base_moof``: the
  index travels with each fragment), ``.mkv`` is Matroska (clusters of at most a second);
  a keyframe every second bounds what a crash loses to about a second.  ``.avi`` has its index
  at the end and is not crash-safe; it is kept for compatibility (MPEG-4 part 2).
* like every file output, it is written under a temporary name
  (:func:`livepose.sinks.files.atomic.part_path`) and renamed over its path when closed, so a
  run that fails to start leaves the earlier video as it was (a killed run leaves the
  temporary file, playable).

The codec is H.264 (libx264) where the PyAV wheel has the encoder and the size is even,
else MPEG-4 part 2; ``benchmarks/crash_video.py`` measures its cost against OpenCV's writer
and checks a SIGKILL.  Without PyAV, OpenCV's writer is used with a one-line warning that the
video may be lost on a crash or a full disk.
"""

from __future__ import annotations

import os
import sys
from fractions import Fraction
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from livepose.errors import OutputError
from livepose.records import FrameRecord
from livepose.sinks.files.atomic import part_path
from livepose.sinks.files.common import FileSink, prepare_file, problem
from livepose.types import FrameResult, StreamInfo

try:  # PyAV: the crash- and full-disk-safe writer; without it OpenCV's (with a warning)
    import av
except ImportError:  # pragma: no cover - exercised by monkeypatching HAVE_AV
    av = None
HAVE_AV = av is not None

# Container suffix -> OpenCV fourcc, used only without PyAV.  All four were checked to write
# and read back with opencv-python 5.0 (FFmpeg backend).
VIDEO_FOURCC = {".mp4": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "XVID"}
# Container suffix -> (FFmpeg muxer, muxer options) for PyAV.
FRAGMENTED_MP4 = {"movflags": "frag_keyframe+empty_moov+default_base_moof", "flush_packets": "1"}
VIDEO_FORMATS = {
    ".mp4": ("mp4", FRAGMENTED_MP4),
    ".mov": ("mov", FRAGMENTED_MP4),
    ".mkv": ("matroska", {"cluster_time_limit": "1000", "flush_packets": "1"}),
    ".avi": ("avi", {}),
}
# Encoders in order of preference; H.264 needs an even width and height (4:2:0).
H264_ENCODERS = ("libx264", "libopenh264")  # by name: never a hardware encoder that may not open
# superfast: ~3 ms a 768x432 frame, files about OpenCV's mp4v's size (benchmarks/crash_video.py).
# Not tune=zerolatency: with it this libx264 flags every packet a keyframe (one fragment a frame)
X264_OPTIONS = {"preset": "superfast"}
KEYFRAME_SECONDS = 1.0
DEFAULT_FPS = 25.0


def _has_encoder(name: str) -> bool:
    try:
        av.codec.Codec(name, "w")
    except Exception:
        return False
    return True


def choose_codec(suffix: str, size: tuple[int, int]) -> str:
    """The encoder for a container suffix and frame size: H.264 where the wheel has one
    (and the size is even), else MPEG-4 part 2."""
    if suffix != ".avi" and size[0] % 2 == 0 and size[1] % 2 == 0:
        for name in H264_ENCODERS:
            if _has_encoder(name):
                return name
    return "mpeg4"


def _frame_rate(fps: float) -> Fraction:
    """``fps`` as an exact rate: 29.97 -> 30000/1001, 25 -> 25."""
    for den in (1, 1001, 100):
        rate = Fraction(round(fps * den), den)
        if rate > 0 and abs(float(rate) - fps) < 1e-3:
            return rate
    return Fraction(fps).limit_denominator(100000)


class PyAVWriter:
    """Frames (BGR, one size) encoded and muxed into ``path``; every error an OutputError.

    ``write`` raises an ``OutputError`` naming ``label`` (default ``path``) when FFmpeg cannot
    write; after one, the writer is failed and :meth:`close` only releases it.

    ``frames``: frames given to the encoder; ``frames_on_disk``: frames in the parts of the file
    already written out whole (fragments, clusters), which play whatever happens next: all of
    them after :meth:`close`.  The muxer writes whole parts only (``flush_packets``: at once), so
    the file's size after a successful packet is the end of a complete part; after a failed
    write the file is cut back to it, and ends on a complete part (FFmpeg refuses to open an MP4
    that ends inside a fragment's header).  AVI is not crash-safe (its index is written last):
    ``frames_on_disk`` stays 0 until it is closed.
    """

    def __init__(self, path, size: tuple[int, int], fps: float, *, suffix: str | None = None,
                 codec: str | None = None, label=None):
        self.path = str(path)
        self.label = label if label is not None else self.path
        suffix = (suffix or os.path.splitext(self.path)[1]).lower()
        fmt, options = VIDEO_FORMATS[suffix]
        self.size = (int(size[0]), int(size[1]))
        self.codec = codec or choose_codec(suffix, self.size)
        self.failed = False
        self.frames = 0
        self.frames_on_disk = 0
        self._packets = 0  # packets muxed (one per frame)
        self._format = fmt
        self._good = None  # the file's size after the last successful packet (end of a complete part)
        self._even = self.size[0] % 2 == 0 and self.size[1] % 2 == 0
        rate = _frame_rate(fps)
        # an H.264 encoder that will not open (a build without it working): MPEG-4 part 2 instead
        candidates = [self.codec] + (["mpeg4"] if codec is None and self.codec != "mpeg4" else [])
        for n, name in enumerate(candidates):
            try:  # the file itself is opened at the first packet
                self._container = av.open(self.path, "w", format=fmt, options=dict(options))
            except Exception as exc:
                raise self._error(exc) from None
            try:
                self._stream = self._add_stream(name, rate)
                self.codec = name
                break
            except Exception as exc:
                self._abandon()
                if n == len(candidates) - 1:
                    raise self._error(exc) from None

    def _add_stream(self, name: str, rate: Fraction):
        stream = self._container.add_stream(name, rate=rate)
        stream.width, stream.height = self.size
        stream.pix_fmt = "yuv420p"
        ctx = stream.codec_context
        ctx.gop_size = max(1, round(float(rate) * KEYFRAME_SECONDS))
        if name == "libx264":
            ctx.options = dict(X264_OPTIONS)
        elif name == "mpeg4":
            ctx.bit_rate = max(1_000_000, self.size[0] * self.size[1] * 4)
        ctx.open()  # now, so that an encoder that refuses the size fails at open
        return stream

    def _error(self, exc: BaseException) -> OutputError:
        self.failed = True
        if isinstance(exc, OSError) and exc.errno:
            return OutputError(f"{self.label}: cannot write ({problem(exc)})")
        text = " ".join(str(exc).split()) or type(exc).__name__
        return OutputError(f"{self.label}: cannot write the video ({text})")

    def _mux(self, packets) -> None:
        for packet in packets:
            self._container.mux(packet)
            try:
                size = os.stat(self.path).st_size
            except OSError:
                size = None
            if size is not None and size != self._good:
                # the muxer wrote out a part: a fragment (MP4, before this packet's keyframe) or
                # a cluster (Matroska, before this packet): every earlier frame is in the file
                self._good = size
                if self._format != "avi":
                    self.frames_on_disk = self._packets
            self._packets += 1

    def write(self, image: np.ndarray) -> None:
        if self.failed:
            raise OutputError(f"{self.label}: cannot write (an earlier write failed)")
        try:
            if self._even:  # OpenCV's conversion is faster than swscale's from bgr24
                yuv = cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420)
                frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
            else:
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
            frame.pts = self.frames
            self._mux(self._stream.encode(frame))
        except Exception as exc:
            raise self._error(exc) from None
        self.frames += 1

    def close(self) -> None:
        """Flush the encoder and finish the file (OutputError on failure); idempotent."""
        container = getattr(self, "_container", None)
        if container is None:
            return
        if self.failed:
            self._abandon()
            return
        try:
            self._mux(self._stream.encode(None))
            if self.frames == 0:
                container.start_encoding()  # the header: an empty video, not an empty file
            self._container = None
            container.close()
            self.frames_on_disk = self.frames
        except Exception as exc:
            self._container = container
            error = self._error(exc)
            self._abandon()
            raise error from None

    def _abandon(self) -> None:
        """Release the container after a failure, ignoring further errors, and cut the file back
        to the end of its last complete part."""
        container, self._container = getattr(self, "_container", None), None
        if container is not None:
            try:
                container.close()
            except Exception:
                pass
        good = getattr(self, "_good", None)
        if self.failed and good is not None and self._format != "avi":
            try:
                os.truncate(self.path, good)
            except OSError:
                pass


class OpenCVWriter:
    """OpenCV's VideoWriter (the fallback without PyAV): reports nothing while writing."""

    def __init__(self, path, size: tuple[int, int], fps: float, *, suffix: str | None = None, label=None):
        self.path = str(path)
        self.label = label if label is not None else self.path
        suffix = (suffix or os.path.splitext(self.path)[1]).lower()
        self.codec = VIDEO_FOURCC[suffix]
        self.size = (int(size[0]), int(size[1]))
        self.failed = False
        self.frames = 0
        self.frames_on_disk = 0  # OpenCV's file has its index only after close
        writer = cv2.VideoWriter(self.path, cv2.VideoWriter_fourcc(*self.codec), fps, self.size)
        if not writer.isOpened():
            writer.release()
            raise OutputError(
                f"{self.label}: OpenCV {cv2.__version__} cannot open a {self.codec!r} video writer "
                f"of {self.size[0]}x{self.size[1]} at {fps:g} fps"
            )
        self._writer = writer

    def write(self, image: np.ndarray) -> None:
        self._writer.write(image)
        self.frames += 1

    def close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.release()
            self.frames_on_disk = self.frames


def _stderr_warning(line: str) -> None:
    print(f"warning: {line}", file=sys.stderr, flush=True)


class VideoSink(FileSink):
    """The input video with skeletons drawn: same size and frame rate as the input.

    The container follows the suffix (``VIDEO_FORMATS``); another suffix is an OutputError.
    The picture is ``result.picture`` (drawn once by the pipeline) or, when None, drawn here
    into a reused buffer.  Frames of another size than ``info.size`` are resized after drawing.

    The video is written under its temporary name (:func:`livepose.sinks.files.atomic.part_path`)
    and renamed over ``path`` by :meth:`close`, also after a failed write (it plays up to its last
    complete fragment); :meth:`discard` removes it.  Write errors raise an OutputError naming
    ``path``; ``frames_written`` is what the file surely holds (frames in complete fragments).

    ``angles``: joints (``livepose.settings.ANGLE_JOINTS``) whose flexion angles are written beside
    them (:func:`livepose.render_angles.draw_angles`), drawn here, in the sink's thread, on a copy
    of the shared picture; None (default): nothing more is done per frame.
    """

    name = "video"
    needs_picture = True

    def __init__(self, path: str | os.PathLike, *, warn: Callable[[str], None] | None = None,
                 angles: tuple[str, ...] | None = None):
        super().__init__(path)
        self.angles = tuple(angles) if angles else None
        self._angles_canvas: np.ndarray | None = None
        suffix = self.path.suffix.lower()
        if suffix not in VIDEO_FORMATS:
            known = ", ".join(VIDEO_FORMATS)
            raise OutputError(f"{self.path}: unknown video type {suffix or '(no suffix)'!r}; use one of {known}")
        self.suffix = suffix
        self.fourcc = VIDEO_FOURCC[suffix]
        self.warn = warn or _stderr_warning
        self._writer: PyAVWriter | OpenCVWriter | None = None
        self._temp: Path | None = None
        self.frames_written = 0  # frames the file holds whatever happens next (complete fragments)
        self.codec: str | None = None  # the encoder (or OpenCV's fourcc), known after open

    def open(self, info: StreamInfo) -> None:
        prepare_file(self.path)
        temp = part_path(self.path)
        if not HAVE_AV:  # OpenCV picks the container by the name's suffix
            temp = temp.with_name(temp.name + self.suffix)
        try:  # a clear message (permission, read-only disk) before the encoder's
            with open(temp, "wb"):
                pass
        except OSError as exc:
            raise self._fail(exc) from None
        self._temp = temp
        fps = float(info.fps) if info.fps and info.fps > 0 else DEFAULT_FPS
        self.size = (int(info.size[0]), int(info.size[1]))
        try:
            if HAVE_AV:
                self._writer = PyAVWriter(temp, self.size, fps, suffix=self.suffix, label=self.path)
            else:
                self.warn(f"{self.path}: PyAV is not installed (pip install av); writing with OpenCV, "
                          "which reports no write errors: the video may be lost on a crash or a full disk")
                self._writer = OpenCVWriter(temp, self.size, fps, suffix=self.suffix, label=self.path)
        except BaseException:
            self._remove_temp()
            raise
        self.codec = self._writer.codec
        self._info = info

    def _write(self, result: FrameResult, record: FrameRecord, info: StreamInfo) -> None:
        image = self._picture(result, info)
        if self.angles:
            image = self._with_angles(image, result)
        if (image.shape[1], image.shape[0]) != self.size:
            image = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
        try:
            self._writer.write(image)
        finally:
            self.frames_written = self._writer.frames_on_disk

    def _with_angles(self, image: np.ndarray, result: FrameResult) -> np.ndarray:
        from livepose.render_angles import draw_angles

        if image is not self._canvas:  # the picture every output shares: draw on a copy of our own
            canvas = self._angles_canvas
            if canvas is None or canvas.shape != image.shape or canvas.dtype != image.dtype:
                canvas = self._angles_canvas = np.empty_like(image)
            np.copyto(canvas, image)
            image = canvas
        return draw_angles(image, result.people, self.angles)

    def close(self) -> None:
        """Finish the video and rename it into place (also after a failed write: it plays up to
        its last complete fragment); OutputError naming ``path`` when that fails.  Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            writer, self._writer = self._writer, None
            temp, self._temp = self._temp, None
        error: OutputError | None = None
        if writer is not None:
            try:
                writer.close()
            except OutputError as exc:  # the fragments before stay valid: still renamed
                error = exc
            self.frames_written = writer.frames_on_disk
        if temp is not None:
            try:
                os.replace(temp, self.path)
            except OSError as exc:
                error = error or OutputError(f"{self.path}: cannot write ({problem(exc)}); what was written "
                                             f"is kept in {temp}")
        if error is not None:
            raise error

    def discard(self) -> None:
        """Close without keeping anything (a run that failed to start): the temporary file is
        removed and ``path`` keeps what it held before.  Idempotent."""
        with self._lock:
            self._closed = True
            writer, self._writer = self._writer, None
        if isinstance(writer, PyAVWriter):
            writer.failed = True
        if writer is not None:
            try:
                writer.close()
            except Exception:
                pass
        self._remove_temp()

    def _remove_temp(self) -> None:
        temp, self._temp = self._temp, None
        if temp is not None:
            try:
                temp.unlink()
            except OSError:
                pass


__all__ = ["DEFAULT_FPS", "HAVE_AV", "KEYFRAME_SECONDS", "OpenCVWriter", "PyAVWriter", "VIDEO_FORMATS",
           "VIDEO_FOURCC", "VideoSink", "choose_codec"]
