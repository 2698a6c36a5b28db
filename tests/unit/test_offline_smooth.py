"""Offline smoothing (livepose.analysis.smooth): RTS against filterpy, zero lag, Butterworth, gap filling."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import jitter_ratio, lag_frames
from livepose.analysis.smooth import butterworth_smooth, fill_gaps, rts_smooth
from livepose.settings import TrackerConfig
from livepose.track.kalman import ConstantVelocityKalman

CFG = TrackerConfig()


# ------------------------------------------------------------------------------ RTS


def _filterpy_rts(t, z, conf, size, cfg):
    """One series, one axis, through filterpy's KalmanFilter + rts_smoother (the reference)."""
    from filterpy.common import Q_discrete_white_noise
    from filterpy.kalman import KalmanFilter, rts_smoother

    model = ConstantVelocityKalman(cfg.process_noise, cfg.measurement_noise, cfg.init_speed)
    kf = KalmanFilter(dim_x=2, dim_z=1)
    kf.H = np.array([[1.0, 0.0]])
    xs, ps, fs, qs = [], [], [], []
    for k in range(len(t)):
        r = model.measurement_var(np.array([[conf[k]]]), np.array([size[k]]))[0, 0]
        if k == 0:
            kf.x = np.array([[z[0]], [0.0]])
            kf.P = np.diag([r, model.velocity_var(np.array([size[0]]))[0]])
            f, q = np.eye(2), np.zeros((2, 2))
        else:
            dt = max(t[k] - t[k - 1], cfg.min_dt)
            f = np.array([[1.0, dt], [0.0, 1.0]])
            q = Q_discrete_white_noise(dim=2, dt=dt, var=model.process_var(dt, np.array([size[k - 1]]))[0])
            kf.F, kf.Q = f, q
            kf.predict()
            if conf[k] > 0:
                kf.update(np.array([[z[k]]]), R=np.array([[r]]))
        xs.append(kf.x.copy())
        ps.append(kf.P.copy())
        fs.append(f)
        qs.append(q)
    # filterpy's Fs[k], Qs[k]: the step from k to k + 1
    xs_s, _, _, _ = rts_smoother(np.array(xs), np.array(ps), np.array(fs[1:] + [np.eye(2)]),
                                 np.array(qs[1:] + [np.zeros((2, 2))]))
    return np.array(xs)[:, 0, 0], xs_s[:, 0, 0]


def test_rts_matches_filterpy_rts_smoother():
    pytest.importorskip("filterpy", reason="filterpy (a test dependency) is not installed")
    rng = np.random.default_rng(4)
    steps = 60
    t = np.cumsum(rng.uniform(1 / 60, 0.08, steps))
    t[20] = t[19]  # a repeated timestamp: dt clamped to min_dt
    truth = np.stack([300 + 80 * np.sin(2 * t), 200 + 40 * t], -1)
    xy = np.stack([truth, truth[:, ::-1] + 50], 1) + rng.normal(0, 3, (steps, 2, 2))
    conf = rng.uniform(0.05, 1.0, (steps, 2))
    conf[[7, 8, 30], 0] = 0.0  # short gaps (< joint_predict_seconds): the filter predicts through
    conf[41, 1] = np.nan
    conf[0] = 0.9
    size = rng.uniform(60, 200, (steps, 2))
    cfg = TrackerConfig(joint_predict_seconds=10.0)
    smoothed, filtered = rts_smooth(t, xy, conf, cfg, size=size, return_filtered=True)
    for n in range(2):
        seen = np.nan_to_num(conf[:, n]) > 0
        assert np.isnan(smoothed[~seen, n]).all() and np.isnan(filtered[~seen, n]).all()
        for axis in range(2):
            ref_f, ref_s = _filterpy_rts(t, xy[:, n, axis], np.nan_to_num(conf[:, n]), size[:, n], cfg)
            np.testing.assert_allclose(filtered[seen, n, axis], ref_f[seen], rtol=1e-9, atol=1e-9)
            np.testing.assert_allclose(smoothed[seen, n, axis], ref_s[seen], rtol=1e-9, atol=1e-9)


