"""Tracking: assignment, costs, Kalman and One-Euro filters, and the tracker on synthetic scenes
with known answers.  (The real Bonn PoseTrack sequence: e2e/test_track_real.py.)"""

from __future__ import annotations

import math

import numpy as np
import pytest

from helpers import bundled_card, check_tracks_contract as check_contract, jitter_ratio, lag_frames, trajectories
from livepose.track import (
    ConstantVelocityKalman, OneEuroSmoother, PoseTracker, TrackerConfig, assign, box_iou, keypoint_cost,
    kf_predict, kf_update, person_size, pose_boxes, pose_cost, q_discrete_white_noise,
)
from livepose.track.table import COASTING
from livepose.types import TRACK_CONFIRMED, TRACK_TENTATIVE, Poses, Tracks

PARTS = bundled_card().parts  # the network's parts, in its output order
P = len(PARTS)

# A standing person, offsets from the mid-hip in units of body height (x right, y down), by part.
OFFSETS = {
    "nose": (0.00, -0.45), "neck": (0.00, -0.35),
    "right_shoulder": (-0.10, -0.35), "right_elbow": (-0.13, -0.20), "right_wrist": (-0.14, -0.07),
    "left_shoulder": (0.10, -0.35), "left_elbow": (0.13, -0.20), "left_wrist": (0.14, -0.07),
    "right_hip": (-0.06, 0.00), "right_knee": (-0.06, 0.22), "right_ankle": (-0.06, 0.45),
    "left_hip": (0.06, 0.00), "left_knee": (0.06, 0.22), "left_ankle": (0.06, 0.45),
    "right_eye": (-0.02, -0.47), "left_eye": (0.02, -0.47), "right_ear": (-0.04, -0.46), "left_ear": (0.04, -0.46),
}
TEMPLATE = np.array([OFFSETS[name] for name in PARTS])
# the right wrist and the left ankle swing one way, the left wrist and the right ankle the other
SWING = np.array([{"right_wrist": 1.0, "left_ankle": 1.0, "left_wrist": -1.0, "right_ankle": -1.0}.get(name, 0.0)
                  for name in PARTS])


def skeleton(centre, height: float, t: float = 0.0, swing: float = 0.06) -> np.ndarray:
    """(P, 2) joints of a walking person at time t (limbs swinging at 1 Hz)."""
    xy = np.asarray(centre, float) + TEMPLATE * height
    xy[:, 0] += SWING * swing * height * math.sin(2 * math.pi * t)
    return xy


def make_poses(skeletons, conf: float = 0.8, missing=None) -> Poses:
    """Poses from a list of (P, 2) arrays; ``missing``: list of index arrays of absent joints per person."""
    n = len(skeletons)
    xy = np.asarray(skeletons, np.float32).reshape(n, P, 2).copy()
    c = np.full((n, P), conf, np.float32)
    for i, miss in enumerate(missing or [()] * n):
        xy[i, list(miss)] = np.nan
        c[i, list(miss)] = 0.0
    return Poses(xy=xy, conf=c, score=np.linspace(0.9, 0.5, n).astype(np.float32) if n else np.zeros(0, np.float32),
                 part_names=PARTS)


def run(tracker: PoseTracker, frames) -> list[Tracks]:
    return [tracker.update(poses, t) for t, poses in frames]


def ids_by_truth(frames_truth, results) -> dict:
    """{true person: set of tracker ids} from the detection order (det_index) of each frame."""
    seen: dict = {}
    for truth, tracks in zip(frames_truth, results):
        for tid, det in zip(tracks.ids, tracks.det_index):
            seen.setdefault(truth[det], set()).add(int(tid))
    return seen


def assert_one_id_each(seen: dict, n_people: int) -> None:
    """Each true person had exactly one tracker id, and no two people shared one."""
    assert len(seen) == n_people and all(len(v) == 1 for v in seen.values()), seen
    assert len(set().union(*seen.values())) == n_people, seen


# ------------------------------------------------------------------------------ config


