"""ONNX Runtime's execution providers, as far as they can be checked without a GPU.

* provider choice and the check that what ONNX Runtime loaded is what was asked for, with a fake
  session whose providers we set (helpers.FakeOrt; CUDA and TensorRT are never really loaded here);
* TensorRT options (cache folder, fp16, optimisation profile) as passed to ONNX Runtime.

The GPU path's other checks run on the CPU provider: I/O binding and batches in
contract/test_engines.py and e2e/test_batching.py, the fp16 model in e2e/test_convert_fp16.py.
"""

from __future__ import annotations

import pytest

import livepose.inference.providers as provider_policy
from helpers import FakeOrt, mobilenet_card
from livepose.inference import (CPU, CUDA, TENSORRT, BackendError, BoundRunner, Network, check_loaded,
                                choose_providers, default_trt_cache, tensorrt_options)


# -- which providers ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def card():
    """mobilenet_thin, whose input is named 'image:0' (not writable in TensorRT's profile syntax)."""
    return mobilenet_card()

def test_default_order_is_tensorrt_cuda_cpu():
    assert choose_providers(None, [CPU, CUDA, TENSORRT, "AzureExecutionProvider"]) == [TENSORRT, CUDA, CPU]
    assert choose_providers(None, ["AzureExecutionProvider", CPU, CUDA]) == [CUDA, CPU]
    assert choose_providers(None, ["AzureExecutionProvider", CPU]) == [CPU]
    assert choose_providers([CUDA, CPU], [TENSORRT, CUDA, CPU]) == [CUDA, CPU]  # --providers overrides


def test_provider_not_in_this_build_is_named():
    with pytest.raises(BackendError) as exc:
        choose_providers([CUDA, CPU], ["AzureExecutionProvider", CPU])
    message = str(exc.value)
    assert "CUDAExecutionProvider is not in this ONNX Runtime build" in message
    assert "pip uninstall onnxruntime && pip install -e .[gpu]" in message


def test_check_loaded_decisions():
    assert check_loaded([CUDA, CPU], [CUDA, CPU]) == []
    with pytest.raises(BackendError) as exc:
        check_loaded([CUDA, CPU], [CPU])
    message = str(exc.value)
    assert message.startswith("CUDAExecutionProvider requested but could not be loaded (CUDA 12/cuDNN 9 libraries")
    assert "--providers CPUExecutionProvider" in message and "--allow-fallback" in message
    assert "\n" not in message
    assert check_loaded([CUDA, CPU], [CPU], allow_fallback=True) == [CUDA]
    # the automatic order may lose TensorRT (a separate install) without an error ...
    assert check_loaded([TENSORRT, CUDA, CPU], [CUDA, CPU], optional=(TENSORRT,)) == []
    # ... but not CUDA, and not TensorRT when it was asked for by name
    with pytest.raises(BackendError, match="^CUDAExecutionProvider requested"):
        check_loaded([TENSORRT, CUDA, CPU], [CPU], optional=(TENSORRT,))
    with pytest.raises(BackendError, match=r"^TensorrtExecutionProvider requested .*TensorRT 10 libraries"):
        check_loaded([TENSORRT, CUDA, CPU], [CUDA, CPU])
    assert check_loaded([TENSORRT, CUDA, CPU], [CPU], allow_fallback=True) == [TENSORRT, CUDA]


ALL_GPU = [TENSORRT, CUDA, CPU]


def test_auto_takes_cuda_when_tensorrt_does_not_load(card, monkeypatch, tmp_path):
    fake = FakeOrt(monkeypatch, ALL_GPU, loaded=[CUDA, CPU])
    net = Network(card, trt_cache=tmp_path / "trt")
    assert net.providers == [CUDA, CPU] and net.fallback == []
    assert net.describe() == "onnxruntime CUDA, CPU fp32"
    assert net.io_binding and isinstance(net.runner(4), BoundRunner)  # GPU: I/O binding
    asked = fake.calls[-1]["providers"]
    assert asked[0][0] == TENSORRT and asked[1:] == [CUDA, CPU]
    assert fake.calls[-1]["kwargs"] == {"enable_fallback": 0}  # no silent retry on the CPU
    assert asked[0][1]["trt_engine_cache_path"] == str(tmp_path / "trt") and (tmp_path / "trt").is_dir()


