"""Keypoint smoothers: the protocol every one follows, and the registry ``TrackerConfig.smoother`` names.

====================  ======================================================================
``"kalman"``          :class:`~livepose.track.kalman.ConstantVelocityKalman` (the default)
``"one_euro"``        :class:`~livepose.track.one_euro.OneEuroSmoother` (lighter, adaptive low-pass)
``"none"``            :class:`NoSmoother` (each joint's last measurement)
====================  ======================================================================

A smoother holds only parameters.  Its state is a tuple of arrays whose first axis is the
track (T tracks, P parts), so the tracker can drop, gather and append rows of any smoother
without knowing what the arrays mean (:class:`~livepose.track.table.TrackTable`).  The names
are :data:`livepose.settings.SMOOTHERS`; :func:`make_smoother` makes the one a configuration
names.  A new smoother is a class following :class:`Smoother` and one entry in
``_FACTORIES`` (and its name in ``SMOOTHERS``).
"""

from __future__ import annotations

from typing import Callable, Protocol, runtime_checkable

import numpy as np

from livepose.settings import SMOOTHERS, TrackerConfig
from livepose.track.kalman import ConstantVelocityKalman
from livepose.track.one_euro import OneEuroSmoother


@runtime_checkable
class Smoother(Protocol):
    """What the tracker asks of a smoother (every method returns new state; none changes its input).

    ``size`` is (T,) the person's size in pixels (sqrt of the box area).
    """

    def blank(self, n: int, num_parts: int) -> tuple[np.ndarray, ...]:
        """State of ``n`` tracks with no joint known (position NaN)."""
        ...

    def predict(self, state: tuple, dt: float, size: np.ndarray) -> tuple:
        """Every joint ``dt`` seconds (> 0) ahead."""
        ...

    def update(self, state: tuple, z: np.ndarray, measured: np.ndarray, fresh: np.ndarray,
               conf: np.ndarray, size: np.ndarray, noise: float = 1.0) -> tuple:
        """Take the measurements ``z`` (T, P, 2) of the joints ``measured`` (T, P); joints also
        ``fresh`` (T, P) (no estimate yet) start anew at the measurement with zero velocity;
        ``conf`` (T, P) the measurements' confidences; ``noise`` how many times noisier than a
        network measurement they are (carried keypoints; a smoother without a noise model may
        ignore it).  Joints not measured keep their state (whatever ``z`` holds there)."""
        ...

    def position(self, state: tuple) -> np.ndarray:
        """(T, P, 2) the smoothed positions, for output."""
        ...

    def expected(self, state: tuple) -> np.ndarray:
        """(T, P, 2) where the next measurements should be, for association."""
        ...


class NoSmoother:
    """No smoothing: each joint's last measurement, held while it is missing."""

    def blank(self, n: int, num_parts: int) -> tuple:
        return (np.full((n, num_parts, 2), np.nan),)

    def predict(self, state: tuple, dt: float, size: np.ndarray) -> tuple:
        return state

    def update(self, state: tuple, z: np.ndarray, measured: np.ndarray, fresh: np.ndarray,
               conf: np.ndarray, size: np.ndarray, noise: float = 1.0) -> tuple:
        return (np.where(measured[..., None], z, state[0]),)

    @staticmethod
    def position(state: tuple) -> np.ndarray:
        return state[0]

    expected = position


#: How each name in SMOOTHERS becomes a smoother object (the same names: tests check).
_FACTORIES: dict[str, Callable[[TrackerConfig], Smoother]] = {
    "kalman": lambda c: ConstantVelocityKalman(c.process_noise, c.measurement_noise, c.init_speed),
    "one_euro": lambda c: OneEuroSmoother(c.one_euro_min_cutoff, c.one_euro_beta, c.one_euro_d_cutoff),
    "none": lambda c: NoSmoother(),
}


def make_smoother(config: TrackerConfig) -> Smoother:
    """The smoother object ``config.smoother`` names, with the configuration's parameters."""
    try:
        factory = _FACTORIES[config.smoother]
    except KeyError:
        raise ValueError(f"smoother must be one of {', '.join(SMOOTHERS)}, got {config.smoother!r}") from None
    return factory(config)


__all__ = ["SMOOTHERS", "NoSmoother", "Smoother", "make_smoother"]
