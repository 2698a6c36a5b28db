"""Mirror-tolerant track matching (``TrackerConfig.mirror_match``): a detection the network labelled
mirrored (every left part called right and the reverse, as bottom-up networks do for people seen
from the side or the back) keeps its track's id; the cost is the minimum of the two labellings;
nothing changes where no pose is mirrored; each track's output keeps a stable left/right
labelling, adopting the network's on a vote (``label_vote_frames``, ``mirror_margin``).
Constructed scenes with known answers (the real clip: e2e/test_clip_mirror.py)."""

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


@pytest.mark.parametrize("gate", [None, 0.8])
def test_a_margin_marks_only_the_clearly_mirrored(gate):
    tracks, t_known, dets, d_vis, tol = _scene(1)
    direct = pose_cost(tracks, t_known, dets, d_vis, tol)
    swapped = pose_cost(tracks, t_known, dets[:, FLIP], d_vis[:, FLIP], tol)
    cost0, mirrored0 = mirrored_pose_cost(tracks, t_known, dets, d_vis, tol, gate=gate, mirror=FLIP)
    passing = np.minimum(direct, swapped) <= (1.0 if gate is None else gate)
    for margin in (0.05, 0.3, 0.99):
        cost, mirrored = mirrored_pose_cost(tracks, t_known, dets, d_vis, tol, gate=gate, mirror=FLIP, margin=margin)
        np.testing.assert_array_equal(cost, cost0)  # the cost is the smaller one either way
        assert np.array_equal(mirrored[passing], (swapped < direct - margin)[passing])
        assert not (mirrored & ~mirrored0).any()
    assert mirrored0.any() and not mirrored.any()


# ------------------------------------------------------------------------------- the tracker


def in_track_labels(tracks, poses) -> tuple[Poses, list[bool]]:
    """The frame's Poses with each detection a track took in that track's labelling (its parts
    swapped where the track's raw output is the detection mirrored: every row must be one or the
    other), and per track row whether it was swapped; ``check_tracks_contract`` holds on them."""
    xy, conf = poses.xy.copy(), poses.conf.copy()
    swapped = []
    for i, d in enumerate(tracks.det_index):
        vis = (poses.conf[d] > 0) & np.isfinite(poses.xy[d]).all(-1)
        as_is = np.where(vis[:, None], poses.xy[d], np.nan)
        if np.array_equal(tracks.xy_raw[i], as_is, equal_nan=True):
            swapped.append(False)
            continue
        assert np.array_equal(tracks.xy_raw[i], as_is[FLIP], equal_nan=True), "raw is the detection, or mirrored"
        np.testing.assert_array_equal(tracks.conf[i], np.where(vis, poses.conf[d], 0.0)[FLIP])
        xy[d], conf[d] = poses.xy[d][FLIP], poses.conf[d][FLIP]
        swapped.append(True)
    relabelled = Poses(xy=xy, conf=conf, score=poses.score, part_names=poses.part_names)
    check_tracks_contract(tracks, relabelled)
    return relabelled, swapped


def run(frames, config: TrackerConfig | None = None):
    """[Tracks] of ``frames`` through a new tracker, the contract checked (in the tracks' labelling)."""
    tracker = PoseTracker(PARTS, config)
    out = []
    for t, poses in frames:
        tracks = tracker.update(poses, t)
        in_track_labels(tracks, poses)
        out.append(tracks)
    return out


def labelling(results, row: int = 0, truth=None) -> str:
    """Per frame, the labelling row ``row``'s output is in: "=" the walker's true labelling (right
    shoulder left of the left one, as ``person`` draws it), "M" mirrored; the raw output checked
    to be the true skeleton in that labelling."""
    rs, ls = PARTS.index("right_shoulder"), PARTS.index("left_shoulder")
    out = ""
    for k, tracks in enumerate(results):
        xy = tracks.xy_raw[row]
        m = xy[rs, 0] > xy[ls, 0]
        if truth is not None:
            np.testing.assert_allclose(xy[SEEN], (truth[k][FLIP] if m else truth[k])[SEEN], atol=1e-3)
        out += "M" if m else "="
    return out