def test_config_defaults_and_validation():
    cfg = TrackerConfig()
    assert cfg.smoother == "kalman" and cfg.min_hits >= 1 and cfg.max_tracks >= 50
    assert cfg.with_(min_hits=1).min_hits == 1 and cfg.as_dict()["gate"] == cfg.gate
    with pytest.raises(ValueError, match="smoother: must be one of kalman, one_euro, none"):
        TrackerConfig(smoother="median")
    with pytest.raises(ValueError, match="gate: must be in"):
        TrackerConfig(gate=0.0)
    with pytest.raises(ValueError, match="min_hits"):
        TrackerConfig(min_hits=0)
    with pytest.raises(ValueError, match="process_noise"):
        TrackerConfig(process_noise=float("nan"))
    with pytest.raises(ValueError, match="max_tracks.*; .*max_lost_seconds|max_lost_seconds.*; .*max_tracks"):
        TrackerConfig(max_tracks=0, max_lost_seconds=-1.0)
    with pytest.raises(ValueError, match="part"):
        PoseTracker(())
    tracker = PoseTracker(PARTS)
    with pytest.raises(ValueError, match="parts"):
        tracker.update(Poses.empty(PARTS[:-1]), 0.0)
    with pytest.raises(ValueError, match="timestamp"):
        tracker.update(Poses.empty(PARTS), float("nan"))


# -------------------------------------------------------------------------- assignment


def _check_assign_types(result, n_tracks, n_dets):
    matches, ut, ud = result
    assert matches.dtype == np.int64 and matches.ndim == 2 and matches.shape[1] == 2
    assert ut.dtype == np.int64 and ud.dtype == np.int64
    assert sorted(matches[:, 0].tolist() + ut.tolist()) == list(range(n_tracks))
    assert sorted(matches[:, 1].tolist() + ud.tolist()) == list(range(n_dets))


@pytest.mark.parametrize("shape", [(0, 0), (0, 3), (4, 0)])
def test_assign_empty(shape):
    result = assign(np.zeros(shape), 0.5)
    _check_assign_types(result, *shape)
    assert result[0].shape == (0, 2)


def test_assign_all_gated_out_and_non_finite():
    cost = np.array([[0.9, np.inf], [np.nan, 0.95]])
    matches, ut, ud = assign(cost, 0.5)
    assert matches.shape == (0, 2) and ut.tolist() == [0, 1] and ud.tolist() == [0, 1]


def test_assign_optimal_rectangular_and_gated():
    cost = np.array([[0.1, 0.2, 0.9], [0.15, 0.9, 0.9]])  # greedy would take (0, 0) and leave 1 alone
    matches, ut, ud = assign(cost, 0.5)
    _check_assign_types((matches, ut, ud), 2, 3)
    assert matches.tolist() == [[0, 1], [1, 0]] and ut.tolist() == [] and ud.tolist() == [2]
    matches, ut, ud = assign(cost.T, 0.5)  # 3 tracks, 2 detections
    assert matches.tolist() == [[0, 1], [1, 0]] and ut.tolist() == [2] and ud.tolist() == []
    # A pair above the gate never matches, even when it would complete the matching.
    matches, ut, ud = assign(np.array([[0.1, 0.7], [0.7, 0.9]]), 0.6)
    assert matches.tolist() == [[0, 0]] and ut.tolist() == [1] and ud.tolist() == [1]
    # A sure pair is kept rather than two poor ones (leaving a pair unmatched costs the gate).
    matches, _, _ = assign(np.array([[0.1, 0.7], [0.7, np.inf]]), 0.8)
    assert matches.tolist() == [[0, 0]]
    matches, _, _ = assign(np.array([[5.0, 1.0], [1.0, 7.0]]), math.inf)
    assert matches.tolist() == [[0, 1], [1, 0]]
    with pytest.raises(ValueError):
        assign(np.zeros(3), 0.5)


# -------------------------------------------------------------------------------- cost


def test_costs():
    a = skeleton((100, 200), 100)
    b = skeleton((300, 200), 100)
    known = np.ones((1, P), bool)
    size = person_size(a[None], known, 16.0)
    assert size[0] == pytest.approx(math.sqrt((0.28 * 100) * (0.92 * 100)))
    cost = keypoint_cost(a[None], known, np.stack([a, a + 5.0, b]), np.ones((3, P), bool), size * 0.1)
    assert cost[0, 0] == pytest.approx(0.0)
    assert cost[0, 1] == pytest.approx(1 - math.exp(-50 / (2 * (0.1 * size[0]) ** 2)))
    assert cost[0, 2] == pytest.approx(1.0)
    # Joints missing on either side are ignored, whatever the coordinates hold.
    damaged = a.copy()
    damaged[:5] = np.nan
    vis = np.ones((1, P), bool)
    vis[0, :5] = False
    assert keypoint_cost(a[None], known, damaged[None], vis, size * 0.1)[0, 0] == pytest.approx(0.0)
    assert keypoint_cost(a[None], ~vis, damaged[None], vis, size * 0.1)[0, 0] == math.inf  # nothing shared
    assert keypoint_cost(a[None], known, np.zeros((0, P, 2)), np.zeros((0, P), bool), size).shape == (1, 0)
    boxes = pose_boxes(np.stack([a, b, np.full((P, 2), np.nan)]), np.array([[True] * P, [True] * P, [False] * P]))
    assert np.isnan(boxes[2]).all()
    iou = box_iou(boxes, boxes)
    assert iou[0, 0] == pytest.approx(1.0) and iou[0, 1] == 0.0 and iou[2, 2] == 0.0
    assert person_size(np.full((1, P, 2), np.nan), np.zeros((1, P), bool), 16.0)[0] == 16.0


