"""Zero-lag offline smoothing of keypoint series: the whole recording is known.

Arrays are (T frames, N series, 2) with timestamps ``t`` (T,) in seconds; a series is one joint of
one person (a (T, persons, parts, 2) array works too for :func:`rts_smooth`, see there).  All
three functions are vectorised over the series; only the Kalman recursion loops over frames.

* :func:`rts_smooth`: the live tracker's constant-velocity Kalman filter
  (:mod:`livepose.track.kalman`, the same functions, parameters from
  :class:`~livepose.settings.TrackerConfig`) run forward, then a Rauch-Tung-Striebel pass
  backward.  Each estimate uses the frames after it as well as those before, so the result is
  smoother than the live filter and not delayed.
* :func:`butterworth_smooth`: a zero-phase Butterworth low-pass (``scipy.signal.sosfiltfilt``,
  forward and backward) over each contiguous valid run.
* :func:`fill_gaps`: linear interpolation of short gaps (at most ``max_gap_s``); longer gaps
  stay missing, nothing is extrapolated past the first or last valid sample.

Recommended order: smooth, then fill (the gaps are bridged between smoothed values).
"""

from __future__ import annotations

import numpy as np

from livepose.settings import TrackerConfig
from livepose.track.cost import person_size
from livepose.track.kalman import ConstantVelocityKalman, kf_initiate, kf_predict, kf_update

#: Default longest gap :func:`fill_gaps` bridges, seconds (7 frames at 30 FPS; Sports2D's small-gap
#: interpolation works the same way, counted in frames).
DEFAULT_MAX_GAP_S = 0.25

#: :func:`butterworth_smooth`: a step longer than this many median steps splits a run (a dropped
#: frame); a step shorter than :data:`MIN_STEP_RATIO` median steps is refused.
MAX_STEP_RATIO = 1.5
MIN_STEP_RATIO = 0.5


def _times(t: np.ndarray, n: int) -> np.ndarray:
    t = np.asarray(t, dtype=np.float64)
    if t.shape != (n,):
        raise ValueError(f"t must have shape ({n},) (one timestamp per frame), got {t.shape}")
    if not np.isfinite(t).all():
        raise ValueError("timestamps must be finite")
    return t


def _default_size(xy: np.ndarray, present: np.ndarray, min_size: float) -> np.ndarray:
    """(T, *S) person size for every sample: per person for (T, persons, parts, 2), one skeleton for (T, N, 2)."""
    if xy.ndim == 4:
        n_t, n_p, n_j = present.shape
        s = person_size(xy.reshape(n_t * n_p, n_j, 2), present.reshape(n_t * n_p, n_j), min_size)
        return np.broadcast_to(s.reshape(n_t, n_p, 1), present.shape)
    if xy.ndim == 3:
        s = person_size(xy, present, min_size)
        return np.broadcast_to(s[:, None], present.shape)
    raise ValueError(f"xy must be (T, N, 2) or (T, persons, parts, 2), got shape {xy.shape}")


