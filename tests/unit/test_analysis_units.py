"""Meters from a person's height or a calibration distance (livepose/analysis/units.py, analyze)."""

import json

import numpy as np
import pytest

from livepose.analysis.table import analyze
from livepose.analysis.units import (BODY_FRACTION, SEGMENTS_FRACTION, height_px, height_series, parse_calibrate,
                                     parse_person_height)
from livepose.errors import InputError

PARTS = ("nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
         "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
         "right_eye", "left_eye", "right_ear", "left_ear")


def _standing(pid, x, y, leg_left=100.0):
    """Neck at (x, y): nose 40 px above, hips 120 px below, thigh and shank 100 px each (the left
    ones ``leg_left`` each), so the segments sum to 360 px on the right side."""
    kp = {p: [None, None, 0] for p in PARTS}
    kp["nose"] = [x, y - 40, 0.9]
    kp["neck"] = [x, y, 0.9]
    kp["right_hip"], kp["left_hip"] = [x - 10, y + 120, 0.9], [x + 10, y + 120, 0.9]
    kp["right_knee"], kp["right_ankle"] = [x - 10, y + 220, 0.9], [x - 10, y + 320, 0.9]
    kp["left_knee"], kp["left_ankle"] = [x + 10, y + 120 + leg_left, 0.9], [x + 10, y + 120 + 2 * leg_left, 0.9]
    kp["right_shoulder"], kp["left_shoulder"] = [x - 20, y, 0.9], [x + 20, y, 0.9]
    return {"id": pid, "score": 0.9, "keypoints": [kp[p] for p in PARTS]}


def _run(tmp_path, frames=20, speed_px=5.0):
    rows = [{"schema": "livepose.frame/1", "frame": i, "time": i * 0.1, "width": 640, "height": 480,
             "model": "lwop", "people": [_standing(1, 100 + speed_px * i, 100), _standing(2, 400, 100, leg_left=90)]}
            for i in range(frames)]
    src = tmp_path / "run.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return src


def test_parse_person_height_forms():
    assert parse_person_height("1.80") == {None: 1.8}
    assert parse_person_height(1.8) == {None: 1.8}
    assert parse_person_height("3=1.80,7=1.65") == {"3": 1.8, "7": 1.65}
    assert parse_person_height("1.75, 3=1.80") == {None: 1.75, "3": 1.8}
    assert parse_person_height({3: 1.8, None: 1.7}) == {"3": 1.8, None: 1.7}


@pytest.mark.parametrize("text, match", [
    ("0", "positive finite"), ("-1.8", "positive finite"), ("inf", "positive finite"), ("nan", "positive finite"),
    ("tall", "not a number"), ("3=", "not a number"), ("=1.8", "no id"), ("1.7,1.8", "two default"),
    ("3=1.8,3=1.7", "given twice"), ("", "empty"), ("1.8,,3=1.7", "empty item"),
])
def test_bad_person_heights_are_one_line(text, match):
    with pytest.raises(ValueError, match=match) as info:
        parse_person_height(text)
    assert str(info.value).startswith("--person-height: ") and "\n" not in str(info.value)


def test_parse_calibrate():
    assert parse_calibrate("0,0,300,400,2.5") == (0.0, 0.0, 300.0, 400.0, 2.5)
    for text, match in [("1,2,3,4", "5 numbers"), ("0,0,0,0,1", "the same"), ("0,0,1,1,0", "positive"),
                        ("0,0,x,1,1", "not a number"), ("0,0,inf,1,1", "finite")]:
        with pytest.raises(ValueError, match=match):
            parse_calibrate(text)


def test_height_uses_the_longer_visible_leg_and_the_fraction():
    cols = {"time": np.arange(3.0)}
    p = _standing(1, 100, 100, leg_left=80)
    for j, part in enumerate(PARTS):
        x, y, c = p["keypoints"][j]
        cols[f"{part}_x"] = np.full(3, np.nan if x is None else float(x))
        cols[f"{part}_y"] = np.full(3, np.nan if y is None else float(y))
    expected = (40 + 120 + 200) / SEGMENTS_FRACTION         # the right leg (200) beats the left (160)
    assert np.allclose(height_series(cols), expected)
    cols["right_knee_x"][1] = np.nan                         # right leg unseen: the left one is used
    assert height_series(cols)[1] == pytest.approx((40 + 120 + 160) / SEGMENTS_FRACTION)
    cols["left_ankle_x"][1] = np.nan                         # neither leg: unknown
    assert np.isnan(height_series(cols)[1])
    assert height_px(cols) == (None, 2)                       # fewer than 5 frames: no estimate
    cols["nose_x"][2] = np.nan                                # seen from behind: the body without the head
    assert height_series(cols)[2] == pytest.approx((120 + 200) / BODY_FRACTION)


