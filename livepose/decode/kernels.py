"""Numba kernels of the decoding chain.  Pure functions over preallocated arrays.

Every kernel is ``nopython``, ``nogil`` (so decoding overlaps other threads) and cached on
disk.  Arrays carry counts and -1 sentinels instead of Python objects.  Shapes use the
glossary of livepose.types; grid coordinates are (x, y) in cells of the (possibly
upsampled) output grid, cell centres at integers.

The plain-numpy twin of each stage is in livepose.decode.reference; tests compare them.
connect_limbs' pruning of pairs (live_blocks, probe_plan, _survivors) has no twin: it only
drops pairs that score_pair would reject, so its result is the reference's
(connect_limbs_exhaustive is the kernel without it).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_JIT = dict(nogil=True, cache=True)


# ---------------------------------------------------------------- upsampling
@njit(**_JIT)
def _cubic_weights(t, a, out):
    # Keys' cubic convolution weights for the 4 taps at offsets -1, 0, 1, 2 around t in [0, 1).
    for k in range(4):
        d = abs(t - (k - 1))
        if d < 1.0:
            out[k] = ((a + 2.0) * d - (a + 3.0)) * d * d + 1.0
        elif d < 2.0:
            out[k] = ((a * d - 5.0 * a) * d + 8.0 * a) * d - 4.0 * a
        else:
            out[k] = 0.0


@njit(**_JIT)
def upsample_cubic(src, factor, dst):
    """Bicubic (a = -0.75, as OpenCV) enlargement of (H, W, C) ``src`` into (H*f, W*f, C) ``dst``.

    Destination cell u samples the source at (u + 0.5) / f - 0.5 (cell centres aligned);
    taps outside the grid repeat the border.
    """
    h, w, c = src.shape
    oh, ow = h * factor, w * factor
    wy = np.empty(4, np.float32)
    wx = np.empty(4, np.float32)
    for oy in range(oh):
        sy = (oy + 0.5) / factor - 0.5
        y0 = int(math.floor(sy))
        _cubic_weights(sy - y0, -0.75, wy)
        for ox in range(ow):
            sx = (ox + 0.5) / factor - 0.5
            x0 = int(math.floor(sx))
            _cubic_weights(sx - x0, -0.75, wx)
            for ch in range(c):
                acc = 0.0
                for i in range(4):
                    yy = min(max(y0 - 1 + i, 0), h - 1)
                    row = 0.0
                    for j in range(4):
                        xx = min(max(x0 - 1 + j, 0), w - 1)
                        row += wx[j] * src[yy, xx, ch]
                    acc += wy[i] * row
                dst[oy, ox, ch] = acc


# ---------------------------------------------------------------- peaks
@njit(**_JIT)
def find_peaks(heat, threshold, radius, refine, max_peaks, scratch_pos, scratch_val,
               peak_xy, peak_score, peak_count):
    """Local maxima of each part's heatmap.

    heat: (H, W, P).  A cell is a peak when its value is above ``threshold``, at least every
    neighbour within ``radius`` that comes later in row-major order and strictly above every
    earlier one (so a flat top gives one peak).  When a part has more than ``max_peaks``
    peaks the strongest are kept, in row-major order.  With ``refine`` the position moves by
    the vertex of a parabola through the cell and its two neighbours on each axis (at most
    half a cell).  Writes peak_xy (P, M, 2), peak_score (P, M), peak_count (P,).
    scratch_pos / scratch_val: (S,) int64 / float32 with S >= H * W.
    """
    h, w, p = heat.shape
    for part in range(p):
        n = 0
        for y in range(h):
            for x in range(w):
                v = heat[y, x, part]
                if not v > threshold:  # also skips NaN
                    continue
                is_max = True
                for dy in range(-radius, radius + 1):
                    yy = y + dy
                    if yy < 0 or yy >= h:
                        continue
                    for dx in range(-radius, radius + 1):
                        xx = x + dx
                        if xx < 0 or xx >= w or (dx == 0 and dy == 0):
                            continue
                        u = heat[yy, xx, part]
                        if dy < 0 or (dy == 0 and dx < 0):
                            if u >= v:
                                is_max = False
                                break
                        elif u > v:
                            is_max = False
                            break
                    if not is_max:
                        break
                if is_max:
                    scratch_pos[n] = y * w + x
                    scratch_val[n] = v
                    n += 1
        if n > max_peaks:
            # keep the strongest max_peaks (stable on ties), back in row-major order
            order = np.argsort(-scratch_val[:n], kind="mergesort")[:max_peaks]
            keep = np.sort(order)
            for k in range(max_peaks):
                scratch_pos[k] = scratch_pos[keep[k]]
                scratch_val[k] = scratch_val[keep[k]]
            n = max_peaks
        for k in range(n):
            y = scratch_pos[k] // w
            x = scratch_pos[k] - y * w
            v = heat[y, x, part]
            fx = np.float32(x)
            fy = np.float32(y)
            if refine:
                if 0 < x < w - 1:
                    l = heat[y, x - 1, part]
                    r = heat[y, x + 1, part]
                    den = l - 2.0 * v + r
                    if den < 0.0:
                        fx += np.float32(min(max(0.5 * (l - r) / den, -0.5), 0.5))
                if 0 < y < h - 1:
                    t = heat[y - 1, x, part]
                    b = heat[y + 1, x, part]
                    den = t - 2.0 * v + b
                    if den < 0.0:
                        fy += np.float32(min(max(0.5 * (t - b) / den, -0.5), 0.5))
            peak_xy[part, k, 0] = fx
            peak_xy[part, k, 1] = fy
            peak_score[part, k] = v
        peak_count[part] = n


# ---------------------------------------------------------------- limbs
@njit(**_JIT)
def _bilinear(field, x, y, ch):
    h, w = field.shape[0], field.shape[1]
    x = min(max(x, 0.0), w - 1.0)
    y = min(max(y, 0.0), h - 1.0)
    x0 = min(int(x), w - 2) if w > 1 else 0
    y0 = min(int(y), h - 2) if h > 1 else 0
    x1 = min(x0 + 1, w - 1)
    y1 = min(y0 + 1, h - 1)
    ax = x - x0
    ay = y - y0
    top = field[y0, x0, ch] * (1.0 - ax) + field[y0, x1, ch] * ax
    bot = field[y1, x0, ch] * (1.0 - ax) + field[y1, x1, ch] * ax
    return top * (1.0 - ay) + bot * ay


@njit(**_JIT)
def _bilinear2(field, x, y, cx, cy):
    # _bilinear on two channels at one point: the corner arithmetic once, each value as _bilinear's
    h, w = field.shape[0], field.shape[1]
    x = min(max(x, 0.0), w - 1.0)
    y = min(max(y, 0.0), h - 1.0)
    x0 = min(int(x), w - 2) if w > 1 else 0
    y0 = min(int(y), h - 2) if h > 1 else 0
    x1 = min(x0 + 1, w - 1)
    y1 = min(y0 + 1, h - 1)
    ax = x - x0
    ay = y - y0
    top = field[y0, x0, cx] * (1.0 - ax) + field[y0, x1, cx] * ax
    bot = field[y1, x0, cx] * (1.0 - ax) + field[y1, x1, cx] * ax
    vx = top * (1.0 - ay) + bot * ay
    top = field[y0, x0, cy] * (1.0 - ax) + field[y0, x1, cy] * ax
    bot = field[y1, x0, cy] * (1.0 - ax) + field[y1, x1, cy] * ax
    vy = top * (1.0 - ay) + bot * ay
    return vx, vy


@njit(**_JIT)
def score_pair(pafs, cx, cy, xa, ya, xb, yb, cell_px, net_h_px, samples, min_samples, max_samples,
               sample_threshold, min_pass_ratio, score_all, length_prior):
    """Line integral of the PAF (channels cx, cy of pafs (H, W, 2L)) from a to b (grid coords).

    Returns the connection score, or -1.0 when the pair is rejected.
    """
    dx = xb - xa
    dy = yb - ya
    norm = math.sqrt(dx * dx + dy * dy)
    if norm < 1e-6:
        return -1.0
    ux = dx / norm
    uy = dy / norm
    if samples > 0:
        n = samples
    else:
        n = int(round(math.sqrt(5.0 * norm * cell_px)))
        n = min(max(n, min_samples), max_samples)
    passed = 0
    failed = 0
    total = 0.0
    passed_sum = 0.0
    for s in range(n):
        t = s / (n - 1.0)
        px = xa + t * dx
        py = ya + t * dy
        vx, vy = _bilinear2(pafs, px, py, cx, cy)
        v = ux * vx + uy * vy
        total += v
        if v > sample_threshold:
            passed += 1
            passed_sum += v
        else:
            failed += 1
            if n - failed <= min_pass_ratio * n:
                return -1.0  # too many failures already: the pair cannot pass (same result, less work)
    if passed <= min_pass_ratio * n or passed == 0:
        return -1.0
    score = total / n if score_all else passed_sum / passed
    if length_prior:
        score += min(0.5 * net_h_px / (norm * cell_px) - 1.0, 0.0)
        if score <= 0.0:
            return -1.0
    return score


# ---- pre-rejection: samples that fail whatever the limb's direction, found without reading the field
@njit(**_JIT)
def probe_plan(min_pass_ratio, extra, fail_limit, probe_t, probe_count):
    """Which of score_pair's samples :func:`connect_limbs` looks at first, for each sample count n.

    fail_limit[n]: the most failures a pair of n samples may have and still pass
    (score_pair rejects once n - failed <= min_pass_ratio * n).  probe_t[n, :probe_count[n]]:
    the parameters t = s / (n - 1.0) of the samples probed, computed as score_pair computes
    them (the same bits): the middle one, the quarter points, the eighths... (between two
    people they lie in empty space), never one sample twice; fail_limit[n] + 1 + extra of
    them (at most n).  Shapes: (S,), (S, S), (S,) with S > the largest n.
    """
    size = fail_limit.shape[0]
    seen = np.zeros(size, np.bool_)
    for n in range(size):
        probe_count[n] = 0
        fail_limit[n] = 0
        if n < 2:
            continue
        f = 0
        while f + 1 <= n and not n - (f + 1) <= min_pass_ratio * n:
            f += 1
        fail_limit[n] = f
        want = min(n, f + 1 + extra)
        seen[:n] = False
        c = 0
        level = 2
        while c < want and level <= 2 * n:
            for m in range(1, level, 2):
                s = (m * (n - 1)) // level
                if c < want and not seen[s] and 0 < s < n - 1:
                    seen[s] = True
                    probe_t[n, c] = s / (n - 1.0)
                    c += 1
            level *= 2
        for s in range(n):  # the ends last (they lie on the peaks, rarely in empty space)
            if c < want and not seen[s]:
                seen[s] = True
                probe_t[n, c] = s / (n - 1.0)
                c += 1
        probe_count[n] = c


@njit(**_JIT)
def live_blocks(pafs, paf_channels, sample_threshold, wanted, live):
    """For each limb k with wanted[k]: live[k, y, x] = 0 when the four cells that a bilinear
    sample from cell (y, x) reads ((y, x) to (y + 1, x + 1), clamped as _bilinear clamps)
    all have |field| below sample_threshold * (1 - 1e-5) or NaN; 1 otherwise.

    Such a sample fails whatever the limb's direction: its value is the projection on a
    unit vector (of length at most 1 + 1e-7 after rounding) of a convex combination of the
    four vectors, so at most their largest length, below the threshold (or NaN, which fails
    too).  Needs a threshold > 0.  One pass over the maps for all limbs, then one over the
    2 x 2 blocks.  live: (L, H, W) uint8 scratch.
    """
    h, w = pafs.shape[0], pafs.shape[1]
    lim = sample_threshold * (1.0 - 1e-5)
    lim2 = lim * lim
    num_limbs = paf_channels.shape[0]
    every = True
    for k in range(num_limbs):
        every = every and wanted[k]
    for y in range(h):
        for x in range(w):
            cell = pafs[y, x]
            for k in range(num_limbs):
                if every or wanted[k]:
                    fx = np.float64(cell[paf_channels[k, 0]])
                    fy = np.float64(cell[paf_channels[k, 1]])
                    live[k, y, x] = fx * fx + fy * fy > lim2
    for k in range(num_limbs):
        if not wanted[k]:
            continue
        plane = live[k]
        # in place, rows ascending: row y reads itself (x + 1 not yet rewritten) and row y + 1 (not yet)
        for y in range(h - 1):
            row = plane[y]
            below = plane[y + 1]
            for x in range(w - 1):
                row[x] = row[x] | row[x + 1] | below[x] | below[x + 1]
            row[w - 1] = row[w - 1] | below[w - 1]
        row = plane[h - 1]
        for x in range(w - 1):
            row[x] = row[x] | row[x + 1]


@njit(**_JIT)
def _greedy(k, na, nb, n, cand_score, cand_a, cand_b, used_a, used_b, conn, conn_score, conn_count):
    # best score first, each peak at most once; on equal scores the pair listed first (a-major) wins
    used_a[:na] = False
    used_b[:nb] = False
    c = 0
    if n > 0:
        order = np.argsort(cand_score[:n], kind="mergesort")
        limit = min(na, nb)
        for r in range(n):
            q = order[r]
            i = cand_a[q]
            j = cand_b[q]
            if used_a[i] or used_b[j]:
                continue
            used_a[i] = True
            used_b[j] = True
            conn[k, c, 0] = i
            conn[k, c, 1] = j
            conn_score[k, c] = -cand_score[q]
            c += 1
            if c >= limit:
                break
    conn_count[k] = c


@njit(**_JIT)
def longest_below_max(cell_px, max_samples):
    """A length (cells) above which score_pair's adaptive rule gives max_samples samples:
    sqrt(5 * norm * cell_px) is then above max_samples - 0.5 (by a margin of 1e-6, far above
    the rounding of these float64 products), so it rounds to max_samples or more."""
    return (max_samples - 0.5 + 1e-6) ** 2 / (5.0 * cell_px)


@njit(**_JIT)
def _dead_probes(plane, probe_t, ns, first, probes, xa, ya, dx, dy, wmax, hmax, w2, h2):
    dead = 0
    for r in range(first, probes):
        t = probe_t[ns, r]
        x0 = min(int(min(max(xa + t * dx, 0.0), wmax)), w2)
        y0 = min(int(min(max(ya + t * dy, 0.0), hmax)), h2)
        dead += 1 - plane[y0, x0]
    return dead


@njit(**_JIT)
def _survivors(k, pa, pb, na, nb, peak_xy, h, w, cell_px, samples, min_samples, max_samples, live,
               fail_limit, probe_t, probe_count, out_a, out_b):
    """The pairs (i, j) of limb k that score_pair might accept, a-major, into out_a / out_b;
    returns how many.  A pair is left out when more of its probed samples (probe_plan) lie
    where live[k] (live_blocks) says no sample can pass than it may fail: score_pair would
    reject it.  Sample count and positions computed as score_pair computes them."""
    plane = live[k]
    wmax = w - 1.0
    hmax = h - 1.0
    # _bilinear's first corner: min(int(x), w - 2), or 0 on a grid one cell wide
    w2 = max(w - 2, 0)
    h2 = max(h - 2, 0)
    top = longest_below_max(cell_px, max_samples)
    m = 0
    for i in range(na):
        xa = peak_xy[pa, i, 0]
        ya = peak_xy[pa, i, 1]
        for j in range(nb):
            dx = peak_xy[pb, j, 0] - xa
            dy = peak_xy[pb, j, 1] - ya
            norm = math.sqrt(dx * dx + dy * dy)
            if samples > 0:
                ns = samples
            elif norm > top:
                ns = max_samples  # most pairs of a crowd: no second square root
            else:
                ns = int(round(math.sqrt(5.0 * norm * cell_px)))
                ns = min(max(ns, min_samples), max_samples)
            probes = probe_count[ns]
            limit = fail_limit[ns]
            dead = 0
            first = 0
            if probes >= 4:
                # four probes with no branch per sample (a constant trip count, unrolled)
                first = 4
                for r in range(4):
                    t = probe_t[ns, r]
                    x0 = min(int(min(max(xa + t * dx, 0.0), wmax)), w2)
                    y0 = min(int(min(max(ya + t * dy, 0.0), hmax)), h2)
                    dead += 1 - plane[y0, x0]
            if dead <= limit:
                if first < probes:  # (a loop here, even unused, would halve the speed of the above)
                    dead += _dead_probes(plane, probe_t, ns, first, probes, xa, ya, dx, dy, wmax, hmax, w2, h2)
                if dead <= limit:
                    out_a[m] = i
                    out_b[m] = j
                    m += 1
    return m


@njit(**_JIT)
def connect_limbs(pafs, limbs, paf_channels, peak_xy, peak_count, cell_px, net_h_px, samples,
                  min_samples, max_samples, sample_threshold, min_pass_ratio, score_all, length_prior,
                  cand_score, cand_a, cand_b, used_a, used_b, conn, conn_score, conn_count, live, wanted,
                  live_min_pairs, fail_limit, probe_t, probe_count):
    """Score every candidate pair of each limb and keep a greedy, one-to-one set by score.

    limbs, paf_channels: (L, 2) int.  Writes conn (L, M, 2) peak indices (a, b),
    conn_score (L, M), conn_count (L,).  cand_*: scratch of size >= M * M; used_*: (M,) bool.

    The result of :func:`connect_limbs_exhaustive` (score_pair on every pair, as the numpy
    reference), with less work in crowds.  Limbs with at least ``live_min_pairs`` pairs
    (when the sample threshold is > 0) first get a map of where their field is too weak for
    any sample to pass (:func:`live_blocks`, into live (L, H, W) uint8 and wanted (L,) bool
    scratch; one pass over the maps).  A pair of such a limb is dropped without reading the
    field when more of its probed samples lie there than it may fail (fail_limit, probe_t,
    probe_count from :func:`probe_plan` for this min_pass_ratio; the positions computed as
    score_pair computes them), which is most pairs of two different people; every other
    pair goes to score_pair.  Negative ``live_min_pairs``: never.
    """
    h, w = pafs.shape[0], pafs.shape[1]
    num_limbs = limbs.shape[0]
    any_live = False
    for k in range(num_limbs):
        pairs = peak_count[limbs[k, 0]] * peak_count[limbs[k, 1]]
        wanted[k] = sample_threshold > 0.0 and 0 <= live_min_pairs <= pairs
        any_live = any_live or wanted[k]
    if any_live:
        live_blocks(pafs, paf_channels, sample_threshold, wanted, live)
    for k in range(num_limbs):
        pa = limbs[k, 0]
        pb = limbs[k, 1]
        cx = paf_channels[k, 0]
        cy = paf_channels[k, 1]
        na = peak_count[pa]
        nb = peak_count[pb]
        n = 0
        if wanted[k]:
            # the pairs not surely rejected, a-major, then score_pair on them (compacting in place)
            m = _survivors(k, pa, pb, na, nb, peak_xy, h, w, cell_px, samples, min_samples, max_samples,
                           live, fail_limit, probe_t, probe_count, cand_a, cand_b)
            for q in range(m):
                i = cand_a[q]
                j = cand_b[q]
                s = score_pair(pafs, cx, cy, peak_xy[pa, i, 0], peak_xy[pa, i, 1], peak_xy[pb, j, 0],
                               peak_xy[pb, j, 1], cell_px, net_h_px, samples, min_samples, max_samples,
                               sample_threshold, min_pass_ratio, score_all, length_prior)
                if s > 0.0:
                    cand_score[n] = -s
                    cand_a[n] = i
                    cand_b[n] = j
                    n += 1
        else:
            for i in range(na):
                for j in range(nb):
                    s = score_pair(pafs, cx, cy, peak_xy[pa, i, 0], peak_xy[pa, i, 1], peak_xy[pb, j, 0],
                                   peak_xy[pb, j, 1], cell_px, net_h_px, samples, min_samples, max_samples,
                                   sample_threshold, min_pass_ratio, score_all, length_prior)
                    if s > 0.0:
                        cand_score[n] = -s
                        cand_a[n] = i
                        cand_b[n] = j
                        n += 1
        _greedy(k, na, nb, n, cand_score, cand_a, cand_b, used_a, used_b, conn, conn_score, conn_count)


@njit(**_JIT)
def connect_limbs_exhaustive(pafs, limbs, paf_channels, peak_xy, peak_count, cell_px, net_h_px, samples,
                             min_samples, max_samples, sample_threshold, min_pass_ratio, score_all,
                             length_prior, cand_score, cand_a, cand_b, used_a, used_b, conn, conn_score,
                             conn_count):
    """:func:`connect_limbs` without the pre-rejection: score_pair on every pair (the former
    kernel, kept as the baseline of benchmarks/bench_decode.py and the tests)."""
    num_limbs = limbs.shape[0]
    for k in range(num_limbs):
        pa = limbs[k, 0]
        pb = limbs[k, 1]
        cx = paf_channels[k, 0]
        cy = paf_channels[k, 1]
        na = peak_count[pa]
        nb = peak_count[pb]
        n = 0
        for i in range(na):
            for j in range(nb):
                s = score_pair(pafs, cx, cy, peak_xy[pa, i, 0], peak_xy[pa, i, 1],
                               peak_xy[pb, j, 0], peak_xy[pb, j, 1], cell_px, net_h_px, samples,
                               min_samples, max_samples, sample_threshold, min_pass_ratio,
                               score_all, length_prior)
                if s > 0.0:
                    cand_score[n] = -s
                    cand_a[n] = i
                    cand_b[n] = j
                    n += 1
        _greedy(k, na, nb, n, cand_score, cand_a, cand_b, used_a, used_b, conn, conn_score, conn_count)


# ---------------------------------------------------------------- people
@njit(**_JIT)
def assemble(limbs, redundant, conn, conn_score, conn_count, peak_score, owner,
             person_parts, person_total, person_count, person_alive):
    """Grow people limb by limb (in card order) from the chosen connections.

    A connection whose two peaks are both unowned starts a person (unless the limb is
    redundant, i.e. closes a loop of the skeleton); one with a single owned end extends that
    person; one joining two people merges them when they share no part.  owner (P, M) int32
    scratch.  Writes person_parts (N, P) peak indices or -1, person_total (parts' and limbs'
    scores summed), person_count (parts), person_alive.  Returns the number of slots used.
    """
    owner[:, :] = -1
    num_parts = owner.shape[0]
    capacity = person_parts.shape[0]
    used = 0
    for k in range(limbs.shape[0]):
        pa = limbs[k, 0]
        pb = limbs[k, 1]
        for c in range(conn_count[k]):
            i = conn[k, c, 0]
            j = conn[k, c, 1]
            s = conn_score[k, c]
            oa = owner[pa, i]
            ob = owner[pb, j]
            if oa < 0 and ob < 0:
                if redundant[k] or used >= capacity:
                    continue
                q = used
                used += 1
                person_parts[q, :] = -1
                person_parts[q, pa] = i
                person_parts[q, pb] = j
                person_total[q] = peak_score[pa, i] + peak_score[pb, j] + s
                person_count[q] = 2
                person_alive[q] = True
                owner[pa, i] = q
                owner[pb, j] = q
            elif oa >= 0 and ob >= 0:
                if oa == ob:
                    continue
                disjoint = True
                for part in range(num_parts):
                    if person_parts[oa, part] >= 0 and person_parts[ob, part] >= 0:
                        disjoint = False
                        break
                if not disjoint:
                    continue
                for part in range(num_parts):
                    m = person_parts[ob, part]
                    if m >= 0:
                        person_parts[oa, part] = m
                        owner[part, m] = oa
                person_total[oa] += person_total[ob] + s
                person_count[oa] += person_count[ob]
                person_alive[ob] = False
                person_parts[ob, :] = -1
            elif oa >= 0:
                if person_parts[oa, pb] < 0:
                    person_parts[oa, pb] = j
                    owner[pb, j] = oa
                    person_total[oa] += peak_score[pb, j] + s
                    person_count[oa] += 1
            else:
                if person_parts[ob, pa] < 0:
                    person_parts[ob, pa] = i
                    owner[pa, i] = ob
                    person_total[ob] += peak_score[pa, i] + s
                    person_count[ob] += 1
    return used


@njit(**_JIT)
def gather_people(used, person_parts, person_total, person_count, person_alive, min_parts,
                  min_mean_score, peak_xy, peak_score, out_xy, out_conf, out_total, out_count):
    """Keep the people that pass the filter and write their parts' grid coordinates.

    out_xy (N, P, 2) is NaN for missing parts, out_conf 0.  Returns the number kept.
    """
    num_parts = person_parts.shape[1]
    kept = 0
    for q in range(used):
        if not person_alive[q]:
            continue
        cnt = person_count[q]
        if cnt < min_parts or person_total[q] / cnt < min_mean_score:
            continue
        for part in range(num_parts):
            m = person_parts[q, part]
            if m >= 0:
                out_xy[kept, part, 0] = peak_xy[part, m, 0]
                out_xy[kept, part, 1] = peak_xy[part, m, 1]
                out_conf[kept, part] = peak_score[part, m]
            else:
                out_xy[kept, part, 0] = np.nan
                out_xy[kept, part, 1] = np.nan
                out_conf[kept, part] = 0.0
        out_total[kept] = person_total[q]
        out_count[kept] = cnt
        kept += 1
    return kept
