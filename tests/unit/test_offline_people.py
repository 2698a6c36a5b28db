"""Offline smoothing of tracked people (livepose.track.offline.smooth_people) on constructed tracks run
through the real tracker: jitter well below the live filter's, no lag, short gaps filled and long ones
left missing, rows and ids unchanged, relabelled tracks smoothed in one labelling; and the command
line's refusals of `run --smoother offline` (before anything is opened)."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import error_line, run_cli
from livepose.errors import InputError
from livepose.eval.track_metrics import jitter, smoothing_lag
from livepose.settings import TrackerConfig
from livepose.track import PoseTracker
from livepose.track.offline import OfflineSmoothing, smooth_people
from livepose.types import TRACK_CONFIRMED, People, Poses

PARTS = ("nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow", "left_wrist",
         "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle")
# a person about 200 px tall, facing the camera (its right side on the image's left)
BODY = np.array([[0, -95], [0, -70], [-25, -65], [-35, -25], [-40, 10], [25, -65], [35, -25], [40, 10],
                 [-15, 10], [-15, 55], [-15, 100], [15, 10], [15, 55], [15, 100]], np.float64)
FPS = 25.0


def _live(centres: np.ndarray, noise: float = 2.0, seed: int = 0, missing=None) -> tuple[list[People], np.ndarray]:
    """One person at ``centres`` (T, 2) with Gaussian noise, through the default tracker: (people, t).
    ``missing(k)``: the part indices not detected in frame k."""
    rng = np.random.default_rng(seed)
    tracker = PoseTracker(PARTS, TrackerConfig())
    t = np.arange(len(centres)) / FPS
    out = []
    for k, c in enumerate(centres):
        xy = (BODY + c + rng.normal(0, noise, BODY.shape)).astype(np.float32)[None]
        conf = np.full((1, len(PARTS)), 0.8, np.float32)
        if missing is not None:
            gone = list(missing(k))
            xy[0, gone] = np.nan
            conf[0, gone] = 0.0
        out.append(People.from_tracks(tracker.update(Poses(xy, conf, np.array([0.9], np.float32), PARTS), t[k])))
    return out, t


def _series(people: list[People], what: str) -> np.ndarray:
    """(T, P, 2) of the one person: raw measured, shown (poses) or shown-or-predicted; NaN where absent."""
    out = np.full((len(people), len(PARTS), 2), np.nan)
    for k, p in enumerate(people):
        if len(p) != 1:
            continue
        if what == "raw":
            ok = p.raw.conf[0] > 0
            out[k] = np.where(ok[:, None], p.raw.xy[0], np.nan)
        elif what == "shown":
            out[k] = p.poses.xy[0]
        else:
            out[k] = np.where(np.isfinite(p.predicted_xy[0]), p.predicted_xy[0], p.poses.xy[0])
    return out


def test_constant_velocity_offline_jitter_well_below_live():
    centres = np.stack([100 + 4.0 * np.arange(80), np.full(80, 250.0)], -1)
    live, t = _live(centres)
    off = smooth_people(live, t)
    raw = _series(live, "raw")
    j_live = jitter(raw, _series(live, "shown"))
    j_off = jitter(raw, _series(off, "shown"))
    assert j_off["samples"] == j_live["samples"] > 1000
    assert j_off["ratio"] < 0.6 * j_live["ratio"], (j_off, j_live)
    # the straight line is followed: nearer the truth than the raw detections
    truth = BODY[None] + centres[:, None]
    err_off = np.nanmean(np.linalg.norm(_series(off, "shown") - truth, axis=-1))
    err_raw = np.nanmean(np.linalg.norm(raw - truth, axis=-1))
    assert err_off < 0.6 * err_raw


def test_no_lag_where_the_live_filter_lags():
    k = np.arange(100)
    centres = np.stack([300 + 120 * np.sin(2 * np.pi * k / 40), np.full(100, 250.0)], -1)  # 0.625 Hz sway
    live, t = _live(centres, noise=1.0)
    off = smooth_people(live, t)
    raw = _series(live, "raw")
    lag_live = smoothing_lag(raw=raw, smoothed=_series(live, "shown"))["lag"]
    lag_off = smoothing_lag(raw=raw, smoothed=_series(off, "shown"))["lag"]
    assert abs(lag_off) <= 0.1 and lag_live >= 0.15, (lag_off, lag_live)


def test_a_step_is_smoothed_symmetrically():
    """A jump of 30 px at frame 40: the zero-lag smoother crosses the midpoint at the step (the live
    filter only after it), and the values either side mirror each other."""
    centres = np.stack([np.where(np.arange(80) < 40, 200.0, 230.0), np.full(80, 250.0)], -1)
    live, t = _live(centres, noise=0.0)
    off = _series(smooth_people(live, t), "shown")[:, :, 0] - BODY[None, :, 0]  # (T, P) the centre's x per joint
    x = off.mean(1)
    mid = 215.0
    assert x[39] < mid < x[40]
    assert (x[39] - 200.0) == pytest.approx(230.0 - x[40], abs=1.0)
    assert abs(x[38] - 200.0 - (230.0 - x[41])) < 1.0
    lx = (_series(live, "shown")[:, :, 0] - BODY[None, :, 0]).mean(1)
    assert lx[39] < mid and 230.0 - lx[40] > 230.0 - x[40]  # the live filter is still behind at frame 40


def test_short_gaps_filled_long_gaps_missing():
    wrist = PARTS.index("left_wrist")
    knee = PARTS.index("right_knee")

    def missing(k):
        return ([wrist] if 20 <= k < 23 else []) + ([knee] if 30 <= k < 50 else [])  # 0.16 s and 0.8 s

    centres = np.stack([100 + 3.0 * np.arange(70), np.full(70, 250.0)], -1)
    live, t = _live(centres, noise=1.0, missing=missing)
    off = smooth_people(live, t, smoothing=OfflineSmoothing(max_gap_s=0.25))
    pred = np.stack([p.predicted_xy[0] for p in off])
    shown = np.stack([p.poses.xy[0] for p in off])
    # the short gap: filled on the line between the smoothed values either side, never shown as measured
    assert np.isfinite(pred[20:23, wrist]).all() and np.isnan(shown[20:23, wrist]).all()
    a, b = shown[19, wrist], shown[23, wrist]
    for i, k in enumerate(range(20, 23)):
        assert pred[k, wrist] == pytest.approx(a + (i + 1) / 4 * (b - a), abs=1e-3)
    # the long gap: missing (the live tracker predicts it for 0.3 s; offline nothing is invented)
    assert np.isnan(pred[30:50, knee]).all() and np.isnan(shown[30:50, knee]).all()
    assert np.isfinite(np.stack([p.predicted_xy[0] for p in live])[30:33, knee]).all()
    # measured joints are never in predicted
    assert np.isnan(pred[~np.isnan(shown[..., 0])]).all()
    # max_gap_s 0: no gap filled
    none = smooth_people(live, t, smoothing=OfflineSmoothing(max_gap_s=0.0))
    assert all(np.isnan(p.predicted_xy).all() for p in none)


def test_rows_ids_raw_unchanged_and_untracked_frames_pass():
    centres = np.stack([100 + 2.0 * np.arange(30), np.full(30, 250.0)], -1)
    live, t = _live(centres)
    empty = People(Poses.empty(PARTS), ids=np.zeros(0, np.int64), state=np.zeros(0, np.int8),
                   raw=Poses.empty(PARTS), predicted_xy=np.zeros((0, len(PARTS), 2), np.float32))
    live = live[:10] + [empty, People.detected(Poses.empty(PARTS))] + live[12:]
    off = smooth_people(live, t)
    assert len(off) == len(live)
    assert off[11] is live[11]
    for a, b in zip(live, off):
        assert len(a) == len(b)
        if not a.tracked:
            continue
        assert (a.ids == b.ids).all() and (a.state == b.state).all() and b.raw is a.raw
        assert (np.isfinite(a.poses.xy[..., 0]) == np.isfinite(b.poses.xy[..., 0])).all()
        assert (a.poses.conf == b.poses.conf).all()
    moved = np.concatenate([np.linalg.norm(a.poses.xy - b.poses.xy, axis=-1).ravel() for a, b in zip(live, off)
                            if a.tracked and len(a)])
    assert np.nanmax(moved) > 0.1 and np.nanmedian(moved) < 5.0


def _person(xy: np.ndarray, tid: int) -> People:
    xy = np.asarray(xy, np.float32)[None]
    conf = np.where(np.isfinite(xy[..., 0]), np.float32(0.8), np.float32(0.0))
    poses = Poses(xy, conf, np.array([0.9], np.float32), PARTS)
    return People(poses, ids=np.array([tid], np.int64), state=np.array([TRACK_CONFIRMED], np.int8), raw=poses,
                  predicted_xy=np.full(xy.shape, np.nan, np.float32))


def test_relabelled_track_is_smoothed_in_one_labelling():
    """The tracker relabels a person (left and right swapped in its outputs from frame 15 on): each body
    point is smoothed along its own path, not pulled towards the other side of the body."""
    from livepose.track.cost import mirror_from_names

    mirror = mirror_from_names(PARTS)
    rng = np.random.default_rng(3)
    frames = []
    for k in range(30):
        xy = BODY + [200 + 2.0 * k, 250] + rng.normal(0, 1.0, BODY.shape)
        frames.append(_person(xy[mirror] if k >= 15 else xy, 7))
    t = np.arange(30) / FPS
    off = smooth_people(frames, t)
    d = np.stack([np.linalg.norm(a.poses.xy[0] - b.raw.xy[0], axis=-1) for a, b in zip(off, frames)])
    assert d.max() < 6.0, d.max()
    off_plain = smooth_people(frames, t, TrackerConfig(mirror_match=False))  # no labelling known: pulled across
    d_plain = np.stack([np.linalg.norm(a.poses.xy[0] - b.raw.xy[0], axis=-1) for a, b in zip(off_plain, frames)])
    assert d_plain.max() > 15.0


def test_a_short_mislabelled_run_keeps_the_sides():
    """Two frames whose raw joints are labelled the other way (the tracker took a weak detection as
    the network labelled it): written in the track's labelling, each joint on its own side, raw as given."""
    from livepose.track.cost import mirror_from_names
    from livepose.track.offline import _output_labellings

    mirror = mirror_from_names(PARTS)
    rng = np.random.default_rng(8)
    truth = [BODY + [200 + 2.0 * k, 250] for k in range(30)]
    frames = [_person((x + rng.normal(0, 1.0, BODY.shape))[mirror] if k in (12, 13) else
                      x + rng.normal(0, 1.0, BODY.shape), 4) for k, x in enumerate(truth)]
    off = smooth_people(frames, np.arange(30) / FPS)
    err = np.stack([np.linalg.norm(p.poses.xy[0] - x, axis=-1) for p, x in zip(off, truth)])
    assert err.max() < 4.0, err.max()
    assert np.allclose(off[12].raw.xy, frames[12].raw.xy)  # the detection as the tracker gave it
    assert _output_labellings(np.array([0, 1, 0, 1, 1, 1, 1, 0, 0, 1, 1, 1], bool), 3).tolist() == \
        [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
    assert _output_labellings(np.array([0, 0, 0, 1, 1, 1, 1, 0], bool), 3).tolist() == [0, 0, 0, 1, 1, 1, 1, 1]
    assert _output_labellings(np.array([0, 1], bool), 3).tolist() == [0, 0]


def test_tracks_smoothed_together_as_alone():
    """Several tracks in one RTS call (overlapping in time) give what each gives alone."""
    rng = np.random.default_rng(5)
    t = np.arange(40) / FPS
    both, first, second = [], [], []
    for k in range(40):
        rows = []
        a = _person(BODY + [100 + 3.0 * k, 200] + rng.normal(0, 2, BODY.shape), 1) if k < 30 else None
        b = _person(BODY + [500 - 2.0 * k, 260] + rng.normal(0, 2, BODY.shape), 2) if k >= 10 else None
        rows = [p for p in (a, b) if p is not None]
        both.append(People(Poses(np.concatenate([p.poses.xy for p in rows]), np.concatenate([p.poses.conf for p in rows]),
                                 np.concatenate([p.poses.score for p in rows]), PARTS),
                           ids=np.concatenate([p.ids for p in rows]), state=np.concatenate([p.state for p in rows]),
                           raw=Poses(np.concatenate([p.raw.xy for p in rows]), np.concatenate([p.raw.conf for p in rows]),
                                     np.concatenate([p.raw.score for p in rows]), PARTS),
                           predicted_xy=np.concatenate([p.predicted_xy for p in rows])))
        first.append(a if a is not None else _person(np.full(BODY.shape, np.nan), 1))
        second.append(b if b is not None else _person(np.full(BODY.shape, np.nan), 2))
    together = smooth_people(both, t)
    alone = [smooth_people(first, t), smooth_people(second, t)]
    for k, p in enumerate(together):
        for n, tid in enumerate(p.ids.tolist()):
            ref = alone[tid - 1][k]
            np.testing.assert_allclose(p.poses.xy[n], ref.poses.xy[0], atol=1e-3)


def test_butterworth_method():
    centres = np.stack([100 + 4.0 * np.arange(80), np.full(80, 250.0)], -1)
    live, t = _live(centres)
    off = smooth_people(live, t, smoothing=OfflineSmoothing("butterworth", cutoff_hz=3.0))
    raw = _series(live, "raw")
    assert jitter(raw, _series(off, "shown"))["ratio"] < jitter(raw, _series(live, "shown"))["ratio"]
    repeated = t.copy()
    repeated[50] = repeated[49]  # a repeated timestamp: Butterworth needs uniform steps (RTS does not)
    with pytest.raises(InputError, match="irregular timestamps"):
        smooth_people(live, repeated, smoothing=OfflineSmoothing("butterworth"))
    smooth_people(live, repeated)


@pytest.mark.parametrize("kwargs, message", [
    (dict(method="spline"), "method must be one of rts, butterworth"),
    (dict(max_gap_s=-1), "max_gap_s must be"),
    (dict(process_noise_scale=0), "process_noise_scale must be above 0"),
    (dict(cutoff_hz=0), "cutoff_hz must be above 0"),
])
def test_bad_settings(kwargs, message):
    with pytest.raises(InputError, match=message):
        OfflineSmoothing(**kwargs)


def test_report_fields():
    assert OfflineSmoothing().as_dict() == {"method": "rts", "max_gap_s": 0.25, "process_noise_scale": 4.0}
    assert "offline" in OfflineSmoothing().describe()
    assert OfflineSmoothing.from_smoother("offline-butterworth").method == "butterworth"


# ----------------------------------------------------------------------------- the command line


@pytest.mark.parametrize("extra, words", [
    (["--realtime"], "--realtime plays it as a live source"),
    (["--no-track"], "needs tracking"),
    (["--ws", "0"], "--ws, --osc and --udp stream each frame"),
    (["--udp", "127.0.0.1:9"], "--ws, --osc and --udp stream each frame"),
    (["--display"], "write --video instead"),
])
def test_run_offline_refusals(tmp_path, capsys, extra, words):
    from helpers import CLIP

    code, _, err = run_cli(capsys, "run", CLIP, "--smoother", "offline", "--jsonl", tmp_path / "a.jsonl", *extra)
    assert code == 2 and words in error_line(err), err
    assert list(tmp_path.iterdir()) == []


def test_run_offline_needs_a_file_output(tmp_path, capsys):
    from helpers import CLIP

    code, _, err = run_cli(capsys, "run", CLIP, "--smoother", "offline")
    assert code == 2 and "writes files" in error_line(err)
