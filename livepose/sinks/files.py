"""Sinks that write files: annotated video, JSON Lines, OpenPose JSON, COCO results, CSV.

Each streams: a frame is written (and flushed) when it arrives and nothing per frame is
kept.  ``open`` creates the parent folders and the file, so a path that cannot be
written fails before the first frame; every ``OSError`` becomes an ``OutputError`` of one
line naming the file.  ``close`` is idempotent and always leaves valid files.
The schemas are documented in docs/outputs.md.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
import threading
from pathlib import Path

import cv2
import numpy as np

from livepose.errors import OutputError
from livepose.formats import coco_results, openpose_document, write_json_atomic
from livepose.render import draw_poses
from livepose.sinks.base import Sink
from livepose.sinks.messages import TRACK_STATE_NAMES, num, triples
from livepose.types import COCO17_NAMES, FrameResult, Poses, StreamInfo

JSONL_SCHEMA = "livepose.frame/1"
CSV_HEADER = ("frame", "time", "person", "keypoint", "x", "y", "conf")

# Container suffix -> fourcc.  All four were checked to write and read back with
# opencv-python 5.0 (FFmpeg backend); H.264 ('avc1') has no encoder in the wheels and
# WebM (VP8/VP9) encodes too slowly for real time, so neither is offered.
VIDEO_FOURCC = {".mp4": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "XVID"}
DEFAULT_FPS = 25.0


def _problem(exc: OSError) -> str:
    return exc.strerror or str(exc)


def prepare_file(path: Path) -> None:
    """Create ``path``'s parent folders and check that ``path`` can be written."""
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError(f"{path}: cannot create the folder {parent}: a file of that name is in the way") from None
    except OSError as exc:
        raise OutputError(f"{path}: cannot create the folder {parent} ({_problem(exc)})") from None
    if path.is_dir():
        raise OutputError(f"{path}: cannot write: it is a folder")


