"""The pipeline and the output runner together, on a few frames of the example clip: one record
and one picture per frame shared by every output, caller-thread outputs on the caller's thread,
a stop asked by an output ends the capture, and the composed run (build) matches the parts."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from helpers import CLIP
from livepose.sinks.base import Sink


class Recorder(Sink):
    """An output that keeps what it was given, on which thread, and may ask the run to stop."""

    def __init__(self, name: str, *, picture: bool = False, caller: bool = False, stop_after: int | None = None):
        self.name, self.needs_picture, self.on_caller_thread = name, picture, caller
        self.stop_requested = threading.Event() if stop_after is not None else None
        self.stop_after = stop_after
        self.results, self.threads, self.opened, self.closed = [], set(), False, 0

    def open(self, info) -> None:
        self.opened = True

    def write(self, result) -> None:
        self.results.append(result)
        self.threads.add(threading.current_thread().name)
        if self.stop_after is not None and len(self.results) >= self.stop_after:
            self.stop_requested.set()

    def close(self) -> None:
        self.closed += 1


def _run(estimator, sinks, frames=4, **kw):
    from livepose.capture import open_source
    from livepose.runner import run_video
    from livepose.track import PoseTracker

    return run_video(open_source(str(CLIP)), estimator, sinks, max_frames=frames, quiet=True,
                     tracker=PoseTracker(estimator.part_names), **kw)


def test_every_output_reads_one_record_and_one_picture_per_frame(estimator):
    video, window, text = Recorder("v", picture=True), Recorder("w", picture=True, caller=True), Recorder("t")
    summary = _run(estimator, [video, text], display=window)
    assert summary.frames == 4 and summary.people == 4
    for sink in (video, window, text):
        assert sink.opened and sink.closed == 1 and [r.frame.index for r in sink.results] == [0, 1, 2, 3]
    for a, b, c in zip(video.results, window.results, text.results):
        assert a is b is c  # the same result object: nothing is rebuilt per output
        assert a.record is not None and a.record.index == a.frame.index  # made once, before fan-out
        assert a.picture is not None and a.picture is not a.frame.image  # drawn once, on its own canvas
        assert a.picture.shape == a.frame.image.shape and not np.array_equal(a.picture, a.frame.image)
        assert a.timings.render is not None and a.timings.track is not None
    pictures = {id(r.picture) for r in video.results}
    assert len(pictures) == 4  # a ring: no picture was overwritten while queued
    assert window.threads == {threading.main_thread().name}  # the window runs on the caller's thread
    assert text.threads and threading.main_thread().name not in text.threads


def test_no_picture_is_drawn_when_no_output_needs_one(estimator):
    text = Recorder("t")
    _run(estimator, [text], frames=2)
    assert all(r.picture is None and r.timings.render is None for r in text.results)


def test_an_output_asking_to_stop_ends_the_capture(estimator):
    window = Recorder("w", caller=True, stop_after=2)
    summary = _run(estimator, [window], frames=50)
    assert 2 <= summary.frames < 50 and not summary.interrupted
    assert window.closed == 1


def test_the_composed_run_is_the_settings(estimator, tmp_path):
    from livepose.build import build
    from livepose.settings import RunConfig

    config = RunConfig.from_overrides(source=str(CLIP), jsonl=str(tmp_path / "a.jsonl"), batch=2, max_frames=3,
                                      smoother="one_euro", backend="onnxruntime", threads=2, quiet=True)
    run = build(config)
    try:
        assert [type(s).__name__ for s in run.outputs] == ["JsonlSink"]  # no window when a file is asked for
        assert run.stream.batch == 2 and run.stream.max_frames == 3
        assert run.stream.tracker.config.smoother == "one_euro"
        assert run.estimator.network.backend == "onnxruntime"
        summary = run.execute()
    finally:
        run.close()
    assert summary.frames == 3 and len((tmp_path / "a.jsonl").read_text().splitlines()) == 3


def test_nothing_to_do_is_one_line(tmp_path):
    from livepose.build import build
    from livepose.errors import InputError
    from livepose.settings import RunConfig

    with pytest.raises(InputError, match="^nothing to do: --no-display and no output option"):
        build(RunConfig.from_overrides(source=str(CLIP), display=False))


def test_a_run_leaves_the_cores_to_the_network_opencv_pool_of_one(estimator, tmp_path):
    """capture.opencv_threads: OpenCV's pool set for the run (1 by default: its idle workers
    otherwise preempt the engine's threads); None leaves it; 0 or a word is one setting error."""
    import cv2

    from livepose.build import build
    from livepose.settings import CaptureSettings, RunConfig, SettingError

    before = cv2.getNumThreads()
    try:
        cv2.setNumThreads(2)
        for wanted, expected in ((None, 2), (1, 1), (3, 3)):
            config = RunConfig.from_overrides(source=str(CLIP), jsonl=str(tmp_path / "a.jsonl"), max_frames=1,
                                              opencv_threads=wanted, quiet=True)
            run = build(config, estimator=estimator)
            run.close()
            assert cv2.getNumThreads() == expected
        assert RunConfig().capture.opencv_threads == 1
        for bad in (0, "two"):
            with pytest.raises(SettingError, match="opencv_threads"):
                CaptureSettings(opencv_threads=bad)
    finally:
        cv2.setNumThreads(before)