def test_cuda_named_that_does_not_load_is_an_error_unless_allowed(card, monkeypatch, tmp_path):
    FakeOrt(monkeypatch, ALL_GPU, loaded=[CPU])
    with pytest.raises(BackendError, match="^CUDAExecutionProvider requested but could not be loaded"):
        Network(card, providers=[CUDA, CPU], trt_cache=tmp_path)
    net = Network(card, providers=[CUDA, CPU], trt_cache=tmp_path, allow_fallback=True)
    assert net.providers == [CPU] and net.fallback == [CUDA]
    assert net.describe() == "onnxruntime CPU fp32 (fallback: CUDA did not load)"
    assert not net.io_binding and net.runner(4) is net


def test_automatic_order_falls_back_with_a_warning(card, monkeypatch, tmp_path):
    FakeOrt(monkeypatch, ALL_GPU, loaded=[CPU])
    net = Network(card, trt_cache=tmp_path)  # no providers named: never fails, says why
    assert net.providers == [CPU] and net.fallback == [CUDA]
    warning = net.fallback_warning()
    assert warning.startswith("CUDAExecutionProvider could not be loaded (") and "running on CPU" in warning
    assert "pip install 'onnxruntime-gpu[cuda,cudnn]'" in warning


def test_gpu_provider_failing_to_start_is_an_error_unless_allowed(card, monkeypatch, tmp_path):
    FakeOrt(monkeypatch, ALL_GPU, loaded=[CUDA, CPU], fail_gpu=True)
    with pytest.raises(BackendError, match="failed to start .*no CUDA-capable device"):
        Network(card, providers=[CUDA, CPU])
    net = Network(card, providers=[CUDA, CPU], allow_fallback=True)
    assert net.providers == [CPU] and "fallback: CUDA did not load" in net.describe()


def test_tensorrt_loaded_gets_its_options(card, monkeypatch, tmp_path):
    fake = FakeOrt(monkeypatch, ALL_GPU, loaded=ALL_GPU)
    net = Network(card, providers=ALL_GPU, precision="fp16", trt_cache=tmp_path / "cache")
    assert net.describe() == f"onnxruntime TensorRT, CUDA, CPU fp16, TensorRT cache {tmp_path / 'cache'}"
    options = fake.calls[-1]["providers"][0][1]
    assert options["trt_fp16_enable"] == "True" and options["trt_engine_cache_enable"] == "True"
    assert options["trt_timing_cache_path"] == str(tmp_path / "cache")
    # 'image:0' cannot be written in TensorRT's profile syntax: TensorRT takes the shapes it sees
    calls = len(fake.calls)
    net.prepare((656, 368), 4)
    assert len(fake.calls) == calls and "trt_profile_min_shapes" not in options


def test_tensorrt_profile_from_the_stream_size_and_batch(card, monkeypatch, tmp_path):
    fake = FakeOrt(monkeypatch, ALL_GPU, loaded=ALL_GPU)
    monkeypatch.setattr(provider_policy, "_profile_name_ok", lambda name: True)
    net = Network(card, trt_cache=tmp_path)
    net.prepare((656, 368), 4)  # a new session with a profile for exactly this size, batches 1..4
    options = fake.calls[-1]["providers"][0][1]
    assert options["trt_profile_min_shapes"] == "image:0:1x3x368x656"
    assert options["trt_profile_opt_shapes"] == "image:0:4x3x368x656"
    assert options["trt_profile_max_shapes"] == "image:0:4x3x368x656"
    calls = len(fake.calls)
    net.prepare((656, 368), 4)  # the same profile: the same session
    assert len(fake.calls) == calls


def test_tensorrt_options_and_cache_folder(tmp_path, monkeypatch):
    opts = tensorrt_options(tmp_path, fp16=False, input_name="input", profile=((1, 3, 368, 496), (8, 3, 368, 496),
                                                                               (8, 3, 368, 496)))
    assert opts == {
        "trt_engine_cache_enable": "True", "trt_engine_cache_path": str(tmp_path),
        "trt_timing_cache_enable": "True", "trt_timing_cache_path": str(tmp_path),
        "trt_fp16_enable": "False",
        "trt_profile_min_shapes": "input:1x3x368x496", "trt_profile_opt_shapes": "input:8x3x368x496",
        "trt_profile_max_shapes": "input:8x3x368x496",
    }
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_trt_cache() == tmp_path / "xdg" / "livepose" / "tensorrt"
