"""The network: an ONNX Runtime session checked against its model card.

Execution providers are chosen automatically (CUDA when onnxruntime-gpu finds a GPU,
then CPU) unless a list is given.  Nothing runs at import; :meth:`Network.warm_up`
runs the graph once so that the first real frame does not pay for allocation.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from livepose.card import MapSpec, ModelCard
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


class Network:
    """One ONNX Runtime session for one model card.  ``run`` may be called from one thread at a time
    per instance in livepose's pipeline, though ONNX Runtime itself allows concurrent runs."""

    def __init__(self, card: ModelCard, providers: Sequence[str] | None = None, threads: int | None = None,
                 spin: bool = False):
        import onnxruntime as ort

        self.card = card
        path = card.model_path
        if not path.is_file():
            raise ModelError(f"{path}: model file not found")
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
        self._check_card()
        self._output_names = sorted({card.heatmaps.output, card.pafs.output})

    # -- card against graph -------------------------------------------------------------
    def _check_card(self) -> None:
        card, where = self.card, str(self.card.card_path)
        inputs = {i.name: i for i in self.session.get_inputs()}
        if card.input.name not in inputs:
            raise ModelError(
                f"{where}: field 'input.name' is {card.input.name!r} but the model's inputs are {sorted(inputs)}"
            )
        shape = inputs[card.input.name].shape
        if len(shape) != 4:
            raise ModelError(f"{where}: field 'input.name': the model's input has rank {len(shape)}, expected 4")
        channel_dim = shape[1] if card.input.layout == "NCHW" else shape[3]
        if isinstance(channel_dim, int) and channel_dim != 3:
            raise ModelError(
                f"{where}: field 'input.layout' is {card.input.layout} but the model's input shape is {shape}"
            )
        outputs = {o.name: o for o in self.session.get_outputs()}
        for key, spec in (("heatmaps", card.heatmaps), ("pafs", card.pafs)):
            if spec.output not in outputs:
                raise ModelError(
                    f"{where}: field '{key}.output' is {spec.output!r} but the model's outputs are {sorted(outputs)}"
                )
            oshape = outputs[spec.output].shape
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
    def run_raw(self, tensor: np.ndarray) -> dict[str, np.ndarray]:
        results = self.session.run(self._output_names, {self.card.input.name: tensor})
        return dict(zip(self._output_names, results))

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
        """Run the network on one preprocessed tensor; the maps are views of ONNX Runtime's outputs."""
        return self.outputs_to_maps(self.run_raw(tensor), letterbox)

    def warm_up(self, net_size: tuple[int, int]) -> NetOutput:
        """Run once on a blank input of ``net_size`` (w, h), checking the card against real outputs."""
        w, h = net_size
        shape = (1, 3, h, w) if self.card.input.layout == "NCHW" else (1, h, w, 3)
        box = Letterbox(image_size=(w, h), net_size=(w, h), scale=1.0)
        try:
            outputs = self.run_raw(np.zeros(shape, np.float32))
        except Exception as exc:  # onnxruntime's own error types
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            raise ModelError(
                f"{self.card.card_path}: the model fails on a {w}x{h} input laid out as field 'input.layout' "
                f"says ({self.card.input.layout}): {first}"
            ) from None
        return self.outputs_to_maps(outputs, box)
