"""Engine choice as a pure function: settings + what is installed + the card -> engine, precision,
card and providers (livepose.inference.select.choose_engine), with constructed ``Installed``
values (no ONNX Runtime faked, no engine loaded); and the two map helpers engines' outputs go
through (output_maps, check_stride)."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import numpy as np
import pytest

from helpers import card_copy_in, card_dict, mobilenet_card, write_card
from livepose.card import bundled_models_dir, load_card
from livepose.errors import ModelError
from livepose.inference import (CPU, CUDA, GPU_INSTALL, OPENVINO_MISSING, TENSORRT, BackendError, EngineChoice,
                                Installed, check_stride, choose_engine, output_maps, precision_card, resolve_precision)
from livepose.settings import ModelSettings

BUNDLED = bundled_models_dir() / "mobilenet_thin.json"
BUNDLED_INT8 = bundled_models_dir() / "mobilenet_thin.int8.json"
LWOP = bundled_models_dir() / "lwop.json"
LWOP_IR = bundled_models_dir() / "lwop.int8.json"


@pytest.fixture(scope="module")
def card():
    """mobilenet_thin: its int8 sibling is a QDQ ONNX file both engines run (lwop's is an IR, below)."""
    return mobilenet_card()

CPU_ONLY = Installed(providers=(CPU,), openvino=False, openvino_cpu=())
CPU_OPENVINO = Installed(providers=(CPU,), openvino=True, openvino_cpu=("FP32", "INT8"))
CPU_OPENVINO_BF16 = Installed(providers=(CPU,), openvino=True, openvino_cpu=("BF16", "FP32", "INT8"))
GPU_OPENVINO = Installed(providers=(TENSORRT, CUDA, CPU), openvino=True, openvino_cpu=("FP32",))


def _choose(installed: Installed, card, **settings) -> EngineChoice:
    return choose_engine(ModelSettings(**settings), installed, card)


def _card_in(folder: Path, *, fp16_sibling: bool = False) -> Path:
    """A copy of the bundled card in ``folder`` (the model by absolute path), with an fp16 sibling
    card beside it when asked (its model file need not exist: choosing reads only cards)."""
    path = card_copy_in(folder, "net.json")
    if fp16_sibling:
        write_card(folder, dict(card_dict(), precision="fp16", model=str(folder / "net.fp16.onnx")), "net.fp16.json")
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
    assert "pip install openvino" in str(exc.value)


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


def test_lwop_runs_its_onnx_model_on_either_engine_and_its_int8_ir_on_openvino_only():
    lwop = load_card(LWOP)
    for installed, backend in ((CPU_ONLY, "onnxruntime"), (GPU_OPENVINO, "onnxruntime")):
        choice = _choose(installed, lwop)  # auto on ONNX Runtime: fp32, the ONNX file
        assert (choice.backend, choice.precision, choice.card.card_path) == (backend, "fp32", LWOP)
    choice = _choose(CPU_OPENVINO, lwop)  # auto on OpenVINO without BF16: the card's auto_precision, the IR
    assert (choice.backend, choice.precision, choice.card.card_path) == ("openvino", "int8", LWOP_IR)
    choice = _choose(CPU_OPENVINO, lwop, precision="fp32")
    assert (choice.backend, choice.precision, choice.card.card_path) == ("openvino", "fp32", LWOP)
    for installed in (CPU_OPENVINO, GPU_OPENVINO):  # int8 is the IR: auto takes OpenVINO even beside CUDA
        choice = _choose(installed, lwop, precision="int8")
        assert (choice.backend, choice.precision, choice.card.card_path) == ("openvino", "int8", LWOP_IR)
    ir = load_card(LWOP_IR)
    assert _choose(GPU_OPENVINO, ir).backend == "openvino"  # the IR's card given directly
    with pytest.raises(BackendError) as exc:
        _choose(CPU_OPENVINO, lwop, backend="onnxruntime", precision="int8")
    assert str(exc.value) == (f"{LWOP_IR}: its model lwop.int8.xml is an OpenVINO IR, which ONNX Runtime cannot run; "
                              "use --backend openvino")
    with pytest.raises(BackendError) as exc:
        _choose(CPU_ONLY, lwop, precision="int8")
    assert str(exc.value) == OPENVINO_MISSING  # auto means OpenVINO for an IR, and it is not installed


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


def test_a_variant_card_must_say_its_precision(tmp_path):
    card = _card_in(tmp_path)
    write_card(tmp_path, card_dict(), "net.int8.json")  # an fp32 card where the int8 one should be
    with pytest.raises(ModelError, match="field 'precision' is 'fp32', expected 'int8'"):
        precision_card(load_card(card), "int8")


@pytest.mark.skipif(not BUNDLED_INT8.is_file(), reason="models/mobilenet_thin.int8.json not in this checkout")
def test_auto_picks_int8_only_when_verified(card, tmp_path, monkeypatch):
    import livepose.inference.select as select

    for backend in ("onnxruntime", "openvino"):
        monkeypatch.setattr(select, "AUTO_PRECISIONS_VERIFIED", ())
        assert resolve_precision(backend, "auto", card) == "fp32"
        monkeypatch.setattr(select, "AUTO_PRECISIONS_VERIFIED", ("int8",))
        assert resolve_precision(backend, "auto", card) == "int8"  # the bundled card has an int8 sibling
        # a card without an int8 sibling stays fp32
        assert resolve_precision(backend, "auto", load_card(_card_in(tmp_path))) == "fp32"
    # an int8 card given directly is int8 under auto; asked for fp32 it wants the fp32 card
    int8_card = load_card(BUNDLED_INT8)
    assert resolve_precision("onnxruntime", "auto", int8_card) == "int8"
    with pytest.raises(BackendError, match="precision fp32 needs"):
        _choose(CPU_ONLY, int8_card, backend="onnxruntime", precision="fp32")


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
    hm, pf = card.heatmaps, card.pafs
    assert hm.output == pf.output and hm.layout == pf.layout == "NHWC"  # one output: heatmaps, background, PAFs
    raw = np.random.default_rng(0).random((2, 46, 54, pf.offset + pf.count), dtype=np.float32)
    outputs = {card.heatmaps.output: raw}
    heat, pafs = output_maps(card, outputs, index=1)
    assert heat.shape == (46, 54, card.num_parts) and pafs.shape == (46, 54, 2 * card.num_limbs)
    assert np.shares_memory(heat, raw) and np.array_equal(heat, raw[1, :, :, hm.offset:hm.offset + card.num_parts])
    assert np.array_equal(pafs, raw[1, :, :, pf.offset:pf.offset + pf.count])
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
