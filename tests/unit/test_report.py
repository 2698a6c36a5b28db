"""Plots and report.html of `livepose analyze` (livepose/analysis/report.py) on a constructed run."""

import json
import re
import sys

import pytest

from livepose.analysis.table import analyze

pytest.importorskip("matplotlib")

PNG = b"\x89PNG\r\n\x1a\n"


def _person(pid, x, y):
    kp = [[None, None, 0] for _ in range(18)]
    kp[1] = [x, y, 0.9]                                      # neck
    kp[8], kp[9], kp[10] = [x - 10, y + 100, 0.9], [x - 10, y + 150, 0.9], [x + 40, y + 150, 0.9]
    kp[2], kp[3], kp[4] = [x - 20, y, 0.9], [x - 25, y + 40, 0.9], [x - 25, y + 80, 0.9]
    return {"id": pid, "score": 0.9, "keypoints": kp}


def _run(tmp_path, model="lwop", frames=15):
    rows = []
    for i in range(frames):
        people = [_person(1, 100 + 5 * i, 50), _person(7, 400, 60 + 2 * i)]
        if i == 6:                                            # person 1's right knee not seen: a gap
            people[0]["keypoints"][9] = [None, None, 0]
        rows.append({"schema": "livepose.frame/1", "frame": i, "time": i * 0.1, "width": 640, "height": 480,
                     "model": model, "people": people})
    src = tmp_path / "run.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return src


def test_plots_and_report_exist(tmp_path):
    out = tmp_path / "out"
    logs = []
    res = analyze(_run(tmp_path), out, log=logs.append, smooth="none")
    assert res["report"] is True
    for name in ("person_1.csv", "person_7.csv", "summary.json", "person_1_angles.png", "person_1_speed.png",
                 "person_7_angles.png", "person_7_speed.png", "trajectories.png", "report.html"):
        assert (out / name).is_file(), name
    for png in out.glob("*.png"):
        data = png.read_bytes()
        assert data.startswith(PNG) and len(data) > 2000, png.name
    assert not [p for p in out.iterdir() if p.name.startswith(".")]     # no temporary file left
    assert not [m for m in logs if "skipped" in m and "plots" in m]


def test_report_is_self_contained(tmp_path):
    out = tmp_path / "out"
    analyze(_run(tmp_path), out, log=lambda m: None, smooth="none")
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page.lower() and "<link" not in page.lower()
    assert page.count("data:image/png;base64,") == 5             # 2 per person + trajectories
    assert "Person 1" in page and "Person 7" in page
    assert re.search(r"src=\"(?!data:)", page) is None            # every image is embedded
    assert "0&deg; when the limb is straight" in page and "from the horizontal" in page
    assert "Smoothing: none" in page
    assert "knee_right_flexion" in page and "range of motion" in page and "Peak speed" in page


def test_hostile_text_is_escaped(tmp_path):
    out = tmp_path / "out"
    analyze(_run(tmp_path, model="<script>alert(1)</script>"), out, log=lambda m: None, smooth="none")
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_no_report_writes_tables_only(tmp_path):
    out = tmp_path / "out"
    res = analyze(_run(tmp_path), out, log=lambda m: None, smooth="none", report=False)
    assert res["report"] is False
    assert (out / "person_1.csv").is_file()
    assert not list(out.glob("*.png")) and not (out / "report.html").exists()


def test_video_that_does_not_exist_is_one_error_and_writes_nothing(tmp_path):
    from livepose.errors import InputError

    with pytest.raises(InputError, match="no such video"):
        analyze(_run(tmp_path), tmp_path / "out", log=lambda m: None, video=tmp_path / "nope.mp4")
    assert not (tmp_path / "out").exists()


def test_without_matplotlib_tables_are_written_and_one_line_says_so(tmp_path, monkeypatch):
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    out = tmp_path / "out"
    logs = []
    res = analyze(_run(tmp_path), out, log=logs.append, smooth="none")
    assert res["report"] is False
    assert (out / "person_1.csv").is_file() and (out / "summary.json").is_file()
    assert not list(out.glob("*.png")) and not (out / "report.html").exists()
    notes = [m for m in logs if "plots" in m and "skipped" in m]
    assert len(notes) == 1 and "pip install livepose[analysis]" in notes[0] and "\n" not in notes[0]
