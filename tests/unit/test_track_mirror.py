"""Mirror-tolerant track matching (``TrackerConfig.mirror_match``): a detection the network labelled
mirrored (every left part called right and the reverse, as bottom-up networks do for people seen
from the side or the back) keeps its track's id; the cost is the minimum of the two labellings;
nothing changes where no pose is mirrored.  Constructed scenes with known answers (the real clip:
e2e/test_clip_mirror.py)."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import bundled_card, check_tracks_contract
from livepose.track import PoseTracker, TrackerConfig, pose_boxes, pose_cost
from livepose.track.cost import check_mirror, mirror_from_names, mirrored_pose_cost
from livepose.track.smoothers import make_smoother
from livepose.track.table import TrackTable
from livepose.types import Poses

CARD = bundled_card()
PARTS = CARD.parts
P = len(PARTS)
FLIP = CARD.flip.parts

# A person seen from the back with the arms held out, offsets from the mid-hip in body heights (x
# right, y down).  Only the neck and the arms are detected (the face is hidden, the legs cut off):
# so the mirrored labelling puts every detected joint but the neck far off its place, and part by
# part it does not pass the gate (asserted below), as on the example clip's first frame.
OFFSETS = {
    "nose": (0.00, -0.45), "neck": (0.00, -0.35),
    "right_shoulder": (-0.12, -0.35), "right_elbow": (-0.24, -0.25), "right_wrist": (-0.34, -0.15),
    "left_shoulder": (0.12, -0.35), "left_elbow": (0.24, -0.25), "left_wrist": (0.34, -0.15),
    "right_hip": (-0.08, 0.00), "right_knee": (-0.11, 0.22), "right_ankle": (-0.14, 0.45),
    "left_hip": (0.08, 0.00), "left_knee": (0.11, 0.22), "left_ankle": (0.14, 0.45),
    "right_eye": (-0.02, -0.47), "left_eye": (0.02, -0.47), "right_ear": (-0.05, -0.46), "left_ear": (0.05, -0.46),
}
TEMPLATE = np.array([OFFSETS[name] for name in PARTS])
SEEN = np.array([name == "neck" or name.split("_")[-1] in ("shoulder", "elbow", "wrist") for name in PARTS])


def person(x: float, y: float = 300.0, height: float = 200.0) -> np.ndarray:
    return np.array([x, y]) + TEMPLATE * height


def poses_of(skeletons, conf: float = 0.8, seen: np.ndarray | None = SEEN) -> Poses:
    """Poses of (P, 2) skeletons, the joints not ``seen`` absent (None: every joint seen)."""
    xy = np.asarray(skeletons, np.float32).reshape(len(skeletons), P, 2).copy()
    c = np.full((len(skeletons), P), conf, np.float32)
    if seen is not None:
        xy[:, ~seen] = np.nan
        c[:, ~seen] = 0.0
    return Poses(xy=xy, conf=c, score=np.linspace(0.9, 0.5, len(skeletons)).astype(np.float32), part_names=PARTS)


def walk(frames: int, fps: float = 10.0, speed: float = 50.0, mirrored=(), x0: float = 300.0):
    """[(timestamp, Poses)] of one person walking right; the frames in ``mirrored`` labelled mirrored."""
    out = []
    for k in range(frames):
        s = person(x0 + speed * k / fps)
        out.append((k / fps, poses_of([s[FLIP] if k in mirrored else s])))
    return out


# ------------------------------------------------------------------------- the permutation


def test_mirror_from_names_is_the_cards_flip():
    assert np.array_equal(mirror_from_names(PARTS), FLIP)
    assert mirror_from_names(("nose", "neck")) is None  # nothing to swap
    assert mirror_from_names(("hip_left", "nose", "hip_right")).tolist() == [2, 1, 0]
    assert mirror_from_names(("Left Hand", "Right Hand", "leftover")).tolist() == [1, 0, 2]  # a word, not a prefix
    assert mirror_from_names(("left_eye", "right_ear")) is None  # no partner


def test_check_mirror_takes_only_involutions():
    assert check_mirror(np.array([1, 0, 2], np.int32), 3).dtype == np.int64
    for bad in ([1, 2, 0], [0, 1], [0, 1, 3], [0.0, 1.0, 2.0]):
        with pytest.raises(ValueError, match="mirror"):
            check_mirror(np.array(bad), 3)
    with pytest.raises(ValueError, match="mirror"):
        PoseTracker(PARTS, mirror=np.arange(P - 1))


def test_tracker_mirror_from_card_names_or_off():
    assert np.array_equal(PoseTracker(PARTS).mirror, FLIP)  # PoseTracker(part_names) as before, derived
    assert np.array_equal(PoseTracker(PARTS, TrackerConfig(), mirror=FLIP).mirror, FLIP)
    assert PoseTracker(PARTS, TrackerConfig(mirror_match=False), mirror=FLIP).mirror is None
    assert PoseTracker(PARTS, mirror=np.arange(P)).mirror is None  # the identity: nothing to swap
    assert TrackerConfig().mirror_match is True
    with pytest.raises(ValueError, match="mirror_match"):
        TrackerConfig(mirror_match="yes")


# -------------------------------------------------------------------------------- the cost


def _scene(seed: int):
    rng = np.random.default_rng(seed)
    tracks = np.stack([person(*rng.uniform(100, 900, 2), rng.uniform(60, 300)) for _ in range(12)])
    dets = tracks[rng.permutation(12)[:10]] + rng.normal(0, 6, (10, P, 2))
    dets[::3] = dets[::3][:, FLIP]  # some detections labelled mirrored
    t_known, d_vis = rng.random((12, P)) > 0.2, rng.random((10, P)) > 0.2
    t_known[2] = False  # a track with no joint
    d_vis[5] = False
    return tracks, t_known, dets, d_vis, rng.uniform(8, 40, 12)


@pytest.mark.parametrize("iou_weight", [0.0, 0.3])
@pytest.mark.parametrize("gate", [None, 0.5, 0.8, 1.0])
def test_cost_is_the_min_of_as_labelled_and_mirrored(iou_weight, gate):
    tracks, t_known, dets, d_vis, tol = _scene(1)
    direct = pose_cost(tracks, t_known, dets, d_vis, tol, iou_weight)
    swapped = pose_cost(tracks, t_known, dets[:, FLIP], d_vis[:, FLIP], tol, iou_weight)
    cost, mirrored = mirrored_pose_cost(tracks, t_known, dets, d_vis, tol, iou_weight, gate=gate, mirror=FLIP)
    assert np.array_equal(pose_cost(tracks, t_known, dets, d_vis, tol, iou_weight, gate=gate, mirror=FLIP), cost)
    best = np.minimum(direct, swapped)
    if gate is None:
        np.testing.assert_allclose(cost, best, rtol=1e-12)
        assert np.array_equal(mirrored, swapped < direct)
    else:  # the gate's pruning stays exact: the same pairs pass, with the same costs
        passing = best <= gate
        np.testing.assert_allclose(cost[passing], best[passing], rtol=1e-12)
        assert np.all(~(cost[~passing] <= gate))
        assert np.array_equal(mirrored[passing], (swapped < direct)[passing])
    assert mirrored.any() and not mirrored.all()
    assert np.isinf(cost[2]).all() and np.isinf(cost[:, 5]).all() and not mirrored[2].any()
    # without a mirror: exactly the cost as labelled, nothing mirrored
    plain, none = mirrored_pose_cost(tracks, t_known, dets, d_vis, tol, iou_weight, gate=gate)
    assert np.array_equal(plain, pose_cost(tracks, t_known, dets, d_vis, tol, iou_weight, gate=gate))
    assert not none.any()


def test_a_mirrored_detection_costs_what_it_costs_unmirrored():
    s = person(400)
    seen = SEEN[None]
    tol = np.array([0.15 * 100.0])
    as_is = pose_cost(s[None] + 2.0, seen, s[None], seen, tol)[0, 0]
    flipped = s[FLIP][None]
    gate = TrackerConfig().gate
    assert pose_cost(s[None] + 2.0, seen, flipped, seen, tol)[0, 0] > gate  # part by part: no match
    cost, mirrored = mirrored_pose_cost(s[None] + 2.0, seen, flipped, seen, tol, gate=gate, mirror=FLIP)
    assert cost[0, 0] == pytest.approx(as_is) and mirrored[0, 0]
    cost, mirrored = mirrored_pose_cost(s[None] + 2.0, seen, s[None], seen, tol, gate=gate, mirror=FLIP)
    assert cost[0, 0] == pytest.approx(as_is) and not mirrored[0, 0]
    central = np.array([name in ("nose", "neck") for name in PARTS])[None]
    cost, mirrored = mirrored_pose_cost(s[None], central, flipped, central, tol, mirror=FLIP)
    assert cost[0, 0] == 0.0 and not mirrored[0, 0]  # a tie (only unpaired joints): as labelled
    both = np.ones((2, P), bool)
    boxes = pose_boxes(np.stack([s, s[FLIP]]), both)
    assert np.array_equal(boxes[0], boxes[1])  # a mirrored pose has the same box


# ------------------------------------------------------------------------------- the tracker


@pytest.mark.parametrize("smoother", ["kalman", "one_euro", "none"])
@pytest.mark.parametrize("mirrored", [{0}, {4}, {2, 3}, {1, 3, 5}], ids=["first", "one", "two", "alternate"])
def test_mirrored_detections_keep_the_id_only_with_the_switch(smoother, mirrored):
    frames = walk(10, mirrored=mirrored)
    on = PoseTracker(PARTS, TrackerConfig(smoother=smoother))
    results = [on.update(poses, t) for t, poses in frames]
    assert [r.ids.tolist() for r in results] == [[1]] * 10
    for (_, poses), tracks in zip(frames, results):
        check_tracks_contract(tracks, poses)
        # the outputs keep the network's labels: raw as detected, smoothed next to it (no filter
        # pulled across the body: the shoulders are 48 px apart, a frame's step is 5 px)
        np.testing.assert_array_equal(tracks.xy_raw[0], poses.xy[0])
        assert np.abs(tracks.xy[0, SEEN] - poses.xy[0, SEEN]).max() < 12.0
    off = PoseTracker(PARTS, TrackerConfig(smoother=smoother, mirror_match=False))
    ids_off = [off.update(poses, t).ids.tolist() for t, poses in frames]
    assert len({i for ids in ids_off for i in ids}) > 1  # part by part, a mirrored frame is someone else


def test_relabel_swaps_the_tracks_joints_and_filters():
    smoother = make_smoother(TrackerConfig())
    table = TrackTable.blank(3, P, smoother)
    xy = np.stack([person(100), person(400), person(700)])
    vis = np.ones((3, P), bool)
    vis[:, PARTS.index("left_wrist")] = False
    table.known = vis.copy()
    table.joint_age = np.where(vis, 0.0, np.inf) + np.arange(P)
    table.filter = smoother.update(table.filter, xy, vis, vis, np.full((3, P), 0.8), np.full(3, 100.0))
    before = [a.copy() for a in table.filter]
    age = table.joint_age.copy()
    table.relabel(np.array([1]), FLIP)
    for a, b in zip(table.filter, before):
        np.testing.assert_array_equal(a[[0, 2]], b[[0, 2]])  # other tracks untouched
        np.testing.assert_array_equal(a[1], b[1][FLIP])
    np.testing.assert_array_equal(table.known[1], vis[1][FLIP])
    assert not table.known[1, PARTS.index("right_wrist")] and table.known[1, PARTS.index("left_wrist")]
    np.testing.assert_array_equal(table.joint_age[1], age[1][FLIP])
    np.testing.assert_array_equal(smoother.position(table.filter)[1], np.where(vis[1][FLIP, None], xy[1][FLIP], np.nan))
    table.relabel(np.zeros(0, np.int64), FLIP)  # no row: nothing happens


def test_after_a_mirrored_match_the_track_takes_the_detections_labels():
    """The track swaps its joints, then updates: the filters follow the same body points, and the
    smoothed skeleton comes out in this frame's labels, next to the raw one."""
    frames = walk(6, mirrored={3, 4, 5})  # the network switches to the mirrored labelling and stays
    tracker = PoseTracker(PARTS)
    results = [tracker.update(poses, t) for t, poses in frames]
    assert [r.ids.tolist() for r in results] == [[1]] * 6
    rs = PARTS.index("right_shoulder")
    for (_, poses), tracks in zip(frames[3:], results[3:]):
        assert tracks.xy[0, rs, 0] > tracks.xy[0, PARTS.index("left_shoulder"), 0]  # mirrored, like the raw
        assert abs(tracks.xy[0, rs, 0] - poses.xy[0, rs, 0]) < 3.0
    # the velocity carried over: the smoothed walk stays as close to the truth as without the mirror
    plain = PoseTracker(PARTS)
    ref = [plain.update(poses, t) for t, poses in walk(6)]
    np.testing.assert_allclose(results[-1].xy[0], ref[-1].xy[0][FLIP], atol=1e-6)


