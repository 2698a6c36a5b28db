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

Carrying (``carry``, :mod:`livepose.carry`, file sources): the network runs on every k-th frame
only.  The capture thread letterboxes only those (a batch counts only them; the frames between
travel in it with no slot), inference runs only on them, and the decode thread gives each
other frame to ``CarryStage``, which moves the last result's keypoints to it by optical flow,
and to the tracker as measurements with more noise.  A carried frame where the flow fails for
nearly everyone (a cut, a flash) is reported with nobody measured, and the next frame runs the
network: the inference thread, before it passes on a carried frame that follows a carried one,
waits for the decode thread's verdict on that one and letterboxes and runs the frame itself after
a cut.  So that this wait costs nothing, the carried frame that follows a network frame (it needs
no verdict) is handed on before the network runs on the batch's network frame: the decode thread
carries it meanwhile, and by the time the network is done the verdict is in.

Carrying with a live source (a source with a ``tap``: :class:`livepose.capture.live.LiveSource`):
the inference thread takes the newest frame as always; a carry thread (instead of the decode
thread) takes every captured frame from the source's tap and gives each a result at once,
carried from the last one (:meth:`PoseStream._live_carry`); each network result, decoded there
when it arrives, is moved by the flow from its frame to the frame being processed and given to
the tracker as that frame's detections.

Every queue is bounded and every blocking put/get has a timeout, so a failing stage can
never hang shutdown.  The first exception in any stage stops the stream and is re-raised
by the iterator.  :meth:`PoseStream.stop_capture` ends the input gracefully: frames already
read are still finished (Ctrl-C / SIGTERM in the CLI).
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, replace
from typing import Iterator

import numpy as np

from livepose.carry import CarryStage, keyframe_people
from livepose.stages import LetterboxStage, Stages, with_picture
from livepose.types import Frame, FrameResult, Letterbox, People, Poses, StageTimings, StreamInfo

