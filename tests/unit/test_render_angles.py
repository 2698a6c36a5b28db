"""--angles: the joint-angle labels drawn beside the joints (livepose.render_angles), their layout
(text, side, no overlap, nothing for a missing joint or a tiny person), the pixels, the video sink
drawing them on a copy of the shared picture, and the option's settings and command-line checks."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from helpers import REPO, error_line, run_cli, start_xvfb, video_frames
from livepose.render_angles import angle_labels, degree_width, draw_angles, parse_angle_joints, text_size
from livepose.settings import ANGLE_JOINTS, OutputSettings, SettingError
from livepose.types import Frame, FrameResult, People, Poses, StreamInfo

SIZE = (640, 480)  # width, height


def _pose(part_names, points: dict) -> tuple[np.ndarray, np.ndarray]:
    """(xy (K, 2), conf (K,)) with ``points`` found (conf 0.9), every other part missing."""
    xy = np.full((len(part_names), 2), np.nan, np.float32)
    conf = np.zeros(len(part_names), np.float32)
    for name, p in points.items():
        xy[part_names.index(name)] = p
        conf[part_names.index(name)] = 0.9
    return xy, conf


def _people(part_names, *poses, ids=None) -> People:
    xy = np.stack([p[0] for p in poses]).astype(np.float32)
    conf = np.stack([p[1] for p in poses]).astype(np.float32)
    score = np.full(len(poses), 0.9, np.float32)
    made = Poses(xy, conf, score, tuple(part_names))
    if ids is None:
        return People(made)
    return People(made, ids=np.asarray(ids, np.int64), state=np.ones(len(poses), np.int8), raw=made,
                  predicted_xy=np.full_like(xy, np.nan))


# Facing the camera: the person's right side is on the image's left.  Right knee bent at a right
# angle (shank pointing left), left leg straight; hips straight; right arm: shoulder only.
LEGS = {
    "right_shoulder": (200, 100), "left_shoulder": (260, 100),
    "right_hip": (200, 250), "left_hip": (260, 250),
    "right_knee": (200, 350), "left_knee": (260, 350),
    "right_ankle": (100, 350), "left_ankle": (260, 450),
}


def _by_joint(labels):
    return {(lab.person, lab.joint): lab for lab in labels}


def test_right_angle_labelled_90_beside_the_joint_outward(part_names):
    people = _people(part_names, _pose(part_names, LEGS))
    labels = _by_joint(angle_labels(people.poses, frame_size=SIZE))
    assert set(labels) == {(0, "knee_right"), (0, "knee_left"), (0, "hip_right"), (0, "hip_left")}
    knee = labels[(0, "knee_right")]
    assert knee.text == "90" and knee.value == pytest.approx(90.0, abs=1e-6)
    assert labels[(0, "knee_left")].text == "0" and labels[(0, "hip_right")].text == "0"
    # where: left of the right knee (the outside), vertically centred on it, by the rule
    dw, th, base, _ = text_size(knee.scale)
    gap = max(3, round(0.7 * dw))
    assert knee.anchor == (200.0, 350.0)
    assert knee.org == (round(200 - gap - 2 * dw - degree_width(dw)), round(350 + th / 2))
    x0, y0, x1, y1 = knee.box
    assert x1 <= 200 - gap + 1 and y0 < 350 < y1  # beside the joint, not on it
    left = labels[(0, "knee_left")]
    assert left.box[0] >= 260 + 2 and left.box[1] < 350 < left.box[3]  # the left knee's: to its right


def test_missing_joints_get_no_label(part_names):
    points = dict(LEGS)
    del points["left_ankle"]  # the left knee's angle needs the ankle
    points.update({"right_elbow": (150, 180)})  # right shoulder angle: yes; right elbow: no wrist
    labels = _by_joint(angle_labels(_people(part_names, _pose(part_names, points)).poses, frame_size=SIZE))
    assert (0, "knee_left") not in labels and (0, "elbow_right") not in labels
    assert (0, "shoulder_right") in labels and (0, "knee_right") in labels
    assert (0, "shoulder_left") not in labels  # no left elbow
    nobody = _people(part_names, _pose(part_names, {"nose": (50, 50)}))
    assert angle_labels(nobody.poses, frame_size=SIZE) == []
    assert angle_labels(Poses.empty(tuple(part_names)), frame_size=SIZE) == []


def test_several_people_in_one_call_and_the_joints_asked_for(part_names):
    shifted = {k: (x + 300, y) for k, (x, y) in LEGS.items()}
    people = _people(part_names, _pose(part_names, LEGS), _pose(part_names, {"nose": (1, 1)}),
                     _pose(part_names, shifted))
    labels = angle_labels(people.poses, frame_size=SIZE)
    assert sorted({lab.person for lab in labels}) == [0, 2]
    assert [lab.joint for lab in labels if lab.person == 0] == [lab.joint for lab in labels if lab.person == 2]
    only = angle_labels(people.poses, ("knee",), frame_size=SIZE)
    assert {lab.joint for lab in only} == {"knee_right", "knee_left"}


def test_labels_never_overlap(part_names):
    """Seen from the side both knees (and hips) are at one place: the labels still do not cover each other."""
    side = {"right_shoulder": (300, 100), "left_shoulder": (300, 100), "right_hip": (300, 250),
            "left_hip": (300, 250), "right_knee": (300, 350), "left_knee": (300, 350),
            "right_ankle": (250, 440), "left_ankle": (250, 440), "right_elbow": (300, 180),
            "left_elbow": (300, 180), "right_wrist": (350, 180), "left_wrist": (350, 180)}
    near = {k: (x + 40, y + 5) for k, (x, y) in side.items()}
    labels = angle_labels(_people(part_names, _pose(part_names, side), _pose(part_names, near)).poses,
                          frame_size=SIZE)
    assert len(labels) == 16
    for i, a in enumerate(labels):
        for b in labels[i + 1:]:
            ax0, ay0, ax1, ay1 = a.box
            bx0, by0, bx1, by1 = b.box
            assert not (ax0 < bx1 and bx0 < ax1 and ay0 < by1 and by0 < ay1), (a, b)


def test_tiny_people_get_no_labels_and_the_text_grows_with_the_person(part_names):
    tiny = {k: (x / 10 + 20, y / 10 + 20) for k, (x, y) in LEGS.items()}  # 35 px tall
    assert angle_labels(_people(part_names, _pose(part_names, tiny)).poses, frame_size=SIZE) == []
    big = {k: (x * 2, y * 2) for k, (x, y) in LEGS.items()}
    small = angle_labels(_people(part_names, _pose(part_names, LEGS)).poses, frame_size=(1280, 960))
    large = angle_labels(_people(part_names, _pose(part_names, big)).poses, frame_size=(1280, 960))
    assert large[0].scale > small[0].scale


def test_pixels_drawn_next_to_the_joint_and_nowhere_else(part_names):
    people = _people(part_names, _pose(part_names, LEGS), ids=[7])
    image = np.full((SIZE[1], SIZE[0], 3), 128, np.uint8)
    draw_angles(image, people)
    changed = (image != 128).any(-1)
    knee = _by_joint(angle_labels(people.poses, frame_size=SIZE))[(0, "knee_right")]
    x0, y0, x1, y1 = knee.box
    assert changed[y0:y1, x0:x1].sum() > 20  # the "90" beside the right knee
    boxes = np.zeros_like(changed)
    for lab in angle_labels(people.poses, frame_size=SIZE):
        bx0, by0, bx1, by1 = lab.box
        boxes[max(0, by0 - 3):by1 + 3, max(0, bx0 - 3):bx1 + 3] = True
    assert not changed[~boxes].any()  # only the labels (with their outline) were drawn
    blank = np.full_like(image, 128)
    draw_angles(blank, _people(part_names, _pose(part_names, {"nose": (9, 9)})))
    assert (blank == 128).all()


def test_parse_angle_joints():
    assert parse_angle_joints("") == ANGLE_JOINTS and parse_angle_joints(None) == ANGLE_JOINTS
    assert parse_angle_joints("elbow, KNEE,knee") == ("knee", "elbow")  # drawing order, once each
    with pytest.raises(ValueError, match="unknown joint 'ankle'"):
        parse_angle_joints("knee,ankle")


def test_settings():
    assert OutputSettings().angles is None
    assert OutputSettings(angles=True).angles == ANGLE_JOINTS and OutputSettings(angles=False).angles is None
    assert OutputSettings(angles="knee,hip").angles == ("knee", "hip")
    assert OutputSettings(angles=["elbow"]).angles == ("elbow",)
    with pytest.raises(SettingError, match="outputs.angles"):
        OutputSettings(angles=("wrist",))


def test_python_api_keyword_and_the_flag_before_the_source():
    from livepose.cli import _split_argv
    from livepose.settings import RunConfig

    assert RunConfig.from_overrides(angles=True).outputs.angles == ANGLE_JOINTS
    assert RunConfig.from_overrides(angles="elbow").outputs.angles == ("elbow",)
    assert _split_argv(["run", "--angles", "clip.mp4"])[0] == ["run", "--angles=", "clip.mp4"]
    assert _split_argv(["run", "--angles", "0"])[0] == ["run", "--angles=", "0"]  # webcam 0
    assert _split_argv(["run", "--angles", "knee,hip", "x.mp4"])[0] == ["run", "--angles", "knee,hip", "x.mp4"]


def test_cli_refuses_an_unknown_joint(capsys, tmp_path):
    code, _, err = run_cli(capsys, "run", "clip.mp4", "--angles", "knee,toe", "--jsonl", tmp_path / "a.jsonl")
    assert code == 2
    assert "--angles: unknown joint 'toe'" in error_line(err)
    assert not list(tmp_path.iterdir())


def _result(part_names, index: int, image: np.ndarray, people: People, picture=None) -> FrameResult:
    return FrameResult(Frame(index, index / 25.0, 0.0, image), people, picture=picture)


def test_video_sink_draws_the_angles_on_its_own_copy(tmp_path, card, part_names):
    from livepose.render import render_result
    from livepose.sinks import VideoSink

    info = StreamInfo("synthetic", SIZE, 25.0, 3, False, "test", tuple(part_names), card.limbs)
    people = _people(part_names, _pose(part_names, LEGS), ids=[3])
    image = np.full((SIZE[1], SIZE[0], 3), 90, np.uint8)
    pictures = []
    for name, angles in (("plain.mp4", None), ("angles.mp4", ANGLE_JOINTS)):
        sink = VideoSink(tmp_path / name, angles=angles)
        sink.open(info)
        for i in range(3):
            base = _result(part_names, i, image, people)
            picture = render_result(None, base, card.limbs)
            shared = picture.copy()
            sink.write(_result(part_names, i, image, people, picture=picture))
            assert (picture == shared).all()  # the picture other outputs share is left as it was
            pictures.append(picture)
        sink.close()
    plain, drawn = video_frames(tmp_path / "plain.mp4"), video_frames(tmp_path / "angles.mp4")
    assert len(plain) == len(drawn) == 3
    knee = _by_joint(angle_labels(people.poses, frame_size=SIZE))[(0, "knee_right")]
    x0, y0, x1, y1 = knee.box
    for a, b in zip(plain, drawn):
        diff = np.abs(a.astype(int) - b.astype(int)).max(-1)
        assert diff[y0:y1, x0:x1].max() > 60  # the label is in the video


WINDOW_SCRIPT = textwrap.dedent("""
    import sys, time
    import numpy as np
    from livepose.sinks import DisplaySink
    from livepose.types import Frame, FrameResult, People, Poses, StreamInfo

    data = np.load(sys.argv[1], allow_pickle=False)
    parts = tuple(str(p) for p in data["parts"])
    info = StreamInfo("test", tuple(int(v) for v in data["size"]), 25.0, None, True, "m", parts, data["limbs"])
    poses = Poses(data["xy"], data["conf"], np.ones(1, np.float32), parts)
    people = People(poses, ids=np.array([3]), state=np.ones(1, np.int8), raw=poses,
                    predicted_xy=np.full(poses.xy.shape, np.nan, np.float32))
    for name, angles in (("plain", None), ("angles", ("knee", "hip"))):
        sink = DisplaySink("livepose-angles-" + name, angles=angles)
        sink.open(info)
        sink.write(FrameResult(Frame(0, 0.0, time.perf_counter(), data["img"]), people))
        deadline = time.monotonic() + 30
        while sink._last is None and time.monotonic() < deadline:
            time.sleep(0.02)
        np.save(sys.argv[2] + name + ".npy", sink._last)
        sink.close()
    print("RESULT done")
