"""Decoding crowds: the pruning of candidate pairs changes nothing, only the work.

``kernels.connect_limbs`` drops a pair without its line integral when more of its samples
lie where the field is too weak for any sample to pass (``kernels.live_blocks``) than the
pair may fail (``kernels.probe_plan``).  Checked here: the two tables and the weak-field
map against their definitions, and whole crowds (50 constructed skeletons) decoded with
the pruning on every limb, with the Decoder's own choice, without it, and by the numpy
reference: the same people, all of them, with the right keypoints.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from livepose.card import load_card
from livepose.settings import TFPOSE_RULES, DecodeConfig
from livepose.decode import Decoder, Skeleton, kernels, probe_plan
from livepose.decode import reference as ref

from test_decode_stages import assert_person, assert_same_poses, match_person, person_at, synthetic_output

CONFIGS = {"openpose": DecodeConfig(), "tfpose": TFPOSE_RULES}


@pytest.fixture(scope="module")
def skeleton():
    return Skeleton.from_card(load_card())


# ---------------------------------------------------------------- the tables
@pytest.mark.parametrize("ratio", [0.0, 0.5, 0.6, 0.8, 0.95, 0.99])
@pytest.mark.parametrize("extra", [0, 2])
def test_probe_plan_follows_score_pairs_rule(ratio, extra):
    fail_limit, probe_t, probe_count = probe_plan(ratio, extra)
    for n in range(2, 101):
        # score_pair gives a pair up once n - failed <= ratio * n
        f = max(k for k in range(n + 1) if k == 0 or not n - k <= ratio * n)
        assert fail_limit[n] == f, n
        assert probe_count[n] == min(n, f + 1 + extra), n
        ts = probe_t[n, :probe_count[n]]
        samples = [s / (n - 1.0) for s in range(n)]
        assert all(t in samples for t in ts), n  # score_pair's own parameters, bit for bit
        assert len(set(ts.tolist())) == len(ts), n  # never one sample twice
    # the middle sample first (between two people it lies in empty space)
    assert probe_t[25, 0] == 12 / 24.0 and probe_t[10, 0] == 4 / 9.0


def test_probe_plan_openpose_and_tfpose():
    fail_limit, _, probe_count = probe_plan(DecodeConfig().min_pass_ratio, extra=2)
    assert fail_limit[5] == fail_limit[20] == 0 and fail_limit[21] == fail_limit[25] == 1
    assert probe_count[5] == 3 and probe_count[25] == 4
    fail_limit, _, probe_count = probe_plan(TFPOSE_RULES.min_pass_ratio, extra=2)
    assert fail_limit[10] == 3 and probe_count[10] == 6


@pytest.mark.parametrize("cell_px", [2.0, 4.0, 8.0, 16.0])
def test_longest_below_max_gives_max_samples(cell_px):
    rng = np.random.default_rng(3)
    for max_samples in (5, 6, 10, 25, 26, 100):
        top = kernels.longest_below_max(cell_px, max_samples)
        # float32 lengths just above the limit, and well above it, as connect_limbs sees them
        norms = np.concatenate([np.nextafter(np.float32(top), np.float32(np.inf)) + np.arange(50, dtype=np.float32)
                                * np.spacing(np.float32(top)), rng.uniform(top, 4 * top, 2000).astype(np.float32)])
        for norm in norms[norms > top]:
            assert min(max(int(round(math.sqrt(5.0 * float(norm) * cell_px))), 2), max_samples) == max_samples
            assert ref.sample_count(float(norm) * cell_px, 0, 2, max_samples) == max_samples


# ---------------------------------------------------------------- the weak-field map
def sample_value(field, cx, cy, xa, ya, xb, yb, s, n):
    """score_pair's sample s of n on a -> b (float32 ends), as it computes it."""
    xa, ya, xb, yb = (np.float32(v) for v in (xa, ya, xb, yb))
    dx, dy = xb - xa, yb - ya
    norm = math.sqrt(dx * dx + dy * dy)
    ux, uy = dx / norm, dy / norm
    t = s / (n - 1.0)
    px, py = float(xa) + t * float(dx), float(ya) + t * float(dy)
    return ux * kernels._bilinear(field, px, py, cx) + uy * kernels._bilinear(field, px, py, cy)


