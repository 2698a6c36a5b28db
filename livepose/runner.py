"""Running a stream into its outputs: each output fed on its own thread (or the caller's),
the run loop with progress, Ctrl-C/SIGTERM handling and the end-of-run summary.

    summary = run_stream(stream, outputs)        # a livepose.pipeline.PoseStream, livepose.sinks outputs
    print(summary.line())                        # "50 frames in 9.4 s (5.3 FPS), 1.0 people per frame, 0 dropped"
"""

from __future__ import annotations

import os
import queue
import signal
import threading
import time
from dataclasses import dataclass, replace

from livepose.pipeline import END, Control, PoseStream
from livepose.types import FrameResult, StreamInfo


class SinkRunner:
    """Feeds every result to each output: an output on its own thread through a bounded queue,
    or, when it says so (``on_caller_thread``, the overlay window), directly on the caller's
    thread for the lowest latency.

    The frame's record (:mod:`livepose.records`), which every serialiser reads, is made once here
    before the result is handed out.  An output that falls behind applies backpressure (file
    outputs never lose a frame).  The first output error stops the runner; :meth:`write` then
    raises it.  :meth:`close` lets each worker finish its queue, then closes every output (files
    complete and valid).  :attr:`stop_requested` is set when an output asks the run to stop
    (``q`` in the window).
    """

    def __init__(self, sinks, info: StreamInfo, queue_size: int = 8, nice: int = 10):
        self.sinks = list(sinks)
        self.nice = nice
        self.queue_size = queue_size
        self._ctl = Control()
        self._inline = [s for s in self.sinks if getattr(s, "on_caller_thread", False)]
        self._threaded = [s for s in self.sinks if not getattr(s, "on_caller_thread", False)]
        self._queues = [queue.Queue(maxsize=queue_size) for _ in self._threaded]
        self._threads: list[threading.Thread] = []
        self._stops = [e for e in (getattr(s, "stop_requested", None) for s in self.sinks) if e is not None]
        opened = []
        try:  # network outputs first (a busy port, an unknown host), then the files' temporary names
            for sink in sorted(self.sinks, key=lambda s: bool(getattr(s, "writes_files", False))):
                sink.open(info)
                opened.append(sink)
        except BaseException:
            for sink in opened:  # nothing is kept of a run that did not start: earlier files stay as they were
                _discard_quietly(sink)
            raise
        for sink, q in zip(self._threaded, self._queues):
            t = threading.Thread(target=self._work, args=(sink, q), name=f"livepose-sink-{sink.name}", daemon=True)
            t.start()
            self._threads.append(t)

    @property
    def frames_written(self) -> int:
        """The most frames any file output has written (0: nothing was produced)."""
        return max([int(getattr(s, "frames_written", 0) or 0) for s in self.sinks], default=0)

    @property
    def needs_picture(self) -> bool:
        """Whether some output shows or writes the frames with skeletons drawn."""
        return any(getattr(s, "needs_picture", False) for s in self.sinks)

    @property
    def stop_requested(self) -> bool:
        return any(e.is_set() for e in self._stops)

    def _work(self, sink, q: queue.Queue) -> None:
        st = self._ctl
        _lower_priority(self.nice)
        try:
            while True:
                item = st.get(q)
                if item is END:
                    return
                sink.write(item)
        except BaseException as exc:
            st.fail(exc)

    def write(self, result: FrameResult) -> None:
        if not self.sinks:
            return
        if result.record is None:
            from livepose.records import FrameRecord

            result = replace(result, record=FrameRecord.from_result(result))
        for q in self._queues:
            if not self._ctl.put(q, result):
                break
        if self._ctl.error is not None:
            raise self._ctl.error
        for sink in self._inline:
            sink.write(result)

    def close(self, timeout: float = 30.0) -> None:
        """Finish queued frames, then close every output; re-raises the first output error."""
        for q in self._queues:
            self._ctl.put(q, END)
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self._ctl.abort.set()
        errors: list[BaseException] = [self._ctl.error] if self._ctl.error is not None else []
        for sink in self.sinks:
            try:
                sink.close()
            except BaseException as exc:
                errors.append(exc)
        if errors:
            raise _one_error(errors, self.sinks)


    def discard(self, timeout: float = 30.0) -> None:
        """Stop every worker and drop what the outputs made (a run that produced no frame): the
        temporary files are removed and every earlier file stays as it was."""
        self._ctl.abort.set()
        for q in self._queues:
            try:
                q.put_nowait(END)
            except queue.Full:
                pass
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        for sink in self.sinks:
            _discard_quietly(sink)


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


def _one_error(errors: list[BaseException], sinks) -> BaseException:
    """The error a run ends with: output errors become one line naming every output that failed
    and what each file kept (its frames up to the last complete one, renamed into place)."""
    from livepose.errors import OutputError

    if not all(isinstance(e, OutputError) for e in errors):
        return next(e for e in errors if not isinstance(e, OutputError))
    said: list[str] = []
    for e in errors:
        if str(e) not in said:
            said.append(str(e))
    for sink in sinks:
        if getattr(sink, "failure", None) is not None:
            n = int(getattr(sink, "frames_written", 0))
            said.append(f"{sink.path} keeps the first {n} frame{'' if n == 1 else 's'} (valid)")
    if any(getattr(s, "failure", None) is None for s in sinks) and len(said) > 0 and len(sinks) > 1:
        said.append("the other outputs were closed valid")
    return OutputError("; ".join(said))


