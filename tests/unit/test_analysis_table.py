"""Per-person tables: reading JSON Lines, speeds, gaps, distance, summaries, bad input."""

import json

import numpy as np
import pytest

from livepose.analysis.table import analyze, distance, read_run, speeds
from livepose.errors import InputError


def test_constant_velocity_speed_is_exact_everywhere():
    t = np.arange(10) * 0.04
    pos = np.stack([100 + 30 * t, 50 - 40 * t], axis=-1)     # 50 px/s
    v = speeds(pos, t, np.ones(10, bool))
    assert np.allclose(v, 50.0)


def test_uneven_timestamps_use_the_times():
    t = np.array([0.0, 0.1, 0.3, 0.35, 0.6])
    pos = np.stack([20 * t, 0 * t], axis=-1)
    assert np.allclose(speeds(pos, t, np.ones(5, bool)), 20.0)


def test_gaps_give_nan_and_are_never_bridged():
    t = np.arange(8) * 0.1
    pos = np.stack([10 * t, 0 * t], axis=-1)
    present = np.array([1, 1, 1, 0, 0, 1, 0, 1], bool)
    v = speeds(pos, t, present)
    assert np.allclose(v[:3], 10.0)                          # one-sided at the edge of the gap
    assert np.isnan(v[3]) and np.isnan(v[4]) and np.isnan(v[6])
    assert np.isnan(v[5]) and np.isnan(v[7])                 # isolated rows: no neighbour, no speed
    pos[1] = np.nan                                          # a NaN position counts as absent
    v = speeds(pos, t, np.ones(8, bool))
    assert np.isnan(v[0]) and np.isnan(v[1]) and v[2] == pytest.approx(10.0)


def test_distance_adds_only_steps_between_present_rows():
    pos = np.array([[0, 0], [3, 4], [6, 8], [100, 100], [9, 12]], float)
    d = distance(pos, np.array([1, 1, 1, 0, 1], bool))
    assert d.tolist() == [0, 5, 10, 10, 10]


def _frame(i, people, t=None):
    return {"schema": "livepose.frame/1", "frame": i, "time": i * 0.1 if t is None else t, "width": 640,
            "height": 480, "model": "lwop", "people": people}


def _person(pid, x, y):
    kp = [[None, None, 0]] * 18
    kp = [list(k) for k in kp]
    kp[1] = [x, y, 0.9]                                      # neck
    kp[8], kp[9], kp[10] = [x - 10, y + 100, 0.9], [x - 10, y + 150, 0.9], [x + 40, y + 150, 0.9]
    return {"id": pid, "score": 0.9, "keypoints": kp}


def _write(path, frames, tail="\n"):
    path.write_text("\n".join(json.dumps(f) for f in frames) + tail)
    return path


def test_analyze_writes_tables_and_summary(tmp_path):
    frames = [_frame(i, [_person(1, 100 + 5 * i, 50)] + ([_person(2, 300, 50)] if i < 3 else []))
              for i in range(12)]
    src = _write(tmp_path / "run.jsonl", frames)
    logs = []
    res = analyze(src, tmp_path / "out", min_frames=10, log=logs.append, smooth="none")  # exact figures
    assert [p["id"] for p in res["people"]] == [1] and res["skipped"] == 1
    lines = (tmp_path / "out" / "person_1.csv").read_text().splitlines()
    head = lines[0].split(",")
    assert head[:3] == ["time", "frame", "knee_right_flexion_deg"]
    assert {"neck_x", "neck_y", "neck_speed_px_s", "speed_px_s", "distance_px", "trunk_deg"} <= set(head)
    assert len(lines) == 13
    row = dict(zip(head, lines[5].split(",")))
    assert float(row["knee_right_flexion_deg"]) == pytest.approx(90.0)
    assert row["knee_left_flexion_deg"] == ""                # left side not visible: missing
    assert float(row["speed_px_s"]) == pytest.approx(50.0)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    p = summary["people"][0]
    assert p["frames"] == 12 and p["knee_right_flexion_rom_deg"] == pytest.approx(0.0, abs=1e-6)
    assert p["distance_px"] == pytest.approx(55.0) and p["peak_speed_px_s"] == pytest.approx(50.0)
    assert p["knee_left_flexion_min_deg"] is None
    assert (tmp_path / "out" / "summary.csv").read_text().startswith("id,frames,first_time")


def test_bad_line_names_file_and_line_and_writes_nothing(tmp_path):
    src = tmp_path / "run.jsonl"
    src.write_text(json.dumps(_frame(0, [])) + "\n{broken\n" + json.dumps(_frame(1, [])) + "\n")
    with pytest.raises(InputError, match=r"run.jsonl:2: not JSON"):
        analyze(src, tmp_path / "out", log=lambda m: None)
    assert not (tmp_path / "out").exists()


def test_cut_last_line_is_skipped_with_a_warning(tmp_path):
    frames = [_frame(i, [_person(1, 100, 50)]) for i in range(3)]
    src = tmp_path / "run.jsonl"
    src.write_text("".join(json.dumps(f) + "\n" for f in frames) + json.dumps(_frame(3, []))[:20])
    warnings = []
    run = read_run(src, warn=warnings.append)
    assert len(run.times) == 3 and len(warnings) == 1 and "run.jsonl:4" in warnings[0]


