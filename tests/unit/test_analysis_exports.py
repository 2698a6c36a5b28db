"""What `livepose analyze` writes besides the per-person CSV: OpenSim .trc/.mot, Parquet (read with
pandas), the combined people table, reps.csv; read back with small readers written here."""

import csv
import json
import math

import numpy as np
import pytest

from livepose.analysis.table import analyze

PARTS = ("nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
         "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
         "right_eye", "left_eye", "right_ear", "left_ear")


def _person(pid, x, y, knee_bend=0.0):
    kp = {p: [None, None, 0] for p in PARTS}
    kp["nose"], kp["neck"] = [x, y - 40, 0.9], [x, y, 0.9]
    kp["right_hip"], kp["left_hip"] = [x - 10, y + 120, 0.9], [x + 10, y + 120, 0.9]
    kp["right_knee"] = [x - 10, y + 220, 0.9]
    a = math.radians(knee_bend)                       # the shank turns by the knee flexion angle
    kp["right_ankle"] = [x - 10 + 100 * math.sin(a), y + 220 + 100 * math.cos(a), 0.9]
    kp["left_knee"], kp["left_ankle"] = [x + 10, y + 220, 0.9], [x + 10, y + 320, 0.9]
    return {"id": pid, "score": 0.9, "keypoints": [kp[p] for p in PARTS]}


def _run(tmp_path, frames=40):
    """Person 1 present throughout, squatting (right knee 0 -> 80 -> 0 deg, 2 s period, 10 fps);
    person 5 absent in frames 10..14 (a gap inside the track)."""
    rows = []
    for i in range(frames):
        bend = 40.0 * (1 - math.cos(2 * math.pi * i / 20))
        people = [_person(1, 100 + 2 * i, 100, bend)]
        if not 10 <= i < 15:
            people.append(_person(5, 400, 120))
        rows.append({"schema": "livepose.frame/1", "frame": i, "time": round(i * 0.1, 4), "width": 640,
                     "height": 480, "model": "lwop", "people": people})
    src = tmp_path / "run.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return src


def read_trc(path):
    lines = path.read_text().split("\n")
    assert lines[0].split("\t")[:3] == ["PathFileType", "4", "(X/Y/Z)"]
    keys, vals = lines[1].split("\t"), lines[2].split("\t")
    header = dict(zip(keys, vals))
    names = [c for c in lines[3].split("\t")[2:] if c]
    xyz = lines[4].split("\t")
    assert xyz[:2] == ["", ""] and xyz[2:5] == ["X1", "Y1", "Z1"] and len(xyz) == 2 + 3 * len(names)
    rows = [ln.split("\t") for ln in lines[5:] if ln]
    frame = np.array([int(r[0]) for r in rows])
    time = np.array([float(r[1]) for r in rows])
    data = np.array([[float(c) if c else np.nan for c in r[2:]] for r in rows]).reshape(len(rows), len(names), 3)
    return header, names, frame, time, data


def read_mot(path):
    lines = path.read_text().split("\n")
    end = lines.index("endheader")
    header = dict(ln.split("=", 1) for ln in lines[1:end] if "=" in ln)
    cols = lines[end + 1].split("\t")
    data = np.array([[float(c) for c in ln.split("\t")] for ln in lines[end + 2:] if ln])   # float("NaN") is NaN
    return lines[0], header, cols, data


def test_trc_markers_in_meters_y_up_with_blank_missing(tmp_path):
    out = tmp_path / "out"
    res = analyze(_run(tmp_path), out, smooth="none", log=lambda m: None, report=False, calibrate="0,0,0,100,1")
    header, names, frame, time, data = read_trc(out / "person_1.trc")
    assert header["Units"] == "m" and int(header["NumFrames"]) == 40 and int(header["NumMarkers"]) == 18
    assert float(header["DataRate"]) == pytest.approx(10.0) and float(header["CameraRate"]) == pytest.approx(10.0)
    assert names == list(PARTS) and frame.tolist() == list(range(1, 41))
    assert time == pytest.approx(np.arange(40) * 0.1)
    neck = data[:, 1]
    assert neck[:, 0] == pytest.approx((100 + 2 * np.arange(40)) * 0.01)        # x * 0.01 m/px
    assert neck[:, 1] == pytest.approx(np.full(40, (480 - 100) * 0.01))          # y up from the image bottom
    assert np.all(neck[:, 2] == 0)
    assert np.isnan(data[:, PARTS.index("right_wrist")]).all()                   # never seen: blank cells
    assert res["people"][0]["m_per_px"] == pytest.approx(0.01)


def test_trc_in_pixels_without_a_scale_and_gaps_are_blank_rows(tmp_path):
    out = tmp_path / "out"
    analyze(_run(tmp_path), out, smooth="none", log=lambda m: None, report=False)
    header, names, frame, time, data = read_trc(out / "person_5.trc")
    assert header["Units"] == "px"
    assert len(frame) == 40                                   # every line from the first frame to the last
    assert np.isnan(data[10:15]).all()                        # the person's gap: empty cells
    assert data[0, 1].tolist() == [400.0, 480.0 - 120.0, 0.0]


