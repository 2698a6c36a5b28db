"""Suppressing false people before tracking (livepose.suppress), on constructed poses with known
answers: the skeleton is the bundled card's (parts and limbs), people stand as in the module's own
body template, scaled and moved."""

from __future__ import annotations

import numpy as np
import pytest

from livepose.settings import SettingError
from livepose.suppress import BODY_TEMPLATE, SuppressSettings, limb_ratios, limb_reference, suppress
from livepose.types import Poses

OFF = SuppressSettings(min_person_score=0.0, pose_nms=False, max_limb_ratio=0.0)  # every rule off


@pytest.fixture(scope="module")
def limbs(card) -> np.ndarray:
    return np.asarray(card.limbs)


def standing(part_names, x: float, y: float, height: float) -> np.ndarray:
    """(P, 2) a standing person, the top of the head at (x, y)."""
    missing = [p for p in part_names if p not in BODY_TEMPLATE]
    assert not missing, f"the card has parts the body template does not place: {missing}"
    return np.array([BODY_TEMPLATE[p] for p in part_names], np.float32) * np.float32(height) + np.float32([x, y])


def poses_of(part_names, people, scores=None) -> Poses:
    """Poses from [(P, 2) xy with NaN for missing parts], confidence 0.8 where found."""
    xy = np.stack([np.asarray(p, np.float32) for p in people]) if people else np.zeros((0, len(part_names), 2),
                                                                                         np.float32)
    found = np.isfinite(xy).all(axis=2)
    conf = np.where(found, 0.8, 0.0).astype(np.float32)
    xy = np.where(found[..., None], xy, np.nan).astype(np.float32)
    score = np.asarray(scores if scores is not None else [0.5] * len(xy), np.float32)
    return Poses(xy=xy, conf=conf, score=score, part_names=tuple(part_names))


def only(part_names, xy: np.ndarray, names) -> np.ndarray:
    """``xy`` with every part but ``names`` missing."""
    out = np.full_like(xy, np.nan)
    index = [part_names.index(n) for n in names]
    out[index] = xy[index]
    return out


def without(part_names, xy: np.ndarray, names) -> np.ndarray:
    out = xy.copy()
    out[[part_names.index(n) for n in names]] = np.nan
    return out


def same_rows(out: Poses, poses: Poses, rows) -> None:
    np.testing.assert_array_equal(out.xy, poses.xy[rows])
    np.testing.assert_array_equal(out.conf, poses.conf[rows])
    np.testing.assert_array_equal(out.score, poses.score[rows])
    assert out.part_names == poses.part_names


# ------------------------------------------------------------------------------ pose NMS
def test_a_duplicate_head_on_a_full_skeleton_goes(part_names, limbs):
    body = standing(part_names, 100, 50, 300)
    head = only(part_names, body + np.float32([3.0, -2.0]), ("nose", "right_eye", "left_eye"))
    poses = poses_of(part_names, [head, body], scores=[0.09, 0.7])
    same_rows(suppress(poses, limbs), poses, [1])
    # the same-part test is what removes it: without it (and without the box test) it stays
    assert len(suppress(poses, limbs, SuppressSettings(pose_nms_distance=0.0, pose_nms_box_parts=0))) == 2


def test_a_three_part_leg_inside_a_person_missing_that_leg_goes(part_names, limbs):
    """The decoder found a person's left leg on its own: no part in common, inside its box."""
    body = standing(part_names, 100, 50, 300)
    leg = ("left_hip", "left_knee", "left_ankle")
    poses = poses_of(part_names, [without(part_names, body, leg), only(part_names, body, leg)], scores=[0.6, 0.08])
    same_rows(suppress(poses, limbs), poses, [0])
    assert len(suppress(poses, limbs, SuppressSettings(pose_nms_box_parts=0))) == 2  # the box test removes it


def test_two_people_side_by_side_both_stay(part_names, limbs):
    a, b = standing(part_names, 100, 50, 300), standing(part_names, 400, 60, 280)
    poses = poses_of(part_names, [a, b])
    same_rows(suppress(poses, limbs), poses, [0, 1])


def test_two_full_people_overlapping_both_stay(part_names, limbs):
    a, b = standing(part_names, 100, 50, 300), standing(part_names, 160, 70, 290)
    poses = poses_of(part_names, [a, b])
    same_rows(suppress(poses, limbs), poses, [0, 1])


def test_a_partial_person_beside_a_full_one_stays(part_names, limbs):
    """Four parts (a head) next to a person, outside its box and its margin: another person."""
    body = standing(part_names, 100, 50, 300)
    other = only(part_names, standing(part_names, 330, 50, 300), ("nose", "right_eye", "left_eye", "neck"))
    poses = poses_of(part_names, [body, other], scores=[0.7, 0.1])
    same_rows(suppress(poses, limbs), poses, [0, 1])


