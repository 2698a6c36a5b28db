"""Inference backends: ONNX Runtime (always) and OpenVINO (optional extra) under one interface.

Errors for a backend or precision that is unknown, not installed or not supported by the CPU are
one line through the CLI with exit code 3 (a BackendError is a ModelError).  The OpenVINO tests
skip with the reason when ``openvino`` is not installed.
"""

from __future__ import annotations

import re

import cv2
import numpy as np
import pytest

from conftest import COCO_DIR
from livepose.card import load_card
from livepose.cli import main
from livepose.errors import ModelError
from livepose.inference import (BackendError, Network, make_network, openvino_available,
                                openvino_cpu_capabilities, resolve_backend)
from livepose.preprocess import Preprocessor
from test_card import _card_dict, _write

PHOTOS = sorted(COCO_DIR.glob("*.jpg"))
VIDEO_PHOTO = COCO_DIR / "000000196141.jpg"

needs_openvino = pytest.mark.skipif(not openvino_available(),
                                    reason="openvino not installed (pip install -e .[openvino])")
needs_bf16 = pytest.mark.skipif(not openvino_available() or "BF16" not in openvino_cpu_capabilities(),
                                reason="needs openvino installed on a CPU whose OpenVINO capabilities list BF16")


@pytest.fixture(scope="module")
def card():
    return load_card(None, None)


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


def test_onnxruntime_explicit(card):
    net = make_network(card, backend="onnxruntime", precision="fp32", threads=2)
    assert isinstance(net, Network) and net.precision == "fp32"
    assert net.describe().startswith("onnxruntime ")
    out = net.warm_up((432, 368))
    assert out.heatmaps.shape == (46, 54, card.num_parts)


def test_onnxruntime_explicit_through_the_cli(tmp_path, capsys):
    code, out, err = _run(capsys, "image", VIDEO_PHOTO, "--out", tmp_path, "--backend", "onnxruntime",
                          "--precision", "fp32", "--threads", "2")
    assert code == 0 and "people" in out and err == ""


def test_auto_never_fails(card):
    net = make_network(card, threads=2)
    assert net.backend == resolve_backend("auto")
    assert net.precision in ("fp32", "bf16", "int8")
    assert make_network(card, providers=["CPUExecutionProvider"], threads=2).backend == "onnxruntime"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--backend", "onnxruntime", "--precision", "bf16"], "ONNX Runtime's CPU provider runs fp32 only"),
        (["--backend", "openvino", "--providers", "CPUExecutionProvider"], "cannot be used with backend 'openvino'"),
    ],
)
def test_unsupported_combinations_are_one_line_exit_3(tmp_path, capsys, argv, message):
    code, out, err = _run(capsys, "image", VIDEO_PHOTO, "--out", tmp_path, *argv)
    assert code == 3
    assert message in _error_line(err)


def test_unknown_backend_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["image", str(VIDEO_PHOTO), "--out", str(tmp_path), "--backend", "tensorrt"])
    assert exc.value.code == 2
    assert "invalid choice: 'tensorrt'" in capsys.readouterr().err
    with pytest.raises(BackendError, match="unknown backend 'tensorrt'"):
        make_network(load_card(None, None), backend="tensorrt")


def test_openvino_missing_is_one_line_exit_3(tmp_path, capsys, monkeypatch):
    import livepose.inference.openvino as ov_engine

    monkeypatch.setattr(ov_engine, "openvino_available", lambda: False)
    code, _, err = _run(capsys, "image", VIDEO_PHOTO, "--out", tmp_path, "--backend", "openvino")
    assert code == 3
    assert "backend 'openvino' is not installed: pip install -e .[openvino]" in _error_line(err)
    # auto falls back to ONNX Runtime
    assert make_network(load_card(None, None), threads=2).backend == "onnxruntime"


@pytest.mark.skipif("BF16" in openvino_cpu_capabilities() or not openvino_available(),
                    reason="needs openvino on a CPU without BF16")
