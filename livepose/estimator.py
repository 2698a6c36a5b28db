"""One image in, poses out: preprocess -> network -> decode, with per-stage timings.

This is the composition the photo commands and the video pipeline's single-threaded
path use; each stage stays in its own module.  One instance per thread.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from livepose.card import ModelCard, load_card
from livepose.settings import DecodeConfig
from livepose.decode import Decoder, Skeleton
from livepose.inference import make_network
from livepose.preprocess import Preprocessor, plan_letterbox
from livepose.types import Poses


@dataclass(frozen=True)
class StageTimes:
    """Milliseconds spent in each stage for one image."""

    preprocess: float
    inference: float
    decode: float

    @property
    def total(self) -> float:
        return self.preprocess + self.inference + self.decode


class PoseEstimator:
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
    ):
        self.card = card if card is not None else load_card(model_path=model)
        self.network = make_network(self.card, backend=backend, precision=precision, providers=providers,
                                    threads=threads, allow_fallback=allow_fallback, trt_cache=trt_cache,
                                    io_binding=io_binding)
        self.card = self.network.card  # e.g. the fp16 sibling card for precision fp16 (same parts and limbs)
        self.preprocess = Preprocessor(self.card.input, size)
        self.decoder = Decoder(Skeleton.from_card(self.card), decode)
        if warm_up:
            self.warm_up()

    def describe(self) -> str:
        """One line for the user, e.g. 'mobilenet_thin on openvino CPU fp32, input -1x368' or
        'mobilenet_thin on onnxruntime CUDA, CPU fp16, input -1x368'."""
        w, h = self.preprocess.size
        return f"{self.card.name} on {self.network.describe()}, input {w}x{h}"

    @property
    def part_names(self) -> tuple[str, ...]:
        return self.card.parts

    def warm_up(self, image_size: tuple[int, int] = (640, 480)) -> None:
        """Run the network and the decoder once (compiles or loads the Numba kernels)."""
        box = plan_letterbox(image_size, self.preprocess.size, self.card.input.size_multiple)
        out = self.network.warm_up(box.net_size)
        self.decoder(out)

    def __call__(self, image: np.ndarray) -> tuple[Poses, StageTimes]:
        """Find the people in one BGR uint8 image (h, w, 3)."""
        t0 = time.perf_counter()
        tensor, box = self.preprocess(image)
        t1 = time.perf_counter()
        out = self.network.run(tensor, box)
        t2 = time.perf_counter()
        poses = self.decoder(out)
        t3 = time.perf_counter()
        return poses, StageTimes((t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3)