def test_the_larger_pose_is_the_one_with_more_parts_whatever_the_order(part_names, limbs):
    body = standing(part_names, 100, 50, 300)
    head = only(part_names, body, ("nose", "right_eye", "left_eye"))
    for order in ([body, head], [head, body]):
        out = suppress(poses_of(part_names, order, scores=[0.5, 0.5]), limbs)
        assert len(out) == 1 and out.visible.sum() == len(part_names)


def test_nms_off_keeps_every_pose(part_names, limbs):
    body = standing(part_names, 100, 50, 300)
    poses = poses_of(part_names, [body, only(part_names, body, ("nose", "right_eye", "left_eye"))])
    assert len(suppress(poses, limbs, SuppressSettings(pose_nms=False))) == 2


# ------------------------------------------------------------------------------ implausible limbs
def reaching(part_names, body: np.ndarray, parts, factor: float) -> np.ndarray:
    """``body`` with each limb of the chain ``parts`` (e.g. shoulder, elbow, wrist) stretched to
    ``factor`` torso lengths (neck to hip), pointing down and to the right."""
    out = body.copy()
    torso = float(np.linalg.norm(body[part_names.index("neck")] - body[part_names.index("right_hip")]))
    step = np.float32([0.6, 0.8]) * np.float32(factor * torso)
    for prev, part in zip(parts, parts[1:]):
        out[part_names.index(part)] = out[part_names.index(prev)] + step
    return out


def test_a_forearm_three_torsos_long_is_cut_at_the_wrist(part_names, limbs):
    body = standing(part_names, 100, 50, 300)
    arm = reaching(part_names, body, ("right_elbow", "right_wrist"), 3.0)
    poses = poses_of(part_names, [arm])
    out = suppress(poses, limbs, OFF.with_(max_limb_ratio=3.0, limb_action="cut"))
    wrist = part_names.index("right_wrist")
    assert len(out) == 1
    assert not out.visible[0, wrist] and np.isnan(out.xy[0, wrist]).all()
    rest = np.arange(len(part_names)) != wrist
    np.testing.assert_array_equal(out.xy[0, rest], poses.xy[0, rest])
    np.testing.assert_array_equal(out.conf[0, rest], poses.conf[0, rest])
    assert out.score[0] == poses.score[0]


def test_an_arm_three_torsos_long_loses_elbow_and_wrist(part_names, limbs):
    body = standing(part_names, 100, 50, 300)
    arm = reaching(part_names, body, ("right_shoulder", "right_elbow", "right_wrist"), 3.0)
    out = suppress(poses_of(part_names, [arm]), limbs)  # the defaults cut
    lost = {part_names[i] for i in np.flatnonzero(~out.visible[0])}
    assert lost == {"right_elbow", "right_wrist"}


def test_an_implausible_limb_with_drop_drops_the_pose(part_names, limbs):
    body = standing(part_names, 100, 50, 300)
    arm = reaching(part_names, body, ("right_elbow", "right_wrist"), 3.0)
    poses = poses_of(part_names, [body + np.float32([500, 0]), arm])
    same_rows(suppress(poses, limbs, OFF.with_(max_limb_ratio=3.0, limb_action="drop")), poses, [0])
    same_rows(suppress(poses, limbs, OFF), poses, [0, 1])  # rule off: untouched


def test_ordinary_proportions_are_not_cut(part_names, limbs):
    body = standing(part_names, 100, 50, 300)
    longer = reaching(part_names, body, ("right_elbow", "right_wrist"), 1.0)  # a forearm as long as the torso
    poses = poses_of(part_names, [body, longer + np.float32([600, 0])])
    same_rows(suppress(poses, limbs), poses, [0, 1])


def test_limbs_between_parts_the_template_does_not_name_are_not_judged(part_names, limbs):
    names = tuple(f"part{i}" for i in range(len(part_names)))
    assert np.isnan(limb_reference(names, limbs)).all()
    body = standing(part_names, 100, 50, 300)
    arm = reaching(part_names, body, ("right_elbow", "right_wrist"), 5.0)
    p = poses_of(part_names, [arm])
    renamed = Poses(p.xy, p.conf, p.score, names)
    same_rows(suppress(renamed, limbs), renamed, [0])


def test_limb_ratios_compare_a_limb_with_the_median_of_the_others(part_names, limbs):
    body = standing(part_names, 100, 50, 300)
    ratio = limb_ratios(body[None], np.ones((1, len(part_names)), bool), limbs, limb_reference(part_names, limbs), 2)
    judged = np.isfinite(ratio[0])
    assert judged.sum() >= 10  # the body's limbs; the face's are too small to say anything
    np.testing.assert_allclose(ratio[0, judged], 1.0, atol=1e-4)  # the template's own proportions