def prepare_folder(folder: Path) -> None:
    """Create ``folder`` and check that files can be created in it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError(f"{folder}: cannot create the folder: a file of that name is in the way") from None
    except OSError as exc:
        raise OutputError(f"{folder}: cannot create the folder ({_problem(exc)})") from None
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".livepose-probe-"):
            pass
    except OSError as exc:
        raise OutputError(f"{folder}: cannot write in the folder ({_problem(exc)})") from None


def _open_text(path: Path, newline: str | None = None):
    try:
        return open(path, "w", encoding="utf-8", newline=newline)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({_problem(exc)})") from None


def _check_parts(info_parts: tuple[str, ...], poses: Poses) -> None:
    if tuple(poses.part_names) != tuple(info_parts):
        raise ValueError(
            f"poses have parts {poses.part_names}, but the stream was opened with {tuple(info_parts)}"
        )


class _FileSink(Sink):
    """Shared bookkeeping: a lock (write and close may come from different threads),
    the open state, and OSError -> OutputError around writes."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._info: StreamInfo | None = None
        self._closed = False

    def _require_open(self) -> StreamInfo:
        if self._info is None or self._closed:
            raise RuntimeError(f"{type(self).__name__}: write before open or after close")
        return self._info

    def _fail(self, exc: OSError, path: Path | None = None) -> OutputError:
        return OutputError(f"{path or self.path}: cannot write ({_problem(exc)})")

    def _close_text_file(self) -> None:
        """Close the sink's text file ``self._fh`` once (close() may be called again)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            fh, self._fh = getattr(self, "_fh", None), None
            if fh is not None:
                try:
                    fh.close()
                except OSError as exc:
                    raise self._fail(exc) from None


class VideoSink(_FileSink):
    """The input video with skeletons drawn: same size and frame rate as the input.

    The codec follows the suffix (``VIDEO_FOURCC``); another suffix is an OutputError.
    Frames of another size than ``info.size`` are resized after drawing.
    """

    name = "video"

    def __init__(self, path: str | os.PathLike):
        super().__init__(path)
        suffix = self.path.suffix.lower()
        if suffix not in VIDEO_FOURCC:
            known = ", ".join(VIDEO_FOURCC)
            raise OutputError(f"{self.path}: unknown video type {suffix or '(no suffix)'!r}; use one of {known}")
        self.fourcc = VIDEO_FOURCC[suffix]
        self._writer: cv2.VideoWriter | None = None
        self._canvas: np.ndarray | None = None  # reused drawing buffer (the frame itself is shared)
        self.frames_written = 0

    def open(self, info: StreamInfo) -> None:
        prepare_file(self.path)
        try:  # a clear message (permission, read-only disk) before OpenCV's silent failure
            with open(self.path, "wb"):
                pass
        except OSError as exc:
            raise self._fail(exc) from None
        fps = float(info.fps) if info.fps and info.fps > 0 else DEFAULT_FPS
        self.size = (int(info.size[0]), int(info.size[1]))
        writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*self.fourcc), fps, self.size)
        if not writer.isOpened():
            writer.release()
            raise OutputError(
                f"{self.path}: OpenCV {cv2.__version__} cannot open a {self.fourcc!r} video writer "
                f"of {self.size[0]}x{self.size[1]} at {fps:g} fps"
            )
        self._writer = writer
        self._info = info

    def write(self, result: FrameResult) -> None:
        with self._lock:
            info = self._require_open()
            frame = result.frame.image
            if self._canvas is None or self._canvas.shape != frame.shape:
                self._canvas = np.empty_like(frame)
            np.copyto(self._canvas, frame)
            image = draw_poses(self._canvas, result.poses, info.limbs, result.person_ids)
            if (image.shape[1], image.shape[0]) != self.size:
                image = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
            self._writer.write(image)
            self.frames_written += 1

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._writer is not None:
                self._writer.release()
                self._writer = None


class JsonlSink(_FileSink):
    """JSON Lines: one object per frame (schema ``livepose.frame/1``), flushed per line."""

    name = "jsonl"

    def __init__(self, path: str | os.PathLike):
        super().__init__(path)
        self._fh = None

    def open(self, info: StreamInfo) -> None:
        prepare_file(self.path)
        self._fh = _open_text(self.path)
        self._info = info

    @staticmethod
    def document(info: StreamInfo, result: FrameResult) -> dict:
        """The JSON object for one frame (also usable without a file)."""
        poses, ids, frame, tracks = result.poses, result.person_ids, result.frame, result.tracks
        people = []
        for n in range(len(poses)):
            person = {
                "id": None if ids is None else int(ids[n]),
                "score": num(poses.score[n], 4),
                "keypoints": triples(poses.xy[n], poses.conf[n]),
            }
            if tracks is not None:
                # tracking on: "keypoints" are smoothed; the detection as found, and the joints
                # the tracker predicted (not measured this frame), come alongside
                person["state"] = TRACK_STATE_NAMES[int(tracks.state[n])]
                person["raw"] = triples(tracks.xy_raw[n], tracks.conf[n])
                person["predicted"] = [
                    [num(tracks.xy[n, p, 0], 2), num(tracks.xy[n, p, 1], 2)] if tracks.predicted[n, p]
                    and np.isfinite(tracks.xy[n, p, 0]) else None
                    for p in range(len(poses.part_names))
                ]
            people.append(person)
        w, h = frame.size
        return {
            "schema": JSONL_SCHEMA,
            "model": info.model,
            "frame": int(frame.index),
            "time": round(float(frame.timestamp), 4),
            "width": w,
            "height": h,
            "people": people,
        }

    def write(self, result: FrameResult) -> None:
        with self._lock:
            info = self._require_open()
            _check_parts(info.part_names, result.poses)
            line = json.dumps(self.document(info, result), separators=(",", ":"), allow_nan=False)
            try:
                self._fh.write(line + "\n")
                self._fh.flush()
            except OSError as exc:
                raise self._fail(exc) from None

    def close(self) -> None:
        self._close_text_file()


class OpenPoseJsonSink(_FileSink):
    """OpenPose's per-frame JSON (v1.3): ``<folder>/<name>_<frame:012d>_keypoints.json``,
    each written atomically; ``person_id`` is the track id, -1 without tracking."""

    name = "openpose"

    def __init__(self, folder: str | os.PathLike, name: str):
        super().__init__(folder)
        self.folder = self.path
        self.stem = str(name)

    def file_for(self, index: int) -> Path:
        return self.folder / f"{self.stem}_{int(index):012d}_keypoints.json"

    def open(self, info: StreamInfo) -> None:
        prepare_folder(self.folder)
        self._info = info

    def write(self, result: FrameResult) -> None:
        with self._lock:
            info = self._require_open()
            _check_parts(info.part_names, result.poses)
            write_json_atomic(self.file_for(result.frame.index), openpose_document(result.poses, result.person_ids))

    def close(self) -> None:
        with self._lock:
            self._closed = True


class CocoSink(_FileSink):
    """COCO keypoint results (one JSON list for the run), streamed to ``<path>.part`` and
    renamed to ``path`` by ``close``: the final file is valid JSON however the run ended.

    ``image_id`` is the frame index; entries carry ``track_id`` when the results have ids.
    """

    name = "coco"

    def __init__(self, path: str | os.PathLike):
        super().__init__(path)
        self.part_path = self.path.with_name(self.path.name + ".part")
        self._fh = None
        self._first = True

    def open(self, info: StreamInfo) -> None:
        missing = [n for n in COCO17_NAMES if n not in info.part_names]
        if missing:
            raise OutputError(
                f"{self.path}: the network's parts cannot give COCO-17 keypoints, missing: {', '.join(missing)}"
            )
        prepare_file(self.path)
        fh = _open_text(self.part_path)
        try:
            fh.write("[")
            fh.flush()
        except OSError as exc:
            fh.close()
            raise self._fail(exc, self.part_path) from None
        self._fh = fh
        self._info = info

    def write(self, result: FrameResult) -> None:
        with self._lock:
            info = self._require_open()
            _check_parts(info.part_names, result.poses)
            entries = coco_results(result.poses, image_id=result.frame.index)
            if not entries:
                return
            if result.person_ids is not None:
                for entry, pid in zip(entries, result.person_ids):
                    entry["track_id"] = int(pid)
            chunks = []
            for entry in entries:
                chunks.append(("\n" if self._first else ",\n") + json.dumps(entry, separators=(",", ":")))
                self._first = False
            try:
                self._fh.write("".join(chunks))
                self._fh.flush()
            except OSError as exc:
                raise self._fail(exc, self.part_path) from None

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._fh is None:
                return
            fh, self._fh = self._fh, None
            try:
                fh.write("\n]\n")
                fh.close()
                os.replace(self.part_path, self.path)
            except OSError as exc:
                raise self._fail(exc) from None


class CsvSink(_FileSink):
    """Long-form CSV, one row per part per person (``CSV_HEADER``); a frame with nobody
    gets one row with only ``frame`` and ``time``, so every frame appears."""

    name = "csv"

    def __init__(self, path: str | os.PathLike):
        super().__init__(path)
        self._fh = None
        self._csv = None

    def open(self, info: StreamInfo) -> None:
        prepare_file(self.path)
        self._fh = _open_text(self.path, newline="")
        self._csv = csv.writer(self._fh)
        try:
            self._csv.writerow(CSV_HEADER)
            self._fh.flush()
        except OSError as exc:
            raise self._fail(exc) from None
        self._info = info

    def write(self, result: FrameResult) -> None:
        with self._lock:
            info = self._require_open()
            poses, ids = result.poses, result.person_ids
            _check_parts(info.part_names, poses)
            frame = int(result.frame.index)
            t = round(float(result.frame.timestamp), 4)
            if len(poses) == 0:
                rows = [(frame, t, "", "", "", "", "")]
            else:
                vis = poses.visible
                rows = []
                for n in range(len(poses)):
                    person = n if ids is None else int(ids[n])
                    for p, part in enumerate(poses.part_names):
                        if vis[n, p]:
                            x, y = poses.xy[n, p]
                            rows.append((frame, t, person, part, round(float(x), 2), round(float(y), 2),
                                         round(float(poses.conf[n, p]), 3)))
                        else:
                            rows.append((frame, t, person, part, "", "", 0))
            try:
                self._csv.writerows(rows)
                self._fh.flush()
            except OSError as exc:
                raise self._fail(exc) from None

    def close(self) -> None:
        self._csv = None
        self._close_text_file()


__all__ = [
    "CSV_HEADER", "CocoSink", "CsvSink", "JSONL_SCHEMA", "JsonlSink", "OpenPoseJsonSink", "VIDEO_FOURCC",
    "VideoSink",
]
