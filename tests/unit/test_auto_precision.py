"""A card's ``auto_precision``: what ``--precision auto`` takes per backend (lwop: its int8 IR on
OpenVINO), its checks, and the accuracy mode's exact (fp32) model."""

from __future__ import annotations

import pytest

from helpers import card_dict, mobilenet_card, write_card
from livepose.card import bundled_models_dir, load_card
from livepose.errors import ModelError
from livepose.inference import CPU, CUDA, Installed, choose_engine
from livepose.settings import AugmentSettings, ModelSettings

LWOP = bundled_models_dir() / "lwop.json"
CPU_OPENVINO = Installed(providers=(CPU,), openvino=True, openvino_cpu=("FP32", "INT8"))
CPU_OPENVINO_BF16 = Installed(providers=(CPU,), openvino=True, openvino_cpu=("BF16", "FP32", "INT8"))
CPU_ONLY = Installed(providers=(CPU,), openvino=False)
GPU_OPENVINO = Installed(providers=(CUDA, CPU), openvino=True, openvino_cpu=("FP32",))


def test_lwop_says_bf16_then_int8_on_openvino_and_auto_takes_the_first_that_runs():
    card = load_card(LWOP)
    assert card.auto_precision == (("openvino", ("bf16", "int8")),)
    assert card.auto_precision_for("openvino") == ("bf16", "int8") and card.auto_precision_for("onnxruntime") == ()
    on_ov = choose_engine(ModelSettings(), CPU_OPENVINO, card)  # no BF16 (an AVX2 CPU): the int8 IR
    assert (on_ov.backend, on_ov.precision, on_ov.card.model_path.name) == ("openvino", "int8", "lwop.int8.xml")
    on_bf16 = choose_engine(ModelSettings(), CPU_OPENVINO_BF16, card)  # BF16: the fp32 model in bf16
    assert (on_bf16.backend, on_bf16.precision, on_bf16.card.card_path) == ("openvino", "bf16", LWOP)
    for installed in (CPU_ONLY, GPU_OPENVINO):  # ONNX Runtime: the card's own model
        choice = choose_engine(ModelSettings(), installed, card)
        assert (choice.backend, choice.precision, choice.card.card_path) == ("onnxruntime", "fp32", LWOP)
    exact = choose_engine(ModelSettings(precision="fp32"), CPU_OPENVINO, card)
    assert (exact.backend, exact.precision, exact.card.card_path) == ("openvino", "fp32", LWOP)


def test_a_card_without_the_field_keeps_its_own_model():
    card = mobilenet_card()
    assert card.auto_precision == ()
    assert choose_engine(ModelSettings(), CPU_OPENVINO, card).card is card


@pytest.mark.parametrize("value, message", [
    ("int8", "field 'auto_precision' must be an object"),
    ({"tensorflow": "int8"}, "field 'auto_precision' names backend 'tensorflow'; use onnxruntime or openvino"),
    ({"openvino": "int4"}, "field 'auto_precision.openvino' must be one of fp32, fp16, bf16, int8 or a list of them, "
                           "got 'int4'"),
    ({"openvino": []}, "field 'auto_precision.openvino' must be one of"),
    ({"openvino": ["bf16", 8]}, "field 'auto_precision.openvino' must be one of"),
])
def test_a_bad_auto_precision_is_one_line_naming_the_field(tmp_path, value, message):
    data = dict(card_dict("lwop.json"), auto_precision=value)
    with pytest.raises(ModelError) as exc:
        load_card(write_card(tmp_path, data))
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_the_accuracy_mode_runs_the_cards_own_model():
    from livepose.build import _exact_precision

    high = AugmentSettings(scales=(0.5, 1.0, 1.5), flip=True)
    assert high.active
    assert _exact_precision(ModelSettings()).precision == "fp32"  # lwop: auto would take the int8 IR
    assert _exact_precision(ModelSettings(model="mobilenet_thin")).precision == "auto"  # nothing to avoid
    assert _exact_precision(ModelSettings(precision="auto", card=str(bundled_models_dir() / "lwop.int8.json")))\
        .precision == "auto"  # an int8 card given on purpose stays


def test_build_estimator_picks_a_fast_precision_normally_and_fp32_in_the_accuracy_mode():
    from livepose.build import build_estimator
    from livepose.inference import openvino_available, openvino_cpu_capabilities

    if not openvino_available():
        pytest.skip("openvino not installed")
    normal = build_estimator(ModelSettings(threads=1), warm_up=False)
    high = build_estimator(ModelSettings(threads=1), warm_up=False, augment=AugmentSettings(scales=(1.0, 1.5)))
    fast = "bf16" if "BF16" in openvino_cpu_capabilities() else "int8"
    assert (normal.network.backend, normal.network.precision) == ("openvino", fast)
    assert (high.network.backend, high.network.precision) == ("openvino", "fp32")