# ------------------------------------------------------------------------------ score, empty, order
def test_score_threshold(part_names, limbs):
    people = [standing(part_names, 100 + 400 * k, 50, 300) for k in range(3)]
    poses = poses_of(part_names, people, scores=[0.02, 0.04, 0.5])
    same_rows(suppress(poses, limbs, OFF.with_(min_person_score=0.04)), poses, [1, 2])
    same_rows(suppress(poses, limbs, OFF.with_(min_person_score=0.6)), poses, [])
    same_rows(suppress(poses, limbs, OFF), poses, [0, 1, 2])


def test_empty_input(part_names, limbs):
    empty = Poses.empty(part_names)
    out = suppress(empty, limbs)
    assert len(out) == 0 and out.xy.shape == (0, len(part_names), 2) and out.part_names == tuple(part_names)


def test_a_pose_without_any_part_found_is_dropped(part_names, limbs):
    nothing = np.full((len(part_names), 2), np.nan, np.float32)
    poses = poses_of(part_names, [standing(part_names, 100, 50, 300), nothing])
    same_rows(suppress(poses, limbs, OFF), poses, [0])


def test_rows_keep_their_order_and_the_input_is_left_alone(part_names, limbs):
    rng = np.random.default_rng(3)
    people, scores, expected = [], [], []
    for k in range(6):
        body = standing(part_names, 100 + 400 * k, 50 + 10 * k, 250 + 10 * k)
        people.append(body)
        scores.append(0.5 + 0.05 * k)
        expected.append(len(people) - 1)
        if k % 2 == 0:  # a weak duplicate head on every other person, listed right after it
            people.append(only(part_names, body + rng.normal(0, 1.0, body.shape).astype(np.float32),
                               ("nose", "right_eye", "left_eye")))
            scores.append(0.06)
    poses = poses_of(part_names, people, scores)
    before = (poses.xy.copy(), poses.conf.copy(), poses.score.copy())
    out = suppress(poses, limbs)
    same_rows(out, poses, expected)
    for a, b in zip(before, (poses.xy, poses.conf, poses.score)):
        np.testing.assert_array_equal(a, b)
    assert not any(np.shares_memory(a, b) for a in (out.xy, out.conf, out.score)
                   for b in (poses.xy, poses.conf, poses.score))


# ------------------------------------------------------------------------------ settings
def test_defaults_are_valid_and_every_rule_can_be_turned_off():
    s = SuppressSettings()
    assert s.min_person_score > 0 and s.pose_nms and s.pose_nms_box_parts > 0 and s.max_limb_ratio > 0
    assert OFF.with_(pose_nms_distance=0.0, pose_nms_box_parts=0).as_dict()["pose_nms_distance"] == 0.0


@pytest.mark.parametrize("change, line", [
    ({"min_person_score": -0.1}, "setting suppress.min_person_score: must be in [0, 1] (0: off); got -0.1"),
    ({"min_person_score": "high"}, "setting suppress.min_person_score: must be in [0, 1] (0: off); got 'high'"),
    ({"pose_nms": 1}, "setting suppress.pose_nms: must be true or false; got 1"),
    ({"pose_nms_distance": 2.0},
     "setting suppress.pose_nms_distance: must be in [0, 1] (0: no same-part test); got 2.0"),
    ({"pose_nms_overlap": 0.0}, "setting suppress.pose_nms_overlap: must be in (0, 1]; got 0.0"),
    ({"pose_nms_box_parts": 2.5}, "setting suppress.pose_nms_box_parts: must be a whole number 0 to 1000; got 2.5"),
    ({"max_limb_ratio": 0.5}, "setting suppress.max_limb_ratio: must be 0 (off) or a number > 1; got 0.5"),
    ({"limb_min_others": 0}, "setting suppress.limb_min_others: must be a whole number 1 to 100; got 0"),
    ({"limb_action": "trim"}, "setting suppress.limb_action: must be one of cut, drop; got 'trim'"),
])
def test_settings_validation_lines(change, line):
    with pytest.raises(SettingError) as info:
        SuppressSettings(**change)
    assert str(info.value) == line


def test_every_problem_in_one_line_and_unknown_names():
    with pytest.raises(SettingError) as info:
        SuppressSettings(min_person_score=2, limb_action="x")
    assert str(info.value).count("setting suppress.") == 2 and "\n" not in str(info.value)
    with pytest.raises(SettingError,
                       match=r"^setting suppress\.min_person_scor: no such setting; the settings are min_person_score"):
        SuppressSettings().with_(min_person_scor=0.1)


def test_wrong_arguments(part_names, limbs):
    poses = poses_of(part_names, [standing(part_names, 100, 50, 300)])
    with pytest.raises(SettingError, match=r"^setting suppress: must be a SuppressSettings; got dict"):
        suppress(poses, limbs, {"min_person_score": 0.1})
    with pytest.raises(ValueError, match="limbs must be"):
        suppress(poses, np.array([[0, len(part_names)]]))
