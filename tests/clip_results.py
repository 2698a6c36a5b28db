"""Real results for the output tests, made without the pipeline: the example clip's frames
through the estimator and a tracker (ids, states, smoothed and predicted joints), as
FrameResults the way the pipeline makes them (``People.from_tracks``)."""

from __future__ import annotations

import time

import cv2

from conftest import REPO
from livepose.track import PoseTracker, TrackerConfig
from livepose.types import Frame, FrameResult, People, StreamInfo

CLIP = REPO / "examples" / "one-by-one-clip.mp4"


def clip_results(estimator, max_frames: int | None = None, track: bool = True) -> tuple[StreamInfo, list[FrameResult]]:
    """(info, results) of the example clip (768x432 at 10 fps, 50 frames), tracked by default."""
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
