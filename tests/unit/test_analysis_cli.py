"""`livepose analyze` options and bad input through the command line (in process): one line, exit 2,
nothing written."""

import json

import pytest

from livepose.analysis.angles import ANGLES
from livepose.cli import main

PARTS = 18


def _person(pid, x, y):
    kp = [[None, None, 0] for _ in range(PARTS)]
    kp[0], kp[1] = [x, y - 40, 0.9], [x, y, 0.9]
    kp[8], kp[9], kp[10] = [x - 10, y + 120, 0.9], [x - 10, y + 220, 0.9], [x - 10, y + 320, 0.9]
    kp[11], kp[12], kp[13] = [x + 10, y + 120, 0.9], [x + 10, y + 220, 0.9], [x + 10, y + 320, 0.9]
    return {"id": pid, "score": 0.9, "keypoints": kp}


def _frame(i, people):
    return {"schema": "livepose.frame/1", "frame": i, "time": i * 0.1, "width": 640, "height": 480, "model": "lwop",
            "people": people}


def _run(tmp_path, n=12, tail=""):
    src = tmp_path / "run.jsonl"
    src.write_text("".join(json.dumps(_frame(i, [_person(3, 100 + i, 50)])) + "\n" for i in range(n)) + tail)
    return src


def _err_line(capsys):
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_list_angles_prints_every_name_with_a_description(capsys):
    assert main(["analyze", "--list-angles"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [ln.split()[0] for ln in lines] == list(ANGLES)
    assert all(len(ln.split(None, 1)[1]) > 20 and "(column " in ln for ln in lines)
    assert lines[0].startswith("knee_right ") and "knee_right_flexion_deg" in lines[0]


@pytest.mark.parametrize("argv, expected", [
    (["--angles", "knee_right,kne"], "error: --angles: unknown angle 'kne': choose from knee_right, knee_left, "),
    (["--reps", "elbo"], "error: --reps: unknown angle 'elbo': choose from knee_right"),
    (["--person-height", "0"], "error: --person-height: '0' must be a positive finite number of meters"),
    (["--person-height", "4=1.8"], "error: --person-height: id 4 is not a track id in run.jsonl (ids: 3)"),
    (["--calibrate", "1,2,3"], "error: --calibrate: give X1,Y1,X2,Y2,METERS"),
    (["--reps", "knee_right", "--reps-thresholds", "80,20"], "error: --reps-thresholds: LOW (80) must be below"),
    (["--reps-thresholds", "20,80"], "error: --reps-thresholds: needs --reps ANGLE"),
    (["--reps", "knee_right", "--reps-min-range", "nan"], "error: --reps-min-range must be"),
])
def test_bad_options_are_one_line_exit_2_nothing_written(tmp_path, capsys, argv, expected):
    src = _run(tmp_path)
    assert main(["analyze", str(src), "--out", str(tmp_path / "out"), *argv]) == 2
    assert _err_line(capsys).startswith(expected)
    assert not (tmp_path / "out").exists()


def test_jsonl_and_out_are_required_without_list_angles(tmp_path, capsys):
    assert main(["analyze", "--out", str(tmp_path / "o")]) == 2
    assert "required: RUN.jsonl" in _err_line(capsys)
    assert main(["analyze", str(_run(tmp_path))]) == 2
    assert "required: --out" in _err_line(capsys)


def test_options_together_on_the_command_line(tmp_path, capsys):
    out = tmp_path / "out"
    src = _run(tmp_path)
    argv = ["analyze", str(src), "--out", str(out), "--person-height", "3=1.7", "--reps", "knee_right,trunk",
            "--reps", "knee_left", "--angles", "knee_right", "--no-report", "--no-opensim"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "1 person analyzed from 12 frames" in err
    assert "person 3: 0 repetitions on knee_right (range 0.0 deg is under the 20 deg minimum" in err
    doc = json.loads((out / "summary.json").read_text())
    assert doc["reps_angles"] == ["knee_right", "trunk", "knee_left"]
    assert doc["angles"] == ["knee_right", "trunk", "knee_left"]          # what --reps counts is plotted too
    assert doc["people"][0]["height_m"] == 1.7 and doc["people"][0]["m_per_px"] > 0
    assert not list(out.glob("*.trc")) and (out / "reps.csv").read_text().count("\n") == 1


def test_a_cut_last_line_is_one_warning_naming_the_line_and_the_rest_is_used(tmp_path, capsys):
    src = _run(tmp_path, tail=json.dumps(_frame(12, []))[:30])
    assert main(["analyze", str(src), "--out", str(tmp_path / "out"), "--no-report"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("warning: ") and "run.jsonl:13: last line is cut short" in err[0]
    assert "from 12 frames" in err[1]


@pytest.mark.parametrize("content, expected", [
    ("", "no frames (empty file)"),
    ("\n\n", "no frames (2 blank lines)"),
    ('{"schema": "livepose.frame/1", "fra', "run.jsonl:1: no frames: the only line is cut short"),
    ('{"schema": "livepose.frame/1", "frame": 0, "time": 0, "people": []}\n{"a": 1}\n',
     "run.jsonl:2: not a livepose.frame/1 frame"),
    ('{"schema": "livepose.frame/1", "frame": 0, "time": 0, "people": []}\n{"schema": "livep\n{}\n',
     "run.jsonl:2: not JSON"),
    ("col1,col2\n1,2\n", "run.jsonl:1: not JSON"),
])
def test_not_a_livepose_run_is_one_line_with_the_line(tmp_path, capsys, content, expected):
    src = tmp_path / "run.jsonl"
    src.write_text(content)
    assert main(["analyze", str(src), "--out", str(tmp_path / "out")]) == 2
    line = _err_line(capsys)
    assert line.startswith("error: ") and expected in line
    assert not (tmp_path / "out").exists()


def test_tracking_off_names_the_first_line_with_a_person_without_id(tmp_path, capsys):
    p = _person(None, 100, 50)
    del p["id"]
    src = tmp_path / "run.jsonl"
    src.write_text(json.dumps(_frame(0, [])) + "\n" + json.dumps(_frame(1, [p])) + "\n")
    assert main(["analyze", str(src), "--out", str(tmp_path / "out")]) == 2
    line = _err_line(capsys)
    assert "run.jsonl:2: a person without an id" in line and "tracking off" in line
    assert not (tmp_path / "out").exists()


def test_help_names_the_new_options(capsys):
    with pytest.raises(SystemExit):
        main(["analyze", "--help"])
    out = capsys.readouterr().out
    for opt in ("--person-height", "--calibrate", "--angles", "--list-angles", "--reps", "--reps-thresholds",
                "--no-opensim", "people.csv"):
        assert opt in out, opt


def test_an_error_leaves_an_existing_out_folder_as_it_was(tmp_path, capsys):
    out = tmp_path / "out"
    src = _run(tmp_path)
    assert main(["analyze", str(src), "--out", str(out), "--no-report"]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    capsys.readouterr()
    src.write_text(src.read_text() + "not json\n" + json.dumps(_frame(99, [])) + "\n")
    assert main(["analyze", str(src), "--out", str(out), "--no-report", "--person-height", "1.8"]) == 2
    assert "run.jsonl:13: not JSON" in _err_line(capsys)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_angle_names_resolve_short_or_full_in_order_without_repeats():
    from livepose.analysis.angles import resolve_angles

    assert resolve_angles(["trunk_deg", "knee_right", "knee_right_flexion_deg", " elbow_left "]) == \
        ["trunk", "knee_right", "elbow_left"]
    with pytest.raises(ValueError, match=r"^--reps: unknown angle 'ankle_right': choose from knee_right, "):
        resolve_angles(["ankle_right"], "--reps")
