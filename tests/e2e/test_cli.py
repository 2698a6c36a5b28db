"""The `livepose` command on real photos, and every kind of bad input getting one clear line."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from helpers import COCO_DIR, PHOTO, error_line, error_lines, run_cli
from livepose.card import bundled_models_dir
from livepose.cli import main


def test_image_writes_annotated_photo_and_openpose_json(tmp_path, capsys, card):
    code, out, err = run_cli(capsys, "image", PHOTO, "--out", tmp_path / "res", "--threads", 2)
    assert code == 0, err
    assert out.startswith(f"{PHOTO}: 4 people, ") and out.rstrip().endswith(" ms")
    doc = json.loads((tmp_path / "res" / "000000196141_keypoints.json").read_text())
    assert doc["version"] == 1.3
    assert len(doc["people"]) == 4
    for person in doc["people"]:
        assert person["person_id"] == [-1]
        kp = np.asarray(person["pose_keypoints_2d"]).reshape(card.num_parts, 3)
        missing = kp[:, 2] == 0
        assert (kp[missing, :2] == 0).all() and (kp[~missing, 2] > 0).all()
    drawn = cv2.imread(str(tmp_path / "res" / "000000196141.jpg"))
    original = cv2.imread(str(PHOTO))
    assert drawn.shape == original.shape
    assert np.mean(np.any(drawn.astype(int) - original > 60, axis=2)) > 0.005  # skeletons were drawn


def test_folder_and_several_images(tmp_path, capsys):
    code, out, err = run_cli(capsys, "image", COCO_DIR, "--out", tmp_path, "--no-image", "-q")
    assert code == 0 and out == "" and err == ""
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == sorted(p.stem + "_keypoints.json" for p in COCO_DIR.glob("*.jpg"))


def _bad_inputs(tmp_path: Path) -> dict[str, Path]:
    data = PHOTO.read_bytes()
    files = {
        "missing": tmp_path / "missing.jpg",
        "truncated": tmp_path / "truncated.jpg",
        "notimage": tmp_path / "notes.jpg",
        "empty": tmp_path / "empty.png",
        "folder": tmp_path / "folder.jpg",
    }
    files["truncated"].write_bytes(data[: len(data) // 2])
    files["notimage"].write_text("this is not a photo\n")
    files["empty"].write_bytes(b"")
    files["folder"].mkdir()
    return files


@pytest.mark.parametrize("kind, message", [
    ("missing", "file not found"),
    ("truncated", "truncated JPEG"),
    ("notimage", "not an image"),
    ("empty", "empty file"),
])
def test_bad_photo_gets_one_line_and_exit_2(tmp_path, capsys, kind, message):
    path = _bad_inputs(tmp_path)[kind]
    code, out, err = run_cli(capsys, "image", path, "--out", tmp_path / "res")
    assert code == 2
    line, *summary = error_lines(err)  # the photo's line, then how many of the photos failed
    assert str(path) in line and message in line
    assert len(summary) == 1 and "1 of 1 images could not be read" in summary[0]


def test_batch_with_bad_photos_still_writes_the_good_ones(tmp_path, capsys):
    bad = _bad_inputs(tmp_path)
    code, out, err = run_cli(capsys, "image", bad["truncated"], PHOTO, bad["notimage"], "--out", tmp_path / "res")
    assert code == 2
    assert "4 people" in out
    assert (tmp_path / "res" / "000000196141_keypoints.json").is_file()
    assert (tmp_path / "res" / "000000196141.jpg").is_file()
    assert "Traceback" not in err
    assert "truncated.jpg" in err and "notes.jpg" in err and "2 of 3 images could not be read" in err


def test_odd_but_valid_images(tmp_path, capsys):
    colour = cv2.imread(str(PHOTO))
    gray = cv2.cvtColor(colour, cv2.COLOR_BGR2GRAY)
    rgba = cv2.cvtColor(colour, cv2.COLOR_BGR2BGRA)
    cv2.imwrite(str(tmp_path / "gray.png"), gray)
    cv2.imwrite(str(tmp_path / "rgba.png"), rgba)
    cv2.imwrite(str(tmp_path / "deep.png"), colour.astype(np.uint16) * 257)
    cv2.imwrite(str(tmp_path / "tiny.png"), colour[:1, :1])
    cv2.imwrite(str(tmp_path / "huge.jpg"), cv2.resize(colour, (8000, 8000), interpolation=cv2.INTER_NEAREST))
    code, out, err = run_cli(capsys, "image", *(tmp_path / n for n in
                                             ("gray.png", "rgba.png", "deep.png", "tiny.png", "huge.jpg")),
                         "--out", tmp_path / "res")
    assert code == 0, err
    lines = dict(line.split(": ", 1) for line in out.splitlines())
    assert lines[str(tmp_path / "rgba.png")].startswith("4 people")
    assert lines[str(tmp_path / "deep.png")].startswith("4 people")
    assert lines[str(tmp_path / "gray.png")].split()[0] in ("3", "4")
    assert lines[str(tmp_path / "tiny.png")].startswith("0 people")
    assert cv2.imread(str(tmp_path / "res" / "huge.jpg")).shape == (8000, 8000, 3)


def test_unwritable_output_folder(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, out, err = run_cli(capsys, "image", PHOTO, "--out", blocker / "res")
    assert code == 4
    assert "cannot create the folder" in error_line(err)


def test_missing_corrupt_and_mismatched_model(tmp_path, capsys):
    code, _, err = run_cli(capsys, "image", PHOTO, "--out", tmp_path, "--model", tmp_path / "none.onnx")
    assert code == 3 and "no model card beside it" in error_line(err)

    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x00" * 1000)
    card = json.loads((bundled_models_dir() / "mobilenet_thin.json").read_text())
    card["model"] = "corrupt.onnx"
    (tmp_path / "corrupt.json").write_text(json.dumps(card))
    code, _, err = run_cli(capsys, "image", PHOTO, "--out", tmp_path, "--model", corrupt)
    assert code == 3 and "corrupt.onnx: not a loadable ONNX model" in error_line(err)

    shutil.copy(bundled_models_dir() / "mobilenet_thin.onnx", tmp_path / "net.onnx")
    card["model"] = "net.onnx"
    card["pafs"]["output"] = "pafs"
    (tmp_path / "net.json").write_text(json.dumps(card))
    code, _, err = run_cli(capsys, "image", PHOTO, "--out", tmp_path, "--model", tmp_path / "net.onnx")
    assert code == 3 and "field 'pafs.output'" in error_line(err)


def test_usage_errors(capsys, tmp_path):
    code, _, err = run_cli(capsys, "image", PHOTO, "--out", tmp_path, "--size", "big")  # one line, naming auto
    assert code == 2 and "--size: must be WxH" in error_line(err) and "or auto; got 'big'" in err
    with pytest.raises(SystemExit) as info:
        main(["run", "x.mp4", "--batch", "0"])  # argparse's own checks: usage and exit 2
    assert info.value.code == 2
    assert main([]) == 2


def test_python_dash_m_and_help_read_well():
    res = subprocess.run([sys.executable, "-m", "livepose", "--help"], capture_output=True, text=True)
    assert res.returncode == 0
    assert "image" in res.stdout and "eval" in res.stdout
    res = subprocess.run([sys.executable, "-m", "livepose", "image", "--help"], capture_output=True, text=True)
    assert "--out DIR" in res.stdout and "-1x368" in res.stdout