def rts_smooth(t, xy, conf, config: TrackerConfig | None = None, size=None, *,
               return_filtered: bool = False):
    """Forward Kalman filter + Rauch-Tung-Striebel backward pass; returns smoothed xy (same shape).

    ``xy`` (T, N, 2) or (T, persons, parts, 2) pixels; ``conf`` (T, N) / (T, persons, parts): a
    sample counts as measured when its confidence is > 0 and its coordinates are finite (0, NaN,
    negative: missing).  ``t`` (T,) seconds, irregular steps allowed; a step shorter than
    ``config.min_dt`` (a repeated or backward timestamp) counts as ``min_dt``, as in the tracker.

    The model is the tracker's (:mod:`livepose.track.kalman`): per series and axis the state
    [position, velocity], Q = Q_discrete_white_noise(dt, (process_noise * size)^2 / dt),
    R = (measurement_noise * size)^2 / max(conf, MIN_CONF), a series starts at its first
    measurement with zero velocity and variance diag(R, (init_speed * size)^2).  ``size`` (the
    person's size in pixels, broadcastable to conf's shape, per frame or constant) defaults to the
    tracker's: sqrt of the box area of the person's present joints in that frame, at least
    ``min_person_size`` (for a (T, N, 2) array the N series are taken as one person).  The step
    from frame k to k+1 uses frame k's size (the tracker predicts with the size it has).

    As in the tracker, a series unmeasured for longer than ``joint_predict_seconds`` starts anew
    at its next measurement; the backward pass does not cross such a restart (each piece is
    smoothed on its own).  Frames where a series is not measured are NaN in the output (bridge
    them with :func:`fill_gaps`).

    ``return_filtered``: also return the forward (live, causal) filter's positions, NaN where not
    measured, for comparison.
    """
    cfg = config if config is not None else TrackerConfig()
    xy = np.asarray(xy, dtype=np.float64)
    conf = np.fmax(np.asarray(conf, dtype=np.float64), 0.0)  # NaN -> 0
    if xy.shape[-1] != 2 or conf.shape != xy.shape[:-1] or xy.ndim not in (3, 4):
        raise ValueError(f"xy must be (T, N, 2) or (T, persons, parts, 2) and conf its shape without the last axis; "
                         f"got {xy.shape} and {conf.shape}")
    shape = xy.shape
    n_t = shape[0]
    t = _times(t, n_t)
    measured = (conf > 0.0) & np.isfinite(xy).all(-1)
    if size is None:
        size = _default_size(xy, measured, cfg.min_person_size)
    size = np.broadcast_to(np.asarray(size, dtype=np.float64), conf.shape)
    if n_t == 0:
        out = np.empty(shape)
        return (out, out.copy()) if return_filtered else out
    # flatten to (T, M) series
    m = int(np.prod(shape[1:-1]))
    z_all = np.where(measured[..., None], xy, np.nan).reshape(n_t, m, 2)
    measured = measured.reshape(n_t, m)
    conf = conf.reshape(n_t, m)
    size = size.reshape(n_t, m)
    model = ConstantVelocityKalman(cfg.process_noise, cfg.measurement_noise, cfg.init_speed)
    dts = np.maximum(np.diff(t), cfg.min_dt)

    mean_f = np.full((n_t, m, 2, 2), np.nan)  # filtered: series, axis, (position, velocity)
    cov_f = np.full((n_t, m, 2, 2, 2), np.nan)
    mean_p = np.full_like(mean_f, np.nan)  # predicted (prior) at k, from k - 1
    cov_p = np.full_like(cov_f, np.nan)
    restart = np.zeros((n_t, m), bool)  # the series starts anew at k (no link to k - 1)
    last = np.full(m, -np.inf)  # time of each series' last measurement
    mean = np.full((m, 2, 2), np.nan)
    cov = np.full((m, 2, 2, 2), np.nan)
    for k in range(n_t):
        if k:
            dt = float(dts[k - 1])
            mean, cov = kf_predict(mean, cov, dt, model.process_var(dt, size[k - 1]))
            mean_p[k], cov_p[k] = mean, cov
        meas = measured[k]
        fresh = meas & (t[k] - last > cfg.joint_predict_seconds)
        r = model.measurement_var(conf[k][:, None], size[k])[:, 0]
        mean, cov = kf_update(mean, cov, z_all[k], r, meas & ~fresh)
        if fresh.any():
            m0, c0 = kf_initiate(z_all[k], r, model.velocity_var(size[k]))
            mean = np.where(fresh[:, None, None], m0, mean)
            cov = np.where(fresh[:, None, None, None], c0, cov)
        restart[k] = fresh
        last = np.where(meas, t[k], last)
        mean_f[k], cov_f[k] = mean, cov

    # Rauch-Tung-Striebel: x_s[k] = x_f[k] + J (x_s[k+1] - x_p[k+1]),  J = C_f[k] F^T C_p[k+1]^-1
    mean_s = mean_f.copy()
    for k in range(n_t - 2, -1, -1):
        dt = float(dts[k])
        c = cov_f[k]
        cft = np.empty_like(c)  # C_f F^T, F = [[1, dt], [0, 1]]
        cft[..., 0, 0] = c[..., 0, 0] + dt * c[..., 0, 1]
        cft[..., 1, 0] = c[..., 1, 0] + dt * c[..., 1, 1]
        cft[..., 0, 1] = c[..., 0, 1]
        cft[..., 1, 1] = c[..., 1, 1]
        p = cov_p[k + 1]
        det = p[..., 0, 0] * p[..., 1, 1] - p[..., 0, 1] * p[..., 1, 0]
        d = mean_s[k + 1] - mean_p[k + 1]  # (m, 2, 2)
        # J d = C_f F^T (P^-1 d), P^-1 = [[p11, -p01], [-p10, p00]] / det
        u0 = (p[..., 1, 1] * d[..., 0] - p[..., 0, 1] * d[..., 1]) / det
        u1 = (-p[..., 1, 0] * d[..., 0] + p[..., 0, 0] * d[..., 1]) / det
        corr = np.stack([cft[..., 0, 0] * u0 + cft[..., 0, 1] * u1, cft[..., 1, 0] * u0 + cft[..., 1, 1] * u1], -1)
        link = ~restart[k + 1] & np.isfinite(corr).all((-1, -2))  # (m,)
        mean_s[k] = np.where(link[:, None, None], mean_f[k] + corr, mean_f[k])

    out = np.where(measured[..., None], mean_s[..., 0], np.nan).reshape(shape)
    if return_filtered:
        return out, np.where(measured[..., None], mean_f[..., 0], np.nan).reshape(shape)
    return out


