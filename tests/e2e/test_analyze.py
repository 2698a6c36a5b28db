"""`livepose run CLIP --jsonl X` then `livepose analyze X --out D`: files, columns, plausible angles."""

from __future__ import annotations

import csv
import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLIP = ROOT / "examples" / "one-by-one-clip.mp4"


def _livepose(*argv, cwd=None):
    return subprocess.run([sys.executable, "-m", "livepose", *map(str, argv)], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def analyzed(tmp_path_factory):
    d = tmp_path_factory.mktemp("analyze")
    jsonl = d / "run.jsonl"
    r = _livepose("run", CLIP, "--jsonl", jsonl)
    assert r.returncode == 0, r.stderr
    out = d / "report"
    r = _livepose("analyze", jsonl, "--out", out)
    assert r.returncode == 0, r.stderr
    return jsonl, out, r.stderr


def test_files_and_one_person(analyzed):
    _, out, err = analyzed
    names = sorted(p.name for p in out.iterdir())
    assert "summary.csv" in names and "summary.json" in names
    people = [n for n in names if n.startswith("person_") and n.endswith(".csv")]
    assert len(people) == 1, names
    assert not [n for n in names if n.startswith(".")]        # no temporary file left
    assert "1 person analyzed from 50 frames" in err
    if importlib.util.find_spec("pyarrow") is not None:
        assert any(n.endswith(".parquet") for n in names)
    else:
        assert "Parquet skipped" in err


def test_columns_and_plausible_knee_angles(analyzed):
    _, out, _ = analyzed
    path = next(out.glob("person_*.csv"))
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == 50
    for col in ("time", "frame", "knee_right_flexion_deg", "knee_left_flexion_deg", "elbow_left_flexion_deg",
                "trunk_deg", "nose_x", "nose_y", "neck_speed_px_s", "speed_px_s", "distance_px"):
        assert col in rows[0], col
    for side in ("right", "left"):
        knees = [float(r[f"knee_{side}_flexion_deg"]) for r in rows if r[f"knee_{side}_flexion_deg"]]
        assert len(knees) >= 35
        assert all(0.0 <= k <= 180.0 for k in knees)
    times = [float(r["time"]) for r in rows]
    assert times == sorted(times)


def test_summary_counts_50_frames(analyzed):
    _, out, _ = analyzed
    doc = json.loads((out / "summary.json").read_text())
    assert doc["frames"] == 50 and len(doc["people"]) == 1
    p = doc["people"][0]
    assert p["frames"] == 50
    assert 0 <= p["knee_right_flexion_min_deg"] <= p["knee_right_flexion_max_deg"] <= 180
    assert p["peak_speed_px_s"] > 0 and p["distance_px"] > 0 and math.isfinite(p["distance_px"])
    rows = list(csv.DictReader((out / "summary.csv").open()))
    assert len(rows) == 1 and rows[0]["frames"] == "50"


def test_bad_inputs_one_line_and_exit_2(analyzed, tmp_path):
    r = _livepose("analyze", tmp_path / "missing.jsonl", "--out", tmp_path / "o")
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0 and "no such file" in r.stderr
    r = _livepose("analyze", CLIP, "--out", tmp_path / "o")
    assert r.returncode == 2 and r.stderr.startswith("error: ") and "Traceback" not in r.stderr
    assert not (tmp_path / "o").exists()
    r = _livepose("analyze", analyzed[0], "--out", tmp_path / "o", "--min-frames", "100")
    assert r.returncode == 0 and "0 people analyzed" in r.stderr
