"""Frame sources: video files, image folders, cameras and streams, as iterators of Frame.

    with open_source("match.mp4") as source:      # or "frames/", "frames/*.jpg", "0", "rtsp://..."
        for frame in source:                       # livepose.types.Frame
            ...
        print(source.dropped, source.stopped_early)

Two policies:

* **Files** (a video, a folder or glob of images) never drop a frame: reading happens when
  the consumer asks for the next frame, so the consumer's pace is the backpressure.
  Timestamps are ``index / fps``.
* **Live sources** (a camera index, a stream URL, or a file with ``realtime=True``) are read
  by a background thread into a one-slot buffer that keeps only the newest frame; a frame
  not taken before the next one arrives is dropped and counted in ``dropped``, and the
  frame indices show the gaps.  Timestamps are capture times since the first frame.  A
  camera or stream that fails or stalls is reopened with exponential backoff, each attempt
  reported through ``on_event``; after ``max_reconnects`` failed attempts in a row
  iteration raises InputError.

Every source reads its first frame when it is opened, so ``size`` is known at once and a
source that cannot give a single frame fails at open with one InputError line.
``fixed_size`` says whether every frame has the size of the first (False for images).

Modules: ``base`` (the Source interface and shared helpers), ``files`` (videos and image
sequences), ``live`` (the reader thread with reconnects), ``replay`` (files paced as a live
source), ``mp4`` (why a broken MP4 does not open), ``urls`` (stream URLs and password
redaction), ``open`` (``open_source``), ``fake`` (a fake camera for tests).
"""

from __future__ import annotations

from livepose.capture.base import DEFAULT_FPS, Source
from livepose.capture.files import ImageSequenceSource, VideoFileSource, VideoSource
from livepose.capture.live import LiveSource
from livepose.capture.open import open_source

__all__ = [
    "DEFAULT_FPS", "ImageSequenceSource", "LiveSource", "Source", "VideoFileSource", "VideoSource",
    "open_source",
]