def test_pose_cost_gate_skips_only_hopeless_pairs():
    rng = np.random.default_rng(4)
    tracks = np.stack([skeleton(rng.uniform(0, 1500, 2), rng.uniform(60, 300)) for _ in range(30)])
    dets = tracks[rng.permutation(30)[:25]] + rng.normal(0, 8, (25, P, 2))
    t_known, d_vis = rng.random((30, P)) > 0.2, rng.random((25, P)) > 0.2
    t_known[3] = False  # a track with no joint left
    d_vis[4] = False
    tol = rng.uniform(5, 40, 30)
    for w in (0.0, 0.3):
        full = pose_cost(tracks, t_known, dets, d_vis, tol, iou_weight=w)
        for gate in (0.3, 0.8, 1.0):
            pruned = pose_cost(tracks, t_known, dets, d_vis, tol, iou_weight=w, gate=gate)
            passing = full <= gate
            np.testing.assert_allclose(pruned[passing], full[passing], rtol=1e-12)
            assert np.all(~(pruned[~passing] <= gate))
            assert np.array_equal(assign(full, gate)[0], assign(pruned, gate)[0])
    assert np.isinf(full[3]).all() and np.isinf(full[:, 4]).all()


# ------------------------------------------------------------------------------ Kalman


def test_q_matches_filterpy():
    pytest.importorskip("filterpy", reason="filterpy (a test dependency) is not installed")
    from filterpy.common import Q_discrete_white_noise

    for dt, var in [(1 / 60, 3.0), (0.1, 250.0), (1.0, 1.0)]:
        np.testing.assert_allclose(q_discrete_white_noise(dt, np.array([var]))[0],
                                   Q_discrete_white_noise(dim=2, dt=dt, var=var), rtol=1e-12)


def test_kalman_two_steps_by_hand():
    # One joint, x axis: s = [0, 1], C = I; dt = 1, var = 4 -> Q = [[1, 2], [2, 4]]; R = 1.
    # predict: s = [1, 1], C = [[2, 1], [1, 1]] + Q = [[3, 3], [3, 5]]
    # update z = 3: y = 2, S = 4, K = [3/4, 3/4] -> s = [2.5, 2.5], C = [[.75, .75], [.75, 2.75]]
    # predict: s = [5, 2.5], C = [[5, 3.5], [3.5, 2.75]] + Q = [[6, 5.5], [5.5, 6.75]]
    # update z = 5: y = 0, S = 7, K = [6/7, 5.5/7] -> s = [5, 2.5], C = [[6/7, 5.5/7], [5.5/7, 17/7]]
    # The y axis gets the mirrored measurements (-3, -5) and must give the mirrored state.
    mean = np.zeros((1, 1, 2, 2))
    mean[..., 1] = [1.0, -1.0]
    cov = np.broadcast_to(np.eye(2), (1, 1, 2, 2, 2)).copy()
    var, r, yes = np.array([4.0]), np.ones((1, 1)), np.ones((1, 1), bool)
    mean, cov = kf_predict(mean, cov, 1.0, var)
    np.testing.assert_allclose(mean[0, 0, 0], [1, 1])
    np.testing.assert_allclose(cov[0, 0, 0], [[3, 3], [3, 5]])
    mean, cov = kf_update(mean, cov, np.array([[[3.0, -3.0]]]), r, yes)
    np.testing.assert_allclose(mean[0, 0], [[2.5, 2.5], [-2.5, -2.5]])
    np.testing.assert_allclose(cov[0, 0, 0], [[0.75, 0.75], [0.75, 2.75]])
    mean, cov = kf_predict(mean, cov, 1.0, var)
    np.testing.assert_allclose(cov[0, 0, 0], [[6, 5.5], [5.5, 6.75]])
    mean, cov = kf_update(mean, cov, np.array([[[5.0, -5.0]]]), r, yes)
    np.testing.assert_allclose(mean[0, 0], [[5, 2.5], [-5, -2.5]], atol=1e-12)
    np.testing.assert_allclose(cov[0, 0, 0], [[6 / 7, 5.5 / 7], [5.5 / 7, 17 / 7]])
    np.testing.assert_allclose(cov[0, 0, 1], cov[0, 0, 0])
    # An unmeasured joint is only predicted.
    m2, c2 = kf_update(mean, cov, np.full((1, 1, 2), np.nan), r, ~yes)
    np.testing.assert_array_equal(m2, mean)
    np.testing.assert_array_equal(c2, cov)


