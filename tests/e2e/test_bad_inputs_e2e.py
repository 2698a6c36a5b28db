"""Bad inputs end to end (issue 13, classes 4-7 and 9), through the command line on real files:
one clear line, a documented exit code, no traceback, no crash, no hang, nothing read lost."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from fractions import Fraction

import cv2
import numpy as np
import pytest

from helpers import CLIP, COCO_DIR, PHOTO, error_line, run_cli


def _warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("warning: ")]


def test_size_with_a_leading_minus_as_the_readme_writes_it(tmp_path, capsys):
    code, _, err = run_cli(capsys, "image", PHOTO, "--size", "-1x368", "--out", tmp_path / "a", "--no-image", "-q")
    assert code == 0 and err == "", err
    code, _, err = run_cli(capsys, "image", PHOTO, "--size=-1x368", "--out", tmp_path / "b", "--no-image", "-q")
    assert code == 0, err
    name = PHOTO.stem + "_keypoints.json"
    assert (json.loads((tmp_path / "a" / name).read_text())["people"]
            == json.loads((tmp_path / "b" / name).read_text())["people"])


def _frames_folder(tmp_path, n=6, truncated=(2,)):
    folder = tmp_path / "frames"
    folder.mkdir()
    cap = cv2.VideoCapture(str(CLIP))
    for i in range(n):
        ok, image = cap.read()
        assert ok
        cv2.imwrite(str(folder / f"frame{i:03d}.jpg"), image)
    cap.release()
    for i in truncated:
        path = folder / f"frame{i:03d}.jpg"
        path.write_bytes(path.read_bytes()[:2000])
    (folder / "._frame000.jpg").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        ")
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (folder / ".thumb.jpg").write_bytes(b"not a picture")
    return folder


def test_run_on_a_folder_skips_unreadable_images_and_keeps_the_rest(tmp_path, capsys):
    folder = _frames_folder(tmp_path, truncated=(0, 3))
    jsonl = tmp_path / "out.jsonl"
    code, out, err = run_cli(capsys, "run", folder, "--jsonl", jsonl, "--no-display", "--threads", 2)
    assert code == 2 and "Traceback" not in err and out == ""
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert errors == [f"error: {folder / 'frame000.jpg'}: truncated JPEG (no end-of-image marker)",
                      f"error: {folder / 'frame003.jpg'}: truncated JPEG (no end-of-image marker)",
                      f"error: {folder}: 2 of 6 images could not be read (skipped); outputs hold the 4 frames read"]
    assert "._frame000" not in err and ".thumb" not in err  # hidden files are not frames at all
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [d["frame"] for d in lines] == [0, 1, 2, 3]
    assert sum(len(d["people"]) for d in lines) >= 3


def test_a_panorama_is_capped_with_one_warning(tmp_path, capsys):
    pano = tmp_path / "pano.jpg"
    cv2.imwrite(str(pano), np.random.default_rng(0).integers(0, 255, (64, 20000, 3), np.uint8))
    code, _, err = run_cli(capsys, "image", pano, "--size", "-1x368", "--out", tmp_path / "o", "--no-image",
                           "--threads", 2)
    assert code == 0, err
    (warning,) = _warnings(err)
    assert "20000x64" in warning and "4 MP" in warning and "Traceback" not in err


def test_a_header_that_doubles_the_frame_rate(tmp_path, capsys):
    """An MKV whose header says 20 fps (99 frames) while its 50 frames are 10 fps apart: timestamps
    from the container, and a warning (exit 0), not 'truncated or corrupt'."""
    av = pytest.importorskip("av")
    path = tmp_path / "lie.mkv"
    cap = cv2.VideoCapture(str(CLIP))
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=20)
        stream.width, stream.height, stream.pix_fmt = 768, 432, "yuv420p"
        stream.time_base = Fraction(1, 1000)
        i = 0
        while True:
            ok, image = cap.read()
            if not ok:
                break
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts, frame.time_base = i * 100, Fraction(1, 1000)
            out.mux(stream.encode(frame))
            i += 1
        out.mux(stream.encode())
    cap.release()
    probe = cv2.VideoCapture(str(path))
    declared = (probe.get(cv2.CAP_PROP_FPS), probe.get(cv2.CAP_PROP_FRAME_COUNT))
    probe.release()
    if declared[0] != 20.0 or declared[1] < 90:
        pytest.skip(f"this FFmpeg reads the header as {declared}")
    jsonl = tmp_path / "out.jsonl"
    code, _, err = run_cli(capsys, "run", path, "--jsonl", jsonl, "--no-display", "--threads", 2)
    assert code == 0, err
    rate, count = _warnings(err)
    assert "header says 20 fps" in rate and "using 10 fps" in rate
    assert "declares 99 frames at 20 fps" in count and "50 frames" in count and "truncated" not in err
    times = [json.loads(line)["time"] for line in jsonl.read_text().splitlines()]
    assert len(times) == 50 and times == pytest.approx([k / 10 for k in range(50)], abs=1e-3)


def test_eval_with_missing_images_scores_only_those_read(tmp_path, capsys):
    pytest.importorskip("pycocotools")
    images = tmp_path / "images"
    images.mkdir()
    photos = sorted(COCO_DIR.glob("*.jpg"))
    for photo in photos[1:]:
        shutil.copy(photo, images)
    report = tmp_path / "r.json"
    code, out, err = run_cli(capsys, "eval", "--annotations", COCO_DIR / "test_coco.json", "--images", images,
                             "--json", report, "-q", "--threads", 2)
    assert code == 2 and photos[0].name in err
    assert "3 of 4 images read; AP over those" in out
    got = json.loads(report.read_text())
    assert got["num_images"] == 3 and got["num_images_listed"] == 4
    # the same figures as an annotation file listing only the three images read
    data = json.loads((COCO_DIR / "test_coco.json").read_text())
    gone = next(img["id"] for img in data["images"] if img["file_name"] == photos[0].name)
    data["images"] = [img for img in data["images"] if img["id"] != gone]
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] != gone]
    (tmp_path / "three.json").write_text(json.dumps(data))
    code, _, err = run_cli(capsys, "eval", "--annotations", tmp_path / "three.json", "--images", images,
                           "--json", tmp_path / "three_report.json", "-q", "--threads", 2)
    assert code == 0, err
    assert got["metrics"] == json.loads((tmp_path / "three_report.json").read_text())["metrics"]


def _cli(*argv, timeout=60):
    return subprocess.run([sys.executable, "-m", "livepose", *map(os.fsdecode, argv)], capture_output=True,
                          text=True, timeout=timeout, env=dict(os.environ, PYTHONUNBUFFERED="1"))


def test_hostile_names_and_files_get_one_line_in_a_subprocess(tmp_path):
    """A non-UTF-8 video name (OpenCV would segfault) and a FIFO (it would wait forever)."""
    bad = os.fsdecode(os.fsencode(str(tmp_path)) + b"/clip\xff.mp4")
    try:
        shutil.copy(CLIP, bad)
    except (OSError, UnicodeEncodeError):
        pytest.skip("the file system does not take such a name")
    res = _cli("run", bad, "--jsonl", tmp_path / "a.jsonl", "--no-display")
    assert res.returncode == 2 and "not valid UTF-8" in error_line(res.stderr)
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe.mp4")
        res = _cli("run", tmp_path / "pipe.mp4", "--jsonl", tmp_path / "a.jsonl", "--no-display", timeout=30)
        assert res.returncode == 2 and "not a regular file" in error_line(res.stderr)
        os.mkfifo(tmp_path / "pipe.jpg")
        res = _cli("image", tmp_path / "pipe.jpg", "--out", tmp_path / "o", timeout=30)
        assert res.returncode == 2 and "not a regular file" in res.stderr and "Traceback" not in res.stderr
