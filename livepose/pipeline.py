"""The threaded video pipeline: capture -> inference -> decoding -> results, stages overlapping.

    with PoseStream(open_source("match.mp4"), estimator) as stream:
        for result in stream:            # FrameResult, in frame order
            ...

Threads (each stage is the module named beside it):

* capture (:mod:`livepose.capture`) and letterboxing (:mod:`livepose.preprocess`) for a
  file source: reads ahead into a bounded queue; the queue being full is the
  backpressure, so no frame is ever dropped.  A live source has its own reader thread
  that keeps only the newest frame; inference takes from it directly, so no frame waits
  behind another (lowest latency).
* inference (:mod:`livepose.inference`): ONNX Runtime, which releases the GIL.  For a file
  source with ``batch`` > 1 it takes up to that many consecutive letterboxed frames of the
  same size and runs them as one network call, then hands each frame's maps on in order.  On
  CUDA/TensorRT it runs through I/O binding into a ring of output buffers sized so that no
  frame still queued for decoding is overwritten.
* decoding (:mod:`livepose.decode`, Numba, GIL released) and, once it exists, tracking:
  one stateful thread, results in frame order.
* the consumer (your loop, or :class:`SinkRunner`'s worker threads for outputs).

Every queue is bounded and every blocking put/get has a timeout, so a failing stage can
never hang shutdown.  The first exception in any stage stops the stream and is re-raised
by the iterator.  :meth:`PoseStream.stop_capture` ends the input gracefully: frames already
read are still finished (Ctrl-C / SIGTERM in the CLI).
"""

from __future__ import annotations

import os
import queue
import threading
import time
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from livepose.decode import Decoder
from livepose.estimator import PoseEstimator
from livepose.preprocess import Preprocessor
from livepose.types import Frame, FrameResult, StreamInfo

_END = object()  # sentinel: no more items from upstream
_POLL = 0.1  # seconds between checks of the stop flags while blocked


@dataclass
class _Failure:
    error: BaseException


class _Stages:
    """Shared stop flags and the first error; one instance per stream."""

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
        """Blocking get that returns _END when the stream is aborted."""
        while not self.abort.is_set():
            try:
                return q.get(timeout=_POLL)
            except queue.Empty:
                continue
        return _END


@dataclass
class _Prepared:
    frame: Frame
    tensor: np.ndarray
    box: object
    preprocess_ms: float


