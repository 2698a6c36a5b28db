"""Running an ONNX Runtime session through I/O binding (:class:`BoundRunner`), with a ring of
preallocated output buffers so that a frame's outputs stay valid while later frames run."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from livepose.inference.onnxruntime import Network
    from livepose.types import Letterbox, NetOutput


class BoundRunner:
    """Runs a :class:`Network` through ONNX Runtime's I/O binding.

    The input (a CPU array) is bound as it is, so it is copied to the device once, during the
    run; the outputs are written into preallocated CPU arrays, a ring of ``ring`` sets per input
    shape used in turn, so the arrays returned by one call stay valid for the next ``ring - 1``
    calls (the video pipeline decodes frame k on another thread while k+1 runs, and sizes the
    ring from how many frames it can hold between the two).  The first call at a new input shape
    runs without binding to learn the output shapes.  One thread at a time."""

    def __init__(self, network: "Network", ring: int):
        if ring < 1:
            raise ValueError(f"ring must be at least 1, got {ring}")
        self.network = network
        self.ring = ring
        self._binding = network.session.io_binding()
        self._buffers: dict[tuple, list[dict[str, np.ndarray]]] = {}
        self._turn: dict[tuple, int] = {}

    def run_raw(self, tensor: np.ndarray) -> dict[str, np.ndarray]:
        net = self.network
        key = tuple(tensor.shape)
        sets = self._buffers.get(key)
        if sets is None:
            first = net.run_raw(tensor)  # new arrays: safe to hand out as they are
            if len(self._buffers) >= 4:  # a few shapes at most (full and last partial batch)
                self._buffers.clear()
                self._turn.clear()
            self._buffers[key] = [{k: np.empty_like(v) for k, v in first.items()} for _ in range(self.ring)]
            self._turn[key] = 0
            return first
        k = self._turn[key]
        self._turn[key] = (k + 1) % self.ring
        outputs = sets[k]
        binding = self._binding
        binding.bind_cpu_input(net.card.input.name, np.ascontiguousarray(tensor))
        for name, array in outputs.items():
            binding.bind_output(name, "cpu", 0, array.dtype, array.shape, array.ctypes.data)
        net.session.run_with_iobinding(binding)
        binding.synchronize_outputs()
        return outputs

    # -- with a letterbox: thin wrappers over the network's, until every caller uses output_maps
    def run(self, tensor: np.ndarray, letterbox: "Letterbox") -> "NetOutput":
        return self.network.outputs_to_maps(self.run_raw(tensor), letterbox)

    def outputs_to_maps(self, outputs: dict[str, np.ndarray], letterbox: "Letterbox", index: int = 0) -> "NetOutput":
        return self.network.outputs_to_maps(outputs, letterbox, index)
