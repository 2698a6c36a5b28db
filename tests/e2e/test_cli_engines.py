"""The engine options from the command line (``--backend``, ``--precision``, ``--providers``): the
start line naming the network, and every backend, provider or precision that is unknown, not
installed, did not load or is not supported here getting one line with exit code 3 (a BackendError is
a ModelError).  The messages themselves: unit/test_engine_choice.py and unit/test_providers.py; the
engines: contract/test_engines.py.  OpenVINO tests skip with the reason when it is not installed.
"""

from __future__ import annotations

import shutil

import pytest

from helpers import CLIP, COCO_DIR, PHOTO, REPO, FakeOrt, card_copy_in, error_line, run_cli
from livepose.cli import main
from livepose.inference import (CPU, CUDA, TENSORRT, BackendError, make_network, openvino_available,
                                openvino_cpu_capabilities)

needs_openvino = pytest.mark.skipif(not openvino_available(),
                                    reason="openvino not installed (pip install -e .[openvino])")
INT8_CARD = REPO / "models" / "mobilenet_thin.int8.json"


# -- what runs ------------------------------------------------------------------------------------
def test_onnxruntime_explicit_through_the_cli(tmp_path, capsys):
    code, out, err = run_cli(capsys, "image", PHOTO, "--out", tmp_path, "--backend", "onnxruntime",
                             "--precision", "fp32", "--threads", "2")
    assert code == 0 and "people" in out and err == ""


@needs_openvino
def test_openvino_on_the_cli_says_its_network_line(capsys):
    code, out, err = run_cli(capsys, "run", COCO_DIR / "*.jpg", "--backend", "openvino", "--precision", "fp32",
                             "--threads", "2", "--no-display", "--csv", "/dev/null", "--max-frames", "2")
    assert code == 0
    assert "network: lwop on openvino CPU fp32, input -1x368" in err


@needs_openvino
def test_the_default_on_a_cpu_is_lwop_on_openvino_in_bf16_or_int8(tmp_path, capsys):
    from livepose.inference import openvino_cpu_capabilities

    code, _, err = run_cli(capsys, "run", COCO_DIR / "*.jpg", "--threads", "2", "--no-display", "--csv",
                           tmp_path / "o.csv", "--max-frames", "2")
    assert code == 0
    fast = "bf16" if "BF16" in openvino_cpu_capabilities() else "int8"  # the card's auto_precision
    assert f"network: lwop on openvino CPU {fast}, input -1x368" in err
    code, _, err = run_cli(capsys, "run", COCO_DIR / "*.jpg", "--threads", "2", "--no-display", "--csv",
                           tmp_path / "o.csv", "--max-frames", "1", "--accuracy", "high")
    assert code == 0
    assert "network: lwop on openvino CPU fp32" in err  # the accuracy mode runs the exact model
    code, _, err = run_cli(capsys, "run", COCO_DIR / "*.jpg", "--backend", "onnxruntime", "--precision", "int8",
                           "--no-display", "--csv", tmp_path / "o.csv")
    assert code == 3
    assert error_line(err) == (f"error: {REPO / 'models' / 'lwop.int8.json'}: its model lwop.int8.xml is an OpenVINO "
                               "IR, which ONNX Runtime cannot run; use --backend openvino")


@pytest.mark.skipif(not INT8_CARD.is_file(), reason=f"no int8 model shipped ({INT8_CARD} absent)")
def test_precision_int8_on_the_cli(tmp_path, capsys):
    code, _, err = run_cli(capsys, "run", COCO_DIR / "*.jpg", "--backend", "onnxruntime", "--precision", "int8",
                           "--model", "mobilenet_thin", "--threads", "2", "--no-display", "--csv", tmp_path / "o.csv",
                           "--max-frames", "2")
    assert code == 0
    assert "network: mobilenet_thin_int8 on onnxruntime CPU int8, input -1x368" in err


ALL_GPU = [TENSORRT, CUDA, CPU]