def _valid(xy: np.ndarray, valid) -> np.ndarray:
    ok = np.isfinite(xy).all(-1)
    if valid is not None:
        valid = np.asarray(valid, dtype=bool)
        if valid.shape != xy.shape[:-1]:
            raise ValueError(f"valid must have shape {xy.shape[:-1]}, got {valid.shape}")
        ok &= valid
    return ok


def _runs(ok: np.ndarray, breaks: np.ndarray):
    """(series, start, stop) of each contiguous True run of ok (T, N); ``breaks`` (T-1,): no run spans k..k+1."""
    n_t, n = ok.shape
    pad = np.zeros((1, n), bool)
    cont = np.concatenate([pad, ok[1:] & ok[:-1] & ~breaks[:, None]], 0)  # k continues a run from k-1
    starts = ok & ~cont
    ends = ok & ~np.concatenate([cont[1:], pad], 0)
    series, start = np.nonzero(starts.T)  # ordered by series, then time: the i-th start and end pair up
    _, end = np.nonzero(ends.T)
    return series, start, end + 1  # series, start, stop (exclusive)


def butterworth_smooth(t, xy, valid=None, cutoff_hz: float = 6.0, order: int = 4) -> np.ndarray:
    """Zero-phase Butterworth low-pass of each contiguous valid run; (T, N, 2) -> (T, N, 2).

    ``valid`` (T, N) bool (None: where xy is finite); invalid samples are NaN in the output.
    The filter (``scipy.signal.butter(order, cutoff_hz, fs=...)`` as second-order sections, run
    forward and backward by ``sosfiltfilt``: no phase shift, the magnitude response squared) assumes
    uniform sampling at fs = 1 / the median step of ``t``.  A step longer than 1.5 median steps (a
    dropped frame) splits the runs there; a step shorter than half the median (repeated or
    backward timestamps, variable frame rate) raises ValueError: resample first.  A run not longer
    than sosfiltfilt's padding (3 * (2 * sections + 1) samples, 27 for order 4) is left as it is.
    ``cutoff_hz`` must be below fs / 2.
    """
    from scipy.signal import butter, sosfiltfilt

    xy = np.asarray(xy, dtype=np.float64)
    if xy.ndim != 3 or xy.shape[-1] != 2:
        raise ValueError(f"xy must be (T, N, 2), got shape {xy.shape}")
    n_t = xy.shape[0]
    t = _times(t, n_t)
    ok = _valid(xy, valid)
    out = np.where(ok[..., None], xy, np.nan)
    if n_t < 2:
        return out
    steps = np.diff(t)
    step = float(np.median(steps))
    if not step > 0 or (steps < MIN_STEP_RATIO * step).any():
        raise ValueError("butterworth_smooth needs increasing, nearly uniform timestamps (a step under half the "
                         "median step was found); resample the series first")
    fs = 1.0 / step
    if not 0 < cutoff_hz < fs / 2:
        raise ValueError(f"cutoff_hz must be in (0, {fs / 2:g}) (half the sampling rate {fs:g} Hz), got {cutoff_hz}")
    sos = butter(int(order), float(cutoff_hz), btype="low", output="sos", fs=fs)
    padlen = 3 * (2 * len(sos) + 1 - min((sos[:, 2] == 0).sum(), (sos[:, 5] == 0).sum()))
    series, start, stop = _runs(ok, steps > MAX_STEP_RATIO * step)
    long = stop - start > padlen
    series, start, stop = series[long], start[long], stop[long]
    # one sosfiltfilt call per distinct (start, stop): the joints of a person seen throughout share one
    keys = np.stack([start, stop], 1)
    if len(keys) == 0:
        return out
    uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
    for g, (a, b) in enumerate(uniq):
        cols = series[inverse.reshape(-1) == g]
        out[a:b, cols] = sosfiltfilt(sos, xy[a:b, cols], axis=0)
    return out