def _discard_quietly(sink) -> None:
    try:
        discard = getattr(sink, "discard", None)
        (discard or sink.close)()
    except Exception:
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
    network_frames: int | None = None  # carrying on (--keyframe-every): the frames the network ran on

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def network_part(self) -> str:
        """", the network on N of M frames" with carrying on, else nothing."""
        return "" if self.network_frames is None else f", the network on {self.network_frames} of {self.frames} frames"

    def line(self) -> str:
        per_frame = self.people / self.frames if self.frames else 0.0
        text = (f"{self.frames} frames in {self.seconds:.1f} s ({self.fps:.1f} FPS), "
                f"{per_frame:.1f} people per frame, {self.dropped} dropped{self.network_part()}")
        return text + (" (interrupted)" if self.interrupted else "")


OUTPUT_QUEUE = 8  # results each threaded output may have waiting


def run_video(source, estimator, sinks, *, display=None, max_frames: int | None = None,
              quiet: bool = False, tracker=None, batch: int = 1) -> RunSummary:
    """Run a source through the pipeline (stages made from ``estimator``, with ``tracker``) into
    ``sinks``; ``display``, the overlay window, is one more of them.  See :func:`run_stream`."""
    sinks = list(sinks) + ([display] if display is not None else [])
    render = any(getattr(s, "needs_picture", False) for s in sinks)
    stream = PoseStream(source, estimator, max_frames=max_frames, tracker=tracker, batch=batch, render=render,
                        hold=OUTPUT_QUEUE + 2 if sinks else 0)
    return run_stream(stream, sinks, quiet=quiet)


def term_as_interrupt():
    """On the main thread, SIGTERM raises KeyboardInterrupt (a run ended by a script stops as with
    Ctrl-C, its outputs closed valid); returns the handler to put back with
    ``signal.signal(signal.SIGTERM, previous)``, or None (not the main thread: nothing changed)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def _term(signum, frame):
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, _term)


def run_stream(stream: PoseStream, sinks, *, quiet: bool = False) -> RunSummary:
    """Run ``stream`` to its end into ``sinks`` (each on its own thread, or on this one when it
    says so), with a progress bar.  Ctrl-C or SIGTERM stops the capture; frames already read are
    finished and written, and every output is closed valid.  A second Ctrl-C stops at once
    (outputs are still closed).  The stream is closed on return.

    Files are written under temporary names (:mod:`livepose.sinks.files.atomic`): closing renames
    each into place, complete (after a write error: valid up to its last complete frame, and the
    error line says what each failed output kept).  A run that fails or is stopped before its
    first frame is written discards them instead: every earlier file stays as it was."""

    from livepose.progress import Progress

    source = stream.source
    try:
        runner = SinkRunner(sinks, stream.info, queue_size=OUTPUT_QUEUE)
    except BaseException:
        stream.close()
        raise
    previous = term_as_interrupt()
    interrupted = False
    people = 0
    network_frames = 0  # carrying on: the results the network ran on
    t0 = time.perf_counter()
    total = source.frame_count if not source.is_live else None
    if stream.max_frames is not None and total is not None:
        total = min(total, stream.max_frames)
    progress = Progress(total, quiet=quiet)
    failed = False
    try:
        while True:
            try:
                result = stream.get()
                if result is None:
                    break
                runner.write(result)
                if runner.stop_requested:
                    stream.stop_capture()
                people += len(result.poses)
                network_frames += result.people.keyframe
                progress.update(1, len(result.poses))
            except KeyboardInterrupt:
                if interrupted:
                    stream.abort()
                    break
                interrupted = True
                stream.stop_capture()
    except BaseException:
        failed = True
        raise
    finally:
        progress.close()
        try:
            stream.close()
        finally:
            try:
                if (failed or interrupted) and stream.frames_done == 0 and not runner.frames_written:
                    runner.discard()  # nothing produced: every earlier result stays as it was
                else:
                    runner.close()  # every file renamed into place, valid (after an error: up to its last frame)
            finally:
                if previous is not None:
                    signal.signal(signal.SIGTERM, previous)
    return RunSummary(
        frames=stream.frames_done,
        seconds=time.perf_counter() - t0,
        people=people,
        dropped=int(getattr(source, "dropped", 0)) + stream.skipped,
        interrupted=interrupted,
        stopped_early=getattr(source, "stopped_early", None),
        network_frames=network_frames if stream.carry is not None else None,
    )


def run_photos(estimator, paths, sinks):
    """Each photo through the estimator's stages into ``sinks`` (opened at the first photo read,
    closed at the end, also on an error); yields ``(path, result, None)`` per photo, or
    ``(path, None, message)`` for a photo that could not be read (the others go on)."""
    from livepose.errors import InputError
    from livepose.images import read_image
    from livepose.types import Frame, FrameResult, People

    opened = []
    card = estimator.card
    try:
        for index, path in enumerate(paths):
            try:
                image = read_image(path)
            except InputError as exc:
                yield path, None, str(exc)
                continue
            t0 = time.perf_counter()
            poses, timings = estimator(image)
            result = FrameResult(Frame(index, 0.0, t0, image), People.detected(poses), timings)
            if not opened:
                info = StreamInfo(source=str(path), size=result.frame.size, fps=0.0, frame_count=len(paths),
                                  is_live=False, model=card.name, part_names=card.parts, limbs=card.limbs)
                for sink in sinks:
                    sink.open(info)
                    opened.append(sink)
            for sink in sinks:
                sink.write(result)
            yield path, result, None
    finally:
        first = None
        for sink in opened:
            try:
                sink.close()
            except BaseException as exc:
                first = first or exc
        if first is not None:
            raise first