def test_cli_reports_the_fallback_in_its_start_line(monkeypatch, tmp_path, capsys):
    FakeOrt(monkeypatch, ALL_GPU, loaded=[CPU])
    clip_args = ["run", CLIP, "--jsonl", tmp_path / "a.jsonl", "--max-frames", "2", "--threads", "2",
                 "--trt-cache", tmp_path / "trt"]
    named = ["--providers", "CUDAExecutionProvider,CPUExecutionProvider"]
    code, _, err = run_cli(capsys, *clip_args, *named)
    assert code == 3
    assert "error: CUDAExecutionProvider requested but could not be loaded" in error_line(err)
    for extra in (named + ["--allow-fallback"], []):  # allowed, or the automatic order
        code, _, err = run_cli(capsys, *clip_args, *extra)
        assert code == 0, err
        assert "network: lwop on onnxruntime CPU fp32 (fallback: CUDA did not load), input -1x368" in err
        assert "warning: CUDAExecutionProvider could not be loaded" in err
        assert len((tmp_path / "a.jsonl").read_text().splitlines()) == 2


# -- one line, exit 3 -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "argv, message",
    [
        (["--backend", "onnxruntime", "--precision", "bf16"], "ONNX Runtime's CPU provider runs fp32 only"),
        (["--backend", "openvino", "--providers", "CPUExecutionProvider"], "cannot be used with backend 'openvino'"),
        (["--backend", "openvino", "--precision", "fp16"], "precision fp16 is for ONNX Runtime"),
    ],
)
def test_unsupported_combinations_are_one_line_exit_3(tmp_path, capsys, argv, message):
    code, out, err = run_cli(capsys, "image", PHOTO, "--out", tmp_path, *argv)
    assert code == 3
    assert message in error_line(err)


def test_unknown_backend_is_a_usage_error(tmp_path, capsys, card):
    with pytest.raises(SystemExit) as exc:
        main(["image", str(PHOTO), "--out", str(tmp_path), "--backend", "tensorrt"])
    assert exc.value.code == 2
    assert "invalid choice: 'tensorrt'" in capsys.readouterr().err
    with pytest.raises(BackendError, match="unknown backend 'tensorrt'"):
        make_network(card, backend="tensorrt")


def test_openvino_missing_is_one_line_exit_3(tmp_path, capsys, monkeypatch, card):
    import livepose.inference.openvino as ov_engine

    monkeypatch.setattr(ov_engine, "openvino_available", lambda: False)
    code, _, err = run_cli(capsys, "image", PHOTO, "--out", tmp_path, "--backend", "openvino")
    assert code == 3
    assert "backend 'openvino' is not installed: pip install openvino" in error_line(err)
    # auto falls back to ONNX Runtime
    assert make_network(card, threads=2).backend == "onnxruntime"


@pytest.mark.skipif("BF16" in openvino_cpu_capabilities() or not openvino_available(),
                    reason="needs openvino on a CPU without BF16")
def test_bf16_unsupported_by_the_cpu_is_one_line_exit_3(tmp_path, capsys):
    code, _, err = run_cli(capsys, "image", PHOTO, "--out", tmp_path, "--backend", "openvino",
                           "--precision", "bf16")
    assert code == 3
    assert "precision bf16 is not supported by this CPU" in error_line(err)


@pytest.mark.parametrize("provider", [CUDA, TENSORRT])
def test_provider_not_in_this_build_is_one_line_exit_3(tmp_path, capsys, provider):
    code, out, err = run_cli(capsys, "image", PHOTO, "--out", tmp_path, "--providers", f"{provider},{CPU}")
    assert code == 3
    line = error_line(err)
    assert f"{provider} is not in this ONNX Runtime build" in line and "pip install -e .[gpu]" in line


def test_fp16_without_its_model_is_one_line_exit_3(tmp_path, capsys):
    for name in ("mobilenet_thin.json", "mobilenet_thin.onnx"):
        shutil.copy(REPO / "models" / name, tmp_path / name)
    code, _, err = run_cli(capsys, "image", PHOTO, "--out", tmp_path / "o", "--model", tmp_path / "mobilenet_thin.onnx",
                           "--precision", "fp16")
    assert code == 3
    line = error_line(err)
    assert "precision fp16 needs the fp16 model of mobilenet_thin" in line
    assert f"python tools/convert_fp16.py --card {tmp_path / 'mobilenet_thin.json'}" in line


def test_precision_int8_without_an_int8_model_is_one_line_exit_3(tmp_path, capsys):
    card = card_copy_in(tmp_path)
    code, _, err = run_cli(capsys, "image", PHOTO, "--out", tmp_path / "out", "--card", card, "--precision", "int8")
    line = error_line(err)
    assert code == 3
    assert f"precision int8 needs the int8 model of mobilenet_thin: {tmp_path / 'net.int8.json'} not found" in line
    assert f"python tools/quantize_int8.py --card {card}" in line
