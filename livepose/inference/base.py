"""What every engine offers (:class:`BaseNetwork`), and :class:`BackendError`.

An engine is made for one model card, checks the card against its graph on load (input name,
rank and layout; output names, ranks and channels) and runs preprocessed tensors
(:meth:`BaseNetwork.run_raw`: output name -> array).  It knows nothing of letterboxes: turning
outputs into maps is :func:`livepose.inference.maps.output_maps`.  ``run`` and ``outputs_to_maps``,
which take a letterbox and give a :class:`NetOutput`, remain as thin wrappers for older callers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from livepose.card import ModelCard
from livepose.errors import ModelError
from livepose.inference.maps import check_channels, check_stride, output_maps

if TYPE_CHECKING:
    from livepose.types import Letterbox, NetOutput


class BackendError(ModelError):
    """A requested backend, provider or precision is not installed, did not load or is not supported
    here (exit code 3)."""


class BaseNetwork:
    """What every engine offers: ``card``, ``backend``, ``precision``, ``providers`` (a description of
    where it runs), ``run_raw``, ``prepare``, ``runner``, ``input_shape`` and ``warm_up``, with the
    card checked against the graph on load.  Subclasses supply the graph's input/output names and
    shapes (:meth:`_graph_inputs`, :meth:`_graph_outputs`: name -> dims, None where dynamic) and
    :meth:`run_raw`.  ``run_raw`` is called from one thread at a time per instance."""

    backend = "?"
    precision = "fp32"
    providers: list[str] = []

    def __init__(self, card: ModelCard):
        self.card = card
        if not card.model_path.is_file():
            raise ModelError(f"{card.model_path}: model file not found")
        self._output_names = sorted({card.heatmaps.output, card.pafs.output})

    def describe(self) -> str:
        """e.g. 'onnxruntime CPUExecutionProvider fp32' or 'openvino CPU bf16'."""
        return f"{self.backend} {', '.join(self.providers)}"

    # -- engine-specific -------------------------------------------------------------------
    def _graph_inputs(self) -> dict[str, list[int | None]]:
        raise NotImplementedError

    def _graph_outputs(self) -> dict[str, list[int | None]]:
        raise NotImplementedError

    def run_raw(self, tensor: np.ndarray) -> dict[str, np.ndarray]:
        """Output name -> array; the arrays stay valid after the next call (safe to decode on
        another thread while the next frame runs)."""
        raise NotImplementedError

    # -- card against graph -------------------------------------------------------------
    def _check_card(self) -> None:
        card, where = self.card, str(self.card.card_path)
        inputs = self._graph_inputs()
        if card.input.name not in inputs:
            raise ModelError(
                f"{where}: field 'input.name' is {card.input.name!r} but the model's inputs are {sorted(inputs)}"
            )
        shape = inputs[card.input.name]
        if len(shape) != 4:
            raise ModelError(f"{where}: field 'input.name': the model's input has rank {len(shape)}, expected 4")
        channel_dim = shape[1] if card.input.layout == "NCHW" else shape[3]
        if isinstance(channel_dim, int) and channel_dim != 3:
            raise ModelError(
                f"{where}: field 'input.layout' is {card.input.layout} but the model's input shape is {shape}"
            )
        outputs = self._graph_outputs()
        for key, spec in (("heatmaps", card.heatmaps), ("pafs", card.pafs)):
            if spec.output not in outputs:
                raise ModelError(
                    f"{where}: field '{key}.output' is {spec.output!r} but the model's outputs are {sorted(outputs)}"
                )
            oshape = outputs[spec.output]
            if len(oshape) != 4:
                raise ModelError(f"{where}: field '{key}.output': output has rank {len(oshape)}, expected 4")
            channels = oshape[3] if spec.layout == "NHWC" else oshape[1]
            if isinstance(channels, int):
                check_channels(card, key, spec, channels)

    # -- running -------------------------------------------------------------------------
    def prepare(self, net_size: tuple[int, int], batch: int = 1) -> None:
        """Get ready for inputs of ``net_size`` (w, h) in batches of 1 to ``batch`` (a video stream
        calls this once before its first frame).  Nothing to do for most engines."""

    def runner(self, ring: int):
        """Something with ``run_raw`` whose outputs stay valid for at least the next ``ring - 1``
        calls (a pipeline decodes earlier frames on another thread).  Engines that return new
        arrays on every call are their own runner."""
        return self

    def input_shape(self, net_size: tuple[int, int], batch: int = 1) -> tuple[int, int, int, int]:
        w, h = net_size
        return (batch, 3, h, w) if self.card.input.layout == "NCHW" else (batch, h, w, 3)

    def warm_up_raw(self, net_size: tuple[int, int]) -> dict[str, np.ndarray]:
        """Run once on a blank input of ``net_size`` (w, h), check the card against the real outputs
        (channels and stride) and return them."""
        w, h = net_size
        shape = self.input_shape(net_size)
        try:
            outputs = self.run_raw(np.zeros(shape, np.float32))
        except Exception as exc:  # the engine's own error types
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            raise ModelError(
                f"{self.card.card_path}: the model fails on a {w}x{h} input laid out as field 'input.layout' "
                f"says ({self.card.input.layout}): {first}"
            ) from None
        heat, _ = output_maps(self.card, outputs)
        check_stride(self.card, net_size, heat)
        return outputs

    # -- with a letterbox: thin wrappers until every caller uses output_maps ---------------
    def outputs_to_maps(self, outputs: dict[str, np.ndarray], letterbox: "Letterbox", index: int = 0) -> "NetOutput":
        """The maps of entry ``index`` of a (batched) output, as views."""
        from livepose.types import NetOutput

        heat, pafs = output_maps(self.card, outputs, index)
        check_stride(self.card, letterbox.net_size, heat)
        return NetOutput(heatmaps=heat, pafs=pafs, stride=float(self.card.stride), letterbox=letterbox)

    def run(self, tensor: np.ndarray, letterbox: "Letterbox") -> "NetOutput":
        """Run the network on one preprocessed tensor; the maps are views of the engine's outputs."""
        return self.outputs_to_maps(self.run_raw(tensor), letterbox)

    def warm_up(self, net_size: tuple[int, int]) -> "NetOutput":
        """Run once on a blank input of ``net_size`` (w, h), checking the card against real outputs
        (:meth:`warm_up_raw`); the maps with a letterbox that covers the whole input.

        Once per input size and engine session: a later call at a size already warmed (the next
        video of a batch worker, the next stream of a program that keeps its estimator) runs
        nothing and gives copies of the first call's maps, so that the stream's decoder warm-up
        still gets maps of the right shape.  :meth:`_forget_warm_up` is called when the session is
        made again."""
        from livepose.types import Letterbox

        w, h = key = (int(net_size[0]), int(net_size[1]))
        warmed = self.__dict__.setdefault("_warmed", {})
        if key not in warmed:
            warmed[key] = {name: np.array(a, copy=True) for name, a in self.warm_up_raw(key).items()}
        outputs = {name: a.copy() for name, a in warmed[key].items()}
        return self.outputs_to_maps(outputs, Letterbox(image_size=(w, h), net_size=(w, h), scale=1.0))

    def _forget_warm_up(self) -> None:
        """The engine session was made again (e.g. TensorRT for another input size): warm up anew."""
        self.__dict__.pop("_warmed", None)
