"""One-Euro filters (Casiez, Roussel, Vogel, CHI 2012) for every joint of every track, vectorised.

The lighter alternative to the Kalman filters: an adaptive low-pass filter whose cut-off rises
with speed (little lag when moving fast, strong smoothing when still).  Per joint, with the
time ``te`` since its last measurement::

    alpha(fc)  = 1 / (1 + 1 / (2 pi fc te))
    dx         <- dx + alpha(d_cutoff) * ((z - z_last) / te - dx)  filtered velocity, px/s
    fc         = min_cutoff + beta * |dx| / size                    speed in person sizes per second
    x          <- x + alpha(fc) * (z - x)
    z_last     <- z

(the derivative of the raw values, as in the authors' reference code; differencing against the
filtered value instead would add the filter's lag to the speed).

State (a tuple, first axis T): x (T, P, 2) filtered positions, dx (T, P, 2) filtered
velocities, z_last (T, P, 2) last raw measurements, age (T, P) seconds since the joint's last
measurement.  A joint measured for the first time (or again after being forgotten) starts at
the measurement with zero velocity.  Position of a joint not measured: x + dx * age (the
filter's velocity carried forward).  For association the tracker uses :meth:`expected`
instead, the last raw value carried forward, as the smoothed value lags behind a moving joint.
"""

from __future__ import annotations

import numpy as np

#: Shortest time step used in the filter (seconds), so repeated timestamps cannot divide by 0.
MIN_TE = 1e-3


def _alpha(te: np.ndarray, cutoff: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + 1.0 / (2.0 * np.pi * cutoff * te))


class OneEuroSmoother:
    """One-Euro filters with the interface the tracker uses for every smoother (see kalman.py)."""

    def __init__(self, min_cutoff: float, beta: float, d_cutoff: float):
        self.min_cutoff = float(min_cutoff)
        self.beta = float(beta)
        self.d_cutoff = float(d_cutoff)

    def blank(self, n: int, num_parts: int) -> tuple:
        return (np.full((n, num_parts, 2), np.nan), np.zeros((n, num_parts, 2)), np.full((n, num_parts, 2), np.nan),
                np.zeros((n, num_parts)))

    def predict(self, state: tuple, dt: float, size: np.ndarray) -> tuple:
        x, dx, z_last, age = state
        return x, dx, z_last, age + dt

    def update(self, state: tuple, z: np.ndarray, measured: np.ndarray, fresh: np.ndarray,
               conf: np.ndarray, size: np.ndarray, noise: float = 1.0) -> tuple:
        """(``noise`` is not used: the filter has no noise model.)"""
        x, dx, z_last, age = state
        if x.shape[0] == 0:
            return state
        te = np.maximum(age, MIN_TE)[..., None]  # (T, P, 1)
        new_dx = dx + _alpha(te, self.d_cutoff) * ((z - z_last) / te - dx)
        speed = np.sqrt(np.einsum("tpk,tpk->tp", new_dx, new_dx))[..., None]
        cutoff = self.min_cutoff + self.beta * speed / np.asarray(size, dtype=np.float64)[:, None, None]
        new_x = x + _alpha(te, cutoff) * (z - x)
        upd = (measured & ~fresh)[..., None]
        new = fresh[..., None]
        m = measured[..., None]
        x = np.where(new, z, np.where(upd, new_x, x))
        dx = np.where(new, 0.0, np.where(upd, new_dx, dx))
        z_last = np.where(m, z, z_last)
        age = np.where(measured, 0.0, age)
        return x, dx, z_last, age

    @staticmethod
    def position(state: tuple) -> np.ndarray:
        """(T, P, 2) smoothed positions (a joint not measured: carried forward with its velocity)."""
        x, dx, _, age = state
        return x + dx * age[..., None]

    @staticmethod
    def expected(state: tuple) -> np.ndarray:
        """(T, P, 2) where the next measurements are expected, for association: the last raw
        measurement carried forward with the filtered velocity (the smoothed position lags)."""
        _, dx, z_last, age = state
        return z_last + dx * age[..., None]

