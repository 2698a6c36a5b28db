"""Suppression wired into the pipeline: the decode stage drops the false people (default on), the
``suppress`` section of the settings reaches it from every entry point (RunConfig keywords, the
command line, PoseEstimator), and ``--no-suppress`` / ``suppress=False`` give the decoder's poses."""

from __future__ import annotations

import dataclasses
import pickle
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from helpers import COCO_PHOTOS, error_line, run_cli
from livepose import settings as S
from livepose.cli import build_parser, run_config, suppress_settings
from livepose.stages import DecodeStage, make_stages
from livepose.suppress import BODY_TEMPLATE, Suppressor, suppress
from livepose.types import Poses


# ------------------------------------------------------------------------------ constructed people
def standing(part_names, x: float, y: float, height: float, names=None) -> np.ndarray:
    """(P, 2) a standing person of ``height`` pixels with the top of the head at (x, y); only the
    parts ``names`` (default all) found, the others NaN."""
    xy = np.full((len(part_names), 2), np.nan, np.float32)
    for k, name in enumerate(part_names):
        if name in BODY_TEMPLATE and (names is None or name in names):
            tx, ty = BODY_TEMPLATE[name]
            xy[k] = (x + tx * height, y + ty * height)
    return xy


def poses_of(part_names, people, scores) -> Poses:
    xy = np.stack(people).astype(np.float32)
    conf = np.where(np.isfinite(xy[..., 0]), np.float32(0.6), np.float32(0.0)).astype(np.float32)
    return Poses(xy=xy, conf=conf, score=np.asarray(scores, np.float32), part_names=tuple(part_names))


LEG = ("right_hip", "right_knee", "right_ankle")


@pytest.fixture()
def person_and_leg(part_names) -> Poses:
    """A whole person, a second person beside it, and a duplicate of the first one's right leg
    found on its own (a partial skeleton inside the person, a few pixels off)."""
    body = standing(part_names, 200, 40, 300)
    other = standing(part_names, 700, 60, 280)
    leg = standing(part_names, 203, 42, 300, LEG)
    return poses_of(part_names, [body, leg, other], [0.5, 0.3, 0.45])


def decode_stage(card, poses: Poses, suppress=None) -> DecodeStage:
    """A decode stage whose decoder gives ``poses`` (the stage's own suppression as configured)."""
    stage = DecodeStage(card, None, suppress)
    stage.decoder = lambda out: poses
    return stage


# ------------------------------------------------------------------------------ the stage
def test_the_decode_stage_drops_a_duplicate_partial_skeleton_by_default(card, person_and_leg):
    stage = decode_stage(card, person_and_leg)
    assert stage.suppress == S.SuppressSettings()
    out = stage(None)
    assert len(out) == 2
    np.testing.assert_array_equal(out.score, person_and_leg.score[[0, 2]])
    np.testing.assert_array_equal(out.xy, person_and_leg.xy[[0, 2]])


def test_with_suppression_off_the_decoders_poses_pass_untouched(card, person_and_leg):
    stage = decode_stage(card, person_and_leg, S.SUPPRESS_OFF)
    assert stage(None) is person_and_leg  # no copy, nothing looked at


def test_each_rule_alone_through_the_stage(card, person_and_leg):
    box_only = S.SUPPRESS_OFF.with_(pose_nms=True)
    assert len(decode_stage(card, person_and_leg, box_only)(None)) == 2
    score_only = S.SUPPRESS_OFF.with_(min_person_score=0.35)  # the leg's 0.3 is below
    assert len(decode_stage(card, person_and_leg, score_only)(None)) == 2
    assert len(decode_stage(card, person_and_leg, S.SUPPRESS_OFF.with_(min_person_score=0.1))(None)) == 3


def test_when_nothing_is_dropped_the_stage_gives_the_decoders_poses_back(card, part_names):
    poses = poses_of(part_names, [standing(part_names, 100, 40, 300), standing(part_names, 600, 40, 300)],
                     [0.5, 0.6])
    assert decode_stage(card, poses)(None) is poses  # the cheap path: no new arrays per frame
    out = suppress(poses, card.limbs)  # the function still gives new arrays
    assert out is not poses and not np.shares_memory(out.xy, poses.xy)
    np.testing.assert_array_equal(out.xy, poses.xy)


def test_a_cut_limb_gives_new_arrays_and_leaves_the_decoders_alone(card, part_names):
    body = standing(part_names, 100, 40, 300)
    body[part_names.index("right_wrist")] = (900.0, 700.0)  # a forearm reaching far away
    poses = poses_of(part_names, [body], [0.5])
    before = poses.xy.copy()
    out = decode_stage(card, poses)(None)
    assert out is not poses and len(out) == 1
    assert np.isnan(out.xy[0, part_names.index("right_wrist")]).all()
    assert out.conf[0, part_names.index("right_wrist")] == 0
    np.testing.assert_array_equal(poses.xy, before)


