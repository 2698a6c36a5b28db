"""Every inference engine available here through the same checks (a contract test).

The engines, each made by ``make_network(card, ModelSettings(...))`` from a bundled card: for
mobilenet_thin, ONNX Runtime's CPU provider at fp32 (also with I/O binding) and on the shipped int8
QDQ model, OpenVINO at fp32, bf16 (where the CPU has BF16) and on the int8 model; for lwop (the
default network), ONNX Runtime and OpenVINO at fp32 and OpenVINO on its int8 IR.  One that is not
installed here skips, saying why.  What every engine promises (livepose.inference.base.BaseNetwork):

* the card is checked against the graph on load (a card that contradicts the model is one
  ModelError naming the field) and against real outputs on warm-up (stride, layout); the network's
  card is the bundled skeleton at the engine's precision;
* ``describe()`` names the backend and the precision; ``input_shape`` follows the card's layout;
* ``warm_up(net_size)`` gives maps on the card's grid: (h / stride, w / stride), P heatmaps, 2L PAFs;
* ``run_raw``'s outputs stay valid after the next call (the pipeline decodes frame N on another
  thread while N + 1 runs), and ``runner(ring)``'s for the next ring - 1 calls;
* a batch of two gives each image the maps it gets alone;
* on the fixture photos it gives the maps and the people ONNX Runtime fp32 gives, within the
  tolerances of its precision (TOLERANCES below, with what was measured).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import cv2
import numpy as np
import pytest

from helpers import COCO_PHOTOS, PHOTO, card_dict, write_card
from livepose.card import bundled_models_dir, load_card
from livepose.errors import ModelError
from livepose.inference import (AUTO_PRECISIONS_VERIFIED, CPU, make_network, openvino_available,
                                openvino_cpu_capabilities, output_maps, resolve_backend)
from livepose.preprocess import Preprocessor
from livepose.settings import ModelSettings
from livepose.stages import make_stages
from livepose.types import Frame

NET_SIZE = (432, 368)
SMALL = (224, 160)  # the photos letterboxed small for the checks that run the network many times


@dataclass(frozen=True)
class Engine:
    name: str
    backend: str
    precision: str
    io_binding: bool | None = None
    network: str = "mobilenet_thin"

    def settings(self) -> ModelSettings:
        return ModelSettings(backend=self.backend, precision=self.precision, threads=2, io_binding=self.io_binding)

    def skip_reason(self) -> str | None:
        if self.backend == "openvino" and not openvino_available():
            return "openvino not installed (pip install -e .[openvino])"
        if self.precision == "bf16" and "BF16" not in openvino_cpu_capabilities():
            return "this CPU has no BF16 among OpenVINO's CPU capabilities"
        int8 = bundled_models_dir() / f"{self.network}.int8.json"
        if self.precision == "int8" and not int8.is_file():
            return f"no int8 model shipped ({int8} absent)"
        return None

    def card_name(self) -> str:
        """The card it runs: the int8 sibling, else the network's card (bf16 runs the fp32 model)."""
        return f"{self.network}.int8.json" if self.precision == "int8" else f"{self.network}.json"

    def base_card(self):
        """The network's own (fp32) card, the one the engine is asked to run."""
        return _card(self.network)

    @property
    def tolerance(self) -> dict:
        return TOLERANCES.get(f"{self.network}-{self.precision}", TOLERANCES[self.precision])

    def model_precision(self) -> str:
        return "int8" if self.precision == "int8" else "fp32"


ENGINES = [
    Engine("onnxruntime-fp32", "onnxruntime", "fp32"),
    Engine("onnxruntime-fp32-iobinding", "onnxruntime", "fp32", io_binding=True),
    Engine("onnxruntime-int8", "onnxruntime", "int8"),
    Engine("openvino-fp32", "openvino", "fp32"),
    Engine("openvino-bf16", "openvino", "bf16"),
    Engine("openvino-int8", "openvino", "int8"),
    Engine("lwop-onnxruntime-fp32", "onnxruntime", "fp32", network="lwop"),
    Engine("lwop-openvino-fp32", "openvino", "fp32", network="lwop"),
    Engine("lwop-openvino-int8-ir", "openvino", "int8", network="lwop"),
]
ENGINE_PARAMS = [pytest.param(e, id=e.name) for e in ENGINES]

