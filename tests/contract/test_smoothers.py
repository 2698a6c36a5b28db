"""Contract tests: every smoother ``make_smoother`` can make (every name in settings.SMOOTHERS)
through the same checks with known answers, and the tracker's TrackTable with each of them."""

from __future__ import annotations

import numpy as np
import pytest

from livepose.settings import SMOOTHERS, TrackerConfig
from livepose.track import ConstantVelocityKalman, NoSmoother, OneEuroSmoother, Smoother, make_smoother
from livepose.track.smoothers import _FACTORIES
from livepose.track.table import COASTING, TrackTable
from livepose.types import TRACK_CONFIRMED, TRACK_STATES, TRACK_TENTATIVE

DT = 1 / 30
SIZE = 100.0  # person size, pixels


@pytest.fixture(params=SMOOTHERS)
def smoother(request) -> Smoother:
    return make_smoother(TrackerConfig(smoother=request.param))


def step(sm: Smoother, state: tuple, z: np.ndarray, measured: np.ndarray | None = None, dt: float = DT) -> tuple:
    """predict dt, then update with ``z`` (T, P, 2) where ``measured`` (default: z finite), as the tracker does:
    joints with no estimate yet start at the measurement."""
    t = z.shape[0]
    size = np.full(t, SIZE)
    if measured is None:
        measured = np.isfinite(z).all(-1)
    state = sm.predict(state, dt, size)
    fresh = measured & ~np.isfinite(sm.position(state)[..., 0])
    return sm.update(state, z, measured, fresh, np.full(measured.shape, 0.8), size)


def assert_state_equal(a: tuple, b: tuple) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_registry_is_the_settings_list():
    assert tuple(_FACTORIES) == SMOOTHERS
    cfg = TrackerConfig(process_noise=0.7, measurement_noise=0.04, init_speed=1.3, one_euro_min_cutoff=0.9,
                        one_euro_beta=0.2, one_euro_d_cutoff=1.1)
    kalman = make_smoother(cfg.with_(smoother="kalman"))
    assert isinstance(kalman, ConstantVelocityKalman)
    assert (kalman.process_noise, kalman.measurement_noise, kalman.init_speed) == (0.7, 0.04, 1.3)
    euro = make_smoother(cfg.with_(smoother="one_euro"))
    assert isinstance(euro, OneEuroSmoother) and (euro.min_cutoff, euro.beta, euro.d_cutoff) == (0.9, 0.2, 1.1)
    assert isinstance(make_smoother(cfg.with_(smoother="none")), NoSmoother)


def test_follows_the_protocol_and_blank_shapes(smoother):
    assert isinstance(smoother, Smoother)
    for n in (0, 3):
        state = smoother.blank(n, 4)
        assert isinstance(state, tuple) and state
        assert all(isinstance(a, np.ndarray) and a.shape[0] == n for a in state), "first axis: the track"
        for out in (smoother.position(state), smoother.expected(state)):
            assert out.shape == (n, 4, 2) and out.dtype == np.float64
            assert np.isnan(out).all(), "no joint known yet"
    # Predicting and updating no track at all is fine.
    empty = smoother.blank(0, 4)
    assert_state_equal(step(smoother, empty, np.zeros((0, 4, 2))), empty)


def test_first_measurement_is_taken_as_is(smoother):
    z = np.arange(24, dtype=np.float64).reshape(3, 4, 2) * 7.5
    z[1, 2] = np.nan  # not measured: stays unknown
    state = step(smoother, smoother.blank(3, 4), z)
    pos = smoother.position(state)
    np.testing.assert_array_equal(np.isnan(pos[..., 0]), np.isnan(z[..., 0]))
    np.testing.assert_array_equal(pos[np.isfinite(z)], z[np.isfinite(z)])
    np.testing.assert_array_equal(smoother.expected(state)[np.isfinite(z)], z[np.isfinite(z)])


