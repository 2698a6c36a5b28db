"""Joint and segment angles on constructed poses with hand-computed answers."""

import math

import numpy as np
import pytest

from livepose.analysis.angles import OPENPOSE_COCO_PARTS, UNAVAILABLE, all_angles, joint_angles, segment_angles

P = {name: i for i, name in enumerate(OPENPOSE_COCO_PARTS)}


def pose(**points):
    """A (18, 3) pose, image coordinates (y down); unnamed parts missing (conf 0)."""
    kp = np.zeros((len(OPENPOSE_COCO_PARTS), 3))
    kp[:, :2] = np.nan
    for name, (x, y) in points.items():
        kp[P[name]] = (x, y, 0.9)
    return kp


def standing(**over):
    pts = dict(neck=(100, 0), right_shoulder=(90, 0), left_shoulder=(110, 0),
               right_hip=(90, 100), left_hip=(110, 100), right_knee=(90, 150), left_knee=(110, 150),
               right_ankle=(90, 200), left_ankle=(110, 200), right_elbow=(90, 40), left_elbow=(110, 40),
               right_wrist=(90, 80), left_wrist=(110, 80))
    pts.update(over)
    return pose(**pts)


def test_straight_limbs_give_zero_flexion_and_vertical_segments():
    a = all_angles(standing())
    for side in ("right", "left"):
        for j in ("knee", "hip", "shoulder", "elbow"):
            assert a[f"{j}_{side}_flexion_deg"] == pytest.approx(0.0, abs=1e-9)
        for seg in ("shank", "thigh", "arm", "forearm"):
            assert a[f"{seg}_{side}_deg"] == pytest.approx(-90.0)
    assert a["trunk_deg"] == pytest.approx(90.0)


def test_right_angle_at_the_knee_is_90_degrees_flexion():
    a = joint_angles(standing(right_ankle=(140, 150)))          # shank horizontal, pointing right
    assert a["knee_right_flexion_deg"] == pytest.approx(90.0)
    assert a["knee_left_flexion_deg"] == pytest.approx(0.0, abs=1e-9)
    s = segment_angles(standing(right_ankle=(140, 150)))
    assert s["shank_right_deg"] == pytest.approx(0.0)


def test_flexion_is_unsigned_mirrored_person_same_answer():
    bent_fwd = joint_angles(standing(right_ankle=(140, 150)))["knee_right_flexion_deg"]
    bent_back = joint_angles(standing(right_ankle=(40, 150)))["knee_right_flexion_deg"]
    assert bent_fwd == pytest.approx(bent_back) == pytest.approx(90.0)


def test_forearm_right_is_0_up_is_90_left_180_down_minus_90():
    for wrist, want in (((150, 40), 0.0), ((90, -10), 90.0), ((40, 40), 180.0), ((90, 90), -90.0),
                        ((140, -10), 45.0)):
        s = segment_angles(standing(right_wrist=wrist))
        assert s["forearm_right_deg"] == pytest.approx(want)


def test_elbow_and_shoulder_and_hip():
    a = joint_angles(standing(right_wrist=(130, 40)))           # forearm at 90 deg to the arm
    assert a["elbow_right_flexion_deg"] == pytest.approx(90.0)
    a = joint_angles(standing(right_elbow=(50, 0), right_wrist=(10, 0)))  # arm raised sideways
    assert a["shoulder_right_flexion_deg"] == pytest.approx(90.0)
    a = joint_angles(standing(right_knee=(140, 100), right_ankle=(140, 150)))  # sitting: thigh horizontal
    assert a["hip_right_flexion_deg"] == pytest.approx(90.0)
    assert a["knee_right_flexion_deg"] == pytest.approx(90.0)


def test_missing_hip_gives_nan_for_that_side_only():
    kp = standing()
    kp[P["right_hip"]] = (np.nan, np.nan, 0.0)
    a = all_angles(kp)
    assert math.isnan(a["knee_right_flexion_deg"]) and math.isnan(a["hip_right_flexion_deg"])
    assert math.isnan(a["thigh_right_deg"]) and math.isnan(a["trunk_deg"])
    assert a["knee_left_flexion_deg"] == pytest.approx(0.0, abs=1e-9)
    assert a["hip_left_flexion_deg"] == pytest.approx(0.0, abs=1e-9)
    assert a["elbow_right_flexion_deg"] == pytest.approx(0.0, abs=1e-9)
    assert a["shank_right_deg"] == pytest.approx(-90.0)


def test_conf_zero_with_coordinates_is_missing():
    kp = standing()
    kp[P["left_ankle"], 2] = 0.0
    a = all_angles(kp)
    assert math.isnan(a["knee_left_flexion_deg"]) and math.isnan(a["shank_left_deg"])
    assert a["knee_right_flexion_deg"] == pytest.approx(0.0, abs=1e-9)


def test_vectorised_over_frames_and_people():
    one = standing(right_ankle=(140, 150))
    batch = np.broadcast_to(one, (7, 3) + one.shape).copy()
    batch[2, 1, P["right_knee"]] = (np.nan, np.nan, 0)
    a = all_angles(batch)
    assert a["knee_right_flexion_deg"].shape == (7, 3)
    assert np.isnan(a["knee_right_flexion_deg"][2, 1])
    assert np.sum(np.isnan(a["knee_right_flexion_deg"])) == 1
    assert np.allclose(np.delete(a["knee_right_flexion_deg"].ravel(), 7), 90.0)


def test_parts_by_name_in_another_order():
    parts = list(reversed(OPENPOSE_COCO_PARTS))
    kp = standing(right_ankle=(140, 150))[::-1]
    assert joint_angles(kp, parts)["knee_right_flexion_deg"] == pytest.approx(90.0)


def test_foot_and_ankle_are_documented_as_unavailable():
    assert set(UNAVAILABLE) == {"ankle_flexion", "foot_segment"}
    assert not any(k.startswith(("ankle", "foot")) for k in all_angles(standing()))
