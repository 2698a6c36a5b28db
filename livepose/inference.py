"""The network: an inference engine checked against its model card.

Two engines share one interface (:class:`BaseNetwork`): ONNX Runtime (:class:`Network`, always
installed) and OpenVINO's own runtime reading the same ONNX file (:class:`OpenVINONetwork`, the
optional extra ``pip install -e .[openvino]``).  :func:`make_network` picks one: ``auto`` takes
ONNX Runtime when it has CUDA, else OpenVINO when installed, else ONNX Runtime's CPU provider.
ONNX Runtime's providers are chosen automatically (TensorRT when its libraries load, CUDA when
onnxruntime-gpu is installed, then CPU) unless a list is given; a GPU provider that was asked for
but did not load is one clear error unless fallback is allowed (:func:`check_loaded`).  Nothing
runs at import; :meth:`BaseNetwork.warm_up` runs the graph once so that the first real frame does
not pay for allocation.  :meth:`BaseNetwork.runner` gives the video pipeline a way to run frames
whose outputs stay valid for a given number of calls: on CUDA and TensorRT it binds the input and
preallocated output buffers (ONNX Runtime's I/O binding, :class:`BoundRunner`).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from livepose.card import MapSpec, ModelCard, load_card, sibling_card_path
from livepose.errors import ModelError
from livepose.types import Letterbox, NetOutput

TENSORRT = "TensorrtExecutionProvider"
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
# The default order: TensorRT when the build has it and its libraries load, CUDA, CPU
PREFERRED_PROVIDERS = (TENSORRT, CUDA, CPU)
GPU_PROVIDERS = (TENSORRT, CUDA)
# Providers the automatic choice may lose without an error: TensorRT's libraries are a separate
# install that onnxruntime-gpu does not bring, so the automatic order tries it and moves on to CUDA.
AUTO_OPTIONAL = (TENSORRT,)
GPU_INSTALL = "pip uninstall onnxruntime && pip install -e .[gpu]"

# Why a provider the build has may not load, and what to do about it (one line each)
_LOAD_FAILURE = {
    CUDA: ("CUDA 12/cuDNN 9 libraries not found, or no usable NVIDIA GPU",
           "install onnxruntime-gpu's CUDA 12 dependencies (pip install 'onnxruntime-gpu[cuda,cudnn]')"),
    TENSORRT: ("TensorRT 10 libraries (libnvinfer) not found, or CUDA not usable",
               "install TensorRT for CUDA 12 (pip install tensorrt-cu12-libs) and put its libraries on "
               "LD_LIBRARY_PATH"),
}


class BackendError(ModelError):
    """A requested backend, provider or precision is not installed, did not load or is not supported
    here (exit code 3)."""


def short_provider(name: str) -> str:
    """'CUDAExecutionProvider' -> 'CUDA', 'TensorrtExecutionProvider' -> 'TensorRT'."""
    return "TensorRT" if name == TENSORRT else name.replace("ExecutionProvider", "")


def choose_providers(requested: Sequence[str] | None = None,
                     available: Sequence[str] | None = None) -> list[str]:
    """The providers to ask ONNX Runtime for: ``requested`` if given (checked against this build),
    else the preferred ones this build has.  ``available`` defaults to ONNX Runtime's list."""
    if available is None:
        import onnxruntime as ort

        available = ort.get_available_providers()
    if requested:
        unknown = [p for p in requested if p not in available]
        if unknown:
            gpu = any(p in GPU_PROVIDERS for p in unknown)
            raise BackendError(
                f"execution provider {', '.join(unknown)} is not in this ONNX Runtime build (it has "
                f"{', '.join(available)})" + (f"; for CUDA and TensorRT: {GPU_INSTALL}" if gpu else "")
            )
        return list(requested)
    return [p for p in PREFERRED_PROVIDERS if p in available] or list(available)