def test_the_stage_and_the_function_agree(card, part_names, person_and_leg):
    for settings in (S.SuppressSettings(), S.SUPPRESS_OFF.with_(pose_nms=True), S.SuppressSettings(limb_action="drop")):
        a = decode_stage(card, person_and_leg, settings)(None)
        b = suppress(person_and_leg, card.limbs, settings)
        for x, y in ((a.xy, b.xy), (a.conf, b.conf), (a.score, b.score)):
            np.testing.assert_array_equal(x, y)


def test_the_suppressor_checks_its_inputs(card, part_names, person_and_leg):
    with pytest.raises(S.SettingError, match=r"^setting suppress: must be a SuppressSettings; got dict$"):
        Suppressor(card.parts, card.limbs, {"pose_nms": False})
    with pytest.raises(ValueError, match="limbs must be"):
        Suppressor(card.parts, [[0, len(card.parts)]])
    wrong = Poses(xy=person_and_leg.xy[:, :5], conf=person_and_leg.conf[:, :5], score=person_and_leg.score,
                  part_names=tuple(part_names[:5]))
    with pytest.raises(ValueError, match="poses of 5 parts for a skeleton of"):
        Suppressor(card.parts, card.limbs)(wrong)


def test_empty_frames(card, part_names):
    empty = Poses.empty(tuple(part_names))
    assert decode_stage(card, empty)(None) is empty
    assert len(suppress(empty, card.limbs)) == 0


def test_make_stages_gives_the_decode_stage_its_suppression(card):
    network = SimpleNamespace(card=card)  # what the stages read of a network before running it
    assert make_stages(network).decode.suppress == S.SuppressSettings()
    assert make_stages(network, suppress=S.SUPPRESS_OFF).decode.suppress == S.SUPPRESS_OFF
    mine = S.SuppressSettings(min_person_score=0.2)
    assert make_stages(network, suppress=mine, tracking=True).decode.suppress is mine


# ------------------------------------------------------------------------------ the estimator
def test_the_estimator_suppresses_by_default_and_its_streams_too(estimator):
    assert estimator.suppress == S.SuppressSettings()
    assert estimator.stages(tracking=True).decode.suppress == estimator.suppress
    off = estimator.with_suppress(S.SUPPRESS_OFF)
    assert off.network is estimator.network  # no new session
    assert off.stages().decode.suppress == S.SUPPRESS_OFF and estimator.suppress == S.SuppressSettings()
    assert off.with_size((-1, 256)).suppress == S.SUPPRESS_OFF
    assert off.with_augment(S.accuracy_preset("normal")).suppress == S.SUPPRESS_OFF


def test_on_the_photos_the_estimators_people_are_the_raw_ones_suppressed(estimator):
    off = estimator.with_suppress(S.SUPPRESS_OFF)
    raw_total = kept_total = 0
    for path in COCO_PHOTOS:
        image = cv2.imread(str(path))
        raw, _ = off(image)
        kept, times = estimator(image)
        expected = suppress(raw, estimator.card.limbs)
        np.testing.assert_array_equal(kept.xy, expected.xy)
        np.testing.assert_array_equal(kept.score, expected.score)
        raw_total, kept_total = raw_total + len(raw), kept_total + len(kept)
        assert times.decode > 0  # the suppression counts in the decode time
    assert 0 < kept_total <= raw_total


# ------------------------------------------------------------------------------ settings
def test_the_run_configuration_has_a_suppress_section_on_by_default():
    config = S.RunConfig()
    assert config.suppress == S.SuppressSettings() and config.suppress.active
    assert not S.SUPPRESS_OFF.active
    assert "suppress" in config.as_dict() and config.as_dict()["suppress"]["pose_nms"] is True


def test_suppress_keywords_reach_the_section():
    assert S.RunConfig.from_overrides(suppress=False).suppress == S.SUPPRESS_OFF
    assert S.RunConfig.from_overrides(suppress=True).suppress == S.SuppressSettings()
    one = S.RunConfig.from_overrides(suppress=False, min_person_score=0.1).suppress
    assert one == S.SUPPRESS_OFF.with_(min_person_score=0.1) and one.active
    assert S.RunConfig.from_overrides(pose_nms=False).suppress == S.SuppressSettings(pose_nms=False)
    assert S.RunConfig.from_overrides(max_limb_ratio=0, limb_action="drop").suppress == \
        S.SuppressSettings(max_limb_ratio=0, limb_action="drop")
    whole = S.SuppressSettings(pose_nms_box_margin=0.1)
    assert S.RunConfig.from_overrides(suppress=whole).suppress is whole
    base = S.RunConfig.from_overrides(suppress=False)
    assert S.RunConfig.from_overrides(base, batch=2).suppress == S.SUPPRESS_OFF  # kept from the base


