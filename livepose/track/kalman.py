"""Constant-velocity Kalman filters for every joint of every track, batched in numpy.

Each joint of each track has two independent filters, one per image axis, with the state
s = [position, velocity] (pixels, pixels per second).  All of them are predicted and updated
at once on arrays (habit: a stateless model over batched state; the tracker owns the arrays):

    mean  (T, P, 2, 2)     track, joint, axis (x, y), state (position, velocity)
    cov   (T, P, 2, 2, 2)  the 2x2 state covariance of each track, joint and axis

The equations (filterpy's ``predict`` / ``update`` for one filter, written out for 2x2)::

    predict   s <- F s                 F = [[1, dt], [0, 1]]
              C <- F C F^T + Q         Q = var * [[dt^4/4, dt^3/2], [dt^3/2, dt^2]]
                                         (filterpy.common.Q_discrete_white_noise(dim=2, dt, var))
    update    y = z - H s              H = [1, 0]  (the position is measured)
              S = H C H^T + R          scalar
              K = C H^T / S            (2,)
              s <- s + K y
              C <- (I - K H) C

Joints not measured in a frame are only predicted (``measured`` masks the update).

Noise, :class:`ConstantVelocityKalman` (``size``: the person's size in pixels, sqrt of the box
area, so a person near the camera may move more pixels and is measured less precisely in
pixels)::

    var = (process_noise * size)^2 / dt            random acceleration; process_noise^2 is its
                                                   spectral density in sizes^2 / s^3, so the motion
                                                   allowed per second is the same at any frame rate
    R   = (measurement_noise * size)^2 / max(conf, MIN_CONF)    low confidence -> larger R
    a joint measured for the first time: s = [z, 0], C = diag(R, (init_speed * size)^2)

``Q_discrete_white_noise`` is re-implemented here (the same formula, vectorised over tracks;
tests compare it with filterpy's) because importing filterpy takes over a second (it loads
scipy.stats) and one call costs 50 us, 5 % of the per-frame budget.
"""

from __future__ import annotations

import numpy as np

#: Confidences below this count as this when scaling R (a peak of 0 would mean infinite noise).
MIN_CONF = 0.05


def q_discrete_white_noise(dt: float, var: np.ndarray) -> np.ndarray:
    """(..., 2, 2) ``filterpy.common.Q_discrete_white_noise(dim=2, dt=dt, var=v)`` for every v in ``var``."""
    var = np.asarray(var, dtype=np.float64)
    base = np.array([[0.25 * dt**4, 0.5 * dt**3], [0.5 * dt**3, dt**2]])
    return base * var[..., None, None]


