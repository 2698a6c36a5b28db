"""Engine choice as a pure function: settings + what is installed + the card -> engine, precision,
card and providers (livepose.inference.select.choose_engine), with constructed ``Installed``
values (no ONNX Runtime faked, no engine loaded); and the two map helpers engines' outputs go
through (output_maps, check_stride)."""

from __future__ import annotations

import dataclasses
import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from livepose.card import bundled_models_dir, load_card
from livepose.errors import ModelError
from livepose.inference import (CPU, CUDA, GPU_INSTALL, OPENVINO_MISSING, TENSORRT, BackendError, EngineChoice,
                                Installed, check_stride, choose_engine, output_maps)
from livepose.settings import ModelSettings

BUNDLED = bundled_models_dir() / "mobilenet_thin.json"
BUNDLED_INT8 = bundled_models_dir() / "mobilenet_thin.int8.json"

CPU_ONLY = Installed(providers=(CPU,), openvino=False, openvino_cpu=())
CPU_OPENVINO = Installed(providers=(CPU,), openvino=True, openvino_cpu=("FP32", "INT8"))
CPU_OPENVINO_BF16 = Installed(providers=(CPU,), openvino=True, openvino_cpu=("BF16", "FP32", "INT8"))
GPU_OPENVINO = Installed(providers=(TENSORRT, CUDA, CPU), openvino=True, openvino_cpu=("FP32",))


@pytest.fixture(scope="module")
def card():
    return load_card(BUNDLED)


def _choose(installed: Installed, card, **settings) -> EngineChoice:
    return choose_engine(ModelSettings(**settings), installed, card)


def _card_in(folder: Path, *, fp16_sibling: bool = False) -> Path:
    """A copy of the bundled card in ``folder`` (the model by absolute path), with an fp16 sibling
    card beside it when asked (its model file need not exist: choosing reads only cards)."""
    data = json.loads(BUNDLED.read_text())
    data["model"] = str(bundled_models_dir() / data["model"])
    path = folder / "net.json"
    path.write_text(json.dumps(data))
    if fp16_sibling:
        sibling = dict(data, precision="fp16", model=str(folder / "net.fp16.onnx"))
        (folder / "net.fp16.json").write_text(json.dumps(sibling))
    return path


# -- which backend ---------------------------------------------------------------------------
def test_cpu_only_onnxruntime_without_openvino_is_onnxruntime_fp32(card):
    choice = _choose(CPU_ONLY, card)
    assert isinstance(choice, EngineChoice)
    assert (choice.backend, choice.precision, choice.providers) == ("onnxruntime", "fp32", (CPU,))
    assert choice.card is card


def test_openvino_installed_takes_openvino_on_the_cpu(card):
    choice = _choose(CPU_OPENVINO, card)
    assert (choice.backend, choice.precision, choice.providers) == ("openvino", "fp32", None)
    assert choice.card is card


def test_cuda_in_the_build_takes_onnxruntime_in_the_preferred_order(card):
    choice = _choose(GPU_OPENVINO, card)
    assert (choice.backend, choice.precision) == ("onnxruntime", "fp32")
    assert choice.providers == (TENSORRT, CUDA, CPU)
    assert _choose(Installed(providers=(CPU, CUDA)), card).providers == (CUDA, CPU)


def test_named_providers_mean_onnxruntime_in_their_order(card):
    choice = _choose(GPU_OPENVINO, card, providers=(CUDA, CPU))
    assert choice.backend == "onnxruntime" and choice.providers == (CUDA, CPU)
    assert _choose(CPU_OPENVINO, card, providers=(CPU,)).backend == "onnxruntime"


def test_a_backend_named_is_taken(card):
    assert _choose(GPU_OPENVINO, card, backend="openvino").backend == "openvino"
    assert _choose(CPU_OPENVINO, card, backend="onnxruntime").providers == (CPU,)


def test_openvino_named_but_not_installed_is_one_line(card):
    with pytest.raises(BackendError) as exc:
        _choose(CPU_ONLY, card, backend="openvino")
    assert str(exc.value) == OPENVINO_MISSING
    assert "pip install -e .[openvino]" in str(exc.value)


