"""`livepose run CLIP --jsonl X` then `livepose analyze X --out D`: files, columns, plausible angles."""

from __future__ import annotations

import csv
import importlib.util
import json
import math
import os
import shutil
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


PNG = b"\x89PNG\r\n\x1a\n"


def test_plots_and_report_on_the_clip(analyzed):
    pytest.importorskip("matplotlib")
    _, out, err = analyzed
    assert "report.html" in err
    pngs = {p.name: p.read_bytes() for p in out.glob("*.png")}
    assert set(pngs) == {"person_1_angles.png", "person_1_speed.png", "trajectories.png"}, sorted(pngs)
    for name, data in pngs.items():
        assert data.startswith(PNG) and len(data) > 10_000, name
    page = (out / "report.html").read_text(encoding="utf-8")
    assert len(page) > 50_000 and page.count("data:image/png;base64,") == 3
    assert "http://" not in page and "https://" not in page and "<script" not in page.lower()
    assert "Person 1" in page and "50</b>" in page


def test_video_still_frame_and_no_report(analyzed, tmp_path):
    pytest.importorskip("matplotlib")
    jsonl, out, _ = analyzed
    r = _livepose("analyze", jsonl, "--out", tmp_path / "v", "--video", CLIP)
    assert r.returncode == 0, r.stderr
    over = (tmp_path / "v" / "trajectories.png").read_bytes()
    assert over.startswith(PNG) and len(over) > 2 * len((out / "trajectories.png").read_bytes())  # a photo behind
    r = _livepose("analyze", jsonl, "--out", tmp_path / "t", "--no-report")
    assert r.returncode == 0, r.stderr
    assert not list((tmp_path / "t").glob("*.png")) and not (tmp_path / "t" / "report.html").exists()
    r = _livepose("analyze", jsonl, "--out", tmp_path / "n", "--video", tmp_path / "nope.mp4")
    assert r.returncode == 2 and "no such video" in r.stderr and not (tmp_path / "n").exists()


def test_report_renders_offline_in_headless_chromium(analyzed):
    """The page in the system Chromium, JavaScript off and every non-file request refused: the
    three plots draw."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

    path = next((c for c in (shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium")
                 if c and os.access(c, os.X_OK)), None)
    if path is None:
        pytest.skip("no system Chromium")
    _, out, _ = analyzed
    if not (out / "report.html").exists():
        pytest.skip("no report.html (matplotlib is not installed)")
    asked = []
    with sync_api.sync_playwright() as p:
        try:
            browser = p.chromium.launch(executable_path=path, args=["--no-sandbox"])
        except sync_api.Error as exc:
            pytest.skip(f"Chromium does not start: {str(exc).splitlines()[0]}")
        try:
            page = browser.new_page(java_script_enabled=False)
            page.route("**/*", lambda route: (asked.append(route.request.url), route.abort())
                       if not route.request.url.startswith(("file:", "data:")) else route.continue_())
            page.goto((out / "report.html").resolve().as_uri())
            page.wait_for_load_state("load")
            sizes = [(img.evaluate("i => i.complete"), img.evaluate("i => i.naturalWidth"))
                     for img in page.query_selector_all("img")]
            tables = [t.inner_text() for t in page.query_selector_all("table")]
            heads = [h.inner_text() for h in page.query_selector_all("h2")]
            title = page.title()
        finally:
            browser.close()
    assert asked == []
    assert len(sizes) == 3 and all(done and w > 300 for done, w in sizes), sizes
    assert "livepose analysis" in title
    assert heads == ["Trajectories", "Person 1"]
    assert len(tables) == 1 and "range of motion" in tables[0]
    assert all(f"{j}_{s}_flexion" in tables[0] for j in ("knee", "hip", "shoulder", "elbow") for s in ("right", "left"))


def _read_trc(path):
    lines = path.read_text().split("\n")
    header = dict(zip(lines[1].split("\t"), lines[2].split("\t")))
    names = [c for c in lines[3].split("\t")[2:] if c]
    rows = [ln.split("\t") for ln in lines[5:] if ln]
    return header, names, rows


def test_meters_reps_and_opensim_on_the_clip(analyzed, tmp_path):
    """--person-height, --reps and the OpenSim files on the clip's real keypoints."""
    jsonl, _, _ = analyzed
    out = tmp_path / "m"
    r = _livepose("analyze", jsonl, "--out", out, "--person-height", "1.75", "--reps", "knee_right",
                  "--angles", "knee_right,knee_left,trunk", "--no-report")
    assert r.returncode == 0, r.stderr
    assert "person 1: " in r.stderr and "on knee_right" in r.stderr
    p = json.loads((out / "summary.json").read_text())["people"][0]
    # a walker at some 200-300 px tall in a 432-px frame: a plausible scale and a walking speed
    assert 100 < p["height_px"] < 432 and p["height_frames"] >= 5
    assert p["m_per_px"] == pytest.approx(1.75 / p["height_px"])
    assert 0 < p["distance_m"] < 20 and 0 < p["peak_speed_m_s"] < 5
    assert isinstance(p["knee_right_reps"], int)
    header, names, rows = _read_trc(out / "person_1.trc")
    assert header["Units"] == "m" and int(header["NumFrames"]) == len(rows) == 50 and len(names) == 18
    ys = [float(row[2 + 3 * 1 + 1]) for row in rows if row[2 + 3 * 1 + 1]]           # neck Y, meters up
    assert ys and all(0 < y < 432 * p["m_per_px"] for y in ys)
    mot = (out / "person_1.mot").read_text().splitlines()
    assert mot[mot.index("endheader") + 1].startswith("time\tknee_right_flexion\t")
    assert len(mot) - mot.index("endheader") - 2 == 50
    rows = list(csv.DictReader((out / "people.csv").open()))
    assert len(rows) == 50 and rows[0]["id"] == "1" and "neck_x_m" in rows[0]