def test_rts_restarts_after_long_gap_like_the_tracker():
    pytest.importorskip("filterpy", reason="filterpy (a test dependency) is not installed")
    rng = np.random.default_rng(5)
    steps = 50
    t = np.arange(steps) / 30.0
    xy = np.stack([np.linspace(0, 300, steps), np.linspace(100, 50, steps)], -1)[:, None] + rng.normal(0, 2, (steps, 1, 2))
    conf = np.full((steps, 1), 0.8)
    conf[20:35] = 0.0  # 0.5 s unseen > joint_predict_seconds 0.3: a fresh start at frame 35
    size = np.full((steps, 1), 120.0)
    smoothed = rts_smooth(t, xy, conf, CFG, size=size)
    for a, b in ((0, 20), (35, steps)):  # each piece is smoothed on its own
        for axis in range(2):
            _, ref = _filterpy_rts(t[a:b], xy[a:b, 0, axis], conf[a:b, 0], size[a:b, 0], CFG)
            np.testing.assert_allclose(smoothed[a:b, 0, axis], ref, rtol=1e-9, atol=1e-9)
    assert np.isnan(smoothed[20:35]).all()


def _triangle(steps, fps=30.0, period_s=2.0, amplitude=100.0):
    """Constant-velocity ramps up and down (x), and a slower one (y)."""
    t = np.arange(steps) / fps
    phase = (t / period_s) % 1.0
    x = amplitude * (1 - 4 * np.abs(phase - 0.5)) + 300
    y = 200 + 20 * t
    return t, np.stack([x, y], -1)[:, None, :]


def test_rts_has_no_lag_where_the_forward_filter_lags():
    rng = np.random.default_rng(6)
    t, truth = _triangle(300, period_s=1.0)
    xy = truth + rng.normal(0, 2.0, truth.shape)
    conf = np.full((300, 1), 0.9)
    smoothed, filtered = rts_smooth(t, xy, conf, CFG, size=100.0, return_filtered=True)
    lag_rts = lag_frames([(truth, smoothed)])
    lag_fwd = lag_frames([(truth, filtered)])
    assert abs(lag_rts) <= 0.1, lag_rts
    assert lag_fwd >= 0.3, lag_fwd
    assert jitter_ratio([(xy, smoothed)]) < jitter_ratio([(xy, filtered)])


def test_rts_beats_the_forward_filter_on_a_noisy_sine():
    rng = np.random.default_rng(7)
    steps = 400
    t = np.cumsum(rng.uniform(0.025, 0.04, steps))  # irregular steps
    truth = np.stack([320 + 60 * np.sin(2 * np.pi * 0.7 * t), 240 + 30 * np.cos(2 * np.pi * 0.4 * t)], -1)
    truth = np.stack([truth, truth + 100], 1)  # two series, batched
    xy = truth + rng.normal(0, 3.0, truth.shape)
    conf = np.full((steps, 2), 0.7)
    smoothed, filtered = rts_smooth(t, xy, conf, CFG, size=150.0, return_filtered=True)
    err_s = np.sqrt(np.mean((smoothed - truth) ** 2))
    err_f = np.sqrt(np.mean((filtered - truth) ** 2))
    err_raw = np.sqrt(np.mean((xy - truth) ** 2))
    assert err_s < 0.8 * err_f and err_s < err_raw, (err_s, err_f, err_raw)


def test_rts_people_by_parts_and_default_size():
    rng = np.random.default_rng(8)
    steps = 40
    t = np.arange(steps) / 25.0
    xy = rng.uniform(0, 400, (steps, 3, 5, 2))
    conf = rng.uniform(0.2, 1, (steps, 3, 5))
    four = rts_smooth(t, xy, conf, CFG)
    assert four.shape == xy.shape
    # person by person with that person's own default size: the same
    for p in range(3):
        np.testing.assert_allclose(rts_smooth(t, xy[:, p], conf[:, p], CFG), four[:, p], rtol=1e-12)
    with pytest.raises(ValueError, match="t must have shape"):
        rts_smooth(t[:-1], xy, conf, CFG)


# ------------------------------------------------------------------------------ Butterworth


def test_butterworth_removes_high_frequency_without_phase_shift():
    fps, steps = 60.0, 600
    t = np.arange(steps) / fps
    slow = 50 * np.sin(2 * np.pi * 1.0 * t)
    xy = np.stack([slow + 5 * np.sin(2 * np.pi * 15.0 * t), -slow], -1)[:, None]
    out = butterworth_smooth(t, xy, None, cutoff_hz=6.0)
    mid = slice(60, -60)  # away from the edge transients
    np.testing.assert_allclose(out[mid, 0, 0], slow[mid], atol=0.2)  # 15 Hz gone, 1 Hz not delayed
    np.testing.assert_allclose(out[mid, 0, 1], -slow[mid], atol=0.2)
    assert lag_frames([(np.stack([slow, -slow], -1)[:, None], out)]) == 0.0


