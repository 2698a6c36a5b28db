"""One image in, poses out: the photo form of the pipeline, all stages on the caller's thread.

    estimator = PoseEstimator()                      # bundled network, warmed up
    poses, times = estimator(image)                  # Poses, StageTimings (ms)

It loads the network once (:func:`livepose.inference.make_network`) and runs the same stage
objects as the video pipeline (:mod:`livepose.stages`): letterbox, inference, decode.  With
``augment`` (the accuracy mode, e.g. ``augment=accuracy_preset("high")``) inference runs the
network at several scales and on the mirror image and fuses the maps (:mod:`livepose.augment`).
Decoding ends with the false people dropped (``suppress``, :mod:`livepose.suppress`; on by default,
``suppress=SUPPRESS_OFF`` turns it off).  The video pipeline asks it for its own set of stages around the same network
(:meth:`PoseEstimator.stages`).  One instance per thread.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from livepose.card import ModelCard
from livepose.errors import InputError
from livepose.images import to_bgr8
from livepose.settings import AugmentSettings, DecodeConfig, ModelSettings, SuppressSettings, TrackerConfig
from livepose.stages import Stages, make_stages
from livepose.types import Frame, Poses, StageTimings

#: the timings of one image (kept under its old name for the Python API)
StageTimes = StageTimings


class PoseEstimator:
    """The network and the photo stages.  ``settings`` (a :class:`ModelSettings`) or the same
    settings as keywords (``model``, ``size``, ``providers``, ``threads``, ``backend``,
    ``precision``, ``allow_fallback``, ``trt_cache``, ``io_binding``); ``card``: a loaded card
    instead of ``model``; ``decode``: the decoding rules (default: the card's ``decode``, else OpenPose's); ``augment``: the
    accuracy mode (default: one plain run per image); ``suppress``: the false people dropped after
    decoding (default: :class:`SuppressSettings`' rules; ``SUPPRESS_OFF``: none)."""

    def __init__(
        self,
        card: ModelCard | None = None,
        *,
        model: str | Path | None = None,
        size: tuple[int, int] | None = None,
        decode: DecodeConfig | None = None,
        providers: Sequence[str] | None = None,
        threads: int | None = None,
        backend: str = "auto",
        precision: str = "auto",
        allow_fallback: bool = False,
        trt_cache: str | Path | None = None,
        io_binding: bool | None = None,
        warm_up: bool = True,
        settings: ModelSettings | None = None,
        augment: AugmentSettings | None = None,
        suppress: SuppressSettings | None = None,
    ):
        from livepose.inference import make_network

        if settings is None:
            settings = ModelSettings(model=None if model is None else str(model), size=size, backend=backend,
                                     precision=precision, providers=None if providers is None else tuple(providers),
                                     threads=threads, allow_fallback=allow_fallback,
                                     trt_cache=None if trt_cache is None else str(trt_cache), io_binding=io_binding)
        self.settings = settings
        if card is None:
            from livepose.models import card_for

            card = card_for(settings.model, settings.card)
        self.network = make_network(card, settings)
        self.card = self.network.card  # e.g. the fp16 sibling card for precision fp16 (same parts and limbs)
        # no rules named: the card's own (its ``decode`` field), else OpenPose's
        self.decode_config = decode if decode is not None else (getattr(self.card, "decode", None) or DecodeConfig())
        self.augment = augment if augment is not None else AugmentSettings()
        self.suppress = suppress if suppress is not None else SuppressSettings()
        self._stages = make_stages(self.network, size=settings.size, decode=self.decode_config, augment=self.augment,
                                   suppress=self.suppress)
        self.size = self._stages.letterbox.size
        if warm_up:
            self.warm_up()

    @classmethod
    def from_settings(cls, model: ModelSettings, decode: DecodeConfig | None = None, *,
                      warm_up: bool = True, augment: AugmentSettings | None = None,
                      suppress: SuppressSettings | None = None) -> "PoseEstimator":
        return cls(settings=model, decode=decode, warm_up=warm_up, augment=augment, suppress=suppress)

    def with_size(self, size: tuple[int, int] | None) -> "PoseEstimator":
        """The same network (no new session) at another input size."""
        other = object.__new__(PoseEstimator)
        other.__dict__.update(self.__dict__)
        other.settings = self.settings.with_(size=size)
        other._stages = make_stages(self.network, size=size, decode=self.decode_config, augment=self.augment,
                                    suppress=self.suppress)
        other.size = other._stages.letterbox.size
        return other

    def with_augment(self, augment: AugmentSettings | None) -> "PoseEstimator":
        """The same network (no new session) in another accuracy mode (None: one plain run)."""
        other = object.__new__(PoseEstimator)
        other.__dict__.update(self.__dict__)
        other.augment = augment if augment is not None else AugmentSettings()
        other._stages = make_stages(self.network, size=self.settings.size, decode=self.decode_config,
                                    augment=other.augment, suppress=self.suppress)
        return other

    def with_suppress(self, suppress: SuppressSettings | None) -> "PoseEstimator":
        """The same network (no new session) with other suppression rules (None: the defaults;
        ``SUPPRESS_OFF``: the decoder's poses as they are)."""
        other = object.__new__(PoseEstimator)
        other.__dict__.update(self.__dict__)
        other.suppress = suppress if suppress is not None else SuppressSettings()
        other._stages = make_stages(self.network, size=self.settings.size, decode=self.decode_config,
                                    augment=self.augment, suppress=other.suppress)
        return other

    def plan(self, image_size: tuple[int, int]):
        """Where an image of ``image_size`` (w, h) goes in the network input (a Letterbox)."""
        return self._stages.letterbox.plan(image_size)

    def describe(self, *, plain: bool = False) -> str:
        """One line for the user, e.g. 'mobilenet_thin on openvino CPU fp32, input -1x368' or
        'mobilenet_thin on onnxruntime CUDA, CPU fp16, input -1x368' (and the accuracy mode's
        ', scales 1,1.5 + flip'; ``plain``: not, for a stream that runs one scale)."""
        w, h = self.size
        mode = f", {self.augment.describe()}" if self.augment.active and not plain else ""
        return f"{self.card.name} on {self.network.describe()}, input {w}x{h}{mode}"

    def fallback_warning(self) -> str | None:
        """One line when a GPU provider did not load and the run goes on without it, else None."""
        fallback = getattr(self.network, "fallback_warning", None)
        return fallback() if fallback is not None else None

    @property
    def part_names(self) -> tuple[str, ...]:
        return self.card.parts

    def stages(self, *, tracking: bool = False, track: TrackerConfig | None = None, tracker=None,
               render: bool = False, batch: int = 1, letterbox_ring: int = 1, output_ring: int = 1,
               picture_ring: int = 2, plain: bool = False, carry=None) -> Stages:
        """A new set of stages around this estimator's network, input size, decoding rules,
        suppression and accuracy mode (for a video stream: its own buffers, rings and tracker).  ``tracker``: an
        existing :class:`livepose.track.PoseTracker` to use instead of a new one made from ``track``.
        ``plain``: one network run per frame whatever the accuracy mode (a live source).  ``carry``: a
        :class:`livepose.settings.CarrySettings` (the network on every k-th frame only)."""
        stages = make_stages(self.network, size=self.size, decode=self.decode_config, track=track,
                             tracking=tracking and tracker is None, render=render, batch=batch,
                             letterbox_ring=letterbox_ring, output_ring=output_ring, picture_ring=picture_ring,
                             augment=None if plain else self.augment, suppress=self.suppress, carry=carry)
        if tracker is not None:
            stages.track.use(tracker)
        return stages

    def warm_up(self, image_size: tuple[int, int] = (640, 480)) -> None:
        """Run the network and the decoder once (compiles or loads the Numba kernels)."""
        self._stages.warm_up(image_size)

    def __call__(self, image: np.ndarray) -> tuple[Poses, StageTimings]:
        """Find the people in one BGR uint8 image (h, w, 3); grayscale, BGRA, 16-bit and float images
        are converted.  Anything else (None, an empty array, not an array) is InputError."""
        if not isinstance(image, np.ndarray):
            raise InputError(f"PoseEstimator: expected an image (a numpy array, h x w x 3 BGR), got "
                             f"{'None (an image that was not read?)' if image is None else type(image).__name__}")
        if image.size == 0 or image.ndim not in (2, 3):
            raise InputError(f"PoseEstimator: expected an image (h x w x 3 BGR), got an array of shape {image.shape}")
        if not (image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3):
            image = to_bgr8(image, "PoseEstimator image")
        result = self._stages.estimate(Frame(0, 0.0, 0.0, image))
        return result.poses, result.timings
