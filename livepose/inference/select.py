"""Which engine runs a model card, at which precision, and making it.

The decision is a pure function (:func:`choose_engine`) of the model settings
(:class:`livepose.settings.ModelSettings`), of what this machine has installed (:class:`Installed`,
read once by :meth:`Installed.probe`) and of the model card (and its converted siblings beside it,
see :func:`precision_card`).  :func:`make_network` makes the decision and opens the engine.

``backend`` auto takes ONNX Runtime when it has CUDA (or when execution providers are named, or
for fp16), else OpenVINO when installed, else ONNX Runtime's CPU provider.  ``precision`` auto
keeps the card's own model (fp32) unless the card's ``auto_precision`` lists others for the
backend, the first this machine runs taken (lwop on OpenVINO: bf16 where the CPU has BF16, else its
int8 IR; measured on the dev sets), or a faster precision is listed in
:data:`AUTO_PRECISIONS_VERIFIED`.  auto never fails; a backend or precision asked for by name that
is missing or unsupported is a :class:`BackendError`, one line naming it and how to get it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from livepose.card import ModelCard, load_card, sibling_card_path
from livepose.errors import ModelError
from livepose.inference import openvino as _openvino
from livepose.inference.base import BackendError, BaseNetwork
from livepose.inference.onnxruntime import Network
from livepose.inference.openvino import OPENVINO_MISSING, OpenVINONetwork, check_precision, is_ir
from livepose.inference.providers import CPU, CUDA, available_providers, choose_providers
from livepose.settings import BACKENDS, PRECISIONS, ModelSettings

# Precisions that ``precision="auto"`` may choose besides fp32, fastest first: only those whose
# COCO AP on the dev sets (coco-train-mini, the Bonn PoseTrack frames) was measured within 0.01 of
# fp32 (benchmarks/README.md, "CPU backends") and that are faster.  bf16 has not been measured on
# a CPU with BF16 yet.  int8 (the card's NAME.int8.json sibling, made by tools/quantize_int8.py;
# auto would take it only where one exists) was: within 0.002 on coco-train-mini but 0.011-0.014
# below fp32 on the Bonn frames, so it is not listed.  So auto stays fp32.
AUTO_PRECISIONS_VERIFIED: tuple[str, ...] = ()


@dataclass(frozen=True)
class Installed:
    """What the engine choice depends on in this machine: ONNX Runtime's execution providers
    (``providers``), whether OpenVINO is installed (``openvino``) and its CPU optimisation
    capabilities (``openvino_cpu``, e.g. FP32, BF16, INT8; empty without OpenVINO)."""

    providers: tuple[str, ...] = (CPU,)
    openvino: bool = False
    openvino_cpu: tuple[str, ...] = ()

    @classmethod
    def probe(cls, *, capabilities: bool = True) -> "Installed":
        """Read them from this machine (imports ONNX Runtime, and OpenVINO when it is installed).
        ``capabilities`` False skips asking OpenVINO for the CPU's (0.15 s; not needed when the
        backend is ONNX Runtime by name)."""
        has_openvino = _openvino.openvino_available()
        caps = tuple(_openvino.openvino_cpu_capabilities()) if has_openvino and capabilities else ()
        return cls(providers=tuple(available_providers()), openvino=has_openvino, openvino_cpu=caps)


@dataclass(frozen=True)
class EngineChoice:
    """What :func:`choose_engine` decided: ``backend`` ('onnxruntime' or 'openvino'), the
    ``precision`` it runs at, the ``card`` to load (the given one, or its fp16/int8 sibling) and,
    on ONNX Runtime, the execution ``providers`` to ask for in order (None on OpenVINO)."""

    backend: str
    precision: str
    card: ModelCard
    providers: tuple[str, ...] | None = None


def _backend(backend: str, providers: Sequence[str] | None, installed: Installed) -> str:
    """The engine ``backend`` means here: 'onnxruntime' or 'openvino'."""
    if backend not in BACKENDS:
        raise BackendError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend != "auto":
        return backend
    if providers:  # execution providers are ONNX Runtime's
        return "onnxruntime"
    if CUDA in installed.providers or not installed.openvino:
        return "onnxruntime"
    return "openvino"


_FP16_IS_FOR_ORT = "precision fp16 is for ONNX Runtime on CUDA or TensorRT: use --backend onnxruntime (or auto)"


def _precision(backend: str, precision: str, card: ModelCard | None, installed: Installed) -> str:
    """The precision ``precision`` means for a resolved ``backend``: 'fp32', 'fp16' (ONNX Runtime,
    the card's fp16 model, for CUDA and TensorRT), 'bf16' (OpenVINO) or 'int8' (either backend, the
    card's int8 model; ``auto`` takes it only when verified and ``card`` has one)."""
    if precision not in PRECISIONS:
        raise BackendError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if card is not None and card.precision == "int8" and precision in ("auto", "int8"):
        return "int8"  # a quantized model given directly
    if precision == "int8":
        return "int8"
    if precision == "auto" and card is not None:  # the card's measured choices, the first that runs here
        for candidate in card.auto_precision_for(backend):
            if candidate == "int8" and sibling_card_path(card, "int8").is_file():
                return "int8"
            if candidate == "bf16" and backend == "openvino" and "BF16" in installed.openvino_cpu:
                return "bf16"
            if candidate == card.precision:
                return candidate
    if precision == "auto" and "int8" in AUTO_PRECISIONS_VERIFIED and card is not None \
            and sibling_card_path(card, "int8").is_file():
        return "int8"
    if backend == "onnxruntime":
        if precision == "bf16":
            raise BackendError("precision bf16 needs --backend openvino: ONNX Runtime's CPU provider runs fp32 only")
        return "fp16" if precision == "fp16" else "fp32"
    if precision == "fp16":
        raise BackendError(_FP16_IS_FOR_ORT)
    if precision != "auto":
        return precision
    for candidate in AUTO_PRECISIONS_VERIFIED:
        if candidate != "int8" and candidate.upper() in installed.openvino_cpu:  # int8: a model of its own, above
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


def _runs_an_ir(card: ModelCard, precision: str) -> bool:
    """Whether ``precision`` means an OpenVINO IR for ``card``: the card's own model, or its int8
    sibling when int8 is asked for."""
    if is_ir(card.model_path):
        return True
    if precision != "int8":
        return False
    path = sibling_card_path(card, "int8")
    if not path.is_file():
        return False
    try:
        return is_ir(load_card(path).model_path)
    except ModelError:
        return False  # precision_card names what is wrong


def choose_engine(settings: ModelSettings, installed: Installed, card: ModelCard) -> EngineChoice:
    """The engine, precision, card and providers that ``settings`` (its ``backend``, ``precision``
    and ``providers``) mean for ``card`` on a machine with ``installed``.  Reads nothing but model
    cards (the fp16/int8 siblings); raises :class:`BackendError` when a backend, provider or
    precision asked for by name is missing or unsupported (``auto`` never does)."""
    backend, precision, providers = settings.backend, settings.precision, settings.providers
    if backend == "openvino" and providers:
        raise BackendError("--providers lists ONNX Runtime execution providers; it cannot be used with "
                           "backend 'openvino'")
    resolved = "onnxruntime" if backend == "auto" and precision == "fp16" else _backend(backend, providers, installed)
    if backend == "auto" and not providers and _runs_an_ir(card, precision):
        resolved = "openvino"  # only OpenVINO reads an IR (e.g. lwop's int8 model)
    if resolved == "openvino" and precision == "fp16":
        raise BackendError(_FP16_IS_FOR_ORT)
    if resolved == "openvino" and not installed.openvino:
        raise BackendError(OPENVINO_MISSING)
    prec = _precision(resolved, precision, card, installed)
    if prec == "int8":  # either backend runs the card's int8 (QDQ) model; an IR, OpenVINO only
        card = precision_card(card, "int8")
    if resolved == "onnxruntime" and is_ir(card.model_path):
        how = "use --backend openvino" + ("" if installed.openvino else " (pip install openvino)")
        raise BackendError(f"{card.card_path}: its model {card.model_path.name} is an OpenVINO IR, which ONNX Runtime "
                           f"cannot run; {how}")
    if resolved == "onnxruntime":
        if precision != "auto":  # auto: the card's own model as it is
            card = precision_card(card, prec)
        return EngineChoice("onnxruntime", card.precision, card, tuple(choose_providers(providers, installed.providers)))
    check_precision(card, prec, installed.openvino_cpu)
    return EngineChoice("openvino", prec, card, None)


# -- make_network's keywords of before ModelSettings ------------------------------------------
_LEGACY_KEYWORDS = ("backend", "precision", "providers", "threads", "allow_fallback", "trt_cache", "io_binding")


def _with_legacy(settings: ModelSettings | None, legacy: dict) -> tuple[ModelSettings, object]:
    """``settings`` (default ModelSettings()) with make_network's old keywords applied, and the
    threads to give the engine.  Values ModelSettings would refuse keep the errors they had."""
    unknown = [k for k in legacy if k not in _LEGACY_KEYWORDS]
    if unknown:
        raise TypeError(f"make_network() got an unexpected keyword argument {unknown[0]!r}")
    settings = settings if settings is not None else ModelSettings()
    if not legacy:
        return settings, settings.threads
    changes = dict(legacy)
    if changes.get("backend", "auto") not in BACKENDS:
        raise BackendError(f"unknown backend {changes['backend']!r}; choose one of {', '.join(BACKENDS)}")
    if changes.get("precision", "auto") not in PRECISIONS:
        raise BackendError(f"unknown precision {changes['precision']!r}; choose one of {', '.join(PRECISIONS)}")
    if changes.get("io_binding") is not None:
        changes["io_binding"] = bool(changes["io_binding"])
    threads = changes.pop("threads", settings.threads)
    ok_threads = threads is None or (isinstance(threads, int) and not isinstance(threads, bool) and threads >= 1)
    if ok_threads:
        changes["threads"] = threads  # else the engine says what is wrong, as it did
    return settings.with_(**changes), threads


def _open(choice: EngineChoice, settings: ModelSettings, installed: Installed, threads) -> BaseNetwork:
    if choice.backend == "onnxruntime":
        providers = list(settings.providers) if settings.providers else None
        return Network(choice.card, providers=providers, threads=threads, precision=choice.precision,
                       allow_fallback=settings.allow_fallback, trt_cache=settings.trt_cache,
                       io_binding=settings.io_binding, available=installed.providers)
    return OpenVINONetwork(choice.card, precision=choice.precision, threads=threads,
                           capabilities=installed.openvino_cpu)


def make_network(card: ModelCard, settings: ModelSettings | None = None, *, installed: Installed | None = None,
                 **legacy_keywords) -> BaseNetwork:
    """The network for ``card`` on the engine :func:`choose_engine` picks for ``settings`` on this
    machine (``installed``: default :meth:`Installed.probe`).  The keywords of before
    ModelSettings (``backend``, ``precision``, ``providers``, ``threads``, ``allow_fallback``,
    ``trt_cache``, ``io_binding``) still work and override ``settings``.  A GPU provider that ONNX
    Runtime has but could not load is an error unless ``allow_fallback`` (see :class:`Network`)."""
    if isinstance(settings, str):  # make_network(card, "onnxruntime", ...) of before
        legacy_keywords = {"backend": settings, **legacy_keywords}
        settings = None
    settings, threads = _with_legacy(settings, legacy_keywords)
    if installed is None:
        installed = Installed.probe(capabilities=settings.backend != "onnxruntime")
    return _open(choose_engine(settings, installed, card), settings, installed, threads)


# -- the decision in parts, probing this machine (for older callers) --------------------------
def resolve_backend(backend: str = "auto", providers: Sequence[str] | None = None) -> str:
    """The engine ``backend`` means here: 'onnxruntime' or 'openvino'."""
    return _backend(backend, providers, Installed.probe())


def resolve_precision(backend: str, precision: str = "auto", card: ModelCard | None = None) -> str:
    """The precision ``precision`` means for a resolved ``backend`` here (see :func:`choose_engine`)."""
    return _precision(backend, precision, card, Installed.probe())
