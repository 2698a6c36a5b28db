"""The one place a run is composed: a :class:`~livepose.settings.RunConfig` in, a ready
:class:`Run` out (source, network, stages, outputs), for the command line and the Python API.

    run = build(RunConfig.from_overrides(source="match.mp4", jsonl="out.jsonl"))
    summary = run.execute()

    with livepose.open("match.mp4", batch=4) as stream:      # results to iterate, no outputs
        ...
    livepose.run("match.mp4", jsonl="out.jsonl")              # outputs written, a RunSummary back

Order of the checks (each failure is one line and its exit code): the output paths are compared
with the inputs and with each other (:mod:`livepose.sinks.files.paths`: an output that is an
input, or two outputs that are one file, exit 2), the source opens and gives its first frame,
the outputs are made (names and endpoints checked), the model and its card load on the chosen
engine; when the run starts the network outputs open first (the WebSocket port is bound, the
receivers resolved), then the files, each under a temporary name
(:mod:`livepose.sinks.files.atomic`).  No file at an output's path is touched before the run
ends: then each is renamed into place, complete (also after Ctrl-C, and after a write error:
valid up to its last complete frame).  A run that fails or is stopped before its first frame
removes its temporary files and leaves every earlier result as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from livepose.errors import InputError
from livepose.settings import (AUTO_SIZE, AugmentSettings, CaptureSettings, DecodeConfig, ModelSettings, OutputSettings,
                               RunConfig, SettingError, SuppressSettings)

#: the warning of an accuracy mode given for a live source (which then runs one scale)
LIVE_AUGMENT_WARNING = "--accuracy/--scales/--flip ignored: a live source runs one scale (lowest latency)"

Say = Callable[[str], None]


def open_capture(capture: CaptureSettings, *, on_event: Say | None = None):
    """The source the capture settings name (:func:`livepose.capture.open_source`)."""
    from livepose.capture import open_source

    if capture.source is None:
        raise SettingError("setting capture.source: must be a video, folder, glob pattern, camera index or URL; "
                           "got None")
    return open_source(capture.source, realtime=capture.realtime, fps=capture.fps,
                       stall_timeout=capture.stall_timeout, open_timeout=capture.open_timeout,
                       max_reconnects=capture.max_reconnects, on_event=on_event)


def build_estimator(model: ModelSettings, decode: DecodeConfig | None = None, *, warm_up: bool = True,
                    augment: AugmentSettings | None = None, suppress: SuppressSettings | None = None):
    """The network on its engine with the photo stages (:class:`livepose.estimator.PoseEstimator`),
    in the accuracy mode ``augment`` (None: one plain run per image), dropping the false people
    ``suppress`` names after decoding (None: the default rules)."""
    from livepose.estimator import PoseEstimator

    if model.size == AUTO_SIZE:
        raise SettingError("setting model.size: 'auto' picks one input size for a whole video run (livepose run, "
                           "livepose.open, livepose.run); for photos and evaluation give WxH, e.g. -1x552")
    if augment is not None and augment.active and model.precision == "auto":
        model = _exact_precision(model)
    return PoseEstimator.from_settings(model, decode, warm_up=warm_up, augment=augment, suppress=suppress)


def _exact_precision(model: ModelSettings) -> ModelSettings:
    """The accuracy mode runs the card's own (fp32) model: ``precision="auto"`` may otherwise take a
    faster, slightly less accurate one (lwop's int8 IR on OpenVINO, see the card's ``auto_precision``)."""
    from livepose.models import card_for

    card = card_for(model.model, model.card)
    return model.with_(precision="fp32") if card.precision == "fp32" and card.auto_precision else model


def choose_size(estimator, source, *, max_frames: int | None = None, warn: Say | None = None,
                announce: Say | None = None):
    """``size="auto"``: (the estimator at the input size picked from sampled frames of ``source``, the
    :class:`livepose.autosize.SizeChoice`).  A source whose frames cannot be sampled ahead (live)
    keeps the card's size and says so through ``warn``; ``announce`` gets the line saying what was
    picked and why."""
    from livepose import autosize

    frames = [] if source.is_live else autosize.sample_frames(source, limit=max_frames)
    if not frames:
        if warn is not None:
            w, h = estimator.size
            warn(autosize.LIVE_WARNING.format(size=f"{w}x{h}") if source.is_live
                 else f"--size auto: no frame of {getattr(source, 'label', source.name)} could be sampled; "
                      f"the network's default size {w}x{h}")
        return estimator, None
    choice = autosize.auto_size(estimator, frames)
    if announce is not None:
        announce(choice.line)
    return estimator.with_size(choice.size), choice


def output_paths(outputs: OutputSettings) -> list:
    """The file outputs of ``outputs`` as :class:`livepose.sinks.files.paths.Output` (for the checks)."""
    import re

    from livepose.sinks.files.paths import Output

    made = [Output(option, value) for option, value in (("--video", outputs.video), ("--jsonl", outputs.jsonl),
                                                         ("--coco", outputs.coco), ("--csv", outputs.csv)) if value]
    if outputs.openpose_json:
        made.append(Output("--openpose-json", outputs.openpose_json, re.compile(r".+_\d{12}_keypoints\.json")))
    return made


def check_output_paths(config: RunConfig, *, warn: Say | None = None) -> None:
    """Before anything is opened: no output is an input (the source's files, the model, the card)
    or another output (InputError naming both, exit 2).  ``warn`` gets one line per temporary file
    a killed run left at an output's path (kept: the user decides)."""
    from livepose.sinks.files.atomic import leftover_temps
    from livepose.sinks.files.paths import check_outputs, model_files, source_files

    outs = output_paths(config.outputs)
    if not outs:
        return
    inputs = [("the input", p) for p in source_files(config.capture.source)] + model_files(config.model)
    check_outputs(outs, inputs)
    if warn is not None:
        for out in outs:
            if out.pattern is None:
                for left in leftover_temps(out.path):
                    warn(f"{left}: left by a run that was killed before it finished ({out.what} {out.path}, "
                         f"valid up to its last complete line); kept: rename it to keep it, or delete it")
            else:
                for left in leftover_temps(out.path / "*"):
                    warn(f"{left}: the frames of a run that was killed before it finished ({out.what}); "
                         f"kept: move them out to keep them, or delete the folder")


def build_outputs(outputs: OutputSettings, source_name: str, *, warn: Say | None = None,
                  announce: Say | None = None, carrying: bool = False) -> list:
    """The outputs asked for, in a fixed order: files (video, JSONL, OpenPose JSON, COCO, CSV),
    network outputs (WebSocket, OSC, UDP), then the overlay window (asked for, or the default
    when nothing else is).  ``carrying``: the run carries keypoints between network frames
    (``config.carry.active``): the CSV gets its ``carried`` column (its header is written before
    any frame; the other outputs see it in each frame's record)."""
    from livepose import sinks as S

    made: list = []
    if outputs.video:
        made.append(S.VideoSink(outputs.video, angles=outputs.angles))
    if outputs.jsonl:
        made.append(S.JsonlSink(outputs.jsonl))
    if outputs.openpose_json:
        made.append(S.OpenPoseJsonSink(outputs.openpose_json, source_name))
    if outputs.coco:
        made.append(S.CocoSink(outputs.coco))
    if outputs.csv:
        made.append(S.CsvSink(outputs.csv, carrying=carrying))
    if outputs.ws is not None:
        from livepose.sinks.stream.server import WebSocketSink

        host, port = outputs.ws
        made.append(WebSocketSink(host, port, token=outputs.ws_token, frames_width=outputs.ws_frames,
                                  announce=announce, warn=warn))
    if outputs.osc is not None:
        from livepose.sinks.stream.osc import OscSink

        made.append(OscSink(*outputs.osc, mode=outputs.osc_mode, warn=warn))
    if outputs.udp is not None:
        from livepose.sinks.stream.udp import UdpSink

        made.append(UdpSink(*outputs.udp, warn=warn))
    if outputs.show_display:
        made.append(S.DisplaySink(angles=outputs.angles))
    if not made:
        raise InputError("nothing to do: --no-display and no output option (see livepose run --help)")
    return made


def build_photo_outputs(folder, paths, *, images: bool = True) -> list:
    """The outputs of ``livepose image``: per photo ``<stem>_keypoints.json`` (OpenPose JSON) and,
    with ``images``, the annotated ``<stem><suffix>``, in ``folder``; ``paths[frame.index]``
    names each result's photo.

    Photos with the same stem get distinct names (:func:`livepose.sinks.files.paths.photo_stems`:
    ``x``, ``x_1``, ...), and an output file that would be one of the photos (``--out`` their own
    folder, with the images written) is an InputError naming both, before anything is written."""
    from livepose.sinks import ImageSink, OpenPoseJsonSink
    from livepose.sinks.files.image import image_suffix
    from livepose.sinks.files.paths import Output, check_outputs, photo_stems

    folder = Path(folder)
    stems = photo_stems(paths)
    names = [Path(stem + Path(p).suffix) for stem, p in zip(stems, paths)]
    outs = [Output(f"the keypoints of {p}", folder / f"{stem}_keypoints.json") for stem, p in zip(stems, paths)]
    if images:
        outs += [Output(f"the annotated copy of {p}", folder / f"{stem}{image_suffix(p)}") for stem, p in zip(stems, paths)]
    try:
        check_outputs(outs, [("the photo", p) for p in paths])
    except InputError as exc:
        hint = " (or --no-image)" if images else ""
        raise InputError(f"{exc}".replace("give the output another path", f"give another --out folder{hint}")) from None

    def name_for(result):
        return names[result.frame.index]

    made = [OpenPoseJsonSink(folder, name_for=name_for)]
    if images:
        made.append(ImageSink(folder, name_for=name_for))
    return made


@dataclass
class Run:
    """A composed run: iterate ``stream`` yourself, or :meth:`execute` it into ``outputs``."""

    config: RunConfig
    source: object
    estimator: object
    stream: object
    outputs: list
    size_choice: object = None  # size "auto": the livepose.autosize.SizeChoice made (None otherwise)

    @property
    def batch(self) -> int:
        return self.stream.batch

    def execute(self):
        """Run to the end (or Ctrl-C) into the outputs; returns a :class:`livepose.runner.RunSummary`."""
        from livepose.runner import run_stream

        return run_stream(self.stream, self.outputs, quiet=self.config.quiet)

    def close(self) -> None:
        self.stream.close()


def build(config: RunConfig, *, outputs: bool = True, on_event: Say | None = None, warn: Say | None = None,
          announce: Say | None = None, estimator=None) -> Run:
    """Source, network, stages and (when ``outputs``) the outputs of ``config``.

    ``on_event``: one line per live-source event (reconnects); ``warn``: one line per warning
    (a receiver not listening; unless ``config.quiet`` also a batch ignored for a live source or in
    the accuracy mode, the accuracy mode ignored for a live source, or a GPU provider that did not load); ``announce``: what the run is (the network line, the
    viewer's address).  Input size ``"auto"`` (:mod:`livepose.autosize`): the size is picked from
    sampled frames before the stream is made (``announce`` gets the line saying why; a live
    source keeps the card's size, with a warning) and kept in :attr:`Run.size_choice`.
    ``estimator``: one already built from ``config``'s model, decoding, accuracy mode and
    suppression (a batch worker keeps its network for all its videos); None builds it.
    """
    from livepose.pipeline import PoseStream

    if outputs:
        check_output_paths(config, warn=warn)
    source = open_capture(config.capture, on_event=on_event)
    try:
        made = build_outputs(config.outputs, source.name, warn=warn, announce=announce,
                             carrying=config.carry.active) if outputs else []
        auto = config.model.size == AUTO_SIZE
        if estimator is None:
            estimator = build_estimator(config.model.with_(size=None) if auto else config.model, config.decode,
                                        warm_up=False,  # the stream warms up
                                        augment=config.augment, suppress=config.suppress)
        batch = config.capture.batch
        augmented = config.augment.active
        say = warn if warn is not None and not config.quiet else None
        size_choice = None
        if auto:  # before the stream: its letterbox ring is sized once, for the one input size
            estimator, size_choice = choose_size(estimator, source, max_frames=config.capture.max_frames, warn=say,
                                                 announce=announce)
        if source.is_live and augmented:
            if say is not None:
                say(LIVE_AUGMENT_WARNING)
            augmented = False  # the stream runs one scale for a live source
        # a live source with carrying: the network on the newest frame as always, every other frame carried
        carry = config.carry if config.carry.active else None
        if source.is_live and batch > 1:
            if say is not None:
                say(f"--batch {batch} ignored: a live source runs one frame at a time (lowest latency)")
            batch = 1
        elif augmented and batch > 1:
            if say is not None:
                say(f"--batch {batch} ignored: the accuracy mode runs one frame at a time")
            batch = 1
        if announce is not None:
            announce(f"network: {estimator.describe(plain=source.is_live)}" + (f", batch {batch}" if batch > 1 else ""))
        line = estimator.fallback_warning()
        if line and warn is not None and not config.quiet:
            warn(line)
        tracker = None
        if config.tracking:
            from livepose.track import PoseTracker

            flip = getattr(estimator.card, "flip", None)  # its left/right pairs: mirror-tolerant matching
            tracker = PoseTracker(estimator.part_names, config.track, mirror=flip.parts if flip else None)
        render = any(getattr(s, "needs_picture", False) for s in made)
        if config.capture.opencv_threads is not None:
            import cv2

            cv2.setNumThreads(config.capture.opencv_threads)
        from livepose.runner import OUTPUT_QUEUE

        stream = PoseStream(source, estimator, prefetch=config.capture.prefetch, max_frames=config.capture.max_frames,
                            max_age=config.capture.max_age, tracker=tracker, batch=batch, render=render,
                            hold=OUTPUT_QUEUE + 2 if made else 0, carry=carry)
    except BaseException:
        source.close()
        raise
    return Run(config, source, estimator, stream, made, size_choice)


def open_stream(source: str | None = None, **settings):
    """``livepose.open``: a :class:`livepose.pipeline.PoseStream` of results to iterate, with the
    command line's settings as keywords (see :meth:`RunConfig.from_overrides`)::

        with livepose.open("match.mp4", batch=4, smoother="one_euro") as stream:
            for result in stream:
                print(result.frame.index, len(result.poses))
    """
    config = _config(source, settings)
    if config.outputs != OutputSettings():
        raise SettingError("setting outputs: livepose.open gives results to iterate; to write or send them use "
                           "livepose.run(source, jsonl=..., video=...)")
    return build(config, outputs=False).stream


def run(source: str | None = None, **settings):
    """``livepose.run``: run a source into the outputs its settings name (files, sockets; the
    window only when ``display=True``) and return the :class:`livepose.runner.RunSummary`::

        livepose.run("match.mp4", jsonl="match.jsonl", video="match_poses.mp4", quiet=True)
    """
    settings.setdefault("display", False)
    config = _config(source, settings)
    return build(config).execute()


def _config(source, settings: dict) -> RunConfig:
    config = settings.pop("config", None)
    if source is not None:
        settings["source"] = str(source)
    return RunConfig.from_overrides(config, **settings)