def test_batched_kalman_equals_filterpy_per_joint():
    pytest.importorskip("filterpy", reason="filterpy (a test dependency) is not installed")
    from filterpy.common import Q_discrete_white_noise
    from filterpy.kalman import KalmanFilter

    rng = np.random.default_rng(1)
    n_tracks, n_parts, steps = 3, 4, 25
    model = ConstantVelocityKalman(process_noise=0.8, measurement_noise=0.03, init_speed=1.5)
    size = np.array([50.0, 120.0, 300.0])
    velocity = rng.normal(0, 40, (n_tracks, n_parts, 2))
    truth = rng.uniform(0, 500, (n_tracks, n_parts, 2)) + velocity * np.arange(steps)[:, None, None, None] / 10
    z_all = truth + rng.normal(0, 3, truth.shape)
    conf_all = rng.uniform(0.1, 1.0, (steps, n_tracks, n_parts))
    seen = rng.random((steps, n_tracks, n_parts)) > 0.25
    seen[0] = True
    dts = rng.uniform(1 / 60, 0.1, steps)
    dts[5] = 1e-3  # a repeated timestamp, clamped
    state = model.blank(n_tracks, n_parts)
    kfs = {}
    for k in range(steps):
        dt = float(dts[k])
        if k:
            state = model.predict(state, dt, size)
        fresh = seen[k] & ~np.isfinite(state[0][..., 0, 0]) if k else seen[k]
        z = np.where(seen[k][..., None], z_all[k], np.nan)
        state = model.update(state, z, seen[k], fresh, conf_all[k], size)
        r = model.measurement_var(conf_all[k], size)
        for t in range(n_tracks):
            for p in range(n_parts):
                for axis in range(2):
                    key = (t, p, axis)
                    if key not in kfs:
                        if not seen[k, t, p]:
                            continue
                        kf = KalmanFilter(dim_x=2, dim_z=1)
                        kf.x = np.array([[z_all[k, t, p, axis]], [0.0]])
                        kf.P = np.diag([r[t, p], model.velocity_var(size)[t]])
                        kf.H = np.array([[1.0, 0.0]])
                        kfs[key] = kf
                        continue
                    kf = kfs[key]
                    kf.F = np.array([[1.0, dt], [0.0, 1.0]])
                    kf.Q = Q_discrete_white_noise(dim=2, dt=dt, var=model.process_var(dt, size)[t])
                    kf.predict()
                    if seen[k, t, p]:
                        kf.update(np.array([[z_all[k, t, p, axis]]]), R=np.array([[r[t, p]]]))
        for (t, p, axis), kf in kfs.items():
            np.testing.assert_allclose(state[0][t, p, axis], kf.x[:, 0], rtol=1e-6, atol=1e-6)
            np.testing.assert_allclose(state[1][t, p, axis], kf.P, rtol=1e-6, atol=1e-6)


def test_measurement_noise_scales_with_confidence_and_size():
    model = ConstantVelocityKalman(1.0, 0.02, 1.0)
    r = model.measurement_var(np.array([[0.9, 0.3, 0.0]]), np.array([100.0]))
    assert r[0, 0] < r[0, 1] < r[0, 2] < np.inf
    assert model.measurement_var(np.array([[0.5]]), np.array([200.0]))[0, 0] == pytest.approx(
        4 * model.measurement_var(np.array([[0.5]]), np.array([100.0]))[0, 0])
    q100, q200 = model.process_var(0.1, np.array([100.0, 200.0]))
    assert q200 == pytest.approx(4 * q100)


