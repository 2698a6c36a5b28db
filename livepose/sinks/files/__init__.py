"""Outputs that write files: annotated video, JSON Lines, OpenPose JSON, COCO results, CSV, photos.

====================  ==================================================================
:mod:`.video`         :class:`VideoSink`: the input with skeletons drawn (mp4, mov, avi, mkv)
:mod:`.jsonl`         :class:`JsonlSink`: one JSON object per frame (``livepose.frame/1``)
:mod:`.openpose`      :class:`OpenPoseJsonSink`: OpenPose's per-frame (or per-photo) JSON
:mod:`.coco`          :class:`CocoSink`: COCO keypoint results, one list for the run
:mod:`.csv`           :class:`CsvSink`: long-form CSV, one row per part per person
:mod:`.image`         :class:`ImageSink`: annotated photos
:mod:`.common`        path checks at open (:func:`prepare_file`, :func:`prepare_folder`), :class:`FileSink`
:mod:`.atomic`        the one atomic writer: :func:`write_bytes_atomic`, :func:`write_json_atomic`, :class:`PartFile`
:mod:`.paths`         output paths against inputs and each other: :func:`check_outputs`, :func:`photo_stems`
====================  ==================================================================

Each streams: a frame is written (and flushed) when it arrives and nothing per frame is
kept.  ``open`` creates the parent folders and the file under a temporary name
(:mod:`.atomic`), so a path that cannot be written fails before the first frame and the file
at the path is untouched until ``close`` renames the complete file over it; every ``OSError``
becomes an ``OutputError`` of one line naming the file.  ``close`` is idempotent and always
leaves valid files; ``discard`` drops what a run that failed to start made.  :mod:`.paths`
checks output paths against the inputs and each other before anything is opened.
The schemas are documented in docs/outputs.md; the numbers come from the frame's record
(:mod:`livepose.records`).
"""

from livepose.sinks.files.atomic import PartFile, write_bytes_atomic, write_json_atomic
from livepose.sinks.files.coco import CocoSink
from livepose.sinks.files.common import FileSink, prepare_file, prepare_folder
from livepose.sinks.files.csv import CSV_CARRIED_HEADER, CSV_HEADER, CsvSink, csv_rows
from livepose.sinks.files.image import ImageSink, image_suffix, write_image
from livepose.sinks.files.jsonl import JSONL_SCHEMA, JsonlSink, jsonl_document
from livepose.sinks.files.openpose import OpenPoseJsonSink
from livepose.sinks.files.video import DEFAULT_FPS, VIDEO_FOURCC, VideoSink

__all__ = [
    "CSV_CARRIED_HEADER", "CSV_HEADER", "CocoSink", "CsvSink", "DEFAULT_FPS", "FileSink", "ImageSink", "JSONL_SCHEMA",
    "JsonlSink", "OpenPoseJsonSink", "PartFile", "VIDEO_FOURCC", "VideoSink", "csv_rows", "image_suffix",
    "jsonl_document", "prepare_file", "prepare_folder", "write_bytes_atomic", "write_image", "write_json_atomic",
]