def test_butterworth_runs_short_runs_and_dropped_frames():
    from scipy.signal import butter, sosfiltfilt

    rng = np.random.default_rng(9)
    steps = 120
    t = np.arange(steps) / 30.0
    xy = rng.normal(0, 1, (steps, 3, 2)).cumsum(0)
    valid = np.ones((steps, 3), bool)
    valid[50, 0] = False  # series 0: runs 0..49 and 51..119
    valid[10:, 1] = False  # series 1: a 10-frame run, shorter than the padding: left as it is
    out = butterworth_smooth(t, xy, valid, cutoff_hz=5.0)
    sos = butter(4, 5.0, output="sos", fs=30.0)
    np.testing.assert_allclose(out[:50, 0], sosfiltfilt(sos, xy[:50, 0], axis=0), rtol=1e-12)
    np.testing.assert_allclose(out[51:, 0], sosfiltfilt(sos, xy[51:, 0], axis=0), rtol=1e-12)
    assert np.isnan(out[50, 0]).all() and np.isnan(out[10:, 1]).all()
    np.testing.assert_array_equal(out[:10, 1], xy[:10, 1])
    np.testing.assert_allclose(out[:, 2], sosfiltfilt(sos, xy[:, 2], axis=0), rtol=1e-12)
    # a dropped frame (a double step) splits the run as a missing sample would
    t2 = np.delete(np.arange(steps + 1) / 30.0, 60)
    out2 = butterworth_smooth(t2, xy[:, 2:], None, cutoff_hz=5.0)
    np.testing.assert_allclose(out2[:60, 0], sosfiltfilt(sos, xy[:60, 2], axis=0), rtol=1e-12)
    np.testing.assert_allclose(out2[60:, 0], sosfiltfilt(sos, xy[60:, 2], axis=0), rtol=1e-12)


def test_butterworth_refuses_irregular_time_and_bad_cutoff():
    t = np.arange(100) / 30.0
    xy = np.zeros((100, 1, 2))
    t_bad = t.copy()
    t_bad[40] = t_bad[39]
    with pytest.raises(ValueError, match="resample"):
        butterworth_smooth(t_bad, xy, None, 6.0)
    with pytest.raises(ValueError, match="cutoff_hz"):
        butterworth_smooth(t, xy, None, 20.0)


# ------------------------------------------------------------------------------ gaps


def test_fill_gaps_short_only_never_extrapolates():
    t = np.arange(20) / 10.0  # 10 FPS
    line = np.stack([np.arange(20) * 3.0, 100 - np.arange(20) * 2.0], -1)
    xy = np.stack([line, line], 1).copy()
    valid = np.ones((20, 2), bool)
    valid[:2, 0] = False  # leading: stays NaN
    valid[5:7, 0] = False  # span t4..t7 = 0.3 s > 0.25: stays NaN
    valid[10, 0] = False  # span 0.2 s: filled
    valid[18:, 0] = False  # trailing: stays NaN
    xy[~valid] = 1e6  # whatever invalid samples hold is not used
    valid[3:5, 1] = False  # span t2..t5 = 0.3 s
    out = fill_gaps(t, xy, valid)
    assert np.isnan(out[:2, 0]).all() and np.isnan(out[5:7, 0]).all() and np.isnan(out[18:, 0]).all()
    np.testing.assert_allclose(out[10, 0], line[10])
    assert np.isnan(out[3:5, 1]).all()
    out = fill_gaps(t, xy, valid, max_gap_s=0.3 + 1e-9)
    np.testing.assert_allclose(out[5:7, 0], line[5:7])
    np.testing.assert_allclose(out[3:5, 1], line[3:5])
    np.testing.assert_array_equal(out[valid], xy[valid])


def test_fill_gaps_weights_by_time_and_uses_nan_as_missing():
    t = np.array([0.0, 0.05, 0.2, 0.25])
    xy = np.array([[[0.0, 10.0]], [[np.nan, np.nan]], [[np.nan, 0.0]], [[10.0, 20.0]]])
    out = fill_gaps(t, xy)  # a point with either coordinate NaN is missing: frames 1 and 2
    np.testing.assert_allclose(out[:, 0, 0], [0.0, 2.0, 8.0, 10.0])
    np.testing.assert_allclose(out[:, 0, 1], [10.0, 12.0, 18.0, 20.0])