class PoseStream:
    """Iterate :class:`FrameResult` for every frame of a source, with the stages on threads.

    ``prefetch``: frames read and letterboxed ahead of inference (file sources).
    ``max_frames``: read no more than this many frames.
    ``tracker``: a :class:`livepose.track.PoseTracker` (or None): results then carry track ids,
    smoothed poses and the tracker's full view (``FrameResult.tracks``).
    ``max_age``: live sources only: when inference becomes free and the newest frame is older
    than this fraction of the frame interval, it is skipped (counted in :attr:`skipped`) and
    the next frame, fresh from the camera, is taken instead.  Lower means less latency and
    a little less throughput; 1 never skips.
    ``batch``: file sources: frames per network call (consecutive frames of the same size; the
    last batch may be smaller).  Results are the same as one frame at a time, in frame order;
    a result's ``inference`` timing is its share of the batch's time.  Live sources always run
    one frame at a time (``batch`` is then 1).
    """

    def __init__(self, source, estimator: PoseEstimator, *, prefetch: int = 3, queue_size: int = 4,
                 max_frames: int | None = None, max_age: float = 0.5, tracker=None, batch: int = 1):
        if batch < 1:
            raise ValueError(f"batch must be at least 1, got {batch}")
        self.source = source
        self.tracker = tracker
        self.max_frames = max_frames
        self.max_age = max_age
        self.skipped = 0
        self.estimator = estimator
        self.batch = 1 if source.is_live else batch
        self.info = StreamInfo(
            source=getattr(source, "name", "source"),
            size=tuple(source.size),
            fps=float(source.fps),
            frame_count=source.frame_count,
            is_live=bool(source.is_live),
            model=estimator.card.name,
            part_names=estimator.card.parts,
            limbs=estimator.card.limbs,
        )
        self._stages = _Stages()
        prefetch = max(1, prefetch, self.batch)  # read at least a batch ahead
        self._prepared: queue.Queue = queue.Queue(maxsize=1 if source.is_live else prefetch)
        self._net: queue.Queue = queue.Queue(maxsize=2)
        self._results: queue.Queue = queue.Queue(maxsize=max(1, queue_size))
        # a ring of letterbox buffers: one per queued item, plus the one being filled and the
        # ones inference holds (the batch being gathered)
        size = self.estimator.preprocess.size
        self._preprocessors = [Preprocessor(estimator.card.input, size) for _ in range(prefetch + 1 + self.batch)]
        # network outputs stay valid while their frames wait for decoding: one set being decoded,
        # one per queued frame and the one being written (a batch's frames share one set)
        self._runner = None
        self._batch_input: np.ndarray | None = None
        self._decoder = Decoder(estimator.decoder.skeleton, estimator.decoder.config)
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
            net = self.estimator.network
            box = self.estimator.preprocess.plan(self.info.size)
            from livepose.capture import ImageSequenceSource

            if not isinstance(self.source, ImageSequenceSource):  # an image folder may change size
                net.prepare(box.net_size, self.batch)
            self._runner = net.runner(ring=self._net.maxsize + 2)
            self.estimator.warm_up(self.info.size)  # the decoder, and the network at batch 1
            if self.batch > 1:  # the other end of the batch sizes this stream runs
                self._runner.run_raw(np.zeros(net.input_shape(box.net_size, self.batch), np.float32))
        except BaseException:
            self._stages.abort.set()  # no stage started: get() ends at once (Ctrl-C during warm-up)
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
        self._stages.stop_input.set()

    def abort(self) -> None:
        """Stop every stage now."""
        self._stages.abort.set()

    def close(self, timeout: float = 5.0) -> None:
        self._stages.stop_input.set()
        self._stages.abort.set()
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
        item = self._stages.get(self._results)
        if item is _END:
            self._stages.abort.set()
            if self._stages.error is not None:
                raise self._stages.error
            return None
        self.frames_done += 1
        return item

    def __iter__(self) -> Iterator[FrameResult]:
        while (item := self.get()) is not None:
            yield item

    # -- stages ----------------------------------------------------------------------------
    def _guard(self, target) -> None:
        try:
            target()
        except BaseException as exc:  # any failure stops the whole stream, reported once
            self._stages.fail(exc)

    def _capture(self) -> None:
        st = self._stages
        ring = self._preprocessors
        k = 0
        try:
            for n, frame in enumerate(self.source):
                if st.stop_input.is_set() or st.abort.is_set() or n == self.max_frames:
                    break
                t0 = time.perf_counter()
                tensor, box = ring[k % len(ring)](frame.image)
                k += 1
                item = _Prepared(frame, tensor, box, (time.perf_counter() - t0) * 1e3)
                if not st.put(self._prepared, item):
                    return
        finally:
            st.put(self._prepared, _END)

    def _live_items(self) -> Iterator[_Prepared]:
        """A live source keeps only its newest frame: take it, letterbox it, run it."""
        pre = self._preprocessors[0]
        limit = self.max_age / self.info.fps if self.info.fps > 0 else float("inf")
        n = 0
        for frame in self.source:
            if self._stages.stop_input.is_set() or self._stages.abort.is_set() or n == self.max_frames:
                return
            t0 = time.perf_counter()
            if n > 0 and t0 - frame.captured_at > limit:
                self.skipped += 1  # stale: the next frame is at most one interval away
                continue
            n += 1
            tensor, box = pre(frame.image)
            yield _Prepared(frame, tensor, box, (time.perf_counter() - t0) * 1e3)

    def _queued_items(self) -> Iterator[_Prepared]:
        while True:
            item = self._stages.get(self._prepared)
            if item is _END:
                return
            yield item

    def _batches(self, items: Iterator[_Prepared]) -> Iterator[list[_Prepared]]:
        """Consecutive items in groups of up to ``batch`` with the same tensor shape (an image
        folder may change size); a group is handed on as soon as it is full, or when the input ends."""
        group: list[_Prepared] = []
        for item in items:
            if group and item.tensor.shape != group[0].tensor.shape:
                yield group
                group = []
            group.append(item)
            if len(group) == self.batch:
                yield group
                group = []
        if group:
            yield group

    def _stack(self, group: list[_Prepared]) -> np.ndarray:
        """The group's tensors as one batch (a reused buffer; the network reads it before returning)."""
        shape = (len(group),) + group[0].tensor.shape[1:]
        full = (self.batch,) + shape[1:]
        if self._batch_input is None or self._batch_input.shape != full:
            self._batch_input = np.empty(full, np.float32)
        batch = self._batch_input[: len(group)]
        for i, item in enumerate(group):
            batch[i] = item.tensor[0]
        return batch

    def _infer(self) -> None:
        st, net, runner = self._stages, self.estimator.network, self._runner
        items = self._live_items() if self.info.is_live else self._queued_items()
        try:
            for group in self._batches(items):
                if st.abort.is_set():
                    return
                t0 = time.perf_counter()
                tensor = group[0].tensor if len(group) == 1 else self._stack(group)
                outputs = runner.run_raw(tensor)
                ms = (time.perf_counter() - t0) * 1e3 / len(group)
                for i, item in enumerate(group):
                    if not st.put(self._net, (item, net.outputs_to_maps(outputs, item.box, i), ms)):
                        return
        finally:
            st.put(self._net, _END)

    def _decode(self) -> None:
        st = self._stages
        try:
            while True:
                got = st.get(self._net)
                if got is _END:
                    return
                item, out, infer_ms = got
                t0 = time.perf_counter()
                poses = self._decoder(out)
                t1 = time.perf_counter()
                timings = {"preprocess": item.preprocess_ms, "inference": infer_ms, "decode": (t1 - t0) * 1e3}
                if self.tracker is None:
                    result = FrameResult(item.frame, poses, None, timings)
                else:
                    tracks = self.tracker.update(poses, item.frame.timestamp)
                    timings["track"] = (time.perf_counter() - t1) * 1e3
                    result = FrameResult(item.frame, tracks.smoothed_poses(), tracks.ids, timings, tracks)
                if not st.put(self._results, result):
                    return
        finally:
            st.put(self._results, _END)