def test_a_still_joint_stays_put(smoother):
    rng = np.random.default_rng(0)
    at = np.array([[[320.0, 240.0], [10.0, 470.0]]])  # one track, two joints
    state = smoother.blank(1, 2)
    for _ in range(60):
        state = step(smoother, state, at)
    np.testing.assert_allclose(smoother.position(state), at, rtol=0, atol=1e-9)
    np.testing.assert_allclose(smoother.expected(state), at, rtol=0, atol=1e-9)
    # ... and through a gap of half a second without a measurement (no velocity to carry it away).
    for _ in range(15):
        state = step(smoother, state, np.full((1, 2, 2), np.nan))
    np.testing.assert_allclose(smoother.position(state), at, rtol=0, atol=1e-9)
    # With noise: the smoothers smooth, "none" gives the measurements back.
    state, err, raw = smoother.blank(1, 2), [], []
    for k in range(120):
        z = at + rng.normal(0, 2.0, at.shape)
        state = step(smoother, state, z)
        if k >= 30:
            err.append(smoother.position(state) - at)
            raw.append(z - at)
    if isinstance(smoother, NoSmoother):
        np.testing.assert_array_equal(err, raw)
    else:
        assert np.std(err) < 0.7 * np.std(raw)
        assert np.abs(np.mean(err, axis=0)).max() < 1.0, "no bias (noise: 2 px)"


def test_a_joint_at_constant_velocity_is_followed(smoother):
    v = np.array([60.0, -30.0])  # px/s
    start = np.array([200.0, 300.0])
    state = smoother.blank(1, 1)
    errors, ahead = [], []
    for k in range(60):
        truth = (start + v * k * DT)[None, None]
        if k:
            predicted = smoother.expected(smoother.predict(state, DT, np.array([SIZE])))
            ahead.append(np.abs(predicted - truth).max())
        state = step(smoother, state, truth)
        errors.append(np.abs(smoother.position(state) - truth).max())
    # Where the next measurement is expected: never further off than holding the last one (|v| dt) ...
    assert max(ahead) <= np.abs(v).max() * DT + 1e-9
    # ... and the output, after a second, within 5 % of the person's size (One-Euro lags 2.6 px here,
    # Kalman and none follow exactly), not drifting away.
    assert max(errors[30:]) < 0.05 * SIZE, errors
    assert errors[-1] <= errors[30] + 1e-6
    if not isinstance(smoother, OneEuroSmoother):
        assert errors[-1] < 1e-3


def test_an_unmeasured_joint_keeps_its_estimate(smoother):
    rng = np.random.default_rng(1)
    state = smoother.blank(2, 3)
    for k in range(20):
        state = step(smoother, state, rng.uniform(0, 500, (2, 3, 2)))
    size = np.full(2, SIZE)
    before = smoother.predict(state, DT, size)
    none = np.zeros((2, 3), bool)
    # Not measured: the update changes nothing (whatever z holds there).
    for z in (np.full((2, 3, 2), np.nan), rng.uniform(0, 500, (2, 3, 2))):
        assert_state_equal(smoother.update(before, z, none, none, np.zeros((2, 3)), size), before)
    # Measured only in part: the other joints' positions are the prediction's.
    measured = np.array([[True, False, False], [False, False, True]])
    after = smoother.update(before, rng.uniform(0, 500, (2, 3, 2)), measured, np.zeros_like(measured),
                            np.full((2, 3), 0.8), size)
    np.testing.assert_array_equal(smoother.position(after)[~measured], smoother.position(before)[~measured])
    assert not np.allclose(smoother.position(after)[measured], smoother.position(before)[measured])


def test_fresh_joints_restart_at_the_measurement(smoother):
    state = smoother.blank(1, 2)
    for k in range(10):
        state = step(smoother, state, np.array([[[100.0 + 10 * k, 50.0], [30.0, 30.0 + 5 * k]]]))
    size = np.array([SIZE])
    state = smoother.predict(state, DT, size)
    z = np.array([[[900.0, 900.0], [31.0, 80.0]]])
    fresh = np.array([[True, False]])
    state = smoother.update(state, z, np.ones((1, 2), bool), fresh, np.full((1, 2), 0.8), size)
    np.testing.assert_array_equal(smoother.position(state)[0, 0], [900.0, 900.0])
    # Restarted with no velocity: it stays there when predicted on.
    later = smoother.predict(state, 0.5, size)
    np.testing.assert_allclose(smoother.position(later)[0, 0], [900.0, 900.0], rtol=0, atol=1e-9)
    np.testing.assert_allclose(smoother.expected(later)[0, 0], [900.0, 900.0], rtol=0, atol=1e-9)


