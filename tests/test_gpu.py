"""The GPU path, as far as it can be checked without a GPU.

* provider choice and the check that what ONNX Runtime loaded is what was asked for, with a fake
  session whose providers we set (CUDA and TensorRT are never really loaded here);
* TensorRT options (cache folder, fp16, optimisation profile) as passed to ONNX Runtime;
* I/O binding: the binding code path runs on the CPU provider too, and must give the same maps;
* batched inference in the video pipeline: the same maps (1e-5) and the same poses as one frame
  at a time, on real frames of the bundled clip;
* the fp16 model made by tools/convert_fp16.py: loads and runs on ONNX Runtime's CPU provider.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

import livepose.inference.providers as provider_policy
from livepose.card import load_card
from livepose.cli import main
from livepose.errors import ModelError
from livepose.inference import (CPU, CUDA, TENSORRT, BackendError, BoundRunner, Network, check_loaded,
                                choose_providers, default_trt_cache, make_network, tensorrt_options)
from livepose.preprocess import Preprocessor

REPO = Path(__file__).resolve().parent.parent
CLIP = REPO / "examples" / "one-by-one-clip.mp4"  # 50 frames, 768x432, 10 fps
PHOTO = REPO / "examples" / "000000196141.jpg"


@pytest.fixture(scope="module")
def card():
    return load_card(None, None)


@pytest.fixture(scope="module")
def clip_frames() -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(CLIP))
    frames = []
    while len(frames) < 12:
        ok, image = cap.read()
        assert ok
        frames.append(image)
    return frames


def _error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# -- which providers ------------------------------------------------------------------------
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


@pytest.mark.parametrize("provider", [CUDA, TENSORRT])
def test_provider_not_in_this_build_is_one_line_exit_3(tmp_path, capsys, provider):
    code, out, err = _run(capsys, "image", PHOTO, "--out", tmp_path, "--providers", f"{provider},{CPU}")
    assert code == 3
    line = _error_line(err)
    assert f"{provider} is not in this ONNX Runtime build" in line and "pip install -e .[gpu]" in line


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


class FakeOrt:
    """Stands in for onnxruntime's provider list and InferenceSession: the session is a real CPU
    session of the model, but reports ``loaded`` as its providers, as ONNX Runtime does when a
    GPU provider's libraries fail to load.  Records what each session was asked for."""

    def __init__(self, monkeypatch, available, loaded, fail_gpu: bool = False):
        import onnxruntime as ort

        self.calls: list[list] = []
        real_session = ort.InferenceSession
        fake = self

        class Session(real_session):
            def __init__(self, path, sess_options=None, providers=None, **kwargs):
                fake.calls.append({"providers": list(providers), "kwargs": kwargs})
                names = [p[0] if isinstance(p, tuple) else p for p in providers]
                if fail_gpu and any(n != CPU for n in names):
                    raise RuntimeError("CUDA failure 100: no CUDA-capable device is detected")
                super().__init__(path, sess_options=sess_options, providers=[CPU])
                self._fake_loaded = [p for p in loaded if p in names] if any(n != CPU for n in names) else [CPU]

            def get_providers(self):
                return list(self._fake_loaded)

        monkeypatch.setattr(ort, "get_available_providers", lambda: list(available))
        monkeypatch.setattr(ort, "InferenceSession", Session)


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


def test_cli_reports_the_fallback_in_its_start_line(monkeypatch, tmp_path, capsys):
    FakeOrt(monkeypatch, ALL_GPU, loaded=[CPU])
    clip_args = ["run", CLIP, "--jsonl", tmp_path / "a.jsonl", "--max-frames", "2", "--threads", "2",
                 "--trt-cache", tmp_path / "trt"]
    named = ["--providers", "CUDAExecutionProvider,CPUExecutionProvider"]
    code, _, err = _run(capsys, *clip_args, *named)
    assert code == 3
    assert "error: CUDAExecutionProvider requested but could not be loaded" in _error_line(err)
    for extra in (named + ["--allow-fallback"], []):  # allowed, or the automatic order
        code, _, err = _run(capsys, *clip_args, *extra)
        assert code == 0, err
        assert "network: mobilenet_thin on onnxruntime CPU fp32 (fallback: CUDA did not load), input -1x368" in err
        assert "warning: CUDAExecutionProvider could not be loaded" in err
        assert len((tmp_path / "a.jsonl").read_text().splitlines()) == 2


# -- I/O binding ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ort_net(card):
    return make_network(card, backend="onnxruntime", threads=2)


@pytest.fixture(scope="module")
def bound_net(card):
    return make_network(card, backend="onnxruntime", threads=2, io_binding=True)