def test_person_height_gives_meters_columns_and_summary(tmp_path):
    out = tmp_path / "out"
    res = analyze(_run(tmp_path), out, smooth="none", log=lambda m: None, report=False,
                  person_height="1.75,2=1.60")
    p1, p2 = res["people"]
    hpx = 360 / SEGMENTS_FRACTION
    assert p1["height_px"] == pytest.approx(hpx) and p1["height_m"] == 1.75 and p2["height_m"] == 1.6
    assert p1["scale_source"] == "person-height" and p1["m_per_px"] == pytest.approx(1.75 / hpx)
    assert p1["distance_m"] == pytest.approx(p1["distance_px"] * 1.75 / hpx)
    assert p1["peak_speed_m_s"] == pytest.approx(50.0 * 1.75 / hpx)       # 5 px per 0.1 s
    head = (out / "person_1.csv").read_text().splitlines()[0].split(",")
    for col in ("neck_x_m", "neck_y_m", "neck_speed_m_s", "speed_m_s", "distance_m", "neck_x", "speed_px_s"):
        assert col in head, col
    row = dict(zip(head, (out / "person_1.csv").read_text().splitlines()[1].split(",")))
    s = 1.75 / hpx
    assert float(row["neck_x_m"]) == pytest.approx(100 * s, rel=1e-5)
    assert float(row["neck_y_m"]) == pytest.approx((480 - 100) * s, rel=1e-5)     # y up from the bottom
    doc = json.loads((out / "summary.json").read_text())
    assert doc["units"] == "m" and doc["person_height"] == {"default": 1.75, "2": 1.6}


def test_calibrate_is_one_scale_for_everyone(tmp_path):
    res = analyze(_run(tmp_path), tmp_path / "out", smooth="none", log=lambda m: None, report=False,
                  calibrate="0,0,300,400,5")                                  # 500 px = 5 m
    for p in res["people"]:
        assert p["m_per_px"] == pytest.approx(0.01) and p["scale_source"] == "calibrate"
        assert p["distance_m"] == pytest.approx(p["distance_px"] * 0.01)


def test_a_person_never_fully_seen_stays_in_pixels_with_a_warning(tmp_path):
    src = _run(tmp_path)
    rows = [json.loads(line) for line in src.read_text().splitlines()]
    for r in rows:
        r["people"][1]["keypoints"][PARTS.index("left_hip")] = [None, None, 0]   # person 2: no mid-hip
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    logs = []
    res = analyze(src, tmp_path / "out", smooth="none", log=logs.append, report=False, person_height=1.7)
    p2 = res["people"][1]
    assert p2["m_per_px"] is None and p2["distance_m"] is None and p2["height_frames"] == 0
    assert [m for m in logs if m.startswith("warning: person 2:")]
    row = (tmp_path / "out" / "person_2.csv").read_text().splitlines()
    head = row[0].split(",")
    assert dict(zip(head, row[1].split(",")))["neck_x_m"] == ""               # same columns, empty


@pytest.mark.parametrize("kwargs, match", [
    ({"person_height": "9=1.8"}, r"--person-height: id 9 is not a track id in run.jsonl \(ids: 1, 2\)"),
    ({"person_height": "-2"}, "--person-height: '-2' must be a positive"),
    ({"calibrate": "1,2"}, "--calibrate: give X1,Y1,X2,Y2,METERS"),
    ({"person_height": 1.8, "calibrate": "0,0,1,0,1"}, "give one or the other"),
])
def test_bad_scale_options_write_nothing(tmp_path, kwargs, match):
    with pytest.raises(InputError, match=match):
        analyze(_run(tmp_path), tmp_path / "out", log=lambda m: None, **kwargs)
    assert not (tmp_path / "out").exists()