END = object()  # sentinel: no more items from upstream
_POLL = 0.1  # seconds between checks of the stop flags while blocked
LIVE_TAP = 8  # live carrying: captured frames waiting for the carry thread (then the oldest is dropped)
LIVE_HISTORY = 32  # live carrying: grey copies kept, to move a network result from its frame to the newest


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
    """Consecutive frames, the letterboxed ones in one buffer of the letterbox ring, for one network
    call; with carrying, the frames between network frames come along with ``boxes`` None."""

    frames: list[Frame]
    boxes: list[Letterbox | None]
    buffer: int
    preprocess_ms: list[float]

    @property
    def slots(self) -> int:
        """Frames letterboxed into the buffer (the network call's batch)."""
        return sum(box is not None for box in self.boxes)

    def first_box(self) -> Letterbox | None:
        return next((box for box in self.boxes if box is not None), None)


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
    a little less throughput; 1 never skips.  With live carrying (``carry`` and a source with a
    ``tap``) nothing is skipped: each network result is moved by the flow to the newest frame
    anyway, so the network takes the newest frame at once instead of waiting for a fresh one.
    ``batch``: file sources: frames per network call (consecutive frames of the same network
    size: a source that may change size, ``source.fixed_size`` False, starts a new batch at each
    change; the last batch may be smaller).  Results are the same as one frame at a time, in
    frame order; a result's ``inference`` timing is its share of the batch's time.  Live sources
    always run one frame at a time (``batch`` is then 1), and one scale: an estimator's accuracy mode
    (``augment``) is not used for a live source, which needs the lowest latency (the accuracy mode
    makes ``batch`` 1 as well).
    ``hold``: results the consumer may keep referring to after taking them (outputs' queues):
    the rings of pictures are sized so that none of those is overwritten.
    ``carry``: a :class:`livepose.settings.CarrySettings`: with ``keyframe_every`` k > 1 the frames
    the network does not see are carried (module docstring): a file runs the network on every k-th
    frame; a live source runs it on the newest frame whenever it is free, and every captured frame
    gets a result.  Given with stages built by the caller, their
    own ``carry`` stage is used.
    """

    def __init__(self, source, stages, *, prefetch: int = 3, queue_size: int = 4,
                 max_frames: int | None = None, max_age: float = 0.5, tracker=None, batch: int = 1,
                 render: bool = False, hold: int = 0, carry=None):
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
            self.stages = stages.stages(tracker=tracker, render=render, plain=live, carry=carry, **rings)
        if live and not hasattr(source, "tap"):
            self.stages.carry = None  # a live source that cannot give every frame: the newest only
        if live and self.stages.carry is not None:  # keep the frames a network result may come from
            self.stages.carry = CarryStage(self.stages.carry.settings, history=LIVE_HISTORY)
        self.carry = self.stages.carry
        self._tap = source.tap(LIVE_TAP) if live and self.carry is not None else None
        self.keyframe_every = self.carry.settings.keyframe_every if self.carry is not None else 1
        self.carry_noise = self.carry.settings.carry_noise if self.carry is not None else 1.0
        # carrying: the decode thread's verdict on the carried frames (the last one done, the last cut)
        self._verdict = threading.Condition()
        self._carried_done = -1
        self._cut_at = -1
        self._recover: LetterboxStage | None = None  # letterboxes a frame that was to be carried, after a cut
        self.recovered = 0  # frames run through the network after a cut
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
        second = (self._live_carry, "livepose-carry") if self._tap is not None else (self._decode, "livepose-decode")
        targets = [(self._infer, "livepose-inference"), second]
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
        every = self.keyframe_every
        buffer = 0
        group: _Batch | None = None
        try:
            for n, frame in enumerate(self.source):
                if st.stop_input.is_set() or st.abort.is_set() or n == self.max_frames:
                    break
                if n % every:  # carried: no letterbox, no slot in the batch
                    if group is None:
                        group = _Batch([], [], buffer, [])
                    group.frames.append(frame)
                    group.boxes.append(None)
                    group.preprocess_ms.append(0.0)
                    continue
                t0 = time.perf_counter()
                first = group.first_box() if group is not None else None
                if first is not None and not self.fixed_size \
                        and letterbox.plan(frame.size).net_size != first.net_size:
                    if not st.put(self._prepared, group):  # a new network size starts a new batch
                        return
                    group, buffer = None, (buffer + 1) % ring
                if group is None:
                    group = _Batch([], [], buffer, [])
                box = letterbox(frame.image, buffer, group.slots)
                group.frames.append(frame)
                group.boxes.append(box)
                group.preprocess_ms.append((time.perf_counter() - t0) * 1e3)
                if group.slots == size:
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
        if self._tap is not None:  # carrying: the result is moved to the newest frame anyway; never wait
            limit = float("inf")
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
        previous_carried = False
        try:
            for group in batches:
                if st.abort.is_set():
                    return
                keyed = [i for i, box in enumerate(group.boxes) if box is not None]
                start = 0
                if keyed and keyed[0] > 0 and not previous_carried:
                    # the carried frame that follows a network frame needs no verdict: hand it on
                    # first, so that the decode thread carries it while the network runs
                    if not st.put(self._net, (group.frames[0], None, 0.0, 0.0)):
                        return
                    previous_carried, start = True, 1
                maps, ms = [], 0.0
                if keyed:
                    t0 = time.perf_counter()
                    maps = stages.inference(stages.letterbox.tensor(group.buffer, len(keyed)),
                                            [group.boxes[i] for i in keyed], [group.frames[i].image for i in keyed])
                    ms = (time.perf_counter() - t0) * 1e3 / len(keyed)
                outs = iter(maps)
                for frame, box, pre_ms in zip(group.frames[start:], group.boxes[start:], group.preprocess_ms[start:]):
                    if box is not None:
                        item = (frame, next(outs), pre_ms, ms)
                        previous_carried = False
                    else:
                        if previous_carried and self._cut_before(frame):
                            item = self._network_now(frame)  # after a cut: this frame runs the network
                            previous_carried = False
                        else:
                            item = (frame, None, 0.0, 0.0)
                            previous_carried = True
                    if not st.put(self._net, item):
                        return
        finally:
            st.put(self._net, END)

    def _live_carry(self) -> None:
        """Live carrying: every captured frame (the source's tap) gets a result, carried from the last
        one by optical flow, while the inference thread runs the network on the newest frame as it
        always does.  Each network result is decoded here when it arrives and, moved by the flow from
        its own (older) frame to the frame being processed, taken by the tracker as detections
        (normal association, new people start): the network never waits for carrying, and carrying
        never waits for the network."""
        st, stages, carry = self._ctl, self.stages, self.carry
        tracking = stages.track.enabled
        last = None
        pending = None  # the newest network result not yet used: (frame, poses, pre, inference, decode ms)
        net_done = False
        empty = Poses.empty(stages.card.parts)
        try:
            while not st.abort.is_set():
                if net_done and self._tap.empty():
                    return  # the network stopped (end, max_frames, stop_capture): the frames read are done
                try:
                    frame = self._tap.get(timeout=_POLL)
                except queue.Empty:
                    continue
                if frame is None:
                    return
                newest = None
                while not net_done:  # the network's newest result, if one is done (older ones are superseded)
                    try:
                        got = self._net.get_nowait()
                    except queue.Empty:
                        break
                    if got is END:
                        net_done = True
                    else:
                        newest = got
                if newest is not None:
                    nframe, out, pre_ms, infer_ms = newest
                    t0 = time.perf_counter()
                    pending = (nframe, stages.decode(out), pre_ms, infer_ms, (time.perf_counter() - t0) * 1e3)
                t0 = time.perf_counter()
                timings = None
                if pending is not None and pending[0].index <= frame.index:
                    nframe, poses, pre_ms, infer_ms, decode_ms = pending
                    pending = None
                    carry.see(frame.image, frame.index)
                    moved = poses if nframe.index == frame.index else carry.move(poses, nframe.index)
                    if moved is None:  # its frame's grey copy is gone (a network slower than LIVE_HISTORY frames)
                        moved = poses
                    t1 = time.perf_counter()
                    if moved is not None:
                        people = keyframe_people(stages.track(moved, frame.timestamp))
                        if nframe.index != frame.index:  # the network's keypoints, carried to this frame
                            people = replace(people, carried=people.poses.visible.copy())
                        t2 = time.perf_counter()
                        timings = StageTimings(pre_ms, infer_ms, decode_ms, (t2 - t1) * 1e3 if tracking else None,
                                               carry=(t1 - t0) * 1e3)
                if timings is None:
                    if last is None:  # no network result yet: nobody to carry
                        carry.see(frame.image, frame.index)
                        people = replace(stages.track(empty, frame.timestamp),
                                         carried=np.zeros((0, len(stages.card.parts)), np.bool_), keyframe=False)
                        timings = StageTimings(0.0, 0.0, 0.0, None, carry=(time.perf_counter() - t0) * 1e3)
                    else:
                        people, timings = self._carry_frame(frame, last, t0)
                last = people
                if not self._emit(frame, people, timings):
                    return
        finally:
            st.put(self._results, END)

    def _carry_frame(self, frame: Frame, last: People, t0: float, *, verdict: bool = False) -> tuple:
        """(people, timings) of a frame the network did not see: ``last`` carried to it, then the
        tracker (``t0``: when the frame's work began).  ``verdict``: tell the inference thread, as
        soon as it is known, whether the flow failed here (:meth:`_cut_before`)."""
        carried = self.carry(frame.image, last, frame.index)
        t1 = time.perf_counter()
        if verdict:
            self._verdict_on(frame, carried.cut)
        people = self.stages.track.carry(carried, frame.timestamp, self.carry_noise)
        t2 = time.perf_counter()
        return people, StageTimings(0.0, 0.0, 0.0, (t2 - t1) * 1e3 if self.stages.track.enabled else None,
                                    carry=(t1 - t0) * 1e3)

    def _emit(self, frame: Frame, people: People, timings: StageTimings) -> bool:
        """The frame's result (drawn when an output needs pictures) to the consumer; False when the
        stream was aborted."""
        result = FrameResult(frame, people, timings)
        if self.stages.render is not None:
            result = with_picture(result, self.stages.render)
        return self._ctl.put(self._results, result)

    def _cut_before(self, frame: Frame) -> bool:
        """Carrying: wait for the decode thread's verdict on the frame before ``frame`` (carried too);
        True when the flow failed there (a cut or a flash)."""
        before = frame.index - 1
        with self._verdict:
            while self._carried_done < before and not self._ctl.abort.is_set():
                self._verdict.wait(_POLL)
            return self._cut_at == before

    def _network_now(self, frame: Frame) -> tuple:
        """A frame that was to be carried through the network instead (on the inference thread, the
        only one that runs it), letterboxed into a buffer of its own."""
        stages = self.stages
        if self._recover is None:
            self._recover = LetterboxStage(stages.card, stages.letterbox.size)
        t0 = time.perf_counter()
        tensor, box = self._recover.single(frame.image)
        t1 = time.perf_counter()
        (out,) = stages.inference(tensor, [box], [frame.image])
        self.recovered += 1
        return (frame, out, (t1 - t0) * 1e3, (time.perf_counter() - t1) * 1e3)

    def _verdict_on(self, frame: Frame, cut: bool) -> None:
        with self._verdict:
            self._carried_done = frame.index
            if cut:
                self._cut_at = frame.index
            self._verdict.notify_all()

    def _decode(self) -> None:
        st, stages = self._ctl, self.stages
        tracking = stages.track.enabled
        carry = stages.carry
        last = None  # carrying: the people of the last result, carried to the next frame
        try:
            while True:
                got = st.get(self._net)
                if got is END:
                    return
                frame, out, pre_ms, infer_ms = got
                if out is None:  # a carried frame: CarryStage, then the tracker
                    people, timings = self._carry_frame(frame, last, time.perf_counter(), verdict=True)
                else:
                    t0 = time.perf_counter()
                    poses = stages.decode(out)
                    t1 = time.perf_counter()
                    people = stages.track(poses, frame.timestamp)
                    t2 = time.perf_counter()
                    carry_ms = None
                    if carry is not None:
                        carry.see(frame.image)
                        people = keyframe_people(people)
                        carry_ms = (time.perf_counter() - t2) * 1e3
                    timings = StageTimings(pre_ms, infer_ms, (t1 - t0) * 1e3, (t2 - t1) * 1e3 if tracking else None,
                                           carry=carry_ms)
                last = people
                if not self._emit(frame, people, timings):
                    return
        finally:
            st.put(self._results, END)