def test_io_binding_gives_the_same_outputs_on_cpu(card, ort_net, bound_net, clip_frames):
    pre = Preprocessor(card.input, None)
    runner = bound_net.runner(ring=3)
    assert isinstance(runner, BoundRunner) and ort_net.runner(3) is ort_net
    results = []
    for image in clip_frames[:5]:
        tensor, _ = pre(image)
        expected = ort_net.run_raw(tensor)
        got = runner.run_raw(tensor)
        for name in expected:
            assert got[name].shape == expected[name].shape
            assert np.array_equal(got[name], expected[name])
        results.append((got, {k: v.copy() for k, v in got.items()}))
    # the ring: a call's outputs survive the next ring - 1 calls (the first call at a shape is unbound)
    for got, kept in results[-3:]:
        for name in kept:
            assert np.array_equal(got[name], kept[name])
    assert results[1][0][bound_net.card.heatmaps.output] is results[4][0][bound_net.card.heatmaps.output]


# -- batches in the pipeline ---------------------------------------------------------------
def test_batched_network_maps_equal_one_at_a_time(card, ort_net, clip_frames):
    pre = Preprocessor(card.input, None)
    prepared = [pre(image) for image in clip_frames[:4]]
    batch = np.concatenate([t for t, _ in prepared])
    together = ort_net.run_raw(batch)
    for i, (tensor, box) in enumerate(prepared):
        alone = ort_net.outputs_to_maps(ort_net.run_raw(tensor), box)
        mine = ort_net.outputs_to_maps(together, box, i)
        np.testing.assert_allclose(mine.heatmaps, alone.heatmaps, atol=1e-5, rtol=0)
        np.testing.assert_allclose(mine.pafs, alone.pafs, atol=1e-5, rtol=0)


def _stream_results(estimator, source, **kw):
    from livepose.pipeline import PoseStream

    with PoseStream(source, estimator, **kw) as stream:
        return [(r.frame.index, r.poses) for r in stream], stream


@pytest.fixture(scope="module")
def ort_estimator():
    from livepose import PoseEstimator

    return PoseEstimator(backend="onnxruntime", threads=2, warm_up=False)


@pytest.fixture(scope="module")
def unbatched(ort_estimator):
    from livepose.capture import open_source

    results, _ = _stream_results(ort_estimator, open_source(str(CLIP)), max_frames=11)
    return results


def _same_poses(a, b):
    assert [i for i, _ in a] == [i for i, _ in b]
    for (_, pa), (_, pb) in zip(a, b):
        assert np.array_equal(pa.xy, pb.xy, equal_nan=True)
        assert np.array_equal(pa.conf, pb.conf) and np.array_equal(pa.score, pb.score)


@pytest.mark.parametrize("batch", [4, 11, 16])  # 4, 4, 3 / one full batch / one partial batch
def test_batched_stream_gives_the_same_poses(ort_estimator, unbatched, batch):
    from livepose.capture import open_source

    assert [i for i, _ in unbatched] == list(range(11)) and sum(len(p) for _, p in unbatched) >= 9
    results, stream = _stream_results(ort_estimator, open_source(str(CLIP)), max_frames=11, batch=batch)
    assert stream.batch == batch
    _same_poses(results, unbatched)


@pytest.fixture(scope="module")
def bound_estimator():
    from livepose import PoseEstimator

    return PoseEstimator(backend="onnxruntime", threads=2, io_binding=True, warm_up=False)


@pytest.mark.parametrize("batch", [1, 3])
def test_stream_with_io_binding_gives_the_same_poses(bound_estimator, unbatched, batch):
    """The output ring is large enough: no frame waiting to be decoded is overwritten."""
    from livepose.capture import open_source
    from livepose.inference import BoundRunner

    results, stream = _stream_results(bound_estimator, open_source(str(CLIP)), max_frames=11, batch=batch)
    runner = stream.stages.inference._runner
    assert isinstance(runner, BoundRunner) and runner.ring == stream._net.maxsize + 2
    _same_poses(results, unbatched)


