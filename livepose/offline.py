"""``livepose run FILE --smoother offline``: the run in two passes, the file outputs holding the
offline-smoothed keypoints (zero lag: :mod:`livepose.track.offline`).

    run = build_offline(config, OfflineSmoothing())     # config: a RunConfig for a file source
    summary = run.execute()                             # an OfflineSummary (a RunSummary)

Smoothing forward and backward needs the whole video, so:

1. **Pass 1** runs the pipeline as a normal run does (:func:`livepose.build.build`: network,
   decoding, the live Kalman tracker, which gives the ids) and keeps every frame's tracked people
   (ids, states, scores, raw and smoothed keypoints, timestamps: a few kilobytes a frame, no
   pixels).
2. Each track's raw measured keypoints are smoothed over the whole run and short gaps filled
   (:func:`livepose.track.offline.smooth_people`).
3. **Pass 2** writes the outputs (the same objects as a normal run's,
   :func:`livepose.build.build_outputs`, the same schemas): JSON Lines, CSV, COCO and OpenPose JSON
   straight from the kept results; when an output needs pictures (``--video``) the source is
   opened again and decoded once more to draw the smoothed people (no network in pass 2).

In every output ``keypoints`` are the offline-smoothed coordinates of the joints measured in the
frame, ``raw`` the detections as found, ``predicted`` (JSON Lines) the gap-filled joints (a joint
not measured in the frame, within ``max_gap_s`` of measurements on both sides); the rows of each
frame (people, ids, states, scores) are the live run's.

Refused (InputError, exit 2): a live source (a camera, a stream, ``--realtime``), tracking off,
the overlay window and the streaming outputs (WebSocket, OSC, UDP: live by nature).  The output
paths are checked and the files opened under their temporary names before pass 1, as in a normal
run.  Ctrl-C (or SIGTERM) in pass 1 stops reading: the frames read so far are smoothed and written
in full (nothing produced is lost) and the summary says interrupted (exit 130); a second Ctrl-C
stops the network at once, the frames finished are still written; Ctrl-C in pass 2 stops writing
there, every output closed valid.  A stage's error in pass 1 likewise: the frames read before it
are written, then the error is raised.  A run that writes no frame (stopped or failed before the
first) removes its temporary files: every earlier file stays as it was.
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass

import numpy as np

from livepose.errors import InputError
from livepose.runner import RunSummary
from livepose.settings import RunConfig
from livepose.track.offline import OfflineSmoothing, smooth_people
from livepose.types import Frame, FrameResult, StageTimings

OPTION = "--smoother offline"


@dataclass(frozen=True)
class _Kept:
    """What pass 1 keeps of a frame (no pixels)."""

    index: int
    timestamp: float
    captured_at: float
    size: tuple[int, int]
    people: object
    timings: StageTimings


@dataclass(frozen=True)
class OfflineSummary(RunSummary):
    """A :class:`~livepose.runner.RunSummary` with the two passes' times and the smoothing:
    ``frames`` written, ``frames_read`` by pass 1 (more when pass 2 was interrupted)."""

    frames_read: int = 0
    network_seconds: float = 0.0
    smoothing_seconds: float = 0.0
    output_seconds: float = 0.0
    smoothing: str = ""
    redecoded: bool = False

    def line(self) -> str:
        per_frame = self.people / self.frames if self.frames else 0.0
        second = "outputs, the video decoded again" if self.redecoded else "outputs"
        fps = self.frames_read / self.network_seconds if self.network_seconds > 0 else 0.0
        text = (f"{self.frames} frames in {self.seconds:.1f} s, {per_frame:.1f} people per frame, "
                f"{self.dropped} dropped{self.network_part()}; {self.smoothing}: pass 1 (network, tracking) "
                f"{self.network_seconds:.1f} s ({fps:.1f} FPS), smoothing {self.smoothing_seconds:.2f} s, "
                f"pass 2 ({second}) {self.output_seconds:.1f} s")
        return text + (" (interrupted)" if self.interrupted else "")


def check_offline(config: RunConfig) -> None:
    """The settings an offline run refuses, before anything is opened (InputError, exit 2)."""
    out = config.outputs
    if config.capture.realtime:
        raise InputError(f"{OPTION} smooths a whole file before writing it; --realtime plays it as a live source: "
                         f"use one or the other")
    if not config.tracking:
        raise InputError(f"{OPTION} smooths each tracked person: it needs tracking (drop --no-track)")
    if out.network:
        raise InputError(f"{OPTION}: --ws, --osc and --udp stream each frame as it is made; the offline keypoints "
                         f"exist only once the whole file is read (use --smoother kalman to stream)")
    if out.display:
        raise InputError(f"{OPTION}: the window shows frames as they are made; the offline keypoints exist only once "
                         f"the whole file is read (write --video instead)")
    if not out.files:
        raise InputError(f"{OPTION} writes files: give --jsonl, --csv, --coco, --openpose-json or --video")


class OfflineRun:
    """A composed offline run (:func:`build_offline`): ``source``, ``estimator``, ``stream`` (pass
    1's pipeline), ``outputs``; :meth:`execute` runs both passes."""

    def __init__(self, config: RunConfig, smoothing: OfflineSmoothing, run, outputs: list, *, quiet: bool,
                 announce=None):
        self.config = config
        self.smoothing = smoothing
        self._run = run
        self.source = run.source
        self.estimator = run.estimator
        self.stream = run.stream
        self.outputs = outputs
        self.size_choice = run.size_choice
        self.quiet = quiet
        self._announce = announce
        self.written = 0  # frames handed to the outputs by pass 2

    def close(self) -> None:
        """Close pass 1's pipeline and source (when :meth:`execute` is not called)."""
        self._run.close()

    def _say(self, line: str) -> None:
        if self._announce is not None and not self.quiet:
            self._announce(line)

    def execute(self):
        """Both passes (module docstring); returns the summary (``OfflineSummary``)."""
        from livepose.progress import Progress
        from livepose.runner import OUTPUT_QUEUE, SinkRunner, term_as_interrupt

        stream, source = self.stream, self.source
        try:
            runner = SinkRunner(self.outputs, stream.info, queue_size=OUTPUT_QUEUE)
        except BaseException:
            stream.close()
            raise
        previous = term_as_interrupt()
        t0 = time.perf_counter()
        kept: list[_Kept] = []
        interrupted = False
        written = 0
        redecoded = False
        failed = False
        error = None  # a stage's error in pass 1: the frames read before it are still written, then it is raised
        t_smooth = t_out = t1 = t0
        try:
            # -- pass 1: the network and the tracker; keep the people of every frame
            total = source.frame_count
            if stream.max_frames is not None and total is not None:
                total = min(total, stream.max_frames)
            self._say("pass 1 of 2: network and tracking (the outputs are written once the whole file is read)")
            progress = Progress(total, quiet=self.quiet)
            try:
                while True:
                    try:
                        result = stream.get()
                        if result is None:
                            break
                        f = result.frame
                        kept.append(_Kept(f.index, f.timestamp, f.captured_at, f.size, result.people, result.timings))
                        progress.update(1, len(result.people))
                    except KeyboardInterrupt:
                        if interrupted:
                            stream.abort()
                            break
                        interrupted = True
                        stream.stop_capture()
            except Exception as exc:
                error = exc
            finally:
                progress.close()
                stream.close()
            t1 = time.perf_counter()
            # -- offline smoothing of every track
            people = smooth_people([k.people for k in kept], [k.timestamp for k in kept], self.config.track,
                                   self.smoothing, mirror=getattr(stream.tracker, "mirror", None))
            t_smooth = time.perf_counter()
            # -- pass 2: the outputs
            if kept:
                redecoded = runner.needs_picture
                self._say(f"pass 2 of 2: writing {len(kept)} frames with {self.smoothing.describe()}"
                          + (", decoding the video again for the pictures" if redecoded else ""))
                try:
                    self._write(runner, kept, people, redecoded)
                except KeyboardInterrupt:
                    interrupted = True
                written = self.written
            t_out = time.perf_counter()
            if error is not None:
                raise error
        except BaseException:
            failed = True
            raise
        finally:
            try:
                if (failed or interrupted) and not self.written and not runner.frames_written:
                    runner.discard()  # nothing produced: every earlier result stays as it was
                else:
                    runner.close()
            finally:
                if previous is not None:
                    signal.signal(signal.SIGTERM, previous)
        return OfflineSummary(
            frames=written, seconds=time.perf_counter() - t0,
            people=sum(len(k.people) for k in kept[:written]), frames_read=len(kept),
            dropped=int(getattr(source, "dropped", 0)) + stream.skipped,
            interrupted=interrupted, stopped_early=getattr(source, "stopped_early", None),
            network_seconds=t1 - t0, smoothing_seconds=t_smooth - t1, output_seconds=t_out - t_smooth,
            smoothing=self.smoothing.describe(), redecoded=redecoded,
            network_frames=sum(k.people.keyframe for k in kept[:written]) if stream.carry is not None else None,
        )

    def _write(self, runner, kept: list[_Kept], people: list, pictures: bool) -> None:
        """Pass 2: each kept frame with its smoothed people into the outputs (counted in :attr:`written`)."""
        from livepose.build import open_capture
        from livepose.progress import Progress
        from livepose.records import FrameRecord

        frames = None
        if pictures:  # the same frames again, decoded (the source as a file, read at its own pace)
            frames = iter(open_capture(self.config.capture.with_(realtime=False)))
        progress = Progress(len(kept), quiet=self.quiet)
        try:
            for k, p in zip(kept, people):
                if frames is not None:
                    frame = _next_frame(frames, k.index)
                else:  # no pixels needed: an image of the frame's size that takes no memory
                    w, h = k.size
                    frame = Frame(k.index, k.timestamp, k.captured_at, np.broadcast_to(_PIXEL, (h, w, 3)))
                frame = Frame(k.index, k.timestamp, k.captured_at, frame.image)
                record = FrameRecord.from_frame(frame, p)
                runner.write(FrameResult(frame, p, k.timings, record=record))
                self.written += 1
                progress.update(1, len(p))
        finally:
            progress.close()
            if frames is not None:
                getattr(frames, "close", lambda: None)()


_PIXEL = np.zeros((1, 1, 3), np.uint8)


def _next_frame(frames, index: int) -> Frame:
    """The frame ``index`` of the source read again (frames before it, which pass 1 did not
    keep, are skipped)."""
    for frame in frames:
        if frame.index == index:
            return frame
        if frame.index > index:
            break
    raise InputError(f"the source gave different frames when read again (frame {index} missing): it changed "
                     f"during the run? The outputs hold the frames before it")


def build_offline(config: RunConfig, smoothing: OfflineSmoothing | None = None, *, on_event=None, warn=None,
                  announce=None, estimator=None) -> OfflineRun:
    """The offline run of ``config`` (module docstring): checks, then pass 1's pipeline composed by
    :func:`livepose.build.build` (its tracker: ``config.track``, Kalman), and the outputs of
    :func:`livepose.build.build_outputs`.  A live source is refused here (InputError, exit 2)."""
    from livepose.build import build, build_outputs, check_output_paths

    smoothing = smoothing if smoothing is not None else OfflineSmoothing()
    check_offline(config)
    if config.track.smoother != "kalman":
        config = config.with_(track=config.track.with_(smoother="kalman"))  # the live tracker, for the ids
    check_output_paths(config, warn=warn)
    run = build(config, outputs=False, on_event=on_event, warn=warn, announce=announce, estimator=estimator)
    try:
        if run.source.is_live:
            name = getattr(run.source, "label", None) or config.capture.source
            raise InputError(f"{OPTION} smooths a whole file before writing it; {name} is a live source (a camera "
                             f"or a stream): use --smoother kalman")
        outputs = build_outputs(config.outputs, run.source.name, warn=warn, announce=announce,
                                carrying=config.carry.active)
    except BaseException:
        run.close()
        raise
    return OfflineRun(config, smoothing, run, outputs, quiet=config.quiet, announce=announce)


__all__ = ["OfflineRun", "OfflineSummary", "build_offline", "check_offline"]
