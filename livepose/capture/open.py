"""``open_source(spec)``: from a path, glob pattern, camera index or stream URL to the right Source.

Files are read at the consumer's pace unless ``realtime``; cameras and streams are live
unless ``live=False``.  Every refusal is one InputError line naming the input.
"""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Any, Callable

import cv2

from livepose.capture.base import Source, _capture_frame_count, _check_fps, _release
from livepose.capture.files import ImageSequenceSource, VideoFileSource, VideoSource, _open_video_file
from livepose.capture.live import LiveSource
from livepose.capture.replay import _ImageSequenceCapture, _PacedCapture
from livepose.capture.urls import _is_stream_url, _redact, _stream_opener
from livepose.errors import InputError
from livepose.images import IMAGE_SUFFIXES, check_name, list_images

_GLOB_CHARS = set("*?[")


def _glob_name(spec: str) -> str:
    """Name for a glob's frames: its folder part ('frames/*.jpg' -> 'frames')."""
    parts = Path(spec).parts
    fixed = []
    for part in parts:
        if _GLOB_CHARS & set(part):
            break
        fixed.append(part)
    folder = Path(*fixed) if fixed else Path(".")
    return folder.resolve().name or "images"


def _is_glob(spec: str) -> bool:
    return bool(_GLOB_CHARS & set(spec))


def _paced_by_consumer(
    opener: Callable[[], Any], *, name: str, label: str, unopenable: str, fps: float | None, counted: bool
) -> VideoSource:
    """A camera or stream read at the consumer's pace (``live=False``), or InputError ``unopenable``.

    ``counted``: take the frame count the capture declares (streams); timestamps then come
    from the capture clock only when it declares none.  Otherwise (cameras) there is no
    count and the capture clock is used.
    """
    try:
        capture = opener()
    except cv2.error:
        capture = None
    if capture is None or not capture.isOpened():
        _release(capture)
        raise InputError(unopenable)
    count = _capture_frame_count(capture) if counted else None
    return VideoSource(capture, name=name, label=label, fps=fps, frame_count=count,
                       capture_clock=count is None)


def open_source(
    spec: str,
    *,
    live: bool | None = None,
    realtime: bool = False,
    fps: float | None = None,
    stall_timeout: float = 5.0,
    open_timeout: float = 10.0,
    max_reconnects: int = 5,
    on_event: Callable[[str], None] | None = None,
) -> Source:
    """Open a video file, image folder, glob pattern, camera index or stream URL.

    ``live``: None picks by kind (cameras and URLs are live, files are not); False reads a
    camera or URL at the consumer's pace; True on a file means ``realtime``.
    ``realtime``: play a file (video or images) at its fps through the live policy, as a
    simulated camera.  ``fps``: overrides the source's frame rate (image folders: 25).
    ``stall_timeout``, ``open_timeout``, ``max_reconnects``, ``on_event``: live sources only.
    Raises InputError (one line, naming the input) when the source cannot give a frame.
    """
    spec = str(spec)
    fps = _check_fps(fps)
    if not spec.strip():
        raise InputError("no input given (a video, folder, glob pattern, camera index or URL)")
    if realtime and live is False:
        raise InputError("realtime playback makes a live source; it cannot be combined with live=False")
    live_opts = dict(
        stall_timeout=stall_timeout, open_timeout=open_timeout, max_reconnects=max_reconnects, on_event=on_event
    )
    path = Path(spec)

    # Streams.
    if _is_stream_url(spec):
        label = _redact(spec)
        unopenable = f"{label}: cannot be opened (unreachable, wrong address or unsupported stream)"
        opener = _stream_opener(spec, min(open_timeout, stall_timeout) if live is not False else open_timeout)
        if live is False:
            return _paced_by_consumer(opener, name="stream", label=label, unopenable=unopenable, fps=fps,
                                      counted=True)
        return LiveSource(opener, "stream", fps, label=label, open_error=unopenable, **live_opts)
    if spec.lower().startswith("file://"):
        spec = spec[len("file://"):]
        path = Path(spec)
    check_name(path, "input")

    # Cameras.
    if spec.strip().isdigit() and not path.exists():
        index = int(spec)
        label = f"camera {index}"
        unopenable = f"{label}: cannot be opened (no such device or in use)"

        def camera() -> Any:
            return cv2.VideoCapture(index)

        if live is False:
            return _paced_by_consumer(camera, name=f"camera{index}", label=label, unopenable=unopenable, fps=fps,
                                      counted=False)
        return LiveSource(camera, f"camera{index}", fps, label=label, open_error=unopenable, **live_opts)

    # Files.
    if path.is_dir():
        paths = list_images([path])
        if not paths:
            raise InputError(f"{spec}: no images in this folder (suffixes {', '.join(IMAGE_SUFFIXES)})")
        source: Source = ImageSequenceSource(paths, name=path.resolve().name or "images", label=spec, fps=fps)
    elif _is_glob(spec) and not path.exists():
        matches = sorted(Path(p) for p in glob.glob(spec, recursive=True))
        paths = [p for p in matches if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
        if not paths:
            what = f"matches {len(matches)} paths but no images" if matches else "matches no file"
            raise InputError(f"{spec}: {what}")
        source = ImageSequenceSource(paths, name=_glob_name(spec), label=spec, fps=fps)
    elif path.suffix.lower() in IMAGE_SUFFIXES and path.exists():
        source = ImageSequenceSource([path], name=path.stem, label=spec, fps=fps)
    else:
        source = VideoFileSource(path, fps=fps)

    if not (realtime or live):
        return source
    # A file played in real time: checked above (first frame read), then reopened.
    source.close()
    if isinstance(source, ImageSequenceSource):
        paths = source.paths

        def opener() -> Any:
            return _PacedCapture(_ImageSequenceCapture(paths), source.fps)
    else:
        def opener() -> Any:
            return _PacedCapture(_open_video_file(path, spec), source.fps)

    return LiveSource(
        opener, source.name, source.fps, label=source.label, finite=True, frame_count=source.frame_count,
        fixed_size=source.fixed_size, **live_opts,
    )