def test_one_euro_smooths_and_follows():
    rng = np.random.default_rng(2)
    f = OneEuroSmoother(min_cutoff=1.0, beta=1.0, d_cutoff=1.0)
    state = f.blank(2, 3)
    size = np.array([100.0, 100.0])
    out = []
    for k in range(120):
        truth = np.zeros((2, 3, 2))
        truth[1] += 50.0 * k / 30  # the second track moves 50 px/s
        z = truth + rng.normal(0, 2.0, truth.shape)
        measured = np.ones((2, 3), bool)
        measured[0, 0] = k % 10 != 0  # a joint missing now and then
        fresh = measured & ~np.isfinite(state[0][..., 0])
        state = f.predict(state, 1 / 30, size)
        state = f.update(state, np.where(measured[..., None], z, np.nan), measured, fresh, np.ones((2, 3)), size)
        out.append(f.position(state) - truth)
    err = np.array(out[30:])
    assert np.all(np.isfinite(err))
    assert err[:, 0].std() < 0.6 * 2.0, "still joints: noise reduced"
    assert abs(err[:, 1].mean()) < 5.0, "moving joints: followed with little lag"


# ---------------------------------------------------------------------- tracker scenes


def walkers(fps: float, seconds: float, people, noise: float = 0.0, seed: int = 0, missing_rate: float = 0.0):
    """Frames of people walking in straight lines: ``people`` is a list of
    (start (x, y), velocity (vx, vy) px/s, height px, t_in, t_out).  Returns (frames, truth)
    with frames [(timestamp, Poses)], truth [per frame: list of person indices in detection order]
    and the noiseless skeletons [per frame: {person: (P, 2)}]."""
    rng = np.random.default_rng(seed)
    frames, truth, clean = [], [], []
    for k in range(int(round(seconds * fps))):
        t = k / fps
        present = [i for i, (_, _, _, t_in, t_out) in enumerate(people) if t_in <= t < t_out]
        rng.shuffle(present)  # detection order means nothing
        skels, miss, exact = [], [], {}
        for i in present:
            (x0, y0), (vx, vy), h, _, _ = people[i]
            s = skeleton((x0 + vx * t, y0 + vy * t), h, t)
            exact[i] = s
            skels.append(s + rng.normal(0, noise, s.shape))
            miss.append(np.flatnonzero(rng.random(P) < missing_rate))
        frames.append((t, make_poses(skels, missing=miss)))
        truth.append(present)
        clean.append(exact)
    return frames, truth, clean


@pytest.mark.parametrize("config", [TrackerConfig(), TrackerConfig(smoother="one_euro"), TrackerConfig(smoother="none"),
                                    TrackerConfig(iou_weight=0.3)], ids=["kalman", "one_euro", "none", "iou"])
def test_walking_people_keep_their_ids(config):
    people = [((100, 300), (60, 0), 200, 0, 9), ((500, 300), (-40, 5), 180, 0, 9), ((300, 150), (0, 30), 120, 0, 9)]
    frames, truth, _ = walkers(30, 4, people, noise=1.5, missing_rate=0.05)
    tracker = PoseTracker(PARTS, config)
    results = run(tracker, frames)
    for (_, poses), tracks in zip(frames, results):
        check_contract(tracks, poses)
        assert len(tracks) == 3
    assert_one_id_each(ids_by_truth(truth, results), 3)
    states = [tr.state.tolist() for tr in results]
    assert states[0] == states[1] == [TRACK_TENTATIVE] * 3 and states[2] == [TRACK_CONFIRMED] * 3
    assert sorted(results[0].ids.tolist()) == [1, 2, 3]


@pytest.mark.parametrize("smoother", ["kalman", "one_euro"])
@pytest.mark.parametrize("fps", [10, 30])
def test_two_people_crossing_keep_their_ids(smoother, fps):
    people = [((100, 300), (150, 0), 200, 0, 9), ((700, 310), (-150, 0), 190, 0, 9)]
    frames, truth, _ = walkers(fps, 4, people, noise=1.0)
    results = run(PoseTracker(PARTS, TrackerConfig(smoother=smoother)), frames)
    assert_one_id_each(ids_by_truth(truth, results), 2)