@pytest.mark.parametrize("content, match", [
    ("", "empty"),
    ('{"schema": "other/1", "frame": 0}\n', "not a livepose.frame/1"),
    ("[1, 2]\n", "not a livepose.frame/1"),
])
def test_not_livepose_jsonl(tmp_path, content, match):
    src = tmp_path / "x.jsonl"
    src.write_text(content)
    with pytest.raises(InputError, match=match):
        read_run(src)


def test_tracking_off_is_refused(tmp_path):
    p = _person(None, 100, 50)
    src = _write(tmp_path / "run.jsonl", [_frame(0, [p])])
    with pytest.raises(InputError, match="tracking off"):
        read_run(src)


def test_output_never_overwrites_the_input(tmp_path):
    src = _write(tmp_path / "summary.json", [_frame(i, [_person(1, 100, 50)]) for i in range(12)])
    with pytest.raises(InputError, match="overwrite the input"):
        analyze(src, tmp_path, log=lambda m: None)
    assert json.loads(src.read_text().splitlines()[0])["frame"] == 0


def _jittery_walker(tmp_path, frames=60, seed=0):
    """One person walking right at 40 px/s (10 fps) with 3 px of noise on every joint."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(frames):
        p = _person(1, 100 + 4.0 * i, 200)
        p["keypoints"] = [[kx + rng.normal(0, 3), ky + rng.normal(0, 3), c] if c > 0 else k
                          for k in p["keypoints"] for kx, ky, c in [(k[0] or 0, k[1] or 0, k[2])]]
        rows.append(_frame(i, [p]))
    path = tmp_path / "walk.jsonl"
    _write(path, rows)
    return path


@pytest.mark.parametrize("smooth", ["rts", "butterworth"])
def test_offline_smoothing_brings_the_speed_back_to_the_walk(tmp_path, smooth):
    path = _jittery_walker(tmp_path)
    raw = analyze(path, tmp_path / "raw", smooth="none", log=lambda m: None)["people"][0]
    got = analyze(path, tmp_path / smooth, smooth=smooth, cutoff_hz=2.0, log=lambda m: None)["people"][0]
    assert json.loads((tmp_path / smooth / "summary.json").read_text())["smooth"] == smooth
    # 3 px noise at 10 fps gives speeds of tens of px/s on top of the 40 px/s walk; smoothed, the
    # peak speed comes close to 40 and the distance close to the 236 px walked
    assert got["peak_speed_px_s"] < raw["peak_speed_px_s"]
    assert abs(got["distance_px"] - 236.0) < abs(raw["distance_px"] - 236.0)


def test_a_butterworth_cutoff_above_half_the_frame_rate_is_one_line(tmp_path):
    path = _jittery_walker(tmp_path, frames=40)
    with pytest.raises(InputError, match=r"--cutoff 6 Hz: must be above 0 and below half the frame rate \(5 Hz"):
        analyze(path, tmp_path / "o", smooth="butterworth", cutoff_hz=6.0, log=lambda m: None)
    with pytest.raises(InputError, match="--smooth 'loess'"):
        analyze(path, tmp_path / "o", smooth="loess", log=lambda m: None)
    assert not (tmp_path / "o").exists()


def test_rts_smooths_the_detections_fills_short_gaps_and_keeps_long_ones(tmp_path):
    """With ``raw`` in the file, --smooth rts follows the detections, not the (lagging) live
    ``keypoints``; a neck missing for 1 frame (0.1 s) is bridged, one missing for 5 frames stays missing."""
    from livepose.analysis.table import person_table, read_run

    short, long_gap = {20}, set(range(35, 40))
    rows = []
    for i in range(60):
        live = _person(1, 100 + 4.0 * (i - 3), 200)   # the live filter's output: 3 frames behind
        det = _person(1, 100 + 4.0 * i, 200)
        if i in short | long_gap:
            det["keypoints"][1] = [0.0, 0.0, 0.0]      # the neck not detected
        live["raw"] = det["keypoints"]
        rows.append(_frame(i, [live]))
    run = read_run(_write(tmp_path / "run.jsonl", rows))
    cols = person_table(run, 1, smooth="rts")
    truth = 100 + 4.0 * np.arange(60)
    measured = np.array([i not in short | long_gap for i in range(60)])
    assert np.abs(cols["neck_x"][measured] - truth[measured]).max() < 0.5      # no lag: on the detections
    assert abs(cols["neck_x"][20] - truth[20]) < 0.5 and cols["neck_conf"][20] == 0  # bridged, conf 0
    assert np.isnan(cols["neck_x"][35:40]).all()                                 # 0.5 s: stays missing
    assert np.isfinite(cols["right_hip_x"]).all()
    plain = person_table(run, 1, smooth="none")
    assert np.allclose(plain["neck_x"], truth - 12.0)                            # none: the file's keypoints
