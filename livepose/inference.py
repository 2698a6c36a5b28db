"""The network: an inference engine checked against its model card.

Two engines share one interface (:class:`BaseNetwork`): ONNX Runtime (:class:`Network`, always
installed) and OpenVINO's own runtime reading the same ONNX file (:class:`OpenVINONetwork`, the
optional extra ``pip install -e .[openvino]``).  :func:`make_network` picks one: ``auto`` takes
ONNX Runtime when it has CUDA, else OpenVINO when installed, else ONNX Runtime's CPU provider.
ONNX Runtime's providers are chosen automatically (CUDA when onnxruntime-gpu finds a GPU, then
CPU) unless a list is given.  Nothing runs at import; :meth:`BaseNetwork.warm_up` runs the graph
once so that the first real frame does not pay for allocation.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from livepose.card import MapSpec, ModelCard, load_variant, variant_card_path
from livepose.errors import ModelError
from livepose.types import Letterbox, NetOutput

PREFERRED_PROVIDERS = ("CUDAExecutionProvider", "CPUExecutionProvider")


def choose_providers(requested: Sequence[str] | None = None) -> list[str]:
    """The providers to ask ONNX Runtime for: ``requested`` if given (checked), else the best available."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    if requested:
        unknown = [p for p in requested if p not in available]
        if unknown:
            raise ModelError(
                f"execution provider(s) {', '.join(unknown)} not available here; available: {', '.join(available)}"
            )
        return list(requested)
    return [p for p in PREFERRED_PROVIDERS if p in available] or list(available)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


BACKENDS = ("auto", "onnxruntime", "openvino")
PRECISIONS = ("auto", "fp32", "bf16", "int8")

# Precisions that ``precision="auto"`` may choose besides fp32, fastest first: only those whose
# COCO AP on the dev sets (coco-train-mini, the Bonn PoseTrack frames) was measured within 0.01 of
# fp32 (benchmarks/README.md, "CPU backends"), and that are faster.  bf16 has not been measured on a CPU with BF16 yet.  int8 (the
# card's ``<stem>_int8.json`` sibling, made by tools/quantize_int8.py; auto would take it only
# where one exists) was measured: within 0.002 on coco-train-mini but 0.011-0.014 below fp32 on
# the Bonn PoseTrack frames, so it is not listed and auto stays fp32.
AUTO_PRECISIONS_VERIFIED: tuple[str, ...] = ()


class BackendError(ModelError):
    """A requested backend or precision is not installed or not supported here (exit code 3)."""


def _graph_dims(shape) -> list[int | None]:
    return [d if isinstance(d, int) else None for d in shape]