def test_batches_split_where_the_frame_size_changes(ort_estimator, tmp_path, clip_frames):
    """An image folder may change size: a batch holds frames of one size only."""
    from livepose.capture import open_source

    for i, image in enumerate(clip_frames[:5]):
        if i >= 3:
            image = cv2.resize(image, (640, 480))
        cv2.imwrite(str(tmp_path / f"f{i:02d}.png"), image)
    one, _ = _stream_results(ort_estimator, open_source(str(tmp_path)))
    source = open_source(str(tmp_path))
    assert not source.fixed_size  # an image folder: the pipeline checks each frame's size
    four, stream = _stream_results(ort_estimator, source, batch=4)
    calls = []

    class Recording:  # what the network is given by the stream's own capture thread
        def __init__(self, runner):
            self.runner = runner

        def run_raw(self, tensor):
            if tensor.any():  # not the warm-up's blank input
                calls.append(tuple(tensor.shape))
            return self.runner.run_raw(tensor)

    from livepose.pipeline import PoseStream

    again = PoseStream(open_source(str(tmp_path)), ort_estimator, batch=4)
    again.stages.inference._runner = Recording(again.stages.inference._runner)
    with again:
        assert len(list(again)) == 5
    assert [c[0] for c in calls] == [3, 2] and calls[0][2:] != calls[1][2:]  # 3 of one size, 2 of the other
    _same_poses(four, one)


def test_stop_capture_finishes_what_was_read_in_batches(ort_estimator):
    from livepose.capture import open_source
    from livepose.pipeline import PoseStream

    with PoseStream(open_source(str(CLIP)), ort_estimator, batch=4) as stream:
        got = []
        for result in stream:
            got.append(result.frame.index)
            if len(got) == 2:
                stream.stop_capture()
    assert got == list(range(len(got))) and 2 <= len(got) < 50


def test_a_failing_batch_is_raised_once(ort_estimator, monkeypatch):
    from livepose.capture import open_source
    from livepose.pipeline import PoseStream

    net = ort_estimator.network
    real = net.run_raw
    calls = []

    def failing(tensor):
        if not tensor.any():  # the warm-up's blank input
            return real(tensor)
        calls.append(tensor.shape[0])
        raise RuntimeError("device lost")

    monkeypatch.setattr(net, "run_raw", failing)
    stream = PoseStream(open_source(str(CLIP)), ort_estimator, batch=4)
    with pytest.raises(RuntimeError, match="device lost"):
        for _ in stream:
            pass
    stream.close()
    assert calls == [4]  # the first batch failed; nothing ran after it
    assert stream.frames_done == 0


def test_live_sources_stay_at_batch_1(ort_estimator, tmp_path, capsys):
    from livepose.capture import open_source
    from livepose.pipeline import PoseStream

    source = open_source(str(CLIP), realtime=True)
    try:
        assert PoseStream(source, ort_estimator, batch=8).batch == 1
    finally:
        source.close()
    code, _, err = _run(capsys, "run", CLIP, "--realtime", "--batch", "8", "--jsonl", tmp_path / "a.jsonl",
                        "--max-frames", "2", "--threads", "2", "--backend", "onnxruntime")
    assert code == 0, err
    assert "warning: --batch 8 ignored: a live source runs one frame at a time" in err


def test_cli_batch_writes_the_same_outputs(tmp_path, capsys):
    outs = {}
    for batch in ("1", "5"):
        code, _, err = _run(capsys, "run", CLIP, "--jsonl", tmp_path / f"b{batch}.jsonl", "--coco",
                            tmp_path / f"b{batch}.json", "--max-frames", "12", "--threads", "2", "--backend",
                            "onnxruntime", "--batch", batch)
        assert code == 0, err
        outs[batch] = (tmp_path / f"b{batch}.jsonl").read_text(), (tmp_path / f"b{batch}.json").read_text()
        assert ("batch 5" in err) == (batch == "5")
    assert len(outs["1"][0].splitlines()) == 12
    assert outs["5"] == outs["1"]


# -- fp16 -----------------------------------------------------------------------------------
needs_onnx = pytest.mark.skipif(importlib.util.find_spec("onnx") is None,
                                reason="tools/convert_fp16.py needs onnx (pip install -e .[dev])")


@pytest.fixture(scope="module")
def fp16_models(tmp_path_factory):
    if importlib.util.find_spec("onnx") is None:
        pytest.skip("tools/convert_fp16.py needs onnx (pip install -e .[dev])")
    folder = tmp_path_factory.mktemp("models")
    for name in ("mobilenet_thin.json", "mobilenet_thin.onnx"):
        shutil.copy(REPO / "models" / name, folder / name)
    sys.path.insert(0, str(REPO / "tools"))
    try:
        import convert_fp16
    finally:
        sys.path.pop(0)
    assert convert_fp16.main(["--card", str(folder / "mobilenet_thin.json")]) == 0
    return folder