class SinkRunner:
    """Feeds every result to each sink on the sink's own thread, through a bounded queue.

    A sink that falls behind applies backpressure (file outputs never lose a frame).  The
    first sink error stops the runner; :meth:`write` then raises it.  :meth:`close` lets
    each worker finish its queue, then closes every sink (files complete and valid).
    """

    def __init__(self, sinks, info: StreamInfo, queue_size: int = 8, nice: int = 10):
        self.sinks = list(sinks)
        self.nice = nice
        self._stages = _Stages()
        self._queues = [queue.Queue(maxsize=queue_size) for _ in self.sinks]
        self._threads: list[threading.Thread] = []
        opened = []
        try:
            for sink in self.sinks:
                sink.open(info)
                opened.append(sink)
        except BaseException:
            for sink in opened:
                _close_quietly(sink)
            raise
        for sink, q in zip(self.sinks, self._queues):
            t = threading.Thread(target=self._work, args=(sink, q), name=f"livepose-sink-{sink.name}", daemon=True)
            t.start()
            self._threads.append(t)

    def _work(self, sink, q: queue.Queue) -> None:
        st = self._stages
        _lower_priority(self.nice)
        try:
            while True:
                item = st.get(q)
                if item is _END:
                    return
                sink.write(item)
        except BaseException as exc:
            st.fail(exc)

    def write(self, result: FrameResult) -> None:
        for q in self._queues:
            if not self._stages.put(q, result):
                break
        if self._stages.error is not None:
            raise self._stages.error

    def close(self, timeout: float = 30.0) -> None:
        """Finish queued frames, then close every sink; re-raises the first sink error."""
        for q in self._queues:
            self._stages.put(q, _END)
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self._stages.abort.set()
        first: BaseException | None = None
        for sink in self.sinks:
            try:
                sink.close()
            except BaseException as exc:
                first = first or exc
        error = self._stages.error or first
        if error is not None:
            raise error