def truths(frames: int, fps: float = 10.0, speed: float = 50.0, x0: float = 300.0):
    return [person(x0 + speed * k / fps) for k in range(frames)]


@pytest.mark.parametrize("smoother", ["kalman", "one_euro", "none"])
@pytest.mark.parametrize("mirrored", [{0}, {4}, {2, 3}, {1, 3, 5}], ids=["first", "one", "two", "alternate"])
def test_mirrored_detections_keep_the_id_only_with_the_switch(smoother, mirrored):
    frames = walk(10, mirrored=mirrored)
    results = run(frames, TrackerConfig(smoother=smoother))
    assert [r.ids.tolist() for r in results] == [[1]] * 10
    # the output keeps one labelling: the walker's (born mirrored: the majority's from frame 2),
    # raw and smoothed alike (no filter pulled across the body: the shoulders are 48 px apart, a
    # frame's step is 5 px)
    expected = "MM" + "=" * 8 if mirrored == {0} else "=" * 10
    assert labelling(results, truth=truths(10)) == expected
    for tracks in results:
        assert np.abs(tracks.xy[0, SEEN] - tracks.xy_raw[0, SEEN]).max() < 12.0
    off = PoseTracker(PARTS, TrackerConfig(smoother=smoother, mirror_match=False))
    ids_off = [off.update(poses, t).ids.tolist() for t, poses in frames]
    assert len({i for ids in ids_off for i in ids}) > 1  # part by part, a mirrored frame is someone else


@pytest.mark.parametrize("k", [2, 3, 5])
def test_fewer_than_k_flipped_frames_never_flip_the_output(k):
    """A confirmed track: the network mislabels the walker for k - 1 frames in a row (twice, k - 1
    frames apart), once, or every other frame: the output keeps the walker's labelling throughout."""
    twice = set(range(8, 8 + k - 1)) | set(range(8 + 2 * (k - 1), 8 + 3 * (k - 1)))
    for mirrored in (set(range(8, 8 + k - 1)), twice, {8}, {8, 10, 12, 14}):
        results = run(walk(20, mirrored=mirrored), TrackerConfig(label_vote_frames=k))
        assert [r.ids.tolist() for r in results] == [[1]] * 20
        assert labelling(results, truth=truths(20)) == "=" * 20, mirrored


@pytest.mark.parametrize("smoother", ["kalman", "one_euro", "none"])
@pytest.mark.parametrize("k", [2, 3, 5])
def test_k_flipped_frames_in_a_row_relabel_the_track(k, smoother):
    """The network relabels the walker for good at frame 8 (as if they had turned round): the
    output takes the network's labels from the k-th such frame on; the filters follow their body
    points through (the velocity carried over: the smoothed walk ends where the unmirrored
    one does, relabelled)."""
    frames = walk(20, mirrored=set(range(8, 20)))
    results = run(frames, TrackerConfig(label_vote_frames=k, smoother=smoother))
    assert [r.ids.tolist() for r in results] == [[1]] * 20
    assert labelling(results, truth=truths(20)) == "=" * (8 + k - 1) + "M" * (20 - 8 - k + 1)
    for (_, poses), tracks in zip(frames[8 + k - 1:], results[8 + k - 1:]):  # the network's labels again
        np.testing.assert_array_equal(tracks.xy_raw[0], poses.xy[0])
    ref = run(walk(20), TrackerConfig(label_vote_frames=k, smoother=smoother))
    for a, b in zip(results, ref):
        m = labelling([a]) == "M"
        np.testing.assert_allclose(a.xy[0], b.xy[0][FLIP] if m else b.xy[0], atol=1e-6)


def test_a_clear_majority_of_recent_frames_relabels_too():
    """Mirrored two frames in three from frame 6 (never 3 in a row): the mirrored matches
    outnumber the others by 3 at frame 10, the output follows the majority from there and the
    frames labelled the other way are swapped into it."""
    mirrored = {k for k in range(6, 30) if (k - 6) % 3 != 2}  # 6 7 . 9 10 . 12 13 . ...
    frames = walk(30, mirrored=mirrored)
    results = run(frames)
    assert [r.ids.tolist() for r in results] == [[1]] * 30
    assert labelling(results, truth=truths(30)) == "=" * 10 + "M" * 20


