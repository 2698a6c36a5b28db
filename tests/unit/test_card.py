"""Model cards: the bundled one, validation messages that name the field, and other layouts of network."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from helpers import COCO_DIR, card_dict, mobilenet_card, write_card
from livepose.card import bundled_models_dir, load_card, sibling_card_path
from livepose.errors import ModelError
from livepose.images import read_image
from livepose.inference import Network, file_sha256, precision_card

BUNDLED_INT8 = bundled_models_dir() / "mobilenet_thin.int8.json"
LWOP_IR = bundled_models_dir() / "lwop.int8.json"


def test_the_default_card_is_lwop_with_the_same_skeleton():
    card, other = load_card(), mobilenet_card()
    assert card.name == "lwop" and card.card_path.name == "lwop.json"
    assert (card.parts, card.stride) == (other.parts, other.stride)
    np.testing.assert_array_equal(card.limbs, other.limbs)
    np.testing.assert_array_equal(card.paf_channels, other.paf_channels)
    # two channels-first outputs: 19 heatmaps (the last the background), 38 PAF channels
    assert (card.heatmaps.output, card.heatmaps.layout, card.heatmaps.offset, card.heatmaps.count) == \
        ("Mconv7_stage2_L2", "NCHW", 0, 18)
    assert (card.pafs.output, card.pafs.layout, card.pafs.offset, card.pafs.count) == ("Mconv7_stage2_L1", "NCHW", 0, 38)
    assert card.input.pad_value == 128 and card.input.default_size == (-1, 368)
    assert card.flip is not None and file_sha256(card.model_path) == card.sha256


def test_the_lwop_int8_card_is_the_openvino_ir_unchanged():
    data = json.loads(LWOP_IR.read_text())
    card = load_card(LWOP_IR)
    assert card.precision == "int8" and card.model_path.suffix == ".xml"
    assert file_sha256(card.model_path) == card.sha256 == data["source"]["ir_sha256"]
    assert file_sha256(card.model_path.with_suffix(".bin")) == data["weights_sha256"] == data["source"]["bin_sha256"]
    assert precision_card(load_card(), "int8").card_path == LWOP_IR
    assert (card.parts, card.stride) == (load_card().parts, load_card().stride)


def test_mobilenet_card_describes_the_network():
    card = mobilenet_card()
    assert card.name == "mobilenet_thin"
    assert card.num_parts == 18 and card.num_limbs == 19
    assert card.parts[:2] == ("nose", "neck")  # this test is the card's own: its content is the answer
    assert card.stride == 8
    assert card.input.channel_order == "BGR" and card.input.mean == (0.0, 0.0, 0.0)
    assert (card.heatmaps.offset, card.heatmaps.count) == (0, 18)
    assert (card.pafs.offset, card.pafs.count) == (19, 38)
    # every PAF channel used exactly once
    assert sorted(card.paf_channels.ravel().tolist()) == list(range(38))
    assert file_sha256(card.model_path) == card.sha256


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda c: c.pop("parts"), "'parts'"),
        (lambda c: c.update(parts=["nose", "nose"]), "'parts'"),
        (lambda c: c["limbs"][3].update(parts=["neck", "tail"]), "'limbs[3]'"),
        (lambda c: c["limbs"][0].update(paf=[12]), "'limbs[0]'"),
        (lambda c: c["limbs"][1].update(paf=[12, 13]), "'limbs[].paf'"),
        (lambda c: c["pafs"].update(count=40), "'pafs.count'"),
        (lambda c: c["heatmaps"].update(count=17), "'heatmaps.count'"),
        (lambda c: c.update(stride=0), "'stride'"),
        (lambda c: c["input"].update(layout="CHW"), "'input.layout'"),
        (lambda c: c["input"].update(channel_order="GBR"), "'input.channel_order'"),
        (lambda c: c["input"].update(default_size=[-1, -1]), "'input.default_size'"),
        (lambda c: c["input"].update(mean=[1, 2]), "'input.mean'"),
        (lambda c: c["heatmaps"].pop("output"), "'output'"),
    ],
)
def test_bad_card_fields_are_named(tmp_path, change, field):
    card = card_dict()
    change(card)
    with pytest.raises(ModelError, match=re.escape(field)):
        load_card(write_card(tmp_path, card))


def test_unreadable_cards_and_models(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        load_card(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{ not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        load_card(bad)
    card = card_dict()
    card["model"] = str(tmp_path / "missing.onnx")
    with pytest.raises(ModelError, match="model file not found"):
        Network(load_card(write_card(tmp_path, card)))
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07garbage" * 100)
    card["model"] = str(corrupt)
    with pytest.raises(ModelError, match="not a loadable ONNX model"):
        Network(load_card(write_card(tmp_path, card)))
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes((bundled_models_dir() / "mobilenet_thin.onnx").read_bytes()[:200_000])
    card["model"] = str(truncated)
    with pytest.raises(ModelError, match="truncated.onnx"):
        Network(load_card(write_card(tmp_path, card)))


def test_model_without_card_beside_it(tmp_path):
    model = tmp_path / "net.onnx"
    shutil.copy(bundled_models_dir() / "mobilenet_thin.onnx", model)
    with pytest.raises(ModelError, match="no model card beside it"):
        load_card(model_path=model)


# -- precision: the card's field and its converted siblings ------------------------------------------
@pytest.mark.parametrize("value", ["fp8", "int4"])
def test_card_precision_field_is_checked(tmp_path, value):
    card = card_dict()
    card["precision"] = value
    with pytest.raises(ModelError, match="field 'precision' must be one of fp32, fp16, bf16, int8"):
        load_card(write_card(tmp_path, card))
    assert load_card().precision == "fp32"


@pytest.mark.skipif(not BUNDLED_INT8.is_file(), reason=f"no int8 model shipped ({BUNDLED_INT8} absent)")
def test_bundled_int8_card_is_valid():
    card = load_card(BUNDLED_INT8)
    assert card.precision == "int8" and file_sha256(card.model_path) == card.sha256
    assert sibling_card_path(mobilenet_card(), "int8") == BUNDLED_INT8
    assert precision_card(mobilenet_card(), "int8").card_path == BUNDLED_INT8
    assert (card.parts, card.stride) == (mobilenet_card().parts, mobilenet_card().stride)


def _wrapped_model(path: Path) -> None:
    """The bundled network behind another interface: RGB input normalised to [-1, 1] and two
    channels-first outputs (heatmaps with background, PAFs), as other OpenPose ports have."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(bundled_models_dir() / "mobilenet_thin.onnx"))
    g = model.graph
    old_in = g.input[0]
    g.input.remove(old_in)
    g.input.insert(0, helper.make_tensor_value_info("rgb", TensorProto.FLOAT, ["n", 3, "h", "w"]))
    consts = [
        numpy_helper.from_array(np.array(127.5, np.float32), "k127"),
        numpy_helper.from_array(np.array([2, 1, 0], np.int64), "bgr_index"),
        numpy_helper.from_array(np.array([0], np.int64), "c0"),
        numpy_helper.from_array(np.array([19], np.int64), "c19"),
        numpy_helper.from_array(np.array([57], np.int64), "c57"),
        numpy_helper.from_array(np.array([1], np.int64), "axis1"),
    ]
    g.initializer.extend(consts)
    pre = [
        helper.make_node("Mul", ["rgb", "k127"], ["rgb_scaled"]),
        helper.make_node("Add", ["rgb_scaled", "k127"], ["rgb_255"]),
        helper.make_node("Gather", ["rgb_255", "bgr_index"], [old_in.name], axis=1),
    ]
    for i, node in enumerate(pre):
        g.node.insert(i, node)
    old_out = g.output[0].name
    g.node.extend([
        helper.make_node("Transpose", [old_out], ["nchw"], perm=[0, 3, 1, 2]),
        helper.make_node("Slice", ["nchw", "c0", "c19", "axis1"], ["heatmaps"]),
        helper.make_node("Slice", ["nchw", "c19", "c57", "axis1"], ["pafs"]),
    ])
    while len(g.output):
        g.output.pop()
    g.output.extend([
        helper.make_tensor_value_info("heatmaps", TensorProto.FLOAT, ["n", 19, "gh", "gw"]),
        helper.make_tensor_value_info("pafs", TensorProto.FLOAT, ["n", 38, "gh", "gw"]),
    ])
    onnx.save(model, str(path))


def test_other_network_layout_gives_the_same_people(tmp_path):
    from livepose import PoseEstimator

    estimator = PoseEstimator(model="mobilenet_thin", threads=2)
    _wrapped_model(tmp_path / "wrapped.onnx")
    card = card_dict()
    card.update(model="wrapped.onnx", sha256=None)
    card["input"].update(name="rgb", channel_order="RGB", mean=[127.5] * 3, scale=[1 / 127.5] * 3)
    card["heatmaps"] = {"output": "heatmaps", "layout": "NCHW", "offset": 0, "count": 18}
    card["pafs"] = {"output": "pafs", "layout": "NCHW", "offset": 0, "count": 38}
    (tmp_path / "wrapped.json").write_text(json.dumps(card))
    other = PoseEstimator(model=tmp_path / "wrapped.onnx", threads=2)
    image = read_image(COCO_DIR / "000000196141.jpg")
    a, _ = estimator(image)
    b, _ = other(image)
    assert len(a) == len(b) == 4
    np.testing.assert_array_equal(a.visible, b.visible)
    np.testing.assert_allclose(a.xy[a.visible], b.xy[b.visible], atol=0.05)
    np.testing.assert_allclose(a.score, b.score, atol=1e-3)
