"""The stages of pose estimation as objects, each owning its buffers and its warm-up.

    letterbox -> inference -> decode -> track -> render
    LetterboxStage  InferenceStage  DecodeStage  TrackStage  RenderStage
                                    CarryStage (the frames the network skips, --keyframe-every:
                                    livepose.carry; the tracker takes its keypoints)
                    (AugmentedInferenceStage: the accuracy mode, several runs fused)
                                    (then the false people suppressed: livepose.suppress)

Every place that turns pictures into people runs these same objects: the photo estimator
(:class:`livepose.estimator.PoseEstimator`, all on the caller's thread), the video pipeline
(:class:`livepose.pipeline.PoseStream`, the stages on threads), ``livepose eval`` and
``livepose eval-track`` (which feed the pipeline and only score).  :class:`Stages` holds one
set; :func:`make_stages` builds one around a loaded network.  A stage is not shared between
threads (the network session underneath may be: it is only ever run by one thread at a time).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from livepose.augment import Fusion, grid_size, mirror_content, scaled_size
from livepose.card import ModelCard
from livepose.decode import Decoder, Skeleton
from livepose.errors import ModelError
from livepose.inference import check_stride, output_maps
from livepose.preprocess import Letterboxer
from livepose.render import render_result
from livepose.carry import CarryStage, carried_people
from livepose.settings import AugmentSettings, CarrySettings, DecodeConfig, SuppressSettings, TrackerConfig
from livepose.suppress import Suppressor
from livepose.types import Carried, Frame, FrameResult, Letterbox, NetOutput, People, Poses, StageTimings


class LetterboxStage:
    """Letterboxes images straight into their slot of a batch buffer.

    It keeps a ring of ``ring`` batch buffers of ``batch`` images each: image ``slot`` of buffer
    ``buffer`` is written in place, so a batch needs no stacking copy, and a buffer is reused only
    after ``ring - 1`` others (the pipeline sizes the ring so that no buffer still queued or being
    run is overwritten).  A buffer takes the network size of the first image of its batch; a
    batch holds images of one network size (the pipeline starts a new batch when it changes).
    """

    def __init__(self, card: ModelCard, size: tuple[int, int] | None = None, *, batch: int = 1, ring: int = 1):
        if batch < 1 or ring < 1:
            raise ValueError(f"batch and ring must be at least 1, got {batch} and {ring}")
        self._box = Letterboxer(card.input, size)
        self.size = self._box.size
        self.batch, self.ring = batch, ring
        self._buffers: list[np.ndarray | None] = [None] * ring
        self._net_size: list[tuple[int, int] | None] = [None] * ring
        self._content: list[list[tuple | None]] = [[None] * batch for _ in range(ring)]

    def plan(self, image_size: tuple[int, int]) -> Letterbox:
        """Where an image of ``image_size`` (w, h) goes in the network input."""
        return self._box.plan(image_size)

    def input_shape(self, net_size: tuple[int, int], batch: int = 1) -> tuple[int, int, int, int]:
        return self._box.shape(net_size, batch)

    def __call__(self, image: np.ndarray, buffer: int = 0, slot: int = 0) -> Letterbox:
        """Letterbox one BGR uint8 image (h, w, 3) into ``slot`` of ``buffer``."""
        h, w = image.shape[:2]
        box = self.plan((w, h))
        data = self._buffers[buffer]
        if data is None or self._net_size[buffer] != box.net_size:
            if slot != 0 and data is not None:
                raise ValueError(f"image of network size {box.net_size} in a batch of {self._net_size[buffer]}")
            data = self._buffers[buffer] = np.empty(self._box.shape(box.net_size, self.batch), np.float32)
            self._net_size[buffer] = box.net_size
            self._content[buffer] = [None] * self.batch
        if self._content[buffer][slot] != box.content_size:  # padding left by a larger image, or none yet
            self._box.pad(data[slot])
            self._content[buffer][slot] = box.content_size
        self._box.fill(image, box, data[slot])
        return box

    def tensor(self, buffer: int = 0, count: int = 1) -> np.ndarray:
        """The first ``count`` images of ``buffer`` as one contiguous input tensor (a view)."""
        return self._buffers[buffer][:count]

    def single(self, image: np.ndarray) -> tuple[np.ndarray, Letterbox]:
        """One image into buffer 0, slot 0: the (1, ...) tensor and its letterbox."""
        box = self(image, 0, 0)
        return self.tensor(0, 1), box


class InferenceStage:
    """Runs the network and turns its outputs into one :class:`NetOutput` per image, with the
    image's letterbox attached here (engines never see it).

    ``ring``: the outputs of a call stay valid for the next ``ring - 1`` calls (the pipeline
    decodes earlier frames on another thread); 1 for a caller that decodes before the next run.
    """

    def __init__(self, network, *, ring: int = 1):
        self.network = network
        self.card: ModelCard = network.card
        self._runner = network if ring <= 1 else network.runner(ring)

    def describe(self) -> str:
        return self.network.describe()

    def prepare(self, net_size: tuple[int, int], batch: int = 1, *, fixed_size: bool = True) -> None:
        """Get the engine ready for a stream of ``net_size`` inputs in batches up to ``batch``
        (TensorRT builds or loads its engine for exactly that size when the source has one size)."""
        if fixed_size:
            self.network.prepare(net_size, batch)

    def warm_up(self, net_size: tuple[int, int], batch: int = 1, *,
                image_size: tuple[int, int] | None = None) -> NetOutput:
        """Run a blank input at batch 1 (checking the card against real outputs; a model that fails
        is one ModelError line) and at ``batch``; returns the batch-1 maps (for the decoder's warm-up)."""
        out = self.network.warm_up(net_size)
        if batch > 1:
            self._runner.run_raw(np.zeros(self.network.input_shape(net_size, batch), np.float32))
        return out

    def __call__(self, tensor: np.ndarray, boxes: Sequence[Letterbox],
                 images: Sequence[np.ndarray] | None = None) -> list[NetOutput]:
        """The maps of each image of ``tensor`` (N, ...), views of the engine's outputs.  ``images``
        (the frames' pictures, which :class:`AugmentedInferenceStage` needs) is not used here."""
        outputs = self._runner.run_raw(tensor)
        maps = []
        for i, box in enumerate(boxes):
            heat, pafs = output_maps(self.card, outputs, i)
            if i == 0:
                check_stride(self.card, box.net_size, heat)
            maps.append(NetOutput(heatmaps=heat, pafs=pafs, stride=float(self.card.stride), letterbox=box))
        return maps


class AugmentedInferenceStage:
    """The accuracy mode's inference (:mod:`livepose.augment`): the call of :class:`InferenceStage`,
    given the frames' pictures too.  For each image it letterboxes the picture at each scale of
    ``augment`` (the input size ``size`` times the scale, one buffer per scale, reused), runs the
    network on it (and on its mirror image, with ``flip``), brings every run's
    maps to the grid of the image's scale-1 letterbox (the one in ``boxes``) and averages them: one
    :class:`NetOutput` per image with that letterbox, for decoding as usual.

    The scale-1 tensor the caller letterboxed is not run (each scale letterboxes from the picture).
    ``ring``: as for :class:`InferenceStage`, the fused maps of a call stay valid for the next
    ``ring - 1`` calls.  A card without a ``flip`` field cannot flip (one ModelError line).
    """

    needs_images = True

    def __init__(self, network, augment: AugmentSettings, size: tuple[int, int] | None = None, *, ring: int = 1):

        self.network = network
        self.card: ModelCard = network.card
        self.augment = augment
        self._fusion = Fusion(self.card, augment.flip)  # checks the card's flip pairs first
        self.size = Letterboxer(self.card.input, size).size
        self._per_image = 2 if augment.flip else 1
        self._scales = [LetterboxStage(self.card, scaled_size(self.size, s), batch=self._per_image)
                        for s in augment.scales]
        self._ring: list[np.ndarray | None] = [None] * max(1, ring)
        self._turn = 0
        self._checked: set[tuple[int, int]] = set()

    def describe(self) -> str:
        return self.network.describe()

    def plain(self) -> InferenceStage:
        """The single-run stage on the same network, with the same ring (a live source)."""
        return InferenceStage(self.network, ring=len(self._ring))

    def prepare(self, net_size: tuple[int, int], batch: int = 1, *, fixed_size: bool = True) -> None:
        """Nothing to fix in advance: every scale has its own input size."""

    def warm_up(self, net_size: tuple[int, int], batch: int = 1, *,
                image_size: tuple[int, int] | None = None) -> NetOutput:
        """Check the card against real outputs at ``net_size`` (one ModelError line), then run a blank
        picture of ``image_size`` (default: ``net_size``) through every scale; returns its fused maps."""
        self.network.warm_up(net_size)
        w, h = image_size if image_size is not None else net_size
        image = np.zeros((h, w, 3), np.uint8)
        box = Letterboxer(self.card.input, self.size).plan((w, h))
        (out,) = self(None, [box], [image])
        return out

    def __call__(self, tensor: np.ndarray | None, boxes: Sequence[Letterbox],
                 images: Sequence[np.ndarray] | None = None) -> list[NetOutput]:
        """The fused maps of each image (``tensor`` is not used: each scale letterboxes ``images``)."""
        if images is None or len(images) != len(boxes):
            raise ValueError("the accuracy mode needs each frame's picture (images=...)")
        return [self._one(image, box) for image, box in zip(images, boxes)]

    def _one(self, image: np.ndarray, base: Letterbox) -> NetOutput:

        card, stride = self.card, float(self.card.stride)
        gw, gh = grid_size(base, stride)
        shape = (gh, gw, card.num_parts + card.pafs.count)
        k = self._turn
        self._turn = (k + 1) % len(self._ring)
        if self._ring[k] is None or self._ring[k].shape != shape:
            self._ring[k] = np.empty(shape, np.float32)
        fusion = self._fusion
        fusion.start(self._ring[k])
        for letterbox in self._scales:
            box = letterbox(image, 0, 0)
            tensor = letterbox.tensor(0, self._per_image)
            if self._per_image == 2:
                mirror_content(tensor[0], tensor[1], box, card.input.layout)
            for slot in range(self._per_image):  # two batch-1 calls: no slower than one of batch 2 on a CPU
                heat, pafs = output_maps(card, self.network.run_raw(tensor[slot:slot + 1]), 0)
                if box.net_size not in self._checked:
                    check_stride(card, box.net_size, heat)
                    self._checked.add(box.net_size)
                fusion.add(heat, pafs, box, base, mirrored=slot == 1)
        heat, pafs = fusion.mean()
        return NetOutput(heatmaps=heat, pafs=pafs, stride=stride, letterbox=base)


class DecodeStage:
    """Peaks, PAF scoring and grouping (:mod:`livepose.decode`), then the false people dropped
    (:mod:`livepose.suppress`, ``suppress``; default: its rules, :data:`SUPPRESS_OFF`: none):
    maps in, :class:`Poses` out.  The suppression is the last step of decoding, so that everything
    downstream (tracker, photos, COCO scores) sees the same people; it costs a fraction of a
    millisecond, and returns the decoder's poses themselves when it drops nothing."""

    def __init__(self, card: ModelCard, config: DecodeConfig | None = None,
                 suppress: SuppressSettings | None = None):
        self.decoder = Decoder(Skeleton.from_card(card), config)
        self.config = self.decoder.config
        self.suppressor = Suppressor(card.parts, card.limbs, suppress)
        self.suppress = self.suppressor.settings
        self._suppress = self.suppressor if self.suppress.active else None

    def warm_up(self, out: NetOutput) -> None:
        """Compile (or load from Numba's cache) the kernels and size the workspace."""
        self(out)

    def __call__(self, out: NetOutput) -> Poses:
        poses = self.decoder(out)
        return poses if self._suppress is None else self._suppress(poses, copy=False)


class TrackStage:
    """Identities and smoothing across frames (:mod:`livepose.track`): poses in, people out.
    Without a tracker (``tracking`` off) people are the detections as they are.  ``mirror``: the
    card's left/right permutation (``card.flip.parts``) for mirror-tolerant matching (None: from
    the part names)."""

    def __init__(self, part_names: Sequence[str], config: TrackerConfig | None = None, *, enabled: bool = True,
                 mirror: np.ndarray | None = None):
        self.enabled = enabled
        if enabled:
            from livepose.track import PoseTracker

            self.tracker = PoseTracker(tuple(part_names), config, mirror=mirror)
        else:
            self.tracker = None

    def use(self, tracker) -> None:
        """Track with an existing :class:`livepose.track.PoseTracker` (e.g. one the caller keeps)."""
        self.tracker, self.enabled = tracker, tracker is not None

    def __call__(self, poses: Poses, timestamp: float) -> People:
        if self.tracker is None:
            return People.detected(poses)
        return People.from_tracks(self.tracker.update(poses, timestamp))

    def carry(self, carried: Carried, timestamp: float, noise: float) -> People:
        """A carried frame (:mod:`livepose.carry`): the tracker takes the carried keypoints as
        measurements ``noise`` times noisier than a detection's (no new tracks); without a tracker the
        carried keypoints are the people."""
        if self.tracker is None:
            return carried_people(carried)
        return People.from_tracks(self.tracker.update_carried(carried, timestamp, noise=noise))


class RenderStage:
    """Draws each frame's skeletons once, for every output that shows or writes pictures, into a
    ring of ``ring`` canvases (a picture stays valid while ``ring - 1`` later frames are drawn:
    the pipeline sizes the ring from its queues)."""

    def __init__(self, limbs: np.ndarray, *, ring: int = 2):
        self.limbs = np.asarray(limbs)
        self._canvases: list[np.ndarray | None] = [None] * max(1, ring)
        self._turn = 0

    def __call__(self, result: FrameResult) -> np.ndarray:

        k = self._turn
        self._turn = (k + 1) % len(self._canvases)
        image = result.frame.image
        canvas = self._canvases[k]
        if canvas is None or canvas.shape != image.shape:
            canvas = self._canvases[k] = np.empty_like(image)
        return render_result(canvas, result, self.limbs)


@dataclass
class Stages:
    """One set of stage objects (the pipeline runs each on its thread; the estimator all in turn)."""

    letterbox: LetterboxStage
    inference: InferenceStage | AugmentedInferenceStage
    decode: DecodeStage
    track: TrackStage
    render: RenderStage | None = None
    carry: CarryStage | None = None

    @property
    def card(self) -> ModelCard:
        return self.inference.card

    @property
    def augmented(self) -> bool:
        """The accuracy mode: several network runs per frame (:class:`AugmentedInferenceStage`)."""
        return isinstance(self.inference, AugmentedInferenceStage)

    def warm_up(self, image_size: tuple[int, int], batch: int = 1, *, fixed_size: bool = True) -> None:
        """Everything the first frame would otherwise pay: the engine at this input size (and
        batch), its allocation, and the decoder's kernels and workspace."""
        box = self.letterbox.plan(image_size)
        self.inference.prepare(box.net_size, batch, fixed_size=fixed_size)
        out = self.inference.warm_up(box.net_size, batch, image_size=image_size)
        self.decode.warm_up(out)

    def estimate(self, frame: Frame) -> FrameResult:
        """All stages on the caller's thread, for one frame (photos, and tests)."""
        t0 = time.perf_counter()
        tensor, box = self.letterbox.single(frame.image)
        t1 = time.perf_counter()
        (out,) = self.inference(tensor, [box], [frame.image])
        t2 = time.perf_counter()
        poses = self.decode(out)
        t3 = time.perf_counter()
        people = self.track(poses, frame.timestamp)
        t4 = time.perf_counter()
        timings = StageTimings((t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3,
                               (t4 - t3) * 1e3 if self.track.enabled else None)
        result = FrameResult(frame, people, timings)
        if self.render is not None:
            result = with_picture(result, self.render)
        return result


def with_picture(result: FrameResult, render: RenderStage) -> FrameResult:
    """``result`` with its picture drawn by ``render`` (and the render time in its timings)."""
    t0 = time.perf_counter()
    picture = render(result)
    timings = replace(result.timings, render=(time.perf_counter() - t0) * 1e3)
    return replace(result, picture=picture, timings=timings)


def make_stages(network, *, size: tuple[int, int] | None = None, decode: DecodeConfig | None = None,
                track: TrackerConfig | None = None, tracking: bool = False, render: bool = False,
                batch: int = 1, letterbox_ring: int = 1, output_ring: int = 1, picture_ring: int = 2,
                augment: AugmentSettings | None = None, suppress: SuppressSettings | None = None,
                carry: CarrySettings | None = None) -> Stages:
    """A set of stages around a loaded ``network`` (which may be shared with other sets).
    ``augment``: the accuracy mode (:class:`AugmentedInferenceStage`) when it asks for more than
    the one plain run; None or ``AugmentSettings()``: :class:`InferenceStage`.  ``suppress``: the
    false people the decode stage drops (None: the default rules; :data:`SUPPRESS_OFF`: none)."""
    card = network.card
    if not isinstance(card, ModelCard):
        raise ModelError("the network has no model card")
    if augment is not None and augment.active:
        inference = AugmentedInferenceStage(network, augment, size, ring=output_ring)
    else:
        inference = InferenceStage(network, ring=output_ring)
    return Stages(
        letterbox=LetterboxStage(card, size, batch=batch, ring=letterbox_ring),
        inference=inference,
        decode=DecodeStage(card, decode, suppress),
        track=TrackStage(card.parts, track, enabled=tracking, mirror=card.flip.parts if card.flip else None),
        render=RenderStage(card.limbs, ring=picture_ring) if render else None,
        carry=CarryStage(carry) if carry is not None and carry.active else None,
    )
