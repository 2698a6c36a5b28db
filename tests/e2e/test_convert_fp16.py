"""The fp16 model made by tools/convert_fp16.py end to end: a model and its card, loaded and run on
ONNX Runtime's CPU provider (float32 at the edges), finding the same people through the CLI.
(``--precision fp16`` errors: e2e/test_cli_engines.py; the choice: unit/test_engine_choice.py.)"""

from __future__ import annotations

import importlib.util
import json
import shutil

import cv2
import numpy as np
import pytest

from helpers import PHOTO, REPO, load_tool, mobilenet_card, run_cli
from livepose.card import load_card
from livepose.inference import file_sha256, make_network
from livepose.preprocess import Preprocessor

pytestmark = pytest.mark.skipif(importlib.util.find_spec("onnx") is None,
                                reason="tools/convert_fp16.py needs onnx (pip install -e .[dev])")


@pytest.fixture(scope="module")
def card():
    """mobilenet_thin: the network these tools convert by default (lwop ships its own int8 IR)."""
    return mobilenet_card()


@pytest.fixture(scope="module")
def fp16_models(tmp_path_factory):
    """The bundled card and model copied to a tmp folder, with the tool's fp16 sibling beside them."""
    folder = tmp_path_factory.mktemp("models")
    for name in ("mobilenet_thin.json", "mobilenet_thin.onnx"):
        shutil.copy(REPO / "models" / name, folder / name)
    assert load_tool("convert_fp16").main(["--card", str(folder / "mobilenet_thin.json")]) == 0
    return folder


def test_convert_fp16_writes_a_model_and_its_card(fp16_models, card):
    data = json.loads((fp16_models / "mobilenet_thin.fp16.json").read_text())
    assert data["model"] == "mobilenet_thin.fp16.onnx" and data["precision"] == "fp16"
    assert data["sha256"] == file_sha256(fp16_models / "mobilenet_thin.fp16.onnx")
    assert data["converted_from"]["sha256"] == card.sha256
    card16 = load_card(fp16_models / "mobilenet_thin.fp16.json")
    assert card16.precision == "fp16" and card16.parts == card.parts
    size = (fp16_models / "mobilenet_thin.fp16.onnx").stat().st_size
    assert size < 0.6 * (fp16_models / "mobilenet_thin.onnx").stat().st_size  # half-size weights


def test_fp16_model_runs_on_onnxruntime_cpu(fp16_models, card):
    fp32 = make_network(card, backend="onnxruntime", threads=2)
    fp16_card = load_card(fp16_models / "mobilenet_thin.json")
    net = make_network(fp16_card, backend="onnxruntime", precision="fp16", threads=2)
    assert net.card.precision == "fp16" and net.card.model_path.name == "mobilenet_thin.fp16.onnx"
    assert net.describe() == "onnxruntime CPU fp16"
    for arg in net.session.get_inputs() + net.session.get_outputs():
        assert arg.type == "tensor(float)"  # float32 at the edges: the pipeline is unchanged
    tensor, box = Preprocessor(card.input, None)(cv2.imread(str(PHOTO)))
    a, b = fp32.run(tensor, box), net.run(tensor, box)
    assert np.abs(a.heatmaps - b.heatmaps).max() < 0.05 and np.abs(a.pafs - b.pafs).max() < 0.05


def test_fp16_finds_the_same_people(fp16_models, capsys, tmp_path):
    code, out, err = run_cli(capsys, "image", PHOTO, "--out", tmp_path / "a", "--no-image", "--backend",
                             "onnxruntime", "--model", fp16_models / "mobilenet_thin.onnx", "--precision", "fp16",
                             "--threads", "2")
    assert code == 0, err
    code, out32, err = run_cli(capsys, "image", PHOTO, "--out", tmp_path / "b", "--no-image", "--backend",
                               "onnxruntime", "--threads", "2")
    assert code == 0, err
    assert out.split(":")[1].split(",")[0] == out32.split(":")[1].split(",")[0] == " 4 people"