# Against ONNX Runtime fp32, by precision.  Measured (2-core AVX2 CPU with BF16, onnxruntime 1.32,
# openvino 2026.4; the four fixture photos, each at its own -1x368 letterbox; the maps test runs on
# 196141, the people test on all four):
# * fp32 (OpenVINO; ONNX Runtime with I/O binding): maps within 4e-6 (I/O binding: equal); the same
#   people with the same visible joints, within 1e-4 px.  The bounds (maps 1e-4, joints 0.1 px) are
#   far above that float noise and far below any real difference: a half-pixel shift, a swapped
#   channel or a wrong mean moves joints by pixels.
# * bf16 (8 bits of mantissa in the convolutions): heatmaps 0.0021-0.0027 apart on average, 0.08-0.10
#   at most, PAFs 0.0083-0.0091 and 0.11-0.19; the same number of people on all four photos; 94-100 %
#   of the joints have a joint of the same part within 8 px (about one output cell) in the other
#   result, median distance 0.38-0.48 px.
# * int8 (the shipped QDQ model, static scales): heatmaps 0.0008-0.0021 apart on average, 0.16-0.40
#   at most, PAFs 0.0013-0.0023 and 0.27-0.59; on 196141 one marginal person of fp32 (15 joints,
#   score 0.48) comes out split in two (12 + 3 joints): 5 people instead of 4; 87.5-99 % of the
#   joints within 8 px, median 0.94-1.26 px.  (Over 24 real photos int8 maps differ by at most 0.0055
#   on average and 0.64 at one cell; benchmarks/README.md "CPU backends" has its AP.)
# The reduced-precision bounds are 2-3x the measured figures (the fraction found: 0.9 and 0.8 against
# 0.94 and 0.875): room for other CPUs' kernels (AVX-512, AMX, VNNI), not for a broken model (a wrong
# quantization scale moves maps by 0.05-0.1 on average).
# Batches: every engine gave a batch of two exactly the maps of each image alone; the bound is 1e-4.
TOLERANCES = {
    "fp32": dict(map_mean=1e-4, map_max=1e-4, paf_mean=1e-4, paf_max=1e-4,
                 extra_people=0, within_px=0.1, found=1.0, median_px=0.01),
    "bf16": dict(map_mean=0.008, map_max=0.3, paf_mean=0.025, paf_max=0.4,
                 extra_people=0, within_px=8.0, found=0.9, median_px=1.0),
    "int8": dict(map_mean=0.006, map_max=0.8, paf_mean=0.007, paf_max=1.0,
                 extra_people=1, within_px=8.0, found=0.8, median_px=2.5),
}
BATCH_ATOL = 1e-4


_CARDS: dict = {}
_REFERENCES: dict = {}


def _card(network: str):
    if network not in _CARDS:
        _CARDS[network] = load_card(bundled_models_dir() / f"{network}.json")
    return _CARDS[network]


def _reference(network: str):
    """ONNX Runtime fp32 on ``network``, the engine the others are compared with (made once)."""
    if network not in _REFERENCES:
        _REFERENCES[network] = make_network(_card(network), ModelSettings(backend="onnxruntime", precision="fp32",
                                                                          threads=2))
    return _REFERENCES[network]


def _skip_unless_available(engine: Engine) -> None:
    reason = engine.skip_reason()
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="module", params=ENGINE_PARAMS)
def engine(request):
    """(Engine, its network), made once per engine for the module."""
    spec = request.param
    _skip_unless_available(spec)
    return spec, make_network(spec.base_card(), spec.settings())


@pytest.fixture(scope="module")
def card():
    """mobilenet_thin's card, for the checks that are not per network."""
    return _card("mobilenet_thin")


@pytest.fixture(scope="module")
def tensors(card) -> list[np.ndarray]:
    """Two fixture photos letterboxed to SMALL (one shape: they can be batched)."""
    pre = Preprocessor(card.input, SMALL)
    return [pre(cv2.imread(str(p)))[0].copy() for p in (PHOTO, COCO_PHOTOS[0])]


def _copy(outputs: dict) -> dict:
    return {name: np.array(value, copy=True) for name, value in outputs.items()}


# -- the card ---------------------------------------------------------------------------------
def test_the_card_is_the_bundled_skeleton_at_the_engines_precision(engine):
    spec, net = engine
    card = spec.base_card()
    assert (net.backend, net.precision) == (spec.backend, spec.precision)
    assert net.card.card_path.name == spec.card_name() and net.card.precision == spec.model_precision()
    assert net.card.parts == card.parts and np.array_equal(net.card.limbs, card.limbs)
    assert np.array_equal(net.card.paf_channels, card.paf_channels)
    assert (net.card.stride, net.card.input, net.card.heatmaps, net.card.pafs) == (
        card.stride, card.input, card.heatmaps, card.pafs)