def test_providers_with_backend_openvino_is_an_error(card):
    with pytest.raises(BackendError) as exc:
        _choose(CPU_OPENVINO, card, backend="openvino", providers=(CPU,))
    assert str(exc.value) == ("--providers lists ONNX Runtime execution providers; it cannot be used with "
                              "backend 'openvino'")


def test_an_unknown_provider_lists_what_the_build_has(card):
    with pytest.raises(BackendError) as exc:
        _choose(CPU_ONLY, card, providers=("FooExecutionProvider", CPU))
    assert str(exc.value) == ("execution provider FooExecutionProvider is not in this ONNX Runtime build "
                              "(it has CPUExecutionProvider)")
    with pytest.raises(BackendError) as exc:  # a GPU provider: how to get the GPU build
        _choose(CPU_ONLY, card, providers=(CUDA, CPU))
    assert str(exc.value) == (f"execution provider {CUDA} is not in this ONNX Runtime build (it has "
                              f"{CPU}); for CUDA and TensorRT: {GPU_INSTALL}")


# -- which precision -------------------------------------------------------------------------
def test_fp16_is_onnxruntime_with_the_fp16_sibling(tmp_path):
    card = load_card(_card_in(tmp_path, fp16_sibling=True))
    for installed in (CPU_ONLY, CPU_OPENVINO, GPU_OPENVINO):  # auto + fp16: ONNX Runtime, even with OpenVINO
        choice = _choose(installed, card, precision="fp16")
        assert (choice.backend, choice.precision) == ("onnxruntime", "fp16")
        assert choice.card.card_path == tmp_path / "net.fp16.json" and choice.card.precision == "fp16"


def test_fp16_without_its_sibling_says_how_to_make_it(card, tmp_path):
    card = load_card(_card_in(tmp_path))
    with pytest.raises(BackendError) as exc:
        _choose(GPU_OPENVINO, card, precision="fp16")
    assert str(exc.value) == (f"precision fp16 needs the fp16 model of mobilenet_thin: {tmp_path / 'net.fp16.json'} "
                              f"not found; create it with python tools/convert_fp16.py --card {tmp_path / 'net.json'}")


def test_fp16_on_openvino_is_an_error(card):
    with pytest.raises(BackendError) as exc:
        _choose(CPU_OPENVINO, card, backend="openvino", precision="fp16")
    assert str(exc.value) == ("precision fp16 is for ONNX Runtime on CUDA or TensorRT: use --backend onnxruntime "
                              "(or auto)")


def test_bf16_needs_the_cpu_capability(card):
    with pytest.raises(BackendError) as exc:
        _choose(CPU_OPENVINO, card, backend="openvino", precision="bf16")
    assert str(exc.value) == ("precision bf16 is not supported by this CPU (no BF16 in OpenVINO's CPU "
                              "capabilities); use --precision fp32 or auto")
    choice = _choose(CPU_OPENVINO_BF16, card, backend="openvino", precision="bf16")
    assert (choice.backend, choice.precision, choice.card) == ("openvino", "bf16", card)
    assert _choose(CPU_OPENVINO_BF16, card, precision="bf16").backend == "openvino"  # auto on the CPU


def test_bf16_on_onnxruntime_is_an_error(card):
    message = "precision bf16 needs --backend openvino: ONNX Runtime's CPU provider runs fp32 only"
    for installed, backend in ((CPU_OPENVINO_BF16, "onnxruntime"), (CPU_ONLY, "auto"), (GPU_OPENVINO, "auto")):
        with pytest.raises(BackendError) as exc:
            _choose(installed, card, backend=backend, precision="bf16")
        assert str(exc.value) == message


@pytest.mark.skipif(not BUNDLED_INT8.is_file(), reason="models/mobilenet_thin.int8.json not in this checkout")
def test_int8_is_the_int8_sibling_on_either_backend(card):
    for installed, backend in ((CPU_ONLY, "onnxruntime"), (CPU_OPENVINO, "openvino"), (GPU_OPENVINO, "onnxruntime")):
        choice = _choose(installed, card, precision="int8")
        assert (choice.backend, choice.precision) == (backend, "int8")
        assert choice.card.card_path == BUNDLED_INT8 and choice.card.precision == "int8"
    int8_card = load_card(BUNDLED_INT8)  # given directly: auto keeps it
    assert _choose(CPU_ONLY, int8_card).precision == "int8"
    assert _choose(CPU_OPENVINO, int8_card).card is int8_card