def kf_initiate(z: np.ndarray, r: np.ndarray, velocity_var: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Filters started at the measurement with zero velocity.

    ``z`` (..., 2) positions, ``r`` (...) measurement variance, ``velocity_var`` (...) the
    velocity variance; returns mean (..., 2, 2) and cov (..., 2, 2, 2).
    """
    z = np.asarray(z, dtype=np.float64)
    mean = np.zeros(z.shape + (2,), np.float64)
    mean[..., 0] = z
    cov = np.zeros(z.shape + (2, 2), np.float64)
    cov[..., 0, 0] = np.asarray(r, dtype=np.float64)[..., None]
    cov[..., 1, 1] = np.asarray(velocity_var, dtype=np.float64)[..., None]
    return mean, cov


def kf_predict(mean: np.ndarray, cov: np.ndarray, dt: float, var: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Predict every filter ``dt`` seconds ahead; ``var`` (T,) the per-track Q scale. New arrays."""
    pos, vel = mean[..., 0], mean[..., 1]
    out_mean = np.empty_like(mean)
    out_mean[..., 0] = pos + dt * vel  # F s
    out_mean[..., 1] = vel
    q = q_discrete_white_noise(dt, var)  # (T, 2, 2)
    q = q.reshape(q.shape[:1] + (1,) * (cov.ndim - 3) + (2, 2))  # (T, 1, 1, 2, 2): the same for all joints and axes
    p00, p01, p10, p11 = cov[..., 0, 0], cov[..., 0, 1], cov[..., 1, 0], cov[..., 1, 1]
    out_cov = np.empty_like(cov)
    # F C F^T with F = [[1, dt], [0, 1]], plus Q
    out_cov[..., 0, 0] = p00 + dt * (p01 + p10) + (dt * dt) * p11
    out_cov[..., 0, 1] = p01 + dt * p11
    out_cov[..., 1, 0] = p10 + dt * p11
    out_cov[..., 1, 1] = p11
    out_cov += q
    return out_mean, out_cov


def kf_update(mean: np.ndarray, cov: np.ndarray, z: np.ndarray, r: np.ndarray,
              measured: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Update the filters whose joint was ``measured`` (T, P) with ``z`` (T, P, 2); ``r`` (T, P).

    Filters of joints not measured are returned unchanged (whatever ``z`` holds there).  New arrays.
    """
    p00, p01, p10, p11 = cov[..., 0, 0], cov[..., 0, 1], cov[..., 1, 0], cov[..., 1, 1]
    m = np.asarray(measured, dtype=bool)[..., None]
    s = p00 + np.asarray(r, dtype=np.float64)[..., None]  # S = H C H^T + R
    k0 = np.where(m, p00 / s, 0.0)  # K = C H^T / S (S > 0 as R > 0); 0 where not measured: nothing changes
    k1 = np.where(m, p10 / s, 0.0)
    y = np.where(m, z - mean[..., 0], 0.0)  # innovation
    out_mean = np.empty_like(mean)
    out_mean[..., 0] = mean[..., 0] + k0 * y
    out_mean[..., 1] = mean[..., 1] + k1 * y
    out_cov = np.empty_like(cov)
    # (I - K H) C = [[(1 - k0) p00, (1 - k0) p01], [p10 - k1 p00, p11 - k1 p01]]
    out_cov[..., 0, 0] = p00 - k0 * p00
    out_cov[..., 0, 1] = p01 - k0 * p01
    out_cov[..., 1, 0] = p10 - k1 * p00
    out_cov[..., 1, 1] = p11 - k1 * p01
    return out_mean, out_cov


class ConstantVelocityKalman:
    """The Kalman smoother: noise scaled by person size and confidence (module docstring).

    Holds only parameters.  Its state is the tuple (mean, cov) with the shapes above; the
    methods shared by all smoothers (``blank``, ``predict``, ``update``, ``position``, ``expected``) take
    and return such tuples, so the tracker can gather, scatter and drop rows of any smoother.
    """

    def __init__(self, process_noise: float, measurement_noise: float, init_speed: float):
        self.process_noise = float(process_noise)
        self.measurement_noise = float(measurement_noise)
        self.init_speed = float(init_speed)

    def process_var(self, dt: float, size: np.ndarray) -> np.ndarray:
        """(T,) the ``var`` of Q_discrete_white_noise for this step."""
        return (self.process_noise * np.asarray(size, dtype=np.float64)) ** 2 / dt

    def measurement_var(self, conf: np.ndarray, size: np.ndarray) -> np.ndarray:
        """(T, P) R for each joint measurement."""
        scale = (self.measurement_noise * np.asarray(size, dtype=np.float64)) ** 2
        return scale[:, None] / np.maximum(np.asarray(conf, dtype=np.float64), MIN_CONF)

    def velocity_var(self, size: np.ndarray) -> np.ndarray:
        """(T,) velocity variance of a newly started joint."""
        return (self.init_speed * np.asarray(size, dtype=np.float64)) ** 2

    def blank(self, n: int, num_parts: int) -> tuple[np.ndarray, np.ndarray]:
        """State of ``n`` tracks with no joint known (NaN)."""
        return (np.full((n, num_parts, 2, 2), np.nan), np.full((n, num_parts, 2, 2, 2), np.nan))

    def predict(self, state: tuple, dt: float, size: np.ndarray) -> tuple:
        mean, cov = state
        if mean.shape[0] == 0:
            return state
        return kf_predict(mean, cov, dt, self.process_var(dt, size))

    def update(self, state: tuple, z: np.ndarray, measured: np.ndarray, fresh: np.ndarray,
               conf: np.ndarray, size: np.ndarray, noise: float = 1.0) -> tuple:
        """Update the ``measured`` joints; those also ``fresh`` start anew at the measurement.
        ``noise``: the measurements' noise (standard deviation) is this many times the usual (R
        times its square: keypoints carried by optical flow, :mod:`livepose.carry`)."""
        mean, cov = state
        if mean.shape[0] == 0:
            return state
        r = self.measurement_var(conf, size)
        if noise != 1.0:
            r = r * (float(noise) ** 2)
        mean, cov = kf_update(mean, cov, z, r, measured & ~fresh)
        if fresh.any():
            m0, c0 = kf_initiate(z, r, np.broadcast_to(self.velocity_var(size)[:, None], r.shape))
            f = fresh[..., None, None]
            mean = np.where(f, m0, mean)
            cov = np.where(f[..., None], c0, cov)
        return mean, cov

    @staticmethod
    def position(state: tuple) -> np.ndarray:
        """(T, P, 2) the current position estimate."""
        return state[0][..., 0]

    #: Where the next measurements are expected (association): the predicted mean itself.
    expected = position
