"""Batches and I/O binding in the video pipeline, on the CPU provider, over real frames of the
example clip: the same maps and the same poses as one frame at a time (exactly), batches that split
where the frame size changes, a live source kept at batch 1, the output ring never lapped by a slow
decoder, a failing batch raised once, and ``livepose run --batch`` writing the same files.
(Batched maps of every engine, one image against two: contract/test_engines.py.)"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from helpers import CLIP, run_cli
from livepose.inference import BoundRunner, make_network
from livepose.preprocess import Preprocessor


@pytest.fixture(scope="module")
def clip_frames() -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(CLIP))
    frames = []
    while len(frames) < 12:
        ok, image = cap.read()
        assert ok
        frames.append(image)
    return frames


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
    code, _, err = run_cli(capsys, "run", CLIP, "--realtime", "--batch", "8", "--jsonl", tmp_path / "a.jsonl",
                        "--max-frames", "2", "--threads", "2", "--backend", "onnxruntime")
    assert code == 0, err
    assert "warning: --batch 8 ignored: a live source runs one frame at a time" in err


def test_cli_batch_writes_the_same_outputs(tmp_path, capsys):
    outs = {}
    for batch in ("1", "5"):
        code, _, err = run_cli(capsys, "run", CLIP, "--jsonl", tmp_path / f"b{batch}.jsonl", "--coco",
                            tmp_path / f"b{batch}.json", "--max-frames", "12", "--threads", "2", "--backend",
                            "onnxruntime", "--batch", batch)
        assert code == 0, err
        outs[batch] = (tmp_path / f"b{batch}.jsonl").read_text(), (tmp_path / f"b{batch}.json").read_text()
        assert ("batch 5" in err) == (batch == "5")
    assert len(outs["1"][0].splitlines()) == 12
    assert outs["5"] == outs["1"]


# -- the output ring ------------------------------------------------------------------------
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
