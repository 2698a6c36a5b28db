"""The network: an inference engine checked against its model card.

Two engines share one interface (:class:`BaseNetwork`, in ``base``): ONNX Runtime (:class:`Network`,
``onnxruntime``, always installed; its providers and their messages in ``providers``, I/O binding
in ``binding``) and OpenVINO's own runtime reading the same ONNX file (:class:`OpenVINONetwork`,
``openvino``, the optional extra ``pip install -e .[openvino]``).  Which one runs, at which
precision, is a pure function of the settings and of what is installed (``select``:
:func:`choose_engine`, :class:`Installed`); :func:`make_network` decides and opens it.  Engines
give raw outputs (``run_raw``); :func:`output_maps` (``maps``) turns them into the two maps.
Nothing imports ONNX Runtime or OpenVINO until an engine is made or the machine is probed.

    maps       outputs -> channels-last heatmaps and PAFs, channel and stride checks
    base       BaseNetwork, BackendError
    providers  ONNX Runtime provider policy, TensorRT options, messages
    binding    BoundRunner: I/O binding with a ring of output buffers
    onnxruntime, openvino   the engines
    select     Installed, EngineChoice, choose_engine, make_network
"""

from livepose.card import file_sha256
from livepose.inference.base import BackendError, BaseNetwork
from livepose.inference.binding import BoundRunner
from livepose.inference.maps import check_channels, check_stride, output_maps
from livepose.inference.onnxruntime import Network
from livepose.inference.openvino import (OPENVINO_MISSING, OpenVINONetwork, openvino_available,
                                         openvino_cpu_capabilities)
from livepose.inference.providers import (AUTO_OPTIONAL, CPU, CUDA, GPU_INSTALL, GPU_PROVIDERS, PREFERRED_PROVIDERS,
                                          TENSORRT, check_loaded, choose_providers, default_trt_cache,
                                          short_provider, tensorrt_options)
from livepose.inference.select import (AUTO_PRECISIONS_VERIFIED, EngineChoice, Installed, choose_engine, make_network,
                                       precision_card, resolve_backend, resolve_precision)
from livepose.settings import BACKENDS, PRECISIONS

__all__ = [
    "AUTO_OPTIONAL", "AUTO_PRECISIONS_VERIFIED", "BACKENDS", "BackendError", "BaseNetwork", "BoundRunner", "CPU",
    "CUDA", "EngineChoice", "GPU_INSTALL", "GPU_PROVIDERS", "Installed", "Network", "OPENVINO_MISSING",
    "OpenVINONetwork", "PRECISIONS", "PREFERRED_PROVIDERS", "TENSORRT", "check_channels", "check_loaded",
    "check_stride", "choose_engine", "choose_providers", "default_trt_cache", "file_sha256", "make_network",
    "openvino_available", "openvino_cpu_capabilities", "output_maps", "precision_card", "resolve_backend",
    "resolve_precision", "short_provider", "tensorrt_options",
]