@pytest.mark.parametrize("smoother", ["kalman", "one_euro", "none"])
def test_occluded_half_a_second_gets_its_id_back(smoother):
    fps = 30
    frames, truth, _ = walkers(fps, 3, [((100, 300), (80, 0), 200, 0, 9), ((600, 300), (0, 0), 200, 0, 9)], noise=1.0)
    hidden = range(int(1.0 * fps), int(1.5 * fps))  # person 0 unseen for 0.5 s
    cut = []
    for k, ((t, poses), who) in enumerate(zip(frames, truth)):
        if k in hidden:
            keep = [j for j, i in enumerate(who) if i != 0]
            poses = Poses(poses.xy[keep], poses.conf[keep], poses.score[keep], PARTS)
            who = [who[j] for j in keep]
        cut.append(((t, poses), who))
    tracker = PoseTracker(PARTS, TrackerConfig(smoother=smoother))
    results = []
    for k, ((t, poses), _) in enumerate(cut):
        results.append(tracker.update(poses, t))
        check_contract(results[-1], poses)
        if k in hidden:
            assert len(results[-1]) == 1, "a coasting track is not reported"
            assert sorted(tracker.track_states.tolist()) == [TRACK_CONFIRMED, COASTING]
            coasting = tracker.track_ids[tracker.track_states == COASTING]
            assert not set(coasting.tolist()) & set(results[-1].ids.tolist())
    seen = ids_by_truth([c[1] for c in cut], results)
    assert_one_id_each(seen, 2)
    back = results[hidden[-1] + 1]  # the first frame after: the joints follow the measurements
    assert len(back) == 2 and np.nanmax(np.abs(back.xy - back.xy_raw)) < 6.0


def test_coasting_track_state_and_timeout():
    fps = 30
    frames, _, _ = walkers(fps, 1, [((100, 300), (80, 0), 200, 0, 9)])
    tracker = PoseTracker(PARTS, TrackerConfig(max_lost_seconds=0.5))
    run(tracker, frames)
    t = frames[-1][0]
    for k in range(1, 15):  # 14 frames: 0.47 s
        tracks = tracker.update(Poses.empty(PARTS), t + k / fps)
        assert tracker.track_states.tolist() == [COASTING] and tracker.track_ids.tolist() == [1]
        assert len(tracks) == 0, "a coasting track is not reported"
    tracker.update(Poses.empty(PARTS), t + 16 / fps)  # 0.53 s
    assert len(tracker) == 0, "removed after max_lost_seconds"
    # A tentative track unseen is removed at once.
    tracker.update(frames[0][1], t + 2.0)
    assert tracker.track_states.tolist() == [TRACK_TENTATIVE]
    assert tracker.update(Poses.empty(PARTS), t + 2.1).ids.size == 0 and len(tracker) == 0


def test_only_tracks_that_took_a_detection_are_reported():
    """The contract of Tracks: one row per detection taken, state tentative or confirmed, det_index a
    valid row, score the detection's; coasting tracks (which exist inside the tracker) never appear."""
    rng = np.random.default_rng(11)
    people = [(tuple(rng.uniform(100, 1500, 2)), tuple(rng.normal(0, 60, 2)), float(rng.uniform(80, 250)),
               float(rng.uniform(0, 2)), float(rng.uniform(3, 6))) for _ in range(8)]
    frames, truth, _ = walkers(30, 6, people, noise=1.5, missing_rate=0.1, seed=11)
    tracker = PoseTracker(PARTS, TrackerConfig(max_tracks=6, max_lost_seconds=1.0))
    coasted = 0
    for k, (t, poses) in enumerate(frames):
        keep = [j for j in range(len(poses)) if rng.random() > 0.2]  # people missed now and then
        poses = Poses(poses.xy[keep], poses.conf[keep], poses.score[keep], PARTS)
        tracks = tracker.update(poses, t)
        check_contract(tracks, poses)
        states = tracker.track_states
        assert set(np.unique(states)) <= {TRACK_TENTATIVE, TRACK_CONFIRMED, COASTING} and len(tracker) <= 6
        coasting = set(tracker.track_ids[states == COASTING].tolist())
        coasted += len(coasting)
        assert not coasting & set(tracks.ids.tolist())
        assert set(tracks.ids.tolist()) <= set(tracker.track_ids.tolist())
        # Every detection with a usable joint has a track unless the table is full.
        if len(tracks) < len(poses):
            assert len(tracker) == 6 and COASTING not in states
    assert coasted > 50, "the scene has coasting tracks, so the check above means something"


def test_entry_and_exit_new_ids_never_reused():
    people = [((100, 300), (50, 0), 200, 0.0, 2.0),   # leaves at 2 s
              ((600, 300), (-30, 0), 200, 1.0, 5.0),  # enters at 1 s
              ((120, 300), (50, 0), 200, 3.5, 5.0)]   # a new person where the first one was, later
    frames, truth, _ = walkers(30, 5, people, noise=1.0)
    tracker = PoseTracker(PARTS)
    results = run(tracker, frames)
    seen = ids_by_truth(truth, results)
    assert seen == {0: {1}, 1: {2}, 2: {3}}
    assert len(tracker) == 2


