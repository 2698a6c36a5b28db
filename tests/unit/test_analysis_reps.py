"""Repetition counting with hysteresis (livepose/analysis/reps.py) on constructed angle signals."""

import numpy as np
import pytest

from livepose.analysis.reps import count_reps, parse_thresholds


def _squats(n_reps=5, fps=30.0, period=2.0, lo=5.0, hi=95.0, lead=1.0):
    """Standing (lo) for ``lead`` s, then ``n_reps`` smooth squats down to ``hi`` and back."""
    t = np.arange(int((lead * 2 + n_reps * period) * fps)) / fps
    phase = np.clip((t - lead) / period, 0, n_reps)
    a = lo + (hi - lo) * 0.5 * (1 - np.cos(2 * np.pi * phase))
    return t, a


def test_clean_signal_counts_every_rep_with_its_times():
    t, a = _squats(5)
    r = count_reps(t, a)
    assert r["count"] == 5 and r["note"] is None
    lo, hi = 5 + 0.3 * 90, 5 + 0.7 * 90           # 30 % / 70 % of the (2nd..98th percentile) range
    assert r["low_deg"] == pytest.approx(lo, abs=1.0) and r["high_deg"] == pytest.approx(hi, abs=1.0)
    for k, rep in enumerate(r["reps"]):
        centre = 1.0 + 2.0 * k + 1.0               # each squat peaks mid-period
        assert rep["peak"] == pytest.approx(centre, abs=1 / 30)
        assert rep["peak_deg"] == pytest.approx(95.0, abs=0.1)
        assert rep["start"] < rep["peak"] < rep["end"]
        # the LOW crossings of 5 + 45 (1 - cos) = LOW, symmetric around the peak
        half = np.arccos(1 - 2 * (r["low_deg"] - 5) / 90) / (2 * np.pi) * 2.0
        assert rep["start"] == pytest.approx(centre - 1.0 + half, abs=0.01)
        assert rep["end"] == pytest.approx(centre + 1.0 - half, abs=0.01)


def test_noise_around_a_threshold_does_not_count_twice():
    t, a = _squats(4)
    rng = np.random.default_rng(3)
    noisy = a + rng.normal(0, 4.0, a.shape)         # jitter crossing LOW and HIGH many times each rep
    assert count_reps(t, noisy)["count"] == 4
    # a signal hovering around one threshold only: never from LOW to HIGH and back
    flat = 50 + rng.normal(0, 6.0, 300)
    r = count_reps(np.arange(300) / 30, flat, (45.0, 70.0))
    assert r["count"] == 0


def test_missing_samples_are_skipped_but_a_long_gap_forgets_the_state():
    t, a = _squats(5)
    holes = a.copy()
    holes[::7] = np.nan                             # short holes everywhere
    assert count_reps(t, holes)["count"] == 5
    gap = a.copy()
    gap[(t > 3.7) & (t < 4.3)] = np.nan             # 0.6 s gap through the bottom of the 2nd squat
    r = count_reps(t, gap)
    assert r["count"] == 4
    assert all(not (rep["start"] < 4.0 < rep["end"]) for rep in r["reps"])
    assert count_reps(t, gap, max_gap_s=2.0)["count"] == 5      # a longer allowed gap bridges it


def test_small_range_counts_nothing_unless_thresholds_are_given():
    t, a = _squats(3, lo=10, hi=22)
    r = count_reps(t, a)
    assert r["count"] == 0 and "under the 20 deg minimum" in r["note"] and r["low_deg"] is None
    assert count_reps(t, a, min_range=5)["count"] == 3
    assert count_reps(t, a, (12.0, 20.0))["count"] == 3


def test_an_unfinished_rep_and_a_start_above_high_are_not_counted():
    t, a = _squats(3)
    cut = t < 1.0 + 2 * 2.0 + 1.0                   # stop at the bottom of the 3rd squat
    assert count_reps(t[cut], a[cut])["count"] == 2
    late = t >= 2.0                                  # start at the bottom of the 1st: not seen below LOW first
    assert count_reps(t[late], a[late])["count"] == 2
    assert count_reps(t[:2], a[:2])["note"] == "fewer than 3 samples of this angle"


@pytest.mark.parametrize("text, match", [("10", "two numbers"), ("a,b", "not two numbers"),
                                         ("70,30", "must be below HIGH"), ("nan,30", "finite")])
def test_bad_thresholds(text, match):
    with pytest.raises(ValueError, match=match):
        parse_thresholds(text)
    assert parse_thresholds("30,70") == (30.0, 70.0)
