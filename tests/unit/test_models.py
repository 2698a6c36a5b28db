"""Networks by name: which bundled cards are networks, how --model resolves, and `livepose models`."""

from __future__ import annotations

import json
import shutil

import pytest

from helpers import REPO, run_cli
from livepose import models
from livepose.card import bundled_models_dir
from livepose.errors import ModelError


def test_the_bundled_networks_are_the_cards_with_weights_of_their_own():
    nets = models.bundled_networks()
    names = [n.name for n in nets]
    assert names[0] == "lwop" == models.default_network()  # the default card comes first
    assert set(names) >= {"lwop", "mobilenet_thin"}
    assert len(set(names)) == len(names)
    assert not any(n.card_path.name.endswith((".int8.json", ".fp16.json")) for n in nets)  # siblings are not networks
    assert all(n.card_path.parent == bundled_models_dir() for n in nets)
    assert "quality_baseline" not in {n.card_path.stem for n in nets}  # not a card
    assert all(n.license for n in nets)


def test_a_folder_of_cards_lists_the_default_first_then_by_name(tmp_path):
    for name in ("mobilenet_thin.json", "mobilenet_thin.int8.json", "lwop.json", "lwop.int8.json"):
        shutil.copy(bundled_models_dir() / name, tmp_path / name)
    card = json.loads((bundled_models_dir() / "mobilenet_thin.json").read_text())
    (tmp_path / "aaa.json").write_text(json.dumps(dict(card, name="aaa")))
    (tmp_path / "notes.json").write_text(json.dumps({"about": "not a card"}))
    assert [n.name for n in models.bundled_networks(tmp_path)] == ["lwop", "aaa", "mobilenet_thin"]


def test_model_by_name_by_path_or_default():
    by_name = models.card_for("lwop")
    by_path = models.card_for(str(REPO / "models" / "lwop.onnx"))
    default = models.card_for()
    assert by_name.card_path.resolve() == by_path.card_path.resolve() == default.card_path.resolve()
    other = models.card_for("mobilenet_thin")
    assert other.card_path.resolve() == models.card_for(str(REPO / "models" / "mobilenet_thin.onnx")).card_path.resolve()
    assert other.card_path != default.card_path


def test_an_unknown_name_is_one_line_listing_the_names():
    with pytest.raises(ModelError) as info:
        models.card_for("mobilenet_thick")
    line = str(info.value)
    assert line.startswith("mobilenet_thick: no bundled network of that name (the bundled networks are ")
    assert "mobilenet_thin" in line and "\n" not in line and info.value.exit_code == 3


def test_a_missing_path_keeps_its_own_message():
    with pytest.raises(ModelError, match=r"nowhere\.onnx: no model card beside it"):
        models.card_for("nowhere.onnx")


def test_livepose_models_shows_what_the_baseline_measured(capsys):
    code, out, err = run_cli(capsys, "models")
    assert code == 0, err
    baseline = json.loads((bundled_models_dir() / models.BASELINE_NAME).read_text())
    for net in models.bundled_networks():
        card = net.card()
        assert f"{net.name}" in out and f"{card.num_parts} parts, {card.num_limbs} limbs" in out
        fixture = baseline["networks"][net.name]["coco_fixture"]
        assert f"AP {fixture['AP']:.3f} on the 4 COCO fixture photos" in out  # quoted, not typed
    assert out.splitlines()[0].startswith("lwop (default): ")


def test_run_with_an_unknown_network_name_exits_3(capsys):
    code, out, err = run_cli(capsys, "run", str(REPO / "examples" / "one-by-one-clip.mp4"), "--model", "nope",
                             "--jsonl", "x.jsonl")
    assert code == 3 and err.strip().startswith("error: nope: no bundled network of that name")