def test_mot_angles_in_degrees_nan_where_missing(tmp_path):
    out = tmp_path / "out"
    analyze(_run(tmp_path), out, smooth="none", log=lambda m: None, report=False)
    name, header, cols, data = read_mot(out / "person_1.mot")
    assert name == "person_1"
    assert header == {"version": "1", "nRows": "40", "nColumns": "18", "inDegrees": "yes"}
    assert cols[0] == "time" and "knee_right_flexion" in cols and "trunk" in cols and len(cols) == 18
    assert data.shape == (40, 18)
    knee = data[:, cols.index("knee_right_flexion")]
    assert knee == pytest.approx(40.0 * (1 - np.cos(2 * np.pi * np.arange(40) / 20)), abs=1e-4)
    assert np.isnan(data[:, cols.index("elbow_right_flexion")]).all()          # no elbow, no wrist: NaN
    _, _, _, d5 = read_mot(out / "person_5.mot")
    assert np.isnan(d5[10:15, 1:]).all() and np.isfinite(d5[:10, cols.index("knee_left_flexion")]).all()


def test_no_opensim_writes_neither(tmp_path):
    analyze(_run(tmp_path), tmp_path / "out", log=lambda m: None, report=False, opensim=False)
    assert not list((tmp_path / "out").glob("*.trc")) and not list((tmp_path / "out").glob("*.mot"))


def test_parquet_loads_with_pandas_one_row_per_person_and_frame(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    out = tmp_path / "out"
    analyze(_run(tmp_path), out, log=lambda m: None, report=False, person_height=1.8)
    p5 = pd.read_parquet(out / "person_5.parquet")
    assert len(p5) == 35 and p5["frame"].tolist() == [f for f in range(40) if not 10 <= f < 15]
    csv_head = (out / "person_5.csv").read_text().splitlines()[0].split(",")
    assert list(p5.columns) == csv_head
    assert p5["frame"].dtype == np.int64 and p5["time"].dtype == np.float64
    assert p5["knee_right_flexion_deg"].dtype == np.float64 and p5["neck_x_m"].dtype == np.float64
    assert p5["right_wrist_x"].isna().all()                              # missing is NaN
    people = pd.read_parquet(out / "people.parquet")
    assert list(people.columns) == ["id", *csv_head]
    assert people["id"].dtype == np.int64
    assert people.groupby("id").size().to_dict() == {1: 40, 5: 35}
    assert not people.duplicated(["id", "frame"]).any()
    from_csv = pd.read_csv(out / "people.csv")
    assert from_csv.shape == people.shape
    assert np.allclose(from_csv["knee_right_flexion_deg"], people["knee_right_flexion_deg"], rtol=1e-5,
                       equal_nan=True)


def test_reps_go_to_summary_reps_csv_and_report(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "out"
    res = analyze(_run(tmp_path), out, smooth="none", log=lambda m: None, reps="knee_right")
    r = res["people"][0]["reps"]["knee_right"]
    assert r["count"] == 2                                        # two squats in the 4 s
    assert res["people"][0]["knee_right_reps"] == 2
    assert [rep["peak"] for rep in r["reps"]] == pytest.approx([1.0, 3.0])
    assert r["reps"][0]["peak_deg"] == pytest.approx(80.0)
    assert res["people"][1]["reps"]["knee_right"]["count"] == 0   # person 5 does not move
    rows = list(csv.DictReader((out / "reps.csv").open()))
    assert len(rows) == 2 and rows[0]["id"] == "1" and rows[0]["angle"] == "knee_right" and rows[1]["rep"] == "2"
    assert float(rows[0]["start_s"]) < float(rows[0]["peak_s"]) < float(rows[0]["end_s"])
    summary = list(csv.DictReader((out / "summary.csv").open()))
    assert summary[0]["knee_right_reps"] == "2" and summary[1]["knee_right_reps"] == "0"
    assert "reps" not in summary[0]                                # the lists stay in summary.json
    doc = json.loads((out / "summary.json").read_text())
    assert doc["people"][0]["reps"]["knee_right"]["reps"][0]["peak_deg"] == pytest.approx(80.0)
    page = (out / "report.html").read_text()
    assert "Repetitions on <code>knee_right</code>: <b>2</b>" in page


def test_angles_choose_what_the_report_shows_not_the_tables(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "out"
    analyze(_run(tmp_path), out, smooth="none", log=lambda m: None, angles="trunk,knee_left")
    page = (out / "report.html").read_text()
    assert "<td>trunk</td>" in page and "<td>knee_left_flexion</td>" in page
    assert "<td>elbow_right_flexion</td>" not in page
    head = (out / "person_1.csv").read_text().splitlines()[0]
    assert "elbow_right_flexion_deg" in head                      # the tables keep every angle
    assert json.loads((out / "summary.json").read_text())["angles"] == ["trunk", "knee_left"]