@needs_onnx
def test_convert_fp16_writes_a_model_and_its_card(fp16_models):
    from livepose.inference import file_sha256

    data = json.loads((fp16_models / "mobilenet_thin.fp16.json").read_text())
    assert data["model"] == "mobilenet_thin.fp16.onnx" and data["precision"] == "fp16"
    assert data["sha256"] == file_sha256(fp16_models / "mobilenet_thin.fp16.onnx")
    assert data["converted_from"]["sha256"] == json.loads((REPO / "models" / "mobilenet_thin.json").read_text())["sha256"]
    card16 = load_card(fp16_models / "mobilenet_thin.fp16.json")
    assert card16.precision == "fp16" and card16.parts == load_card().parts
    size = (fp16_models / "mobilenet_thin.fp16.onnx").stat().st_size
    assert size < 0.6 * (fp16_models / "mobilenet_thin.onnx").stat().st_size  # half-size weights


@needs_onnx
def test_fp16_model_runs_on_onnxruntime_cpu(fp16_models, ort_net):
    card = load_card(fp16_models / "mobilenet_thin.json")
    net = make_network(card, backend="onnxruntime", precision="fp16", threads=2)
    assert net.card.precision == "fp16" and net.card.model_path.name == "mobilenet_thin.fp16.onnx"
    assert net.describe() == "onnxruntime CPU fp16"
    for arg in net.session.get_inputs() + net.session.get_outputs():
        assert arg.type == "tensor(float)"  # float32 at the edges: the pipeline is unchanged
    tensor, box = Preprocessor(card.input, None)(cv2.imread(str(PHOTO)))
    a, b = ort_net.run(tensor, box), net.run(tensor, box)
    assert np.abs(a.heatmaps - b.heatmaps).max() < 0.05 and np.abs(a.pafs - b.pafs).max() < 0.05


@needs_onnx
def test_fp16_finds_the_same_people(fp16_models, capsys, tmp_path):
    code, out, err = _run(capsys, "image", PHOTO, "--out", tmp_path / "a", "--no-image", "--backend", "onnxruntime",
                          "--model", fp16_models / "mobilenet_thin.onnx", "--precision", "fp16", "--threads", "2")
    assert code == 0, err
    code, out32, err = _run(capsys, "image", PHOTO, "--out", tmp_path / "b", "--no-image", "--backend", "onnxruntime",
                            "--threads", "2")
    assert code == 0, err
    assert out.split(":")[1].split(",")[0] == out32.split(":")[1].split(",")[0] == " 4 people"


def test_fp16_without_its_model_is_one_line_exit_3(tmp_path, capsys):
    for name in ("mobilenet_thin.json", "mobilenet_thin.onnx"):
        shutil.copy(REPO / "models" / name, tmp_path / name)
    code, _, err = _run(capsys, "image", PHOTO, "--out", tmp_path / "o", "--model", tmp_path / "mobilenet_thin.onnx",
                        "--precision", "fp16")
    assert code == 3
    line = _error_line(err)
    assert "precision fp16 needs the fp16 model of mobilenet_thin" in line
    assert f"python tools/convert_fp16.py --card {tmp_path / 'mobilenet_thin.json'}" in line


def test_fp16_is_not_for_openvino(tmp_path, capsys):
    code, _, err = _run(capsys, "image", PHOTO, "--out", tmp_path, "--backend", "openvino", "--precision", "fp16")
    assert code == 3 and "precision fp16 is for ONNX Runtime" in _error_line(err)


def test_card_precision_field_is_checked(tmp_path):
    data = json.loads((REPO / "models" / "mobilenet_thin.json").read_text())
    data["precision"] = "fp8"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ModelError, match="field 'precision' must be one of fp32, fp16, bf16, int8"):
        load_card(path)


def test_output_ring_survives_a_slow_decoder():
    """Decoding slower than inference fills the queue between them: every frame's maps, as the
    decoder sees them, must still be that frame's (the ring is never lapped)."""
    import time

    from livepose import PoseEstimator
    from livepose.capture import open_source
    from livepose.pipeline import PoseStream

    def maps_seen(estimator, delay):
        stream = PoseStream(open_source(str(CLIP)), estimator, max_frames=10)
        decode, seen = stream.stages.decode.decoder, []

        def slow(out):
            time.sleep(delay)
            seen.append((out.heatmaps.copy(), out.pafs.copy()))
            return decode(out)

        stream.stages.decode.decoder = slow
        with stream:
            assert [r.frame.index for r in stream] == list(range(10))
        return seen[1:]  # the first decoded maps are the warm-up's blank input

    small = dict(backend="onnxruntime", threads=2, size=(-1, 184), warm_up=False)  # fast inference
    expected = maps_seen(PoseEstimator(**small), 0.0)
    got = maps_seen(PoseEstimator(**small, io_binding=True), 0.15)
    assert len(got) == len(expected) == 10
    for (h1, p1), (h2, p2) in zip(got, expected):
        assert np.array_equal(h1, h2) and np.array_equal(p1, p2)
    assert not all(np.array_equal(got[0][0], h) for h, _ in got[1:])  # the frames differ
