"""A model card's own decoding rules (its optional ``decode`` field): how the card states them, the
one-line errors of a wrong one, and that they are the rules a run decodes with when it names none
(``--rules``, ``--upsample``, ``decode=``, ``rules=``, a field's keyword: any of these wins)."""

from __future__ import annotations

import json
import pickle
from types import SimpleNamespace

import pytest

from helpers import PHOTO, card_dict, error_line, run_cli, write_card
from livepose import settings as S
from livepose.card import bundled_models_dir, load_card
from livepose.cli import build_parser, decode_settings, run_config
from livepose.errors import ModelError

ABSENT = object()


def card_file(tmp_path, decode=ABSENT, name: str = "lwop.json"):
    data = card_dict(name)
    data.pop("decode", None)
    if decode is not ABSENT:
        data["decode"] = decode
    return write_card(tmp_path, data, "net.json")


@pytest.fixture
def fake_network(monkeypatch):
    """The estimator's network replaced by its card alone (what the stages read of it before a run)."""
    import livepose.inference

    monkeypatch.setattr(livepose.inference, "make_network", lambda card, settings: SimpleNamespace(card=card))


def estimator_for(card_path, decode=None):
    from livepose.build import build_estimator

    return build_estimator(S.ModelSettings(card=str(card_path)), decode, warm_up=False)


# ------------------------------------------------------------------------------ the card field
@pytest.mark.parametrize("name", ["lwop.json", "lwop.int8.json"])
def test_the_bundled_lwop_cards_carry_their_measured_rules(name):
    path = bundled_models_dir() / name
    stated = json.loads(path.read_text())["decode"]
    card = load_card(path)
    assert card.decode == S.DecodeConfig(**stated) and card.decode != S.OPENPOSE_RULES
    assert set(stated) <= set(S.DecodeConfig().as_dict())


def test_a_card_without_the_field_has_none(tmp_path):
    assert load_card(card_file(tmp_path)).decode is None
    assert load_card(bundled_models_dir() / "mobilenet_thin.json").decode is None


def test_the_fields_not_named_keep_openposes_values(tmp_path):
    card = load_card(card_file(tmp_path, {"nms_radius": 2, "min_mean_score": 0, "refine": True}))
    assert card.decode == S.OPENPOSE_RULES.with_(nms_radius=2, min_mean_score=0.0)
    assert isinstance(card.decode.min_mean_score, float)  # JSON's 0 for a float setting
    assert load_card(card_file(tmp_path, {})).decode == S.OPENPOSE_RULES
    assert pickle.loads(pickle.dumps(card.decode)) == card.decode


@pytest.mark.parametrize("decode, problem", [
    ([2], "field 'decode' must be an object of decoding settings (upsample, peak_threshold, nms_radius, "),
    ("tfpose", "field 'decode' must be an object of decoding settings"),
    ({"nms": 2}, "field 'decode.nms' is not a decoding setting; the settings are upsample, peak_threshold, "),
    ({"rules": "tfpose"}, "field 'decode.rules' is not a decoding setting"),
    ({"nms_radius": 9}, "field 'decode.nms_radius' must be a whole number 1 to 5; got 9"),
    ({"upsample": 2.0}, "field 'decode.upsample' must be a whole number 1 to 8; got 2.0"),
    ({"min_parts": True}, "field 'decode.min_parts' must be a whole number 1 to 1000; got True"),
    ({"peak_threshold": "0.1"}, "field 'decode.peak_threshold' must be in [0, 1); got '0.1'"),
    ({"min_pass_ratio": 1.5}, "field 'decode.min_pass_ratio' must be in [0, 1); got 1.5"),
    ({"refine": 1}, "field 'decode.refine' must be true or false; got 1"),
    ({"min_samples": 10, "max_samples": 5},
     "field 'decode.max_samples' must be a whole number from min_samples to 100; got 5"),
    ({"nms_radius": 0, "upsample": 0}, "field 'decode.upsample' must be a whole number 1 to 8; got 0"),  # the first
])
def test_a_wrong_decode_field_is_one_line_naming_it(tmp_path, decode, problem):
    path = card_file(tmp_path, decode)
    with pytest.raises(ModelError) as exc:
        load_card(path)
    line = str(exc.value)
    assert line.startswith(f"{path}: {problem}") and "\n" not in line