def _lower_priority(nice: int) -> None:
    """Make the calling thread yield the CPU to inference (Linux: per-thread nice value).

    Outputs then run in the gaps ONNX Runtime leaves (operators that use one core), instead
    of taking time from the network; their bounded queues absorb the delay.
    """
    if nice <= 0 or not hasattr(os, "setpriority") or not hasattr(threading, "get_native_id"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except OSError:
        pass


def _close_quietly(sink) -> None:
    try:
        sink.close()
    except Exception:
        pass


@dataclass(frozen=True)
class RunSummary:
    frames: int
    seconds: float
    people: int
    dropped: int
    interrupted: bool
    stopped_early: str | None

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        per_frame = self.people / self.frames if self.frames else 0.0
        text = (f"{self.frames} frames in {self.seconds:.1f} s ({self.fps:.1f} FPS), "
                f"{per_frame:.1f} people per frame, {self.dropped} dropped")
        return text + (" (interrupted)" if self.interrupted else "")


def run_video(source, estimator: PoseEstimator, sinks, *, display=None, max_frames: int | None = None,
              quiet: bool = False, tracker=None, batch: int = 1) -> RunSummary:
    """Run a source through the pipeline into ``sinks`` (each on its own thread) and ``display``
    (the overlay window, handed each result straight from this loop for the lowest latency).  Ctrl-C or SIGTERM stops the capture; frames
    already read are finished and written, and every sink is closed valid.  A second Ctrl-C
    stops at once (sinks are still closed)."""
    import signal

    from livepose.progress import Progress

    stream = PoseStream(source, estimator, max_frames=max_frames, tracker=tracker, batch=batch)
    runner = SinkRunner(sinks, stream.info)
    previous = None
    if threading.current_thread() is threading.main_thread():
        def _term(signum, frame):
            raise KeyboardInterrupt
        previous = signal.signal(signal.SIGTERM, _term)
    if display is not None:
        try:
            display.open(stream.info)
        except BaseException:
            runner.close()
            raise
    interrupted = False
    people = 0
    t0 = time.perf_counter()
    total = source.frame_count if not source.is_live else None
    if max_frames is not None and total is not None:
        total = min(total, max_frames)
    progress = Progress(total, quiet=quiet)
    try:
        while True:
            try:
                result = stream.get()
                if result is None:
                    break
                runner.write(result)
                if display is not None:
                    display.write(result)
                    if display.stop_requested.is_set():
                        stream.stop_capture()
                people += len(result.poses)
                progress.update(1, len(result.poses))
            except KeyboardInterrupt:
                if interrupted:
                    stream.abort()
                    break
                interrupted = True
                stream.stop_capture()
    finally:
        progress.close()
        try:
            stream.close()
        finally:
            try:
                if display is not None:
                    display.close()
            finally:
                runner.close()
                if previous is not None:
                    signal.signal(signal.SIGTERM, previous)
    return RunSummary(
        frames=stream.frames_done,
        seconds=time.perf_counter() - t0,
        people=people,
        dropped=int(getattr(source, "dropped", 0)) + stream.skipped,
        interrupted=interrupted,
        stopped_early=getattr(source, "stopped_early", None),
    )


def open_stream(source: str, *, model=None, card=None, size: tuple[int, int] | None = None, rules: str = "openpose",
                upsample: int | None = None, providers=None, threads: int | None = None,
                backend: str = "auto", precision: str = "auto", realtime: bool = False, track: bool = True,
                smoother: str = "kalman", batch: int = 1, allow_fallback: bool = False, trt_cache=None) -> PoseStream:
    """The Python API's entry point, with the command line's options::

        with livepose.open("match.mp4") as stream:
            for result in stream:
                print(result.frame.index, len(result.poses))
    """
    from livepose.capture import open_source
    from livepose.card import load_card
    from livepose.settings import RULES

    config = RULES[rules] if upsample is None else RULES[rules].with_(upsample=upsample)
    src = open_source(str(source), realtime=realtime)
    try:
        est = PoseEstimator(load_card(card, model), size=size, decode=config, providers=providers,
                            threads=threads, backend=backend, precision=precision, allow_fallback=allow_fallback,
                            trt_cache=trt_cache, warm_up=False)
        tracker = make_tracker(est.card.parts, smoother) if track else None
    except BaseException:
        src.close()
        raise
    return PoseStream(src, est, tracker=tracker, batch=batch)


def make_tracker(part_names, smoother: str = "kalman"):
    """The default pose tracker for a network's parts, with the chosen smoother."""
    from livepose.track import PoseTracker, TrackerConfig

    return PoseTracker(tuple(part_names), TrackerConfig(smoother=smoother))