@pytest.mark.parametrize("change, field", [
    pytest.param(lambda c: c["input"].update(name="input"), "'input.name'", id="input.name"),
    pytest.param(lambda c: c["heatmaps"].update(output="heat"), "'heatmaps.output'", id="heatmaps.output"),
    pytest.param(lambda c: c["pafs"].update(offset=20), "'pafs.offset' and 'pafs.count'", id="pafs.offset"),
])
@pytest.mark.parametrize("spec", ENGINE_PARAMS)
def test_a_card_contradicting_its_model_is_refused_at_load(tmp_path, spec, change, field):
    _skip_unless_available(spec)
    data = card_dict(spec.card_name())
    change(data)
    with pytest.raises(ModelError, match=re.escape(field)):
        make_network(load_card(write_card(tmp_path, data)), spec.settings())


@pytest.mark.parametrize("change, field", [
    pytest.param(lambda c: (c.update(stride=16), c["input"].update(size_multiple=16)), "'stride'", id="stride"),
    pytest.param(lambda c: c["input"].update(layout="NHWC"), "'input.layout'", id="input.layout"),
])
@pytest.mark.parametrize("spec", ENGINE_PARAMS)
def test_a_wrong_stride_or_layout_is_caught_by_the_warm_up(tmp_path, spec, change, field):
    """At the latest by the warm-up (an IR, saved for one shape, shows its layout at load)."""
    _skip_unless_available(spec)
    data = card_dict(spec.card_name())
    change(data)
    with pytest.raises(ModelError, match=re.escape(field)):
        net = make_network(load_card(write_card(tmp_path, data)), spec.settings())
        net.warm_up(NET_SIZE)


# -- what it says and takes --------------------------------------------------------------------
def test_describe_names_the_backend_and_the_precision(engine):
    spec, net = engine
    words = net.describe().split()
    assert words[0] == spec.backend and spec.precision in words, net.describe()


def test_input_shape_follows_the_cards_layout(engine):
    _, net = engine
    assert net.card.input.layout == "NCHW"
    assert net.input_shape(NET_SIZE) == (1, 3, 368, 432)
    assert net.input_shape((160, 96), batch=2) == (2, 3, 96, 160)