def test_the_command_line_says_it_in_one_line(capsys, tmp_path):
    path = card_file(tmp_path, {"peak_treshold": 0.1})
    code, _, err = run_cli(capsys, "image", PHOTO, "--card", path, "--out", tmp_path / "out", "--no-image")
    assert code == ModelError.exit_code
    assert error_line(err).startswith(f"error: {path}: field 'decode.peak_treshold' is not a decoding setting")


# ------------------------------------------------------------------- the rules a run decodes with
def test_the_cards_rules_reach_the_decoder_when_none_are_named(tmp_path, fake_network):
    rules = S.OPENPOSE_RULES.with_(nms_radius=2, sample_threshold=0.02, min_pass_ratio=0.65)
    estimator = estimator_for(card_file(tmp_path, rules.as_dict()))
    assert estimator.decode_config == rules
    for stages in (estimator._stages, estimator.stages(tracking=True), estimator.with_size((-1, 256)).stages(),
                   estimator.with_suppress(S.SUPPRESS_OFF).stages()):
        assert stages.decode.decoder.config == rules


def test_without_the_field_a_run_decodes_with_openposes_rules(tmp_path, fake_network):
    assert estimator_for(card_file(tmp_path)).stages().decode.decoder.config == S.OPENPOSE_RULES


@pytest.mark.parametrize("named", [S.OPENPOSE_RULES, S.TFPOSE_RULES, S.OPENPOSE_RULES.with_(upsample=2)])
def test_named_rules_win_over_the_cards(tmp_path, fake_network, named):
    estimator = estimator_for(card_file(tmp_path, {"nms_radius": 3, "min_parts": 5}), named)
    assert estimator.decode_config == named and estimator.stages().decode.decoder.config == named


def test_the_session_network_decodes_with_its_cards_rules(estimator):
    """The real default network (whichever card its engine and precision picked: lwop.json, or
    lwop.int8.json on OpenVINO) decodes with that card's rules."""
    assert estimator.card.decode is not None
    assert estimator.decode_config == estimator.card.decode
    assert estimator.stages().decode.decoder.config == estimator.card.decode


# ------------------------------------------------------ the settings that name rules (or do not)
@pytest.mark.parametrize("options, rules", [
    ([], None),
    (["--rules", "openpose"], S.OPENPOSE_RULES),
    (["--rules", "tfpose"], S.TFPOSE_RULES),
    (["--upsample", "2"], S.OPENPOSE_RULES.with_(upsample=2)),
    (["--rules", "tfpose", "--upsample", "3"], S.TFPOSE_RULES.with_(upsample=3)),
])
def test_the_command_line_names_rules_only_when_asked(options, rules):
    assert run_config(build_parser().parse_args(["run", "clip.mp4", *options])).decode == rules
    for command in (["image", str(PHOTO), "--out", "out"], ["eval", "--annotations", "a.json", "--images", "i"]):
        assert decode_settings(build_parser().parse_args([*command, *options])) == rules


@pytest.mark.parametrize("overrides, rules", [
    ({}, None),
    ({"rules": "openpose"}, S.OPENPOSE_RULES),
    ({"upsample": 2}, S.OPENPOSE_RULES.with_(upsample=2)),
    ({"nms_radius": 2}, S.OPENPOSE_RULES.with_(nms_radius=2)),
    ({"rules": "tfpose", "min_parts": 5}, S.TFPOSE_RULES.with_(min_parts=5)),
    ({"decode": S.DecodeConfig(min_parts=5)}, S.DecodeConfig(min_parts=5)),
])
def test_the_api_names_rules_only_when_asked(overrides, rules):
    config = S.RunConfig.from_overrides(**overrides)
    assert config.decode == rules
    assert pickle.loads(pickle.dumps(config)) == config


def test_a_run_configuration_without_rules_is_valid_and_a_wrong_one_is_not():
    assert S.RunConfig().decode is None
    with pytest.raises(S.SettingError, match=r"^setting decode: must be a DecodeConfig; got dict$"):
        S.RunConfig(decode={"nms_radius": 2})
