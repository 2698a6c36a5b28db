"""The settings tree: one configuration per run, checked in one place, picklable, the same from
the command line and from Python."""

from __future__ import annotations

import argparse
import pickle

import pytest

from livepose import settings as S
from livepose.cli import OFFLINE_SMOOTHERS, _endpoint, build_parser, run_config
from livepose.errors import InputError


def test_defaults_are_the_command_lines_defaults():
    args = build_parser().parse_args(["run", "clip.mp4"])
    config = run_config(args)
    assert config == S.RunConfig(capture=S.CaptureSettings(source="clip.mp4"))
    assert config.decode is None  # no rules named: the network card's own (tests/unit/test_card_decode.py)
    assert config.outputs.show_display  # no output asked: the window is the default


def test_command_line_options_land_in_their_sections(tmp_path):
    args = build_parser().parse_args([
        "run", "clip.mp4", "--jsonl", str(tmp_path / "a.jsonl"), "--csv", "b.csv", "--rules", "tfpose",
        "--upsample", "2", "--smoother", "one_euro", "--batch", "4", "--max-frames", "9", "--threads", "2",
        "--backend", "onnxruntime", "--precision", "fp32", "--providers", "CPUExecutionProvider", "--size=-1x256",
        "--osc", "127.0.0.1:9000", "--osc-mode", "arrays", "--no-track", "--quiet",
    ])
    c = run_config(args)
    assert c.outputs.jsonl == str(tmp_path / "a.jsonl") and c.outputs.csv == "b.csv"
    assert c.outputs.files == {"jsonl": str(tmp_path / "a.jsonl"), "csv": "b.csv"}
    assert c.outputs.osc == ("127.0.0.1", 9000) and c.outputs.osc_mode == "arrays"
    assert not c.outputs.show_display  # another output was asked for
    assert c.decode == S.TFPOSE_RULES.with_(upsample=2)
    assert c.track.smoother == "one_euro" and c.tracking is False and c.quiet is True
    assert (c.capture.batch, c.capture.max_frames) == (4, 9)
    assert c.model == S.ModelSettings(size=(-1, 256), backend="onnxruntime", precision="fp32",
                                      providers=("CPUExecutionProvider",), threads=2)


def test_a_configuration_survives_pickling_and_compares_equal():
    config = S.RunConfig.from_overrides(source="videos/a.mp4", batch=8, precision="fp16", jsonl="a.jsonl",
                                        smoother="none", ws=8765)
    back = pickle.loads(pickle.dumps(config))
    assert back == config and hash(back.model) == hash(config.model)
    assert back.outputs.ws == ("127.0.0.1", 8765)


def test_flat_keywords_reach_their_section():
    c = S.RunConfig.from_overrides(batch=8, precision="fp16", rules="tfpose", upsample=3, gate=0.5, track=False)
    assert c.capture.batch == 8 and c.model.precision == "fp16" and c.track.gate == 0.5 and not c.tracking
    assert c.decode == S.TFPOSE_RULES.with_(upsample=3)
    whole = S.RunConfig.from_overrides(decode=S.DecodeConfig(min_parts=5), model=S.ModelSettings(threads=1))
    assert whole.decode.min_parts == 5 and whole.model.threads == 1


@pytest.mark.parametrize("overrides, line", [
    (dict(backend="tensorflow"), "setting model.backend: must be one of auto, onnxruntime, openvino; got 'tensorflow'"),
    (dict(precision="fp8"), "setting model.precision: must be one of auto, fp32, fp16, bf16, int8; got 'fp8'"),
    (dict(smoother="kalmann"), "setting track.smoother: must be one of kalman, one_euro, none; got 'kalmann'"),
    (dict(batch=0), "setting capture.batch: must be a whole number 1 to 65536; got 0"),
    (dict(upsample=9), "setting decode.upsample: must be a whole number 1 to 8; got 9"),
    (dict(rules="caffe"), "setting decode.rules: must be one of openpose, tfpose; got 'caffe'"),
    (dict(osc_mode="all"), "setting outputs.osc_mode: must be one of both, keypoints, arrays; got 'all'"),
    (dict(size=(-1, -1)), "setting model.size: must be (width, height)"),
    (dict(threads=0), "setting model.threads: must be a whole number 1 to 1024; got 0"),
    (dict(gate=1.5), "setting track.gate: must be in (0, 1]; got 1.5"),
    (dict(udp=("localhost", 0)), "setting outputs.udp: must be (host, port) with a port 1 to 65535"),
    (dict(tracking="yes"), "setting run.tracking: must be true or false; got 'yes'"),
])
def test_a_wrong_value_is_one_line_naming_the_setting_and_what_it_accepts(overrides, line):
    with pytest.raises(S.SettingError) as info:
        S.RunConfig.from_overrides(**overrides)
    message = str(info.value)
    assert message.startswith(line) and "\n" not in message
    assert isinstance(info.value, InputError) and info.value.exit_code == 2
    assert isinstance(info.value, ValueError)  # also what Python callers of a dataclass expect


def test_an_unknown_setting_lists_the_known_ones():
    with pytest.raises(S.SettingError, match=r"^setting bacth: no such setting; the settings are .*\bbatch\b"):
        S.RunConfig.from_overrides(bacth=4)
    with pytest.raises(S.SettingError, match=r"^setting decode\.smaples: no such setting"):
        S.DecodeConfig().with_(smaples=3)


def test_every_problem_of_a_section_is_reported_at_once():
    with pytest.raises(S.SettingError) as info:
        S.DecodeConfig(upsample=0, nms_radius=9)
    assert "decode.upsample" in str(info.value) and "decode.nms_radius" in str(info.value)


def test_choice_lists_are_the_command_lines():
    parser = build_parser()
    run = parser._subparsers._group_actions[0].choices["run"]
    choices = {a.dest: tuple(a.choices) for a in run._actions if a.choices}
    assert choices["backend"] == S.BACKENDS and choices["precision"] == S.PRECISIONS
    assert choices["smoother"] == S.SMOOTHERS + OFFLINE_SMOOTHERS and choices["osc_mode"] == S.OSC_MODES
    assert choices["rules"] == S.RULE_NAMES and set(S.RULE_NAMES) == set(S.RULES)


def test_cli_settings_errors_keep_their_lines(tmp_path):
    parser = build_parser()
    with pytest.raises(InputError, match=r"^--ws-frames and --ws-token need --ws \[HOST:\]PORT$"):
        run_config(parser.parse_args(["run", "x.mp4", "--ws-frames"]))
    with pytest.raises(InputError, match=r"^--udp: the receiver's port must be 1 to 65535, got 0$"):
        run_config(parser.parse_args(["run", "x.mp4", "--udp", "127.0.0.1:0"]))


def test_open_refuses_outputs_and_points_to_run():
    import livepose

    with pytest.raises(S.SettingError, match="livepose.run"):
        livepose.open("clip.mp4", jsonl="x.jsonl")


@pytest.mark.parametrize("text, expected", [
    ("8765", ("127.0.0.1", 8765, False)),
    ("0", ("127.0.0.1", 0, False)),
    ("0.0.0.0:9000", ("0.0.0.0", 9000, True)),
    ("localhost:5005", ("localhost", 5005, True)),
    ("[::1]:8765", ("::1", 8765, True)),
])
def test_endpoint_parsing(text, expected):
    assert _endpoint(text) == expected


@pytest.mark.parametrize("text", ["abc", "host:", ":80", "host:x", "70000", "[::1]8765", "-1"])
def test_endpoint_rejects(text):
    with pytest.raises(argparse.ArgumentTypeError):
        _endpoint(text)
