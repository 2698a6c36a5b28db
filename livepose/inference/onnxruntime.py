"""The ONNX Runtime engine (:class:`Network`): one session for one model card.

Opens the session on the providers of :mod:`livepose.inference.providers` (TensorRT with its
options and cache), reports a GPU provider that did not load, remakes the session with a TensorRT
optimisation profile for the stream's size (:meth:`Network.prepare`) and runs the video pipeline
through I/O binding on CUDA and TensorRT (:meth:`Network.runner`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from livepose.card import ModelCard
from livepose.errors import ModelError
from livepose.inference import providers as _providers
from livepose.inference.base import BackendError, BaseNetwork
from livepose.inference.binding import BoundRunner
from livepose.inference.providers import (AUTO_OPTIONAL, CPU, GPU_PROVIDERS, TENSORRT, _preload_gpu_libraries,
                                          _quiet_onnxruntime, check_loaded, choose_providers, default_trt_cache,
                                          fallback_warning, short_provider, tensorrt_options)


def _graph_dims(shape) -> list[int | None]:
    return [d if isinstance(d, int) else None for d in shape]


class Network(BaseNetwork):
    """One ONNX Runtime session for one model card.

    ``providers``: execution providers in order (None: the preferred ones this build has, see
    :func:`choose_providers`; ``available``: the build's list when already known).  A provider
    given in ``providers`` that did not load is an error naming it unless ``allow_fallback``; in
    the automatic order (``providers`` None) a GPU provider that does not load is passed over.
    Either way ``fallback`` lists what did not load and :meth:`describe` says so.  ``precision``:
    that of the card's model file (fp16 also turns on TensorRT's fp16 kernels).  ``trt_cache``:
    TensorRT's engine and timing cache folder (default :func:`default_trt_cache`, created when
    TensorRT is used).  ``io_binding``: run the video pipeline through ONNX Runtime's I/O binding
    (:class:`BoundRunner`); None: on CUDA and TensorRT only."""

    backend = "onnxruntime"

    def __init__(self, card: ModelCard, providers: Sequence[str] | None = None, threads: int | None = None,
                 spin: bool = False, *, precision: str | None = None, allow_fallback: bool = False,
                 trt_cache: str | Path | None = None, io_binding: bool | None = None,
                 available: Sequence[str] | None = None):
        import onnxruntime as ort

        if os.fspath(card.model_path).lower().endswith(".xml"):
            raise BackendError(f"{card.model_path}: an OpenVINO IR, which ONNX Runtime cannot run; use --backend "
                               f"openvino (or auto), or the card's ONNX model (e.g. --precision fp32)")
        super().__init__(card)
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
        self._options = options
        self.precision = precision or card.precision
        # the automatic order (no --providers) never fails for a GPU provider that does not load: it
        # continues on the next one and the start line says so; a list the user gave is strict
        self.allow_fallback = allow_fallback or not providers
        self.trt_cache = Path(trt_cache).expanduser() if trt_cache is not None else default_trt_cache()
        self.providers_requested = choose_providers(providers, available)
        self._optional = AUTO_OPTIONAL if not providers else ()
        self._profile: tuple | None = None
        self.fallback: list[str] = []
        self._open_session()
        self.io_binding = self.on_gpu if io_binding is None else bool(io_binding)
        self._check_card()

    # -- the session -------------------------------------------------------------------------
    @property
    def on_gpu(self) -> bool:
        return bool(self.providers) and self.providers[0] in GPU_PROVIDERS

    def _provider_list(self) -> list:
        """The requested providers, TensorRT with its options."""
        out: list = []
        for name in self.providers_requested:
            if name == TENSORRT:
                out.append((name, tensorrt_options(self.trt_cache, fp16=self.precision == "fp16",
                                                   input_name=self.card.input.name, profile=self._profile)))
            else:
                out.append(name)
        return out

    def _open_session(self) -> None:
        import onnxruntime as ort

        path = os.fspath(self.card.model_path)
        requested = self.providers_requested
        gpu = any(p in GPU_PROVIDERS for p in requested)
        if gpu:
            _preload_gpu_libraries()
        if TENSORRT in requested:
            try:
                self.trt_cache.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise BackendError(f"{self.trt_cache}: cannot create the TensorRT cache folder "
                                   f"({exc.strerror or exc}); choose another with --trt-cache") from None
        try:
            with _quiet_onnxruntime():
                # enable_fallback=0: ONNX Runtime would otherwise print a banner and silently retry on the CPU
                session = ort.InferenceSession(path, sess_options=self._options, providers=self._provider_list(),
                                               enable_fallback=0)
        except Exception as exc:  # onnxruntime raises its own exception types
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            if not gpu:
                raise ModelError(f"{path}: not a loadable ONNX model ({first})") from None
            # a GPU provider failed while being set up: is it the model or the provider?
            try:
                with _quiet_onnxruntime():
                    session = ort.InferenceSession(path, sess_options=self._options, providers=[CPU],
                                                   enable_fallback=0)
            except Exception:
                raise ModelError(f"{path}: not a loadable ONNX model ({first})") from None
            failed = next(p for p in requested if p in GPU_PROVIDERS)
            if not self.allow_fallback:
                raise BackendError(f"{failed} requested but failed to start ({first}); run with --providers "
                                   "CPUExecutionProvider, or --allow-fallback to continue on the CPU") from None
            self.session = session
            self.providers = session.get_providers()
            self.fallback = [p for p in requested if p not in self.providers]
            return
        session.disable_fallback()  # nor at run time: an EP failure is an error, not a silent CPU run
        self.session = session
        self.providers = session.get_providers()
        self.fallback = check_loaded(requested, self.providers, optional=self._optional,
                                     allow_fallback=self.allow_fallback)

    def prepare(self, net_size: tuple[int, int], batch: int = 1) -> None:
        """On TensorRT: an optimisation profile for exactly this input size, batches 1 to ``batch``
        (the session is made again when it differs, so TensorRT builds, or loads from its cache,
        an engine for it).  Other providers take any shape as it comes."""
        if not self.providers or self.providers[0] != TENSORRT:
            return
        profile = (self.input_shape(net_size, 1), self.input_shape(net_size, batch), self.input_shape(net_size, batch))
        if profile == self._profile or not _providers._profile_name_ok(self.card.input.name):
            return
        self._profile = profile
        self._open_session()
        self._forget_warm_up()

    def fallback_warning(self) -> str | None:
        """One line for the user when a GPU provider did not load and the run goes on without it
        (automatic order, or --allow-fallback): which one, the likely cause and the fix."""
        return fallback_warning(self.fallback, self.providers)

    def describe(self) -> str:
        """e.g. 'onnxruntime TensorRT, CUDA, CPU fp16' or 'onnxruntime CPU fp32 (fallback: CUDA did not load)'."""
        names = ", ".join(short_provider(p) for p in self.providers) or "?"
        text = f"onnxruntime {names} {self.precision}"
        if self.providers and self.providers[0] == TENSORRT:
            text += f", TensorRT cache {self.trt_cache}"
        if self.fallback:
            text += f" (fallback: {', '.join(short_provider(p) for p in self.fallback)} did not load)"
        return text

    def _graph_inputs(self) -> dict[str, list[int | None]]:
        return {i.name: _graph_dims(i.shape) for i in self.session.get_inputs()}

    def _graph_outputs(self) -> dict[str, list[int | None]]:
        return {o.name: _graph_dims(o.shape) for o in self.session.get_outputs()}

    def run_raw(self, tensor: np.ndarray) -> dict[str, np.ndarray]:
        results = self.session.run(self._output_names, {self.card.input.name: tensor})
        return dict(zip(self._output_names, results))

    def runner(self, ring: int) -> "Network | BoundRunner":
        return BoundRunner(self, ring) if self.io_binding else self
