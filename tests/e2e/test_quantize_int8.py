"""tools/quantize_int8.py end to end: static quantization of the bundled network on the repository's
own photos (tests/data/coco, a few frames only), the model and card it writes (loadable, QDQ int8
operators, the source card's skeleton), ``--precision int8`` finding that sibling card, the channel
equalization leaving the fp32 function unchanged, and bad arguments getting one line.  Accuracy is
not checked here (measured on the dev sets, benchmarks/README.md "CPU backends"); the shipped int8
model against fp32 on every engine: contract/test_engines.py.
"""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from helpers import COCO_DIR, PHOTO, REPO, card_copy_in, card_dict, error_line, load_tool, mobilenet_card
from livepose.card import load_card
from livepose.inference import file_sha256, make_network
from livepose.preprocess import Preprocessor

TOOL = REPO / "tools" / "quantize_int8.py"


@pytest.fixture(scope="module")
def card():
    """mobilenet_thin: the network these tools convert by default (lwop ships its own int8 IR)."""
    return mobilenet_card()


def _tool(*args, timeout=600):
    return subprocess.run([sys.executable, str(TOOL), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)


# -- the tool -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """The tool run on the 4 fixture photos (3 calibration frames), writing into a tmp folder."""
    tmp = tmp_path_factory.mktemp("int8")
    card = card_copy_in(tmp)
    done = _tool("--card", card, "--calibration", COCO_DIR, "--frames", "3", "--quiet")
    assert done.returncode == 0, done.stderr
    return card, tmp / "net.int8.onnx", tmp / "net.int8.json"


def test_tool_writes_a_loadable_model_and_a_valid_card(made, card):
    fp32_card, model, card_path = made
    assert model.is_file() and card_path.is_file()
    int8 = load_card(card_path)
    assert int8.precision == "int8" and int8.model_path.resolve() == model.resolve()
    assert int8.sha256 == file_sha256(model)
    data = json.loads(card_path.read_text())
    q = data["quantization"]
    assert q["calibration_frames"] == 3 and q["format"] == "QDQ"
    assert q["source_sha256"] == load_card(fp32_card).sha256
    assert sum(s["frames"] for s in q["calibration_sources"]) == 3
    # the rest of the card is the source card's
    fp32 = card_dict()
    for key in ("parts", "limbs", "stride", "input", "heatmaps", "pafs"):
        assert data[key] == fp32[key]
    # the quantized graph really holds int8 operators, and runs
    import onnx

    ops = {n.op_type for n in onnx.load(str(model)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    net = make_network(int8, backend="onnxruntime", threads=2)
    assert net.precision == "int8" and net.describe() == "onnxruntime CPU int8"
    assert net.warm_up((432, 368)).heatmaps.shape == (46, 54, card.num_parts)


def test_precision_int8_finds_the_sibling_card(made):
    fp32_card, model, _ = made
    net = make_network(load_card(fp32_card), backend="onnxruntime", precision="int8", threads=2)
    assert net.card.model_path.resolve() == model.resolve() and net.precision == "int8"


def test_equalization_leaves_the_fp32_function_unchanged(tmp_path, card):
    """The channel rescaling is exact in fp32: the equalized model's outputs equal the original's."""
    import onnx
    import onnxruntime as ort

    tool = load_tool("quantize_int8")
    frames, _ = tool.gather_frames([COCO_DIR], 2)
    reader = tool.FrameReader(card.input.name, tool.letterbox_all(card, frames, None))
    model = onnx.load(str(card.model_path))
    assert tool.equalize(model, reader, 1.0) > 100  # tensors rescaled in this network
    onnx.save(model, str(tmp_path / "eq.onnx"))
    tensor = Preprocessor(card.input, (432, 368))(cv2.imread(str(PHOTO)))[0]
    outs = [ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]).run(None, {card.input.name: tensor})[0]
            for p in (card.model_path, tmp_path / "eq.onnx")]
    assert np.abs(outs[0] - outs[1]).max() < 1e-3


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["--calibration", "/nonexistent/frames"], 2, "calibration source not found"),
        (["--frames", "0"], 2, "--frames must be at least 1"),
        (["--only", "no-such-node"], 2, "no node name of mobilenet_thin.onnx matches"),
        (["--card", "/nonexistent/card.json"], 3, "model card not found"),
    ],
)
def test_tool_bad_input_is_one_line(tmp_path, args, code, message):
    if "--calibration" not in args:
        args = ["--calibration", str(COCO_DIR), *args]
    done = _tool(*args, "--output", tmp_path / "x.onnx", "--quiet")
    assert done.returncode == code
    assert message in error_line(done.stderr)
    assert not (tmp_path / "x.onnx").exists()


def test_tool_folder_without_frames_is_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    done = _tool("--calibration", tmp_path / "empty", "--output", tmp_path / "x.onnx", "--quiet")
    assert done.returncode == 2 and "no videos or images in this folder" in error_line(done.stderr)
