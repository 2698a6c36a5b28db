"""ONNX Runtime's execution providers: which to ask for, whether they loaded, and what to tell the user.

The default order is TensorRT, CUDA, CPU as the build has them (:func:`choose_providers`); a GPU
provider that was asked for but did not load is one clear error unless fallback is allowed
(:func:`check_loaded`, with the likely cause and fix of each in ``_LOAD_FAILURE``).  Also
TensorRT's provider options and engine cache folder, keeping ONNX Runtime's own log lines from the
user while a session is made, and letting onnxruntime-gpu find CUDA libraries installed by pip.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path
from typing import Sequence

from livepose.inference.base import BackendError

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


def short_provider(name: str) -> str:
    """'CUDAExecutionProvider' -> 'CUDA', 'TensorrtExecutionProvider' -> 'TensorRT'."""
    return "TensorRT" if name == TENSORRT else name.replace("ExecutionProvider", "")


def available_providers() -> list[str]:
    """The execution providers this ONNX Runtime build has."""
    import onnxruntime as ort

    return ort.get_available_providers()


def choose_providers(requested: Sequence[str] | None = None,
                     available: Sequence[str] | None = None) -> list[str]:
    """The providers to ask ONNX Runtime for: ``requested`` if given (checked against this build),
    else the preferred ones this build has.  ``available`` defaults to ONNX Runtime's list."""
    if available is None:
        available = available_providers()
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


def fallback_warning(fallback: Sequence[str], loaded: Sequence[str]) -> str | None:
    """One line for the user when a GPU provider did not load and the run goes on without it:
    which one, the likely cause and the fix (None when nothing fell back)."""
    if not fallback:
        return None
    name = fallback[0]
    cause, fix = _LOAD_FAILURE.get(name, ("its libraries could not be loaded", "check its installation"))
    on = short_provider(loaded[0]) if loaded else "CPU"
    return f"{name} could not be loaded ({cause}); running on {on}. To use it: {fix}"


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