def test_tracks_are_rows_independent_of_each_other(smoother):
    """The state's first axis is the track: rows may be dropped, gathered and appended, and a track's
    result does not depend on which other tracks share the arrays."""
    rng = np.random.default_rng(2)
    zs = rng.uniform(0, 500, (25, 3, 4, 2)) + np.linspace(0, 200, 25)[:, None, None, None]
    zs[rng.random(zs.shape[:3]) < 0.2] = np.nan
    zs[0] = rng.uniform(0, 500, (3, 4, 2))
    full, alone = smoother.blank(3, 4), [smoother.blank(1, 4) for _ in range(3)]
    for z in zs:
        full = step(smoother, full, z)
        alone = [step(smoother, s, z[i:i + 1]) for i, s in enumerate(alone)]
    for i in range(3):
        np.testing.assert_allclose(smoother.position(full)[i:i + 1], smoother.position(alone[i]), rtol=1e-12)
        np.testing.assert_allclose(smoother.expected(full)[i:i + 1], smoother.expected(alone[i]), rtol=1e-12)
    keep = np.array([True, False, True])
    kept = tuple(a[keep] for a in full)
    np.testing.assert_array_equal(smoother.position(kept), smoother.position(full)[keep])
    joined = tuple(np.concatenate([a, b]) for a, b in zip(kept, smoother.blank(2, 4)))
    pos = smoother.position(joined)
    assert pos.shape == (4, 4, 2) and np.isnan(pos[2:]).all()
    np.testing.assert_array_equal(pos[:2], smoother.position(full)[keep])
    # The kept rows go on exactly as they would have in the full arrays.
    z = zs[-1] + 5.0
    np.testing.assert_array_equal(smoother.position(step(smoother, kept, z[keep])),
                                  smoother.position(step(smoother, full, z))[keep])


def test_track_table_keeps_and_appends_rows(smoother):
    table = TrackTable.blank(3, 4, smoother)
    assert len(table) == 3 and table.known.shape == (3, 4) and table.joint_age.shape == (3, 4)
    assert (table.state == TRACK_TENTATIVE).all() and (table.det == -1).all() and np.isinf(table.joint_age).all()
    table.ids[:] = [5, 6, 7]
    table.state[:] = [TRACK_TENTATIVE, TRACK_CONFIRMED, COASTING]
    table.unseen[:] = [0.0, 0.1, 0.2]
    z = np.arange(24, dtype=np.float64).reshape(3, 4, 2)
    yes = np.ones((3, 4), bool)
    table.filter = smoother.update(table.filter, z, yes, yes, np.ones((3, 4)), np.full(3, SIZE))
    before = table.filter
    table.keep(np.ones(3, bool))
    assert table.filter is before, "keeping every row copies nothing"
    table.keep(np.array([True, False, True]))
    assert len(table) == 2 and table.ids.tolist() == [5, 7] and table.state.tolist() == [TRACK_TENTATIVE, COASTING]
    assert table.unseen.tolist() == [0.0, 0.2]
    np.testing.assert_array_equal(smoother.position(table.filter), z[[0, 2]])
    born = TrackTable.blank(1, 4, smoother)
    born.ids[:] = 8
    table.append(born)
    assert len(table) == 3 and table.ids.tolist() == [5, 7, 8] and table.det.tolist() == [-1, -1, -1]
    assert all(a.shape[0] == 3 for a in table.filter)
    np.testing.assert_array_equal(smoother.position(table.filter)[:2], z[[0, 2]])
    assert np.isnan(smoother.position(table.filter)[2]).all()
    table.keep(np.zeros(3, bool))
    assert len(table) == 0 and all(a.shape[0] == 0 for a in table.filter)


def test_coasting_is_not_a_reported_state():
    assert COASTING not in TRACK_STATES and set(TRACK_STATES) == {TRACK_TENTATIVE, TRACK_CONFIRMED}