def fill_gaps(t, xy, valid=None, max_gap_s: float = DEFAULT_MAX_GAP_S) -> np.ndarray:
    """Linear interpolation across gaps of at most ``max_gap_s``; (T, N, 2) -> (T, N, 2).

    A gap is a stretch of invalid samples (``valid`` False, or xy not finite) between two valid
    samples of the same series; its length is the time between those two samples.  Gaps up to
    ``max_gap_s`` (default :data:`DEFAULT_MAX_GAP_S`) are filled on the straight line between them
    (linear: no overshoot, no motion invented between two known points, as cubic splines would in a
    short gap next to a fast movement); longer gaps, and samples before the first or after the
    last valid one, stay NaN (never extrapolated).  Valid samples are returned unchanged.
    """
    xy = np.asarray(xy, dtype=np.float64)
    if xy.ndim != 3 or xy.shape[-1] != 2:
        raise ValueError(f"xy must be (T, N, 2), got shape {xy.shape}")
    if not max_gap_s >= 0:
        raise ValueError(f"max_gap_s must be >= 0 seconds, got {max_gap_s}")
    n_t, n = xy.shape[:2]
    t = _times(t, n_t)
    ok = _valid(xy, valid)
    out = np.where(ok[..., None], xy, np.nan)
    if n_t == 0:
        return out
    idx = np.broadcast_to(np.arange(n_t)[:, None], (n_t, n))
    prev = np.maximum.accumulate(np.where(ok, idx, -1), axis=0)
    nxt = np.minimum.accumulate(np.where(ok, idx, n_t)[::-1], axis=0)[::-1]
    gap = ~ok & (prev >= 0) & (nxt < n_t)
    pc, nc = np.clip(prev, 0, n_t - 1), np.clip(nxt, 0, n_t - 1)
    span = t[nc] - t[pc]
    gap &= span <= max_gap_s
    cols = np.broadcast_to(np.arange(n), (n_t, n))
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(gap, (t[:, None] - t[pc]) / span, 0.0)[..., None]
    a, b = xy[pc, cols], xy[nc, cols]
    return np.where(gap[..., None], a + w * (b - a), out)