""")


def test_window_shows_the_angles(tmp_path, card, part_names):
    xy, conf = _pose(part_names, LEGS)
    np.savez(tmp_path / "frame.npz", parts=np.array(part_names), size=np.array(SIZE), limbs=card.limbs,
             xy=xy[None], conf=conf[None], img=np.full((SIZE[1], SIZE[0], 3), 90, np.uint8))
    proc, display = start_xvfb()
    try:
        env = {**os.environ, "DISPLAY": display, "PYTHONPATH": str(REPO)}
        env.pop("WAYLAND_DISPLAY", None)
        done = subprocess.run([sys.executable, "-c", WINDOW_SCRIPT, str(tmp_path / "frame.npz"),
                               str(tmp_path) + os.sep], env=env, capture_output=True, text=True, timeout=120)
    finally:
        proc.terminate()
        proc.wait(10)
    assert "RESULT done" in done.stdout, done.stderr[-2000:]
    plain, drawn = np.load(tmp_path / "plain.npy"), np.load(tmp_path / "angles.npy")
    people = _people(part_names, (xy, conf), ids=[3])
    labels = _by_joint(angle_labels(people.poses, ("knee", "hip"), frame_size=SIZE))
    diff = np.abs(plain.astype(int) - drawn.astype(int)).max(-1)
    for lab in labels.values():
        x0, y0, x1, y1 = lab.box
        assert diff[y0:y1, x0:x1].max() > 60, lab
    assert len(labels) == 4