@pytest.mark.parametrize("overrides, line", [
    (dict(suppress="yes"), "setting suppress: must be true, false or a SuppressSettings; got 'yes'"),
    (dict(suppress=S.DecodeConfig()), "setting suppress: must be true, false or a SuppressSettings; got DecodeConfig"),
    (dict(min_person_score=1.5), "setting suppress.min_person_score: must be in [0, 1] (0: off); got 1.5"),
    (dict(pose_nms="no"), "setting suppress.pose_nms: must be true or false; got 'no'"),
    (dict(limb_action="trim"), "setting suppress.limb_action: must be one of cut, drop; got 'trim'"),
])
def test_wrong_suppress_values_are_one_line(overrides, line):
    with pytest.raises(S.SettingError) as info:
        S.RunConfig.from_overrides(**overrides)
    assert str(info.value) == line


def test_the_section_is_checked_by_the_run_configuration():
    with pytest.raises(S.SettingError, match=r"^setting suppress: must be a SuppressSettings; got dict$"):
        S.RunConfig(suppress={"pose_nms": False})


def test_suppress_settings_are_frozen_picklable_and_known_by_name():
    s = S.SuppressSettings(min_person_score=0.1, limb_action="drop")
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.pose_nms = False
    config = S.RunConfig.from_overrides(suppress=s, source="a.mp4")
    back = pickle.loads(pickle.dumps(config))
    assert back == config and back.suppress == s and hash(back.suppress) == hash(s)
    with pytest.raises(S.SettingError, match=r"^setting min_score: no such setting; the settings are .*"
                                             r"\bmin_person_score\b.*\bsuppress\b"):
        S.RunConfig.from_overrides(min_score=0.1)


def test_the_old_imports_still_work():
    import livepose
    from livepose import suppress as module

    assert module.SuppressSettings is S.SuppressSettings and module.SUPPRESS_OFF is S.SUPPRESS_OFF
    assert module.LIMB_ACTIONS == S.LIMB_ACTIONS
    assert livepose.SuppressSettings is S.SuppressSettings


# ------------------------------------------------------------------------------ command line
COMMANDS = {
    "run": ["run", "clip.mp4"],
    "image": ["image", "a.jpg", "--out", "out"],
    "eval": ["eval", "--annotations", "a.json", "--images", "img"],
    "eval-track": ["eval-track", "--annotations", "a.json", "--frames", "img"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_decoding_command_has_the_suppress_options(command):
    parser = build_parser()
    argv = COMMANDS[command]
    assert suppress_settings(parser.parse_args(argv)) == S.SuppressSettings()
    assert suppress_settings(parser.parse_args(argv + ["--suppress"])) == S.SuppressSettings()
    assert suppress_settings(parser.parse_args(argv + ["--no-suppress"])) == S.SUPPRESS_OFF
    assert suppress_settings(parser.parse_args(argv + ["--min-person-score", "0.1"])) == \
        S.SuppressSettings(min_person_score=0.1)
    assert suppress_settings(parser.parse_args(argv + ["--no-suppress", "--min-person-score", "0.2"])) == \
        S.SUPPRESS_OFF.with_(min_person_score=0.2)


def test_the_run_command_puts_them_in_its_configuration():
    parser = build_parser()
    assert run_config(parser.parse_args(["run", "clip.mp4"])).suppress == S.SuppressSettings()
    assert run_config(parser.parse_args(["run", "clip.mp4", "--no-suppress"])).suppress == S.SUPPRESS_OFF


@pytest.mark.parametrize("value", ["2", "-0.1", "abc", "nan"])
def test_a_bad_min_person_score_is_one_line(capsys, tmp_path, value):
    code, _, err = run_cli(capsys, "run", "clip.mp4", "--min-person-score", value)
    assert code == 2
    assert error_line(err) == ("error: --min-person-score: must be a number from 0 to 1 (0 keeps every score); "
                               f"got {value!r}")
    code, _, err = run_cli(capsys, "image", COCO_PHOTOS[0], "--out", tmp_path / "out", "--min-person-score", value)
    assert code == 2 and error_line(err).startswith("error: --min-person-score: ")


def test_the_help_says_what_they_do(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["image", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--suppress, --no-suppress drop them (default); --no-suppress keeps every pose the decoder finds" in out
    assert "--min-person-score S drop people whose score is below S, 0 to 1 (default 0.04; 0 keeps every score)" in out