def check_loaded(requested: Sequence[str], loaded: Sequence[str], *, optional: Sequence[str] = (),
                 allow_fallback: bool = False) -> list[str]:
    """Compare what was asked of ONNX Runtime with what its session loaded.

    ONNX Runtime drops a provider whose libraries fail to load and carries on with the rest (in
    the end the CPU), printing only warnings.  A requested provider missing from ``loaded`` raises
    :class:`BackendError` naming it, the likely cause and the fix, unless it is in ``optional`` or
    ``allow_fallback`` is set.  Returns the missing providers that were not optional (the fallback
    to report), empty when everything needed loaded."""
    missing = [p for p in requested if p not in loaded]
    needed = [p for p in missing if p not in optional]
    if needed and not allow_fallback:
        name = needed[0]
        cause, fix = _LOAD_FAILURE.get(name, ("its libraries could not be loaded", "check its installation"))
        raise BackendError(
            f"{name} requested but could not be loaded ({cause}); {fix}, or run with --providers "
            f"CPUExecutionProvider (or --allow-fallback to continue on {short_provider(loaded[0]) if loaded else 'CPU'})"
        )
    return needed


def default_trt_cache() -> Path:
    """The per-user TensorRT engine cache: $XDG_CACHE_HOME/livepose/tensorrt (~/.cache/...)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "livepose" / "tensorrt"


def _profile_name_ok(name: str) -> bool:
    """ONNX Runtime's TensorRT provider reads profile shapes as 'name:1x3x368x656,...': a name with
    ':' or ',' (e.g. tf2onnx's 'image:0') cannot be written there."""
    return bool(name) and ":" not in name and "," not in name


def tensorrt_options(cache_dir: Path, *, fp16: bool = False, input_name: str = "",
                     profile: tuple[Sequence[int], Sequence[int], Sequence[int]] | None = None) -> dict[str, str]:
    """ONNX Runtime TensorRT provider options: engine and timing caches in ``cache_dir`` (built
    engines are reused across runs), fp16 kernels when ``fp16``, and the optimisation profile
    (min, opt, max input shapes) for ``input_name`` when given and expressible; otherwise TensorRT
    takes the range of the shapes it has seen (the pipeline warms up at batch 1 and at its batch)."""
    options = {
        "trt_engine_cache_enable": "True",
        "trt_engine_cache_path": os.fspath(cache_dir),
        "trt_timing_cache_enable": "True",
        "trt_timing_cache_path": os.fspath(cache_dir),
        "trt_fp16_enable": "True" if fp16 else "False",
    }
    if profile is not None and _profile_name_ok(input_name):
        for key, shape in zip(("min", "opt", "max"), profile):
            options[f"trt_profile_{key}_shapes"] = f"{input_name}:{'x'.join(str(int(d)) for d in shape)}"
    return options


@contextlib.contextmanager
def _quiet_onnxruntime():
    """Keep ONNX Runtime's own messages (provider libraries that failed to load, fallbacks) from
    the user while a session is created: our one line says what matters.  Sets ONNX Runtime's
    default logger to fatal-only and back to its default (warnings) afterwards."""
    import onnxruntime as ort

    ort.set_default_logger_severity(4)
    try:
        yield
    finally:
        ort.set_default_logger_severity(2)


def _preload_gpu_libraries() -> None:
    """Let onnxruntime-gpu find CUDA and cuDNN installed as pip packages (nvidia-*-cu12, its
    [cuda,cudnn] extras): ONNX Runtime >= 1.21 loads them from site-packages.  Quiet; a failure
    here shows up as the provider not loading, which :func:`check_loaded` reports."""
    import onnxruntime as ort

    preload = getattr(ort, "preload_dlls", None)
    if preload is None:
        return
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            preload()
    except Exception:
        pass


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


BACKENDS = ("auto", "onnxruntime", "openvino")
PRECISIONS = ("auto", "fp32", "fp16", "bf16", "int8")

# Precisions that ``precision="auto"`` may choose besides fp32, fastest first: only those whose
# COCO AP on the dev sets (coco-train-mini, the Bonn PoseTrack frames) was measured within 0.01 of
# fp32 (benchmarks/README.md, "CPU backends") and that are faster.  bf16 has not been measured on
# a CPU with BF16 yet.  int8 (the card's NAME.int8.json sibling, made by tools/quantize_int8.py;
# auto would take it only where one exists) was: within 0.002 on coco-train-mini but 0.011-0.014
# below fp32 on the Bonn frames, so it is not listed.  So auto stays fp32.
AUTO_PRECISIONS_VERIFIED: tuple[str, ...] = ()


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
    def _maps(self, out: np.ndarray, spec: MapSpec, key: str, index: int = 0) -> np.ndarray:
        channels = out.shape[3] if spec.layout == "NHWC" else out.shape[1]
        self._check_channels(key, spec, channels)
        if spec.layout == "NHWC":
            return out[index, :, :, spec.offset : spec.offset + spec.count]
        return out[index, spec.offset : spec.offset + spec.count].transpose(1, 2, 0)

    def outputs_to_maps(self, outputs: dict[str, np.ndarray], letterbox: Letterbox, index: int = 0) -> NetOutput:
        """The maps of entry ``index`` of a (batched) output, as views."""
        card = self.card
        heat = self._maps(outputs[card.heatmaps.output], card.heatmaps, "heatmaps", index)[:, :, : card.num_parts]
        pafs = self._maps(outputs[card.pafs.output], card.pafs, "pafs", index)
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

    def prepare(self, net_size: tuple[int, int], batch: int = 1) -> None:
        """Get ready for inputs of ``net_size`` (w, h) in batches of 1 to ``batch`` (a video stream
        calls this once before its first frame).  Nothing to do for most engines."""

    def runner(self, ring: int) -> "BaseNetwork | BoundRunner":
        """Something with ``run_raw`` whose outputs stay valid for at least the next ``ring - 1``
        calls (a pipeline decodes earlier frames on another thread).  Engines that return new
        arrays on every call are their own runner."""
        return self

    def input_shape(self, net_size: tuple[int, int], batch: int = 1) -> tuple[int, int, int, int]:
        w, h = net_size
        return (batch, 3, h, w) if self.card.input.layout == "NCHW" else (batch, h, w, 3)

    def warm_up(self, net_size: tuple[int, int]) -> NetOutput:
        """Run once on a blank input of ``net_size`` (w, h), checking the card against real outputs."""
        w, h = net_size
        shape = self.input_shape(net_size)
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
    """One ONNX Runtime session for one model card.

    ``providers``: execution providers in order (None: the preferred ones this build has, see
    :func:`choose_providers`).  A provider given in ``providers`` that did not load is an error
    naming it unless ``allow_fallback``; in the automatic order (``providers`` None) a GPU provider
    that does not load is passed over.  Either way ``fallback`` lists what did not load and
    :meth:`describe` says so.  ``precision``: that of the card's model file (fp16
    also turns on TensorRT's fp16 kernels).  ``trt_cache``: TensorRT's engine and timing cache
    folder (default :func:`default_trt_cache`, created when TensorRT is used).  ``io_binding``:
    run the video pipeline through ONNX Runtime's I/O binding (:class:`BoundRunner`); None: on
    CUDA and TensorRT only."""

    backend = "onnxruntime"

    def __init__(self, card: ModelCard, providers: Sequence[str] | None = None, threads: int | None = None,
                 spin: bool = False, *, precision: str | None = None, allow_fallback: bool = False,
                 trt_cache: str | Path | None = None, io_binding: bool | None = None):
        import onnxruntime as ort

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
        self.providers_requested = choose_providers(providers)
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
        if profile == self._profile or not _profile_name_ok(self.card.input.name):
            return
        self._profile = profile
        self._open_session()

    def fallback_warning(self) -> str | None:
        """One line for the user when a GPU provider did not load and the run goes on without it
        (automatic order, or --allow-fallback): which one, the likely cause and the fix."""
        if not self.fallback:
            return None
        name = self.fallback[0]
        cause, fix = _LOAD_FAILURE.get(name, ("its libraries could not be loaded", "check its installation"))
        on = short_provider(self.providers[0]) if self.providers else "CPU"
        return f"{name} could not be loaded ({cause}); running on {on}. To use it: {fix}"

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


class BoundRunner:
    """Runs a :class:`Network` through ONNX Runtime's I/O binding.

    The input (a CPU array) is bound as it is, so it is copied to the device once, during the
    run; the outputs are written into preallocated CPU arrays, a ring of ``ring`` sets per input
    shape used in turn, so the arrays returned by one call stay valid for the next ``ring - 1``
    calls (the video pipeline decodes frame k on another thread while k+1 runs, and sizes the
    ring from how many frames it can hold between the two).  The first call at a new input shape
    runs without binding to learn the output shapes.  One thread at a time."""

    def __init__(self, network: Network, ring: int):
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

    def run(self, tensor: np.ndarray, letterbox: Letterbox) -> NetOutput:
        return self.network.outputs_to_maps(self.run_raw(tensor), letterbox)

    def outputs_to_maps(self, outputs: dict[str, np.ndarray], letterbox: Letterbox, index: int = 0) -> NetOutput:
        return self.network.outputs_to_maps(outputs, letterbox, index)


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
    """The precision ``precision`` means for a resolved ``backend``: 'fp32', 'fp16' (ONNX Runtime,
    the card's fp16 model, for CUDA and TensorRT), 'bf16' (OpenVINO) or 'int8' (either backend, the
    card's int8 model; ``auto`` takes it only when verified and ``card`` has one)."""
    if precision not in PRECISIONS:
        raise BackendError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if card is not None and card.precision == "int8" and precision in ("auto", "int8"):
        return "int8"  # a quantized model given directly
    if precision == "int8":
        return "int8"
    if precision == "auto" and "int8" in AUTO_PRECISIONS_VERIFIED and card is not None \
            and sibling_card_path(card, "int8").is_file():
        return "int8"
    if backend == "onnxruntime":
        if precision == "bf16":
            raise BackendError("precision bf16 needs --backend openvino: ONNX Runtime's CPU provider runs fp32 only")
        return "fp16" if precision == "fp16" else "fp32"
    if precision == "fp16":
        raise BackendError("precision fp16 is for ONNX Runtime on CUDA or TensorRT: use --backend onnxruntime "
                           "(or auto)")
    if precision != "auto":
        return precision
    caps = openvino_cpu_capabilities()
    for candidate in AUTO_PRECISIONS_VERIFIED:
        if candidate != "int8" and candidate.upper() in caps:  # int8: a model of its own, above
            return candidate
    return "fp32"


def precision_card(card: ModelCard, precision: str) -> ModelCard:
    """``card`` itself when its model is of ``precision``, else its converted sibling
    (``<card>.<precision>.json`` beside it, see :func:`livepose.card.sibling_card_path`); a
    missing sibling is one line saying how to make it."""
    if card.precision == precision:
        return card
    path = sibling_card_path(card, precision)
    if not path.is_file():
        if precision == "fp16":
            raise BackendError(f"precision fp16 needs the fp16 model of {card.name}: {path} not found; create it with "
                               f"python tools/convert_fp16.py --card {card.card_path}")
        if precision == "int8":
            raise BackendError(f"precision int8 needs the int8 model of {card.name}: {path} not found; create it with "
                               f"python tools/quantize_int8.py --card {card.card_path}")
        raise BackendError(f"precision {precision} needs {path}, the {precision} version of {card.card_path}")
    sibling = load_card(path)
    if sibling.precision != precision:
        raise ModelError(f"{path}: field 'precision' is {sibling.precision!r}, expected {precision!r}")
    return sibling


def make_network(card: ModelCard, backend: str = "auto", precision: str = "auto",
                 providers: Sequence[str] | None = None, threads: int | None = None, *,
                 allow_fallback: bool = False, trt_cache: str | Path | None = None,
                 io_binding: bool | None = None) -> BaseNetwork:
    """The network on the chosen engine.  A backend or precision asked for by name that is missing
    or unsupported raises :class:`BackendError` (one line naming it and how to get it); ``auto``
    never does, it falls back to ONNX Runtime's CPU provider and fp32.  A GPU provider that ONNX
    Runtime has but could not load is an error unless ``allow_fallback`` (see :class:`Network`)."""
    if backend == "openvino" and providers:
        raise BackendError("--providers lists ONNX Runtime execution providers; it cannot be used with "
                           "backend 'openvino'")
    resolved = "onnxruntime" if backend == "auto" and precision == "fp16" else resolve_backend(backend, providers)
    if resolved == "openvino" and precision == "fp16":
        resolve_precision(resolved, precision)  # says what fp16 is for
    if resolved == "openvino" and not openvino_available():
        raise BackendError(OPENVINO_MISSING)
    prec = resolve_precision(resolved, precision, card)
    if prec == "int8":  # either backend runs the card's int8 (QDQ) model
        card = precision_card(card, "int8")
    if resolved == "onnxruntime":
        if precision != "auto":  # auto: the card's own model as it is
            card = precision_card(card, prec)
        return Network(card, providers=providers, threads=threads, precision=card.precision,
                       allow_fallback=allow_fallback, trt_cache=trt_cache, io_binding=io_binding)
    return OpenVINONetwork(card, precision=prec, threads=threads)
