"""The threaded video pipeline: it only schedules the stages (:mod:`livepose.stages`) on threads
joined by bounded queues; what each stage does lives in its own module.

    with PoseStream(open_source("match.mp4"), estimator) as stream:
        for result in stream:            # FrameResult, in frame order
            ...

Threads:

* capture and letterboxing, for a file source: reads ahead (:mod:`livepose.capture`) and
  letterboxes each frame straight into its slot of a batch buffer (``LetterboxStage``); a full
  batch (or the end, or a change of network size when the source is not ``fixed_size``) goes
  into a bounded queue, and the queue being full is the backpressure, so no frame is ever
  dropped.  A live source has its own reader thread that keeps only the newest frame;
  inference takes from it directly, so no frame waits behind another (lowest latency).
* inference (``InferenceStage``): ONNX Runtime or OpenVINO, which release the GIL; one
  network call per batch, then each frame's maps handed on in order.  In the accuracy mode
  (``AugmentedInferenceStage``, file sources only) each frame is one batch and the stage gets the
  frame's picture with it: it runs every scale (and the mirror image) and hands on the fused maps.  On CUDA/TensorRT it
  runs through I/O binding into a ring of output buffers sized so that no frame still queued
  for decoding is overwritten.
* decoding, tracking and drawing (``DecodeStage``, ``TrackStage``, ``RenderStage`` when an
  output needs pictures): one stateful thread, results in frame order.
* the consumer: your loop, or :func:`livepose.runner.run_stream`, which feeds the outputs.

Every queue is bounded and every blocking put/get has a timeout, so a failing stage can
never hang shutdown.  The first exception in any stage stops the stream and is re-raised
by the iterator.  :meth:`PoseStream.stop_capture` ends the input gracefully: frames already
read are still finished (Ctrl-C / SIGTERM in the CLI).
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from typing import Iterator

from livepose.stages import Stages, with_picture
from livepose.types import Frame, FrameResult, Letterbox, StageTimings, StreamInfo

END = object()  # sentinel: no more items from upstream
_POLL = 0.1  # seconds between checks of the stop flags while blocked


class Control:
    """Shared stop flags and the first error; one instance per stream (and per output runner)."""

    def __init__(self) -> None:
        self.abort = threading.Event()  # stop everything now
        self.stop_input = threading.Event()  # stop reading; finish what was read
        self.error: BaseException | None = None
        self._lock = threading.Lock()

    def fail(self, error: BaseException) -> None:
        with self._lock:
            if self.error is None:
                self.error = error
        self.abort.set()

    def put(self, q: queue.Queue, item) -> bool:
        """Blocking put that gives up when the stream is aborted."""
        while not self.abort.is_set():
            try:
                q.put(item, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def get(self, q: queue.Queue):
        """Blocking get that returns END when the stream is aborted."""
        while not self.abort.is_set():
            try:
                return q.get(timeout=_POLL)
            except queue.Empty:
                continue
        return END


@dataclass
class _Batch:
    """Consecutive letterboxed frames in one buffer of the letterbox ring, for one network call."""

    frames: list[Frame]
    boxes: list[Letterbox]
    buffer: int
    preprocess_ms: list[float]


class PoseStream:
    """Iterate :class:`FrameResult` for every frame of a source, with the stages on threads.

    ``stages``: a :class:`livepose.stages.Stages` set for this stream (its own buffers), or a
    :class:`livepose.estimator.PoseEstimator` from which one is made around its network (then
    ``tracker``, a :class:`livepose.track.PoseTracker` or None, gives ids and smoothing, and
    ``render`` draws each frame's picture once for the outputs that need one).
    ``prefetch``: frames read and letterboxed ahead of inference (file sources).
    ``max_frames``: read no more than this many frames.
    ``max_age``: live sources only: when inference becomes free and the newest frame is older
    than this fraction of the frame interval, it is skipped (counted in :attr:`skipped`) and
    the next frame, fresh from the camera, is taken instead.  Lower means less latency and
    a little less throughput; 1 never skips.
    ``batch``: file sources: frames per network call (consecutive frames of the same network
    size: a source that may change size, ``source.fixed_size`` False, starts a new batch at each
    change; the last batch may be smaller).  Results are the same as one frame at a time, in
    frame order; a result's ``inference`` timing is its share of the batch's time.  Live sources
    always run one frame at a time (``batch`` is then 1), and one scale: an estimator's accuracy mode
    (``augment``) is not used for a live source, which needs the lowest latency (the accuracy mode
    makes ``batch`` 1 as well).
    ``hold``: results the consumer may keep referring to after taking them (outputs' queues):
    the rings of pictures are sized so that none of those is overwritten.
    """

    def __init__(self, source, stages, *, prefetch: int = 3, queue_size: int = 4,
                 max_frames: int | None = None, max_age: float = 0.5, tracker=None, batch: int = 1,
                 render: bool = False, hold: int = 0):
        if batch < 1:
            raise ValueError(f"batch must be at least 1, got {batch}")
        self.source = source
        self.max_frames = max_frames
        self.max_age = max_age
        self.skipped = 0
        live = bool(source.is_live)
        if isinstance(stages, Stages):
            augmented = stages.augmented and not live
        else:
            augmented = bool(getattr(getattr(stages, "augment", None), "active", False)) and not live
        self.augmented = augmented  # the accuracy mode: several network runs per frame
        self.batch = 1 if live or augmented else batch
        self.fixed_size = bool(getattr(source, "fixed_size", True))
        # queues: letterboxed batches (file sources), network maps per frame, results
        depth = 1 if source.is_live else max(1, -(-max(1, prefetch) // self.batch))
        self._prepared: queue.Queue = queue.Queue(maxsize=depth)
        self._net: queue.Queue = queue.Queue(maxsize=2)
        self._results: queue.Queue = queue.Queue(maxsize=max(1, queue_size))
        # rings: a letterbox buffer per queued batch, plus the one being filled and the one being
        # run; network outputs stay valid while their frames wait for decoding (one set being
        # decoded, one per queued frame and the one being written); pictures while their results
        # wait in the results queue and in the consumer's hands
        rings = dict(batch=self.batch, letterbox_ring=depth + 2, output_ring=self._net.maxsize + 2,
                     picture_ring=self._results.maxsize + max(0, hold) + 3)
        if isinstance(stages, Stages):  # built by the caller with rings for this stream
            if tracker is not None:
                stages.track.use(tracker)
            if live and stages.augmented:  # a live source runs one scale
                stages.inference = stages.inference.plain()
            self.stages = stages
        else:  # a PoseEstimator: this stream's own stages around its network
            self.stages = stages.stages(tracker=tracker, render=render, plain=live, **rings)
        self.tracker = self.stages.track.tracker
        card = self.stages.card
        self.info = StreamInfo(
            source=getattr(source, "name", "source"),
            size=tuple(source.size),
            fps=float(source.fps),
            frame_count=source.frame_count,
            is_live=bool(source.is_live),
            model=card.name,
            part_names=card.parts,
            limbs=card.limbs,
        )
        self._ctl = Control()
        self._threads: list[threading.Thread] = []
        self._started = False
        self.frames_done = 0

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> "PoseStream":
        if self._started:
            return self
        self._started = True
        # warm up at this stream's input size (and batch) so the first frame pays no allocation,
        # compile or engine-build cost
        try:
            self.stages.warm_up(self.info.size, self.batch, fixed_size=self.fixed_size)
        except BaseException:
            self._ctl.abort.set()  # no stage started: get() ends at once (Ctrl-C during warm-up)
            raise
        targets = [(self._infer, "livepose-inference"), (self._decode, "livepose-decode")]
        if not self.info.is_live:
            targets.insert(0, (self._capture, "livepose-capture"))
        for target, name in targets:
            t = threading.Thread(target=self._guard, args=(target,), name=name, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop_capture(self) -> None:
        """Read no more frames; frames already read still come out of the iterator."""
        self._ctl.stop_input.set()

    def abort(self) -> None:
        """Stop every stage now."""
        self._ctl.abort.set()

    def close(self, timeout: float = 5.0) -> None:
        self._ctl.stop_input.set()
        self._ctl.abort.set()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self.source.close()

    def __enter__(self) -> "PoseStream":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def get(self) -> FrameResult | None:
        """The next result in frame order, or None at the end; re-raises a stage's error.

        Safe to call again after a KeyboardInterrupt raised while it waited (unlike a
        generator, nothing is finalised), which is how the CLI drains on Ctrl-C.
        """
        self.start()
        item = self._ctl.get(self._results)
        if item is END:
            self._ctl.abort.set()
            if self._ctl.error is not None:
                raise self._ctl.error
            return None
        self.frames_done += 1
        return item

    def __iter__(self) -> Iterator[FrameResult]:
        while (item := self.get()) is not None:
            yield item

    # -- threads ---------------------------------------------------------------------------
    def _guard(self, target) -> None:
        try:
            target()
        except BaseException as exc:  # any failure stops the whole stream, reported once
            self._ctl.fail(exc)

    def _capture(self) -> None:
        """File sources: read, letterbox into the ring's current batch buffer, hand on full batches."""
        st, letterbox = self._ctl, self.stages.letterbox
        ring, size = letterbox.ring, self.batch
        buffer = 0
        group: _Batch | None = None
        try:
            for n, frame in enumerate(self.source):
                if st.stop_input.is_set() or st.abort.is_set() or n == self.max_frames:
                    break
                t0 = time.perf_counter()
                if group is not None and not self.fixed_size \
                        and letterbox.plan(frame.size).net_size != group.boxes[0].net_size:
                    if not st.put(self._prepared, group):  # a new network size starts a new batch
                        return
                    group, buffer = None, (buffer + 1) % ring
                if group is None:
                    group = _Batch([], [], buffer, [])
                box = letterbox(frame.image, buffer, len(group.frames))
                group.frames.append(frame)
                group.boxes.append(box)
                group.preprocess_ms.append((time.perf_counter() - t0) * 1e3)
                if len(group.frames) == size:
                    if not st.put(self._prepared, group):
                        return
                    group, buffer = None, (buffer + 1) % ring
            if group is not None:
                st.put(self._prepared, group)
        finally:
            st.put(self._prepared, END)

    def _live_batches(self) -> Iterator[_Batch]:
        """A live source keeps only its newest frame: take it, letterbox it, run it."""
        letterbox = self.stages.letterbox
        limit = self.max_age / self.info.fps if self.info.fps > 0 else float("inf")
        n = 0
        for frame in self.source:
            if self._ctl.stop_input.is_set() or self._ctl.abort.is_set() or n == self.max_frames:
                return
            t0 = time.perf_counter()
            if n > 0 and t0 - frame.captured_at > limit:
                self.skipped += 1  # stale: the next frame is at most one interval away
                continue
            n += 1
            box = letterbox(frame.image, 0, 0)
            yield _Batch([frame], [box], 0, [(time.perf_counter() - t0) * 1e3])

    def _queued_batches(self) -> Iterator[_Batch]:
        while True:
            item = self._ctl.get(self._prepared)
            if item is END:
                return
            yield item

    def _infer(self) -> None:
        st, stages = self._ctl, self.stages
        batches = self._live_batches() if self.info.is_live else self._queued_batches()
        try:
            for group in batches:
                if st.abort.is_set():
                    return
                t0 = time.perf_counter()
                maps = stages.inference(stages.letterbox.tensor(group.buffer, len(group.frames)), group.boxes,
                                        [frame.image for frame in group.frames])
                ms = (time.perf_counter() - t0) * 1e3 / len(group.frames)
                for frame, out, pre_ms in zip(group.frames, maps, group.preprocess_ms):
                    if not st.put(self._net, (frame, out, pre_ms, ms)):
                        return
        finally:
            st.put(self._net, END)

    def _decode(self) -> None:
        st, stages = self._ctl, self.stages
        tracking = stages.track.enabled
        try:
            while True:
                got = st.get(self._net)
                if got is END:
                    return
                frame, out, pre_ms, infer_ms = got
                t0 = time.perf_counter()
                poses = stages.decode(out)
                t1 = time.perf_counter()
                people = stages.track(poses, frame.timestamp)
                t2 = time.perf_counter()
                timings = StageTimings(pre_ms, infer_ms, (t1 - t0) * 1e3, (t2 - t1) * 1e3 if tracking else None)
                result = FrameResult(frame, people, timings)
                if stages.render is not None:
                    result = with_picture(result, stages.render)
                if not st.put(self._results, result):
                    return
        finally:
            st.put(self._results, END)