@pytest.mark.parametrize("threshold", [0.05, 0.15, 0.5])
def test_a_dead_block_fails_every_direction(threshold):
    rng = np.random.default_rng(7)
    h, w = 23, 31
    # vectors of lengths around the threshold, some just below it, in random directions; a few NaN
    length = threshold * rng.choice([0.2, 0.999, 0.99998, 0.999995, 1.0, 1.001, 3.0], size=(h, w, 2))
    angle = rng.uniform(0, 2 * np.pi, size=(h, w, 2))
    field = np.empty((h, w, 4), np.float32)
    field[..., 0], field[..., 1] = length[..., 0] * np.cos(angle[..., 0]), length[..., 0] * np.sin(angle[..., 0])
    field[..., 2], field[..., 3] = length[..., 1] * np.cos(angle[..., 1]), length[..., 1] * np.sin(angle[..., 1])
    field[rng.random((h, w)) < 0.02, 0] = np.nan
    channels = np.array([[0, 1], [2, 3]], np.int32)
    live = np.full((2, h, w), 7, np.uint8)
    kernels.live_blocks(field, channels, threshold, np.array([True, True]), live)
    assert set(np.unique(live)) <= {0, 1}
    dead_seen = 0
    for k, (cx, cy) in enumerate(channels):
        magnitude = np.hypot(field[..., cx].astype(np.float64), field[..., cy].astype(np.float64))
        weak = ~(magnitude >= threshold * (1 - 1e-5))  # NaN counts as weak
        for y in range(h):
            for x in range(w):
                block = weak[y:min(y + 2, h), x:min(x + 2, w)]
                assert live[k, y, x] == (0 if block.all() else 1)
        for _ in range(3000):
            xa, ya, xb, yb = rng.uniform(-2, w + 1), rng.uniform(-2, h + 1), rng.uniform(-2, w + 1), rng.uniform(-2, h + 1)
            n = int(rng.integers(2, 30))
            s = int(rng.integers(0, n))
            t = s / (n - 1.0)
            px = float(np.float32(xa)) + t * float(np.float32(xb) - np.float32(xa))
            py = float(np.float32(ya)) + t * float(np.float32(yb) - np.float32(ya))
            x0 = min(int(min(max(px, 0.0), w - 1.0)), w - 2)
            y0 = min(int(min(max(py, 0.0), h - 1.0)), h - 2)
            if live[k, y0, x0] == 0:
                dead_seen += 1
                v = sample_value(field, cx, cy, xa, ya, xb, yb, s, n)
                assert not v > threshold, (k, xa, ya, xb, yb, s, n, v)
    assert dead_seen > 100  # the check above was exercised


def test_no_map_for_a_threshold_of_zero_or_less(skeleton):
    # a weak field can still pass a threshold <= 0: the pruning must stay off (same people either way)
    out = synthetic_output(crowd(12), *crowd_size(12))
    for threshold in (0.0, -0.05):
        cfg = DecodeConfig(sample_threshold=threshold)
        assert_same_poses(Decoder(skeleton, cfg, prune="always")(out), Decoder(skeleton, cfg, prune="never")(out))


def test_prune_must_be_known(skeleton):
    with pytest.raises(ValueError, match="prune"):
        Decoder(skeleton, prune="sometimes")


# ---------------------------------------------------------------- crowds
COLS, DX, DY = 10, 13, 32


def crowd(n):
    """n skeletons (the stage tests' template) in rows of 10, each its own slightly varied pose."""
    people = []
    for q in range(n):
        r, c = divmod(q, COLS)
        nx, ny = 6 + c * DX, 5 + r * DY
        wiggle = (q % 3) - 1
        people.append(person_at(nx, ny, right_wrist=(nx - 5 + wiggle, ny + 10), left_knee=(nx + 2, ny + 18 + wiggle)))
    return people


def crowd_size(n):
    rows = (n + COLS - 1) // COLS
    return 6 + min(n, COLS) * DX, 5 + rows * DY


@pytest.fixture(scope="module")
def crowd50():
    return crowd(50), synthetic_output(crowd(50), *crowd_size(50))


@pytest.mark.parametrize("cfg", CONFIGS.values(), ids=CONFIGS.keys())
@pytest.mark.parametrize("prune", Decoder.PRUNE)
def test_fifty_people_all_found_right(skeleton, crowd50, cfg, prune):
    people, out = crowd50
    decoder = Decoder(skeleton, cfg, prune=prune)
    poses = decoder(out)
    assert len(poses) == 50
    seen = set()
    for person in people:
        q = match_person(poses, person, skeleton)
        seen.add(q)
        assert_person(poses, q, person, skeleton)
    assert len(seen) == 50
    if prune != "never":
        assert decoder._ws.live_wanted.all()  # every limb had enough pairs for the weak-field map


@pytest.mark.parametrize("cfg", CONFIGS.values(), ids=CONFIGS.keys())
def test_fifty_people_kernels_equal_the_reference(skeleton, crowd50, cfg):
    _, out = crowd50
    want = ref.reference_stages(out, skeleton, cfg)
    for prune in Decoder.PRUNE:
        got = Decoder(skeleton, cfg, prune=prune)(out)
        assert len(got) == len(want.poses) == 50
        np.testing.assert_array_equal(np.isnan(got.xy), np.isnan(want.poses.xy))
        np.testing.assert_allclose(got.xy, want.poses.xy, rtol=0, atol=1e-3, equal_nan=True)
        np.testing.assert_allclose(got.score, want.poses.score, rtol=0, atol=1e-6)


def test_crowds_of_every_size_same_with_and_without_pruning(skeleton):
    for n in (1, 5, 10, 25):
        out = synthetic_output(crowd(n), *crowd_size(n))
        for cfg in CONFIGS.values():
            never = Decoder(skeleton, cfg, prune="never")(out)
            assert len(never) == n
            assert_same_poses(Decoder(skeleton, cfg, prune="always")(out), never)
            assert_same_poses(Decoder(skeleton, cfg)(out), never)