class BaseNetwork:
    """What every engine offers: ``card``, ``backend``, ``precision``, ``providers`` (a description of
    where it runs), ``run_raw``, ``run``, ``outputs_to_maps`` and ``warm_up``, with the card checked
    against the graph on load.  Subclasses supply the graph's input/output names and shapes
    (:meth:`_graph_inputs`, :meth:`_graph_outputs`: name -> dims, None where dynamic) and
    :meth:`run_raw`.  ``run`` is called from one thread at a time per instance."""

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
                self._check_channels(key, spec, channels)

    def _check_channels(self, key: str, spec: MapSpec, channels: int) -> None:
        if spec.offset + spec.count > channels:
            raise ModelError(
                f"{self.card.card_path}: fields '{key}.offset' and '{key}.count' ({spec.offset}+{spec.count} "
                f"channels) do not fit "
                f"output {spec.output!r} with {channels} channels (layout {spec.layout})"
            )

    def verify_sha256(self) -> bool:
        """True when the model file matches the card's sha256 (or the card gives none)."""
        return self.card.sha256 is None or file_sha256(self.card.model_path) == self.card.sha256

    # -- running -------------------------------------------------------------------------
    def _maps(self, out: np.ndarray, spec: MapSpec, key: str) -> np.ndarray:
        channels = out.shape[3] if spec.layout == "NHWC" else out.shape[1]
        self._check_channels(key, spec, channels)
        if spec.layout == "NHWC":
            return out[0, :, :, spec.offset : spec.offset + spec.count]
        return out[0, spec.offset : spec.offset + spec.count].transpose(1, 2, 0)

    def outputs_to_maps(self, outputs: dict[str, np.ndarray], letterbox: Letterbox) -> NetOutput:
        card = self.card
        heat = self._maps(outputs[card.heatmaps.output], card.heatmaps, "heatmaps")[:, :, : card.num_parts]
        pafs = self._maps(outputs[card.pafs.output], card.pafs, "pafs")
        net_w, net_h = letterbox.net_size
        stride = net_w / heat.shape[1]
        if abs(stride - card.stride) > 1e-6 or abs(net_h / heat.shape[0] - card.stride) > 1e-6:
            raise ModelError(
                f"{card.card_path}: field 'stride' is {card.stride} but a {net_w}x{net_h} input gave a "
                f"{heat.shape[1]}x{heat.shape[0]} output grid"
            )
        return NetOutput(heatmaps=heat, pafs=pafs, stride=float(card.stride), letterbox=letterbox)

    def run(self, tensor: np.ndarray, letterbox: Letterbox) -> NetOutput:
        """Run the network on one preprocessed tensor; the maps are views of the engine's outputs."""
        return self.outputs_to_maps(self.run_raw(tensor), letterbox)

    def warm_up(self, net_size: tuple[int, int]) -> NetOutput:
        """Run once on a blank input of ``net_size`` (w, h), checking the card against real outputs."""
        w, h = net_size
        shape = (1, 3, h, w) if self.card.input.layout == "NCHW" else (1, h, w, 3)
        box = Letterbox(image_size=(w, h), net_size=(w, h), scale=1.0)
        try:
            outputs = self.run_raw(np.zeros(shape, np.float32))
        except Exception as exc:  # the engine's own error types
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            raise ModelError(
                f"{self.card.card_path}: the model fails on a {w}x{h} input laid out as field 'input.layout' "
                f"says ({self.card.input.layout}): {first}"
            ) from None
        return self.outputs_to_maps(outputs, box)


class Network(BaseNetwork):
    """One ONNX Runtime session for one model card (fp32 only on the CPU provider)."""

    backend = "onnxruntime"

    def __init__(self, card: ModelCard, providers: Sequence[str] | None = None, threads: int | None = None,
                 spin: bool = False):
        import onnxruntime as ort

        super().__init__(card)
        path = card.model_path
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads is not None:
            if threads < 1:
                raise ModelError(f"threads must be at least 1, got {threads}")
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # ONNX Runtime's worker threads busy-wait between operators by default, taking CPU from
        # the pipeline's other stages; off by default (benchmarks/README.md has the figures)
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        self.providers_requested = choose_providers(providers)
        try:
            self.session = ort.InferenceSession(os.fspath(path), sess_options=options, providers=self.providers_requested)
        except Exception as exc:  # onnxruntime raises its own exception types for corrupt graphs
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"{path}: not a loadable ONNX model ({first[:200]})") from None
        self.providers = self.session.get_providers()
        self.precision = card.precision  # an int8 (QDQ) model runs its quantized operators in int8
        self._check_card()

    def describe(self) -> str:
        names = [p.replace("ExecutionProvider", "") for p in self.providers[:1]]
        return f"onnxruntime {names[0] if names else '?'} {self.precision}"

    def _graph_inputs(self) -> dict[str, list[int | None]]:
        return {i.name: _graph_dims(i.shape) for i in self.session.get_inputs()}

    def _graph_outputs(self) -> dict[str, list[int | None]]:
        return {o.name: _graph_dims(o.shape) for o in self.session.get_outputs()}

    def run_raw(self, tensor: np.ndarray) -> dict[str, np.ndarray]:
        results = self.session.run(self._output_names, {self.card.input.name: tensor})
        return dict(zip(self._output_names, results))


OPENVINO_MISSING = "backend 'openvino' is not installed: pip install -e .[openvino] (or pip install openvino)"


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