def test_frame_drops_and_rates():
    people = [((100, 300), (120, 0), 200, 0, 9), ((700, 320), (-120, 0), 200, 0, 9)]
    frames, truth, _ = walkers(30, 4, people, noise=1.0)
    rng = np.random.default_rng(5)
    keep = np.sort(np.concatenate([[0, 1, 2], 3 + np.flatnonzero(rng.random(len(frames) - 3) > 0.5)]))
    keep = keep[(keep < 40) | (keep > 48)]  # and a 0.3 s gap
    results = run(PoseTracker(PARTS), [frames[k] for k in keep])
    assert_one_id_each(ids_by_truth([truth[k] for k in keep], results), 2)


def test_same_behaviour_at_10_and_60_fps():
    people = [((100, 300), (80, 10), 200, 0, 9), ((700, 300), (-60, 0), 160, 0, 9)]
    errors, ratios = {}, {}
    for fps in (10, 60):
        frames, truth, clean = walkers(fps, 5, people, noise=2.0, seed=fps)
        results = run(PoseTracker(PARTS), frames)
        assert_one_id_each(ids_by_truth(truth, results), 2)
        err_s, err_r = [], []
        for k in range(fps, len(frames)):  # after the first second
            for tid, det in zip(results[k].ids, results[k].det_index):
                person = truth[k][det]
                err_s.append(np.abs(results[k].xy[list(results[k].ids).index(tid)] - clean[k][person]).mean())
                err_r.append(np.abs(frames[k][1].xy[det] - clean[k][person]).mean())
        errors[fps] = (np.mean(err_s), np.mean(err_r))
        ratios[fps] = jitter_ratio(trajectories(results))
    for fps, (smooth, raw) in errors.items():
        assert smooth < raw, (fps, errors)
    assert 0.5 < errors[10][0] / errors[60][0] < 2.0, errors
    assert ratios[10] < 1.0 and ratios[60] < 1.0, ratios


def test_bad_inputs_are_ignored_safely():
    good = skeleton((300, 300), 200)
    tracker = PoseTracker(PARTS, TrackerConfig(min_hits=1))
    # NaN coordinates with a positive confidence count as missing; an all-missing pose is ignored.
    xy = np.stack([good, good + 400, np.full((P, 2), np.nan)]).astype(np.float32)
    xy[0, 3] = np.nan
    conf = np.full((3, P), 0.8, np.float32)
    conf[1] = 0.0
    poses = Poses(xy, conf, np.array([0.9, 0.8, 0.7], np.float32), PARTS)
    tracks = tracker.update(poses, 0.0)
    assert tracks.det_index.tolist() == [0] and tracks.ids.tolist() == [1]
    assert np.isnan(tracks.xy[0, 3]).all() and tracks.conf[0, 3] == 0 and not tracks.predicted[0, 3]
    check_contract(tracks, poses)
    assert len(tracker.update(Poses.empty(PARTS), 0.1)) == 0  # a frame with nobody
    tracks = tracker.update(make_poses([good]), 0.2)
    assert tracks.ids.tolist() == [1]
    assert np.isfinite(tracker.update(make_poses([good]), 0.3).xy).all()


def test_repeated_and_backwards_timestamps():
    frames, truth, _ = walkers(30, 3, [((100, 300), (60, 0), 200, 0, 9), ((600, 300), (-60, 0), 200, 0, 9)], noise=1.0)
    stamps = [t for t, _ in frames]
    stamps[10] = stamps[9]  # repeated
    stamps[20] = stamps[19] - 0.05  # a jittery clock: one stamp out of order ...
    stamps[21] = stamps[20]  # ... and repeated
    stamps[40:] = [ts - 100.0 for ts in stamps[40:]]  # the clock restarts (backwards, then on as usual)
    tracker = PoseTracker(PARTS)
    results = [tracker.update(poses, ts) for ts, (_, poses) in zip(stamps, frames)]
    for (_, poses), tracks in zip(frames, results):
        check_contract(tracks, poses)
        assert len(tracks) == 2 and np.isfinite(tracks.xy[~tracks.predicted]).all()
    assert_one_id_each(ids_by_truth(truth, results), 2)
    assert all(np.abs(tr.xy - tr.xy_raw).max() < 10.0 for tr in results)