def test_int8_without_its_sibling_says_how_to_make_it(tmp_path):
    card = load_card(_card_in(tmp_path))
    with pytest.raises(BackendError) as exc:
        _choose(CPU_ONLY, card, precision="int8")
    assert str(exc.value) == (f"precision int8 needs the int8 model of mobilenet_thin: {tmp_path / 'net.int8.json'} "
                              f"not found; create it with python tools/quantize_int8.py --card {tmp_path / 'net.json'}")


@pytest.mark.skipif(not BUNDLED_INT8.is_file(), reason="models/mobilenet_thin.int8.json not in this checkout")
def test_an_int8_card_asked_for_fp32_on_openvino_is_an_error():
    int8_card = load_card(BUNDLED_INT8)
    with pytest.raises(BackendError) as exc:
        _choose(CPU_OPENVINO, int8_card, backend="openvino", precision="fp32")
    assert str(exc.value) == (f"{BUNDLED_INT8}: precision fp32 needs a card of that precision (the card says int8)")


def test_auto_precision_keeps_the_cards_own_model(card, tmp_path):
    _card_in(tmp_path, fp16_sibling=True)
    fp16_card = load_card(tmp_path / "net.fp16.json")
    choice = _choose(GPU_OPENVINO, fp16_card)  # an fp16 card given directly runs as fp16
    assert (choice.backend, choice.precision, choice.card) == ("onnxruntime", "fp16", fp16_card)
    assert _choose(GPU_OPENVINO, card, precision="fp32").card is card


# -- the values themselves -------------------------------------------------------------------
def test_choices_are_frozen_and_picklable(card):
    choice = _choose(CPU_ONLY, card)
    with pytest.raises(dataclasses.FrozenInstanceError):
        choice.backend = "openvino"
    with pytest.raises(dataclasses.FrozenInstanceError):
        CPU_ONLY.openvino = True
    assert pickle.loads(pickle.dumps(CPU_OPENVINO)) == CPU_OPENVINO
    assert pickle.loads(pickle.dumps(choice)).card.card_path == card.card_path


def test_probe_reads_this_machine():
    installed = Installed.probe()
    assert CPU in installed.providers and isinstance(installed.providers, tuple)
    assert isinstance(installed.openvino, bool) and isinstance(installed.openvino_cpu, tuple)
    assert installed.openvino or installed.openvino_cpu == ()


# -- outputs to maps -------------------------------------------------------------------------
def test_output_maps_are_channels_last_views_of_the_cards_channels(card):
    raw = np.random.default_rng(0).random((2, 46, 54, 57), dtype=np.float32)  # NHWC, 18 + background + 38
    outputs = {card.heatmaps.output: raw}
    heat, pafs = output_maps(card, outputs, index=1)
    assert heat.shape == (46, 54, card.num_parts) and pafs.shape == (46, 54, 38)
    assert np.shares_memory(heat, raw) and np.array_equal(heat, raw[1, :, :, :18])
    assert np.array_equal(pafs, raw[1, :, :, 19:57])
    check_stride(card, (432, 368), heat)


def test_output_maps_check_the_channels_and_the_stride(card):
    with pytest.raises(ModelError) as exc:
        output_maps(card, {card.heatmaps.output: np.zeros((1, 46, 54, 40), np.float32)})
    assert str(exc.value) == (f"{card.card_path}: fields 'pafs.offset' and 'pafs.count' (19+38 channels) do not fit "
                              f"output {card.pafs.output!r} with 40 channels (layout NHWC)")
    heat, _ = output_maps(card, {card.heatmaps.output: np.zeros((1, 23, 27, 57), np.float32)})
    with pytest.raises(ModelError) as exc:
        check_stride(card, (432, 368), heat)
    assert str(exc.value) == (f"{card.card_path}: field 'stride' is 8 but a 432x368 input gave a 27x23 output grid")