class OpenVINONetwork(BaseNetwork):
    """OpenVINO's runtime on the CPU, reading the ONNX file directly.

    The model is compiled once with dynamic height and width (measured as fast as a model reshaped
    to a fixed size, and no recompiling when photos differ in size) and one InferRequest is reused
    across frames.  ``InferRequest.infer`` copies the outputs into new arrays by default
    (``share_outputs=False``), so results may be decoded on another thread while the next frame
    runs; the input is shared (no copy) since ``infer`` waits until it is done."""

    backend = "openvino"

    def __init__(self, card: ModelCard, precision: str = "fp32", threads: int | None = None):
        if not openvino_available():
            raise BackendError(OPENVINO_MISSING)
        import openvino as ov

        super().__init__(card)
        if precision not in ("fp32", "bf16", "int8"):
            raise BackendError(f"precision {precision!r} is not one of fp32, bf16, int8")
        if (precision == "int8") != (card.precision == "int8"):
            raise BackendError(f"{card.card_path}: precision {precision} needs a card of that precision "
                               f"(the card says {card.precision})")
        if precision == "bf16" and "BF16" not in openvino_cpu_capabilities():
            raise BackendError("precision bf16 is not supported by this CPU (no BF16 in OpenVINO's CPU "
                               "capabilities); use --precision fp32 or auto")
        if threads is not None and threads < 1:
            raise ModelError(f"threads must be at least 1, got {threads}")
        path = card.model_path
        core = ov.Core()
        try:
            self.model = core.read_model(os.fspath(path))
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"{path}: not a loadable ONNX model ({first[:200]})") from None
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


def resolve_backend(backend: str = "auto", providers: Sequence[str] | None = None) -> str:
    """The engine ``backend`` means here: 'onnxruntime' or 'openvino'."""
    if backend not in BACKENDS:
        raise BackendError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend != "auto":
        return backend
    if providers:  # execution providers are ONNX Runtime's
        return "onnxruntime"
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers() or not openvino_available():
        return "onnxruntime"
    return "openvino"


def resolve_precision(backend: str, precision: str = "auto", card: ModelCard | None = None) -> str:
    """The precision ``precision`` means for a resolved ``backend`` (and ``card``, whose int8
    variant ``auto`` may take): 'fp32', 'bf16' or 'int8'."""
    if precision not in PRECISIONS:
        raise BackendError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if card is not None and card.precision == "int8":  # a quantized model given directly
        if precision not in ("auto", "int8"):
            raise BackendError(f"{card.card_path}: the card describes an int8 model; use --precision int8 "
                               f"(or auto), or the {precision} card")
        return "int8"
    if backend == "onnxruntime" and precision == "bf16":
        raise BackendError("precision bf16 needs --backend openvino: ONNX Runtime's CPU provider runs fp32 only")
    if precision != "auto":
        return precision
    caps = openvino_cpu_capabilities() if backend == "openvino" else []
    for candidate in AUTO_PRECISIONS_VERIFIED:
        if candidate == "int8" and card is not None and variant_card_path(card, "int8").is_file():
            return candidate
        if candidate == "bf16" and "BF16" in caps:
            return candidate
    return "fp32"


def int8_card(card: ModelCard) -> ModelCard:
    """The int8 variant of ``card``, or BackendError saying how to make one."""
    variant = load_variant(card, "int8")
    if variant is None:
        raise BackendError(f"precision int8: no int8 model for {card.card_path} (expected "
                           f"{variant_card_path(card, 'int8')}); make one with "
                           f"python tools/quantize_int8.py --card {card.card_path}")
    return variant


def make_network(card: ModelCard, backend: str = "auto", precision: str = "auto",
                 providers: Sequence[str] | None = None, threads: int | None = None) -> BaseNetwork:
    """The network on the chosen engine.  A backend or precision asked for by name that is missing
    or unsupported raises :class:`BackendError` (one line naming it and how to get it); ``auto``
    never does, it falls back to ONNX Runtime's CPU provider and fp32.  Precision int8 runs the
    card's int8 variant (``<card stem>_int8.json`` beside it); the network's ``card`` is then that
    variant's."""
    if backend == "openvino" and providers:
        raise BackendError("--providers lists ONNX Runtime execution providers; it cannot be used with "
                           "backend 'openvino'")
    resolved = resolve_backend(backend, providers)
    if resolved == "openvino" and not openvino_available():
        raise BackendError(OPENVINO_MISSING)
    prec = resolve_precision(resolved, precision, card)
    if prec == "int8":
        card = int8_card(card)
    if resolved == "onnxruntime":
        return Network(card, providers=providers, threads=threads)
    return OpenVINONetwork(card, precision=prec, threads=threads)