def test_bf16_unsupported_by_the_cpu_is_one_line_exit_3(tmp_path, capsys):
    code, _, err = _run(capsys, "image", VIDEO_PHOTO, "--out", tmp_path, "--backend", "openvino",
                        "--precision", "bf16")
    assert code == 3
    assert "precision bf16 is not supported by this CPU" in _error_line(err)


# -- OpenVINO --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ov_nets(card):
    if not openvino_available():
        pytest.skip("openvino not installed (pip install -e .[openvino])")
    return make_network(card, backend="onnxruntime", threads=2), make_network(card, backend="openvino",
                                                                              precision="fp32", threads=2)


@needs_openvino
def test_openvino_fp32_outputs_equal_onnxruntime(card, ov_nets):
    ort_net, ov_net = ov_nets
    assert ov_net.providers == ["OpenVINO CPU fp32"] and ov_net.describe() == "openvino CPU fp32"
    tensor, _ = Preprocessor(card.input, None)(cv2.imread(str(VIDEO_PHOTO)))
    a, b = ort_net.run_raw(tensor), ov_net.run_raw(tensor)
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].shape == b[name].shape
        assert np.abs(a[name] - b[name]).max() < 1e-3


@needs_openvino
def test_openvino_outputs_survive_the_next_inference(card, ov_nets):
    """The pipeline decodes frame N while inferring N+1: outputs must not be overwritten."""
    _, ov_net = ov_nets
    pre = Preprocessor(card.input, (432, 368))
    first = ov_net.run_raw(pre(cv2.imread(str(PHOTOS[0])))[0])
    kept = {k: v.copy() for k, v in first.items()}
    ov_net.run_raw(pre(cv2.imread(str(PHOTOS[1])))[0])
    for k in kept:
        assert np.array_equal(first[k], kept[k])


@needs_openvino
@pytest.mark.parametrize("photo", PHOTOS, ids=lambda p: p.stem)
def test_openvino_poses_agree_with_onnxruntime(photo):
    from livepose import PoseEstimator

    image = cv2.imread(str(photo))
    a, _ = PoseEstimator(backend="onnxruntime", threads=2, warm_up=False)(image)
    b, _ = PoseEstimator(backend="openvino", precision="fp32", threads=2, warm_up=False)(image)
    assert len(a) == len(b)
    both = ~np.isnan(a.xy) & ~np.isnan(b.xy)
    assert np.array_equal(np.isnan(a.xy), np.isnan(b.xy))
    assert np.abs(a.xy[both] - b.xy[both]).max(initial=0) <= 1.0


@needs_openvino
@pytest.mark.parametrize(
    "change, field",
    [
        (lambda c: c["input"].update(name="input"), "'input.name'"),
        (lambda c: c["heatmaps"].update(output="heat"), "'heatmaps.output'"),
        (lambda c: c["pafs"].update(offset=20), "'pafs.offset' and 'pafs.count'"),
    ],
)
def test_openvino_checks_the_card_like_onnxruntime(tmp_path, change, field):
    card = _card_dict()
    change(card)
    with pytest.raises(ModelError, match=re.escape(field)):
        make_network(load_card(_write(tmp_path, card)), backend="openvino")


@needs_openvino
def test_openvino_on_the_cli_says_its_network_line(capsys):
    video = COCO_DIR / "*.jpg"
    code, out, err = _run(capsys, "run", video, "--backend", "openvino", "--precision", "fp32", "--threads", "2",
                          "--no-display", "--csv", "/dev/null", "--max-frames", "2")
    assert code == 0
    assert "network: mobilenet_thin on openvino CPU fp32, input -1x368" in err


@needs_openvino
@needs_bf16
@pytest.mark.parametrize("photo", PHOTOS, ids=lambda p: p.stem)
def test_openvino_bf16_finds_the_same_people(photo):
    from livepose import PoseEstimator

    image = cv2.imread(str(photo))
    a, _ = PoseEstimator(backend="onnxruntime", threads=2, warm_up=False)(image)
    b, _ = PoseEstimator(backend="openvino", precision="bf16", threads=2, warm_up=False)(image)
    assert len(a) == len(b)