def test_a_track_born_mirrored_adopts_the_majority():
    """A tentative track follows the majority of its frames, weighed by the confidence of their left
    and right parts: born mirrored, equally sure frames: mirrored until the majority turns (frame
    2); born mirrored in a weak detection: relabelled at once (frame 1), and a weak mirrored frame
    after that (the example clip's frames 0 and 2) does not turn it back."""
    truth = truths(10)
    equal = run(walk(10, mirrored={0}))
    assert labelling(equal, truth=truth) == "MM" + "=" * 8
    weak = [0.2, 0.8, 0.3] + [0.8] * 7
    frames = [(t, poses_of([truth[k][FLIP] if k in (0, 2) else truth[k]], conf=weak[k]))
              for k, (t, _) in enumerate(walk(10))]
    results = run(frames)
    assert [r.ids.tolist() for r in results] == [[1]] * 10
    assert labelling(results, truth=truth) == "M" + "=" * 9
    # the same frames with the vote off follow the network: M = M = = ...
    assert labelling(run(frames, TrackerConfig(label_vote_frames=0)), truth=truth) == "M=M" + "=" * 7
    # once confirmed, a weak frame is one vote like any other (here: a single one, no relabel)
    late = [(t, poses_of([truth[k][FLIP] if k == 6 else truth[k]], conf=0.2 if k == 6 else 0.8))
            for k, (t, _) in enumerate(walk(10))]
    assert labelling(run(late), truth=truth) == "=" * 10


def test_detections_without_left_or_right_parts_do_not_vote():
    """Frames 8 and 9 mirrored, frame 10 only the neck seen (it says nothing on the labelling),
    frame 11 mirrored: the third mirrored frame relabels.  With frame 10 seen as labelled instead,
    the count drops back by one and frame 11 does not (frame 12 does)."""
    truth = truths(16)
    neck = np.array([name == "neck" for name in PARTS])
    mirrored = {8, 9} | set(range(11, 16))
    frames = [(t, poses_of([truth[k][FLIP] if k in mirrored else truth[k]], seen=neck if k == 10 else SEEN))
              for k, (t, _) in enumerate(walk(16))]
    results = run(frames)
    assert [r.ids.tolist() for r in results] == [[1]] * 16
    got = labelling([r for k, r in enumerate(results) if k != 10], truth=[x for k, x in enumerate(truth) if k != 10])
    assert got == "=" * 10 + "M" * 5  # frames 0-9, 11-15
    seen_10 = walk(16, mirrored=mirrored)
    assert labelling(run(seen_10), truth=truth) == "=" * 12 + "M" * 4


def test_each_track_votes_on_its_own():
    """Three walkers (one relabelled for good at frame 6, one mislabelled once at frame 7, one
    never) and a fourth arriving mirrored at frame 9: every id kept; each output labelling is
    its own; the rows swapped are exactly those whose track keeps another labelling."""
    n = 18
    lanes = ((300.0, 100.0), (300.0, 450.0), (300.0, 800.0), (900.0, 450.0))
    flips = (set(range(6, n)), {7}, set(), {9})
    frames = []
    for k in range(n):
        skels = []
        for (x0, y0), flip in zip(lanes[:3] if k < 9 else lanes, flips):
            s = person(x0 + 50.0 * k / 10.0, y0, 150.0)
            skels.append(s[FLIP] if k in flip else s)
        frames.append((k / 10.0, poses_of(skels)))
    tracker = PoseTracker(PARTS)
    got = {i: "" for i in (1, 2, 3, 4)}
    swaps = 0
    rs, ls = PARTS.index("right_shoulder"), PARTS.index("left_shoulder")
    for k, (t, poses) in enumerate(frames):
        tracks = tracker.update(poses, t)
        assert tracks.ids.tolist() == ([1, 2, 3] if k < 9 else [1, 2, 3, 4])
        _, swapped = in_track_labels(tracks, poses)
        for i, tid in enumerate(tracks.ids.tolist()):
            got[tid] += "M" if tracks.xy_raw[i, rs, 0] > tracks.xy_raw[i, ls, 0] else "="
            net = k in flips[tid - 1]
            assert swapped[i] == ((got[tid][-1] == "M") != net)
            swaps += swapped[i]
    assert got[1] == "=" * 8 + "M" * 10  # relabelled at the third mirrored frame (8)
    assert got[2] == "=" * n and got[3] == "=" * n
    assert got[4] == "MM" + "=" * 7  # born mirrored: the majority at its third frame
    assert swaps == 2 + 1 + 1  # walker 1 frames 6, 7; walker 2 frame 7; walker 4 frame 10