def test_missing_joint_predicted_then_forgotten():
    fps = 30
    frames, _, _ = walkers(fps, 2, [((100, 300), (90, 0), 200, 0, 9)])
    cfg = TrackerConfig(joint_predict_seconds=0.3)
    tracker = PoseTracker(PARTS, cfg)
    wrist = PARTS.index("left_wrist")
    flags = []
    for k, (t, poses) in enumerate(frames):
        if 30 <= k < 50:  # the wrist is missing for 20 frames (0.67 s)
            xy, conf = poses.xy.copy(), poses.conf.copy()
            xy[0, wrist], conf[0, wrist] = np.nan, 0.0
            poses = Poses(xy, conf, poses.score, PARTS)
        tracks = tracker.update(poses, t)
        flags.append((bool(tracks.predicted[0, wrist]), bool(np.isfinite(tracks.xy[0, wrist, 0]))))
        if k == 35:  # predicted forward with the person's motion
            assert abs(tracks.xy[0, wrist, 0] - frames[k][1].xy[0, wrist, 0]) < 5.0
    assert flags[29] == (False, True)
    assert flags[30:39] == [(True, True)] * 9  # predicted while unseen <= 0.3 s (9 frames at 30 FPS)
    assert flags[40:50] == [(False, False)] * 10  # then unknown
    assert flags[50] == (False, True)  # measured again: restarted at the measurement
    assert tracks.xy[0, wrist] == pytest.approx(frames[-1][1].xy[0, wrist], abs=3.0)


def test_reset_forgets_tracks_but_never_reuses_ids():
    tracker = PoseTracker(PARTS, TrackerConfig(min_hits=1))
    a = make_poses([skeleton((100, 300), 200)])
    assert tracker.update(a, 0.0).ids.tolist() == [1]
    tracker.reset()
    assert len(tracker) == 0
    assert tracker.update(a, 0.0).ids.tolist() == [2]


def test_collections_stay_bounded():
    rng = np.random.default_rng(7)
    tracker = PoseTracker(PARTS, TrackerConfig(max_tracks=20, min_hits=1))
    alive: set = set()
    retired: set = set()
    newest = 0
    for k in range(1000):
        n = int(rng.integers(0, 6))
        skels = [skeleton(rng.uniform(0, 2000, 2), rng.uniform(50, 300)) for _ in range(n)]
        tracks = tracker.update(make_poses(skels), k / 30)
        assert len(tracker) <= 20 and len(tracks) == n
        reported = set(tracks.ids.tolist())
        assert not reported & retired, "an id is never reused"
        born = sorted(reported - alive)
        assert all(i > newest for i in born), "new ids count up"
        newest = max(born, default=newest)
        now = set(tracker.track_ids.tolist())
        retired |= alive - now
        alive = now
    assert newest > 1000 and len(retired) > 1000
    # Full with established people: new detections get no track, the old ones keep theirs.
    tracker = PoseTracker(PARTS, TrackerConfig(max_tracks=2, min_hits=1))
    a, b, c = skeleton((100, 300), 200), skeleton((500, 300), 200), skeleton((900, 300), 200)
    tracker.update(make_poses([a, b]), 0.0)
    tracks = tracker.update(make_poses([a, b, c]), 0.1)
    assert tracks.ids.tolist() == [1, 2] and len(tracker) == 2


def test_jitter_reduction_on_a_noisy_walk():
    fps = 30
    people = [((100, 300), (90, 5), 220, 0, 9), ((900, 250), (-70, 0), 180, 0, 9)]
    frames, _, _ = walkers(fps, 5, people, noise=2.5, seed=3)
    for smoother, target in [("kalman", 0.5), ("one_euro", 0.6)]:  # One-Euro: lighter, not as good
        results = run(PoseTracker(PARTS, TrackerConfig(smoother=smoother)), frames)
        pairs = trajectories(results)
        ratio, lag = jitter_ratio(pairs), lag_frames(pairs)
        assert ratio <= target and lag <= 1.0, (smoother, ratio, lag)
    results = run(PoseTracker(PARTS, TrackerConfig(smoother="none")), frames)
    assert jitter_ratio(trajectories(results)) == pytest.approx(1.0)


def test_lag_metric_finds_a_known_delay():
    t = np.arange(60.0)
    raw = np.stack([np.sin(t / 5.0) * 50, np.cos(t / 7.0) * 30], axis=1)[:, None, :]
    delayed = np.stack([np.sin((t - 2) / 5.0) * 50, np.cos((t - 2) / 7.0) * 30], axis=1)[:, None, :]
    assert lag_frames([(raw, delayed)]) == pytest.approx(2.0, abs=0.11)
    assert lag_frames([(raw, raw)]) == 0.0