# ------------------------------------------------------------------------ nothing else changes


def _crowd(seed: int = 3, frames: int = 40, fps: float = 15.0):
    """Four people walking (two crossing), noisy, joints missing at random: no one mirrored."""
    rng = np.random.default_rng(seed)
    people = [((100, 300), (120, 0), 200), ((700, 310), (-120, 0), 190), ((300, 150), (0, 30), 120),
              ((900, 500), (-20, -10), 150)]
    out = []
    for k in range(frames):
        t = k / fps
        skels = [person(x0 + vx * t, y0 + vy * t, h) + rng.normal(0, 2.0, (P, 2)) for (x0, y0), (vx, vy), h in people]
        poses = poses_of(rng.permutation(np.stack(skels)))
        conf = np.where(rng.random((len(people), P)) < 0.1, 0.0, poses.conf).astype(np.float32)
        out.append((t, Poses(xy=poses.xy, conf=conf, score=poses.score, part_names=PARTS)))
    return out


@pytest.mark.parametrize("smoother", ["kalman", "one_euro"])
def test_nothing_changes_when_no_pose_is_mirrored(smoother):
    frames = _crowd()
    on = PoseTracker(PARTS, TrackerConfig(smoother=smoother))
    off = PoseTracker(PARTS, TrackerConfig(smoother=smoother, mirror_match=False))
    for t, poses in frames:
        a, b = on.update(poses, t), off.update(poses, t)
        assert a.ids.tolist() == b.ids.tolist() and a.det_index.tolist() == b.det_index.tolist()
        np.testing.assert_array_equal(a.xy, b.xy)
        np.testing.assert_array_equal(a.predicted, b.predicted)
    assert len(on) == 4 and on.track_ids.tolist() == [1, 2, 3, 4]