def test_a_near_tie_keeps_the_networks_labels():
    """Frame 8 labels the elbows swapped and the shoulders not (the wrists unseen): the mirrored
    labelling costs a hair less than as labelled (two joints off either way), which says nothing:
    within ``mirror_margin`` the detection is taken as the network labelled it (no vote, nothing
    swapped); with the margin 0 it would be taken swapped."""
    truth = truths(12)
    arms = np.array([name == "neck" or name.split("_")[-1] in ("shoulder", "elbow") for name in PARTS])
    odd = truth[8].copy()
    r, l = PARTS.index("right_elbow"), PARTS.index("left_elbow")
    odd[[r, l]] = odd[[l, r]]
    frames = [(t, poses_of([odd if k == 8 else truth[k]], seen=arms if k == 8 else SEEN))
              for k, (t, _) in enumerate(walk(12))]
    tracker = PoseTracker(PARTS)
    for t, poses in frames[:8]:
        tracker.update(poses, t)
    tab = tracker._table
    predicted = tracker._smoother.expected(tracker._smoother.predict(tab.filter, 0.1, tab.size))
    d = frames[8][1]
    tol = tab.size * 0.15
    direct = pose_cost(predicted, tab.known, d.xy.astype(float), d.conf > 0, tol)[0, 0]
    swapped = pose_cost(predicted, tab.known, d.xy.astype(float)[:, FLIP], (d.conf > 0)[:, FLIP], tol)[0, 0]
    assert 0.0 < direct - swapped < TrackerConfig().mirror_margin  # a near tie, mirrored a hair better
    for margin, swap in ((TrackerConfig().mirror_margin, False), (0.0, True)):
        results = run(frames, TrackerConfig(mirror_margin=margin))
        assert [r.ids.tolist() for r in results] == [[1]] * 12
        _, swapped_rows = in_track_labels(results[8], frames[8][1])
        assert swapped_rows == [swap]
    with pytest.raises(ValueError, match="mirror_margin"):
        TrackerConfig(mirror_margin=1.0)
    with pytest.raises(ValueError, match="mirror_margin"):
        TrackerConfig(mirror_margin=-0.1)


def test_label_vote_frames_0_or_1_follow_the_network():
    """The vote off: the output takes each frame's labels (a track matched mirrored relabels at
    once), as mirror matching did before the vote (exactly so with ``mirror_margin`` 0); 1 is the
    same."""
    for mirrored in ({0}, {4}, {2, 3}, {1, 3, 5}):
        frames = walk(10, mirrored=mirrored)
        results = run(frames, TrackerConfig(label_vote_frames=0))
        assert [r.ids.tolist() for r in results] == [[1]] * 10
        for (_, poses), tracks in zip(frames, results):
            np.testing.assert_array_equal(tracks.xy_raw[0], poses.xy[0])
            assert np.abs(tracks.xy[0, SEEN] - poses.xy[0, SEEN]).max() < 12.0
        for a, b in zip(results, run(frames, TrackerConfig(label_vote_frames=1))):
            np.testing.assert_array_equal(a.xy, b.xy)
            np.testing.assert_array_equal(a.xy_raw, b.xy_raw)


def test_label_vote_frames_setting():
    assert TrackerConfig().label_vote_frames == 3
    assert TrackerConfig(label_vote_frames=0).label_vote_frames == 0
    for bad in (-1, 1001, 2.5, "3", True, None):
        with pytest.raises(ValueError, match="label_vote_frames"):
            TrackerConfig(label_vote_frames=bad)


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