# -- outputs ------------------------------------------------------------------------------------
@pytest.mark.parametrize("net_size", [NET_SIZE, (160, 96)], ids=["432x368", "160x96"])
def test_warm_up_gives_maps_on_the_cards_grid(engine, net_size):
    spec, net = engine
    card = spec.base_card()
    out = net.warm_up(net_size)
    grid = (net_size[1] // card.stride, net_size[0] // card.stride)
    assert out.heatmaps.shape == (*grid, card.num_parts)
    assert out.pafs.shape == (*grid, 2 * card.num_limbs)
    assert out.heatmaps.dtype == out.pafs.dtype == np.float32
    assert np.isfinite(out.heatmaps).all() and np.isfinite(out.pafs).all()
    assert out.stride == card.stride and out.letterbox.net_size == net_size


def test_warm_up_runs_once_per_input_size(engine, monkeypatch):
    """A second stream at a size already warmed (the next video of a batch worker) runs nothing: the
    same maps again, as copies of their own; another size runs the engine again."""
    _, net = engine
    calls = []
    run_raw = net.run_raw
    monkeypatch.setattr(net, "run_raw", lambda tensor: calls.append(tensor.shape) or run_raw(tensor))
    size = (208, 144)  # a size no other test warms
    first = net.warm_up(size)
    again = net.warm_up(size)
    assert len(calls) == 1
    assert np.array_equal(first.heatmaps, again.heatmaps) and np.array_equal(first.pafs, again.pafs)
    again.heatmaps[...] = -1.0  # a stream's decoder may write into what it was given
    assert not np.array_equal(net.warm_up(size).heatmaps, again.heatmaps)
    net.warm_up((144, 208))
    assert len(calls) == 2


def test_outputs_stay_valid_after_the_next_call(engine, tensors):
    _, net = engine
    first = net.run_raw(tensors[0])
    kept = _copy(first)
    second = net.run_raw(tensors[1])
    for name in kept:
        assert np.array_equal(first[name], kept[name]), name
        assert not np.array_equal(second[name], kept[name]), "two photos, two outputs"


def test_runner_outputs_survive_the_next_ring_calls(engine, tensors):
    _, net = engine
    ring = 3
    runner = net.runner(ring)
    assert callable(getattr(runner, "run_raw", None))
    inputs = [tensors[k % 2] for k in range(2 * ring)]
    got = []
    for k, tensor in enumerate(inputs):
        out = runner.run_raw(tensor)
        got.append((out, _copy(out)))
        for earlier, kept in got[max(0, k - ring + 1):]:  # this call and the ring - 1 before it
            for name in kept:
                assert np.array_equal(earlier[name], kept[name]), (k, name)
    alone = net.run_raw(tensors[0])
    for name in alone:
        assert np.array_equal(got[-2][1][name], alone[name]), "the runner runs the same network"


def test_a_batch_of_two_gives_each_image_its_own_maps(engine, tensors):
    spec, net = engine
    card = spec.base_card()
    alone = [_copy(net.run_raw(t)) for t in tensors]
    together = net.run_raw(np.concatenate(tensors))
    for i, outputs in enumerate(alone):
        heat, pafs = output_maps(card, outputs)
        heat_b, pafs_b = output_maps(card, together, i)
        np.testing.assert_allclose(heat_b, heat, rtol=0, atol=BATCH_ATOL)
        np.testing.assert_allclose(pafs_b, pafs, rtol=0, atol=BATCH_ATOL)


# -- against ONNX Runtime fp32 -----------------------------------------------------------------
def test_maps_agree_with_onnxruntime_fp32(engine):
    spec, net = engine
    card, reference = spec.base_card(), _reference(spec.network)
    tol = spec.tolerance
    tensor = Preprocessor(card.input, None)(cv2.imread(str(PHOTO)))[0]
    heat0, pafs0 = (np.array(m) for m in output_maps(card, reference.run_raw(tensor)))
    heat, pafs = output_maps(card, net.run_raw(tensor))
    dh, dp = np.abs(heat - heat0), np.abs(pafs - pafs0)
    assert dh.mean() <= tol["map_mean"] and dh.max() <= tol["map_max"], (dh.mean(), dh.max())
    assert dp.mean() <= tol["paf_mean"] and dp.max() <= tol["paf_max"], (dp.mean(), dp.max())


def _nearest_same_part(a, b) -> np.ndarray:
    """For each visible joint of Poses ``a``: the distance to the nearest visible joint of the same
    part in Poses ``b`` (inf when ``b`` has none)."""
    out = []
    for k in range(a.xy.shape[1]):
        pa, pb = a.xy[a.visible[:, k], k], b.xy[b.visible[:, k], k]
        if len(pb) == 0:
            out.extend([np.inf] * len(pa))
        elif len(pa):
            out.extend(np.linalg.norm(pa[:, None] - pb[None], axis=-1).min(axis=1))
    return np.asarray(out, np.float64)


_PEOPLE: dict = {}


def _reference_people(network: str) -> dict:
    if network not in _PEOPLE:
        stages = make_stages(_reference(network))
        _PEOPLE[network] = {p.name: stages.estimate(Frame(0, 0.0, 0.0, cv2.imread(str(p)))).poses
                            for p in COCO_PHOTOS}
    return _PEOPLE[network]


@pytest.mark.parametrize("photo", COCO_PHOTOS, ids=lambda p: p.stem)
def test_people_agree_with_onnxruntime_fp32(engine, photo):
    """The same people in the same places: every joint of either result has a joint of the same
    part in the other within ``within_px`` (a fraction ``found`` of them at least), the median
    distance is at most ``median_px``, and the count differs by at most ``extra_people``."""
    spec, net = engine
    tol = spec.tolerance
    expected = _reference_people(spec.network)[photo.name]
    got = make_stages(net).estimate(Frame(0, 0.0, 0.0, cv2.imread(str(photo)))).poses
    assert len(expected) >= 1 and abs(len(got) - len(expected)) <= tol["extra_people"], (len(got), len(expected))
    d = np.concatenate([_nearest_same_part(expected, got), _nearest_same_part(got, expected)])
    assert (d <= tol["within_px"]).mean() >= tol["found"], np.sort(d)[::-1][:10]
    assert np.median(d) <= tol["median_px"], np.median(d)
    if spec.precision == "fp32":
        assert len(got) == len(expected) and got.visible.sum() == expected.visible.sum()


# -- the automatic choice ----------------------------------------------------------------------
def test_auto_never_fails(card):
    net = make_network(card, ModelSettings(threads=2))
    assert net.backend == resolve_backend("auto")
    assert net.precision in ("fp32", *AUTO_PRECISIONS_VERIFIED)
    assert make_network(card, ModelSettings(providers=(CPU,), threads=2)).backend == "onnxruntime"
