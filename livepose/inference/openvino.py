"""The OpenVINO engine (:class:`OpenVINONetwork`): OpenVINO's own runtime on the CPU, reading the
card's ONNX file or an OpenVINO IR (``.xml`` with its ``.bin`` beside it, e.g. the int8 IR of
lwop, ``models/lwop.int8.json``).  Part of the default install where OpenVINO publishes wheels
(x86-64 and arm64); elsewhere ONNX Runtime runs everything.  Also whether it is installed
(:func:`openvino_available`) and what the CPU offers it (:func:`openvino_cpu_capabilities`)."""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from livepose.card import ModelCard
from livepose.errors import ModelError
from livepose.inference.base import BackendError, BaseNetwork

OPENVINO_MISSING = "backend 'openvino' is not installed: pip install openvino (its wheels exist for x86-64 and arm64)"
OPENVINO_PRECISIONS = ("fp32", "bf16", "int8")


def openvino_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("openvino") is not None


def openvino_cpu_capabilities() -> list[str]:
    """OpenVINO's CPU optimisation capabilities (e.g. FP32, BF16, INT8); empty when not installed."""
    if not openvino_available():
        return []
    import openvino as ov

    try:
        return [str(c) for c in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")]
    except Exception:  # no CPU plugin
        return []


def check_precision(card: ModelCard, precision: str, capabilities: Sequence[str] | None = None) -> None:
    """``precision`` must be one OpenVINO runs, of the card's model (int8 needs an int8 card and
    the other way round) and, for bf16, supported by the CPU (``capabilities``: None reads them)."""
    if precision not in OPENVINO_PRECISIONS:
        raise BackendError(f"precision {precision!r} is not one of fp32, bf16, int8")
    if (precision == "int8") != (card.precision == "int8"):
        raise BackendError(f"{card.card_path}: precision {precision} needs a card of that precision "
                           f"(the card says {card.precision})")
    if precision == "bf16":
        if capabilities is None:
            capabilities = openvino_cpu_capabilities()
        if "BF16" not in capabilities:
            raise BackendError("precision bf16 is not supported by this CPU (no BF16 in OpenVINO's CPU "
                               "capabilities); use --precision fp32 or auto")


def is_ir(path) -> bool:
    """Whether a card's model file is an OpenVINO IR (``.xml``; its weights in the ``.bin`` beside it)."""
    return os.fspath(path).lower().endswith(".xml")


def _dynamic_input(model, card: ModelCard) -> None:
    """Make the batch, height and width of ``card``'s input dynamic (an IR is saved for one
    shape; its layers are all convolutional, so any size of the card's multiple runs)."""
    import openvino as ov

    port = next((p for p in model.inputs if card.input.name in p.get_names()), None)
    if port is None or port.get_partial_shape().rank.is_dynamic:
        return  # _check_card names what is wrong
    shape = port.get_partial_shape()
    if len(shape) != 4:
        return
    channels = shape[1] if card.input.layout == "NCHW" else shape[3]
    if not channels.is_static or channels.get_length() not in (1, 3, 4):
        return  # not the card's layout: _check_card says so with the IR's own shape
    dims = [-1, channels, -1, -1] if card.input.layout == "NCHW" else [-1, -1, -1, channels]
    model.reshape({port: ov.PartialShape(dims)})


class OpenVINONetwork(BaseNetwork):
    """OpenVINO's runtime on the CPU, reading the ONNX file, or the OpenVINO IR, directly.

    The model is compiled once with dynamic height and width (measured as fast as a model reshaped
    to a fixed size, and no recompiling when photos differ in size) and one InferRequest is reused
    across frames.  ``InferRequest.infer`` copies the outputs into new arrays by default
    (``share_outputs=False``), so results may be decoded on another thread while the next frame
    runs; the input is shared (no copy) since ``infer`` waits until it is done.  ``capabilities``:
    the CPU's, when already known (see :func:`openvino_cpu_capabilities`)."""

    backend = "openvino"

    def __init__(self, card: ModelCard, precision: str = "fp32", threads: int | None = None, *,
                 capabilities: Sequence[str] | None = None):
        if not openvino_available():
            raise BackendError(OPENVINO_MISSING)
        import openvino as ov

        super().__init__(card)
        check_precision(card, precision, capabilities)
        if threads is not None and threads < 1:
            raise ModelError(f"threads must be at least 1, got {threads}")
        path = card.model_path
        core = ov.Core()
        kind = "OpenVINO IR" if is_ir(path) else "ONNX model"
        if is_ir(path) and not path.with_suffix(".bin").is_file():
            raise ModelError(f"{path}: the IR's weights {path.with_suffix('.bin').name} are not beside it")
        try:
            self.model = core.read_model(os.fspath(path))
            if is_ir(path):
                _dynamic_input(self.model, card)
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"{path}: not a loadable {kind} ({first[:200]})") from None
        self._check_card()
        # an int8 model's QuantizeLinear/DequantizeLinear pairs run as int8; the rest stays f32
        config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32"}
        if threads is not None:
            config["INFERENCE_NUM_THREADS"] = threads
        try:
            self.compiled = core.compile_model(self.model, "CPU", config)
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"{path}: OpenVINO cannot compile the model for the CPU ({first[:200]})") from None
        self.precision = precision
        self.providers = [f"OpenVINO CPU {precision}"]
        self._request = self.compiled.create_infer_request()
        self._input_port = self.compiled.input(card.input.name)
        self._ports = [(name, self.compiled.output(name)) for name in self._output_names]

    def describe(self) -> str:
        return f"openvino CPU {self.precision}"

    def _graph_inputs(self) -> dict[str, list[int | None]]:
        return {name: self._dims(port) for port in self.model.inputs for name in port.get_names()}

    def _graph_outputs(self) -> dict[str, list[int | None]]:
        return {name: self._dims(port) for port in self.model.outputs for name in port.get_names()}

    @staticmethod
    def _dims(port) -> list[int | None]:
        shape = port.get_partial_shape()
        if shape.rank.is_dynamic:
            return []
        return [d.get_length() if d.is_static else None for d in shape]

    def run_raw(self, tensor: np.ndarray) -> dict[str, np.ndarray]:
        results = self._request.infer({self._input_port: tensor}, share_inputs=True)
        return {name: results[port] for name, port in self._ports}
