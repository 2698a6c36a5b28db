"""End to end on real photos: the people are found and their keypoints agree with COCO annotations."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import COCO_DIR, PHOTO, oks
from livepose.images import read_image
from livepose.types import COCO17_NAMES


def _match(pred, gts):
    """Greedy one-to-one matching by OKS; returns the OKS of each annotation (0 if unmatched)."""
    pairs = sorted(
        ((oks(pred.xy[n], g["kp"], g["area"]), n, i) for n in range(len(pred)) for i, g in enumerate(gts)),
        reverse=True,
    )
    used_p, used_g, out = set(), set(), [0.0] * len(gts)
    for score, n, i in pairs:
        if n in used_p or i in used_g:
            continue
        used_p.add(n)
        used_g.add(i)
        out[i] = score
    return out


def test_fixture_people_found_with_accurate_keypoints(estimator, coco_fixture):
    matched = []
    for img in coco_fixture["images"]:
        poses, times = estimator(read_image(COCO_DIR / img["file_name"]))
        coco = poses.to_coco17()
        gts = [
            {"kp": np.asarray(a["keypoints"], float).reshape(17, 3), "area": a["area"]}
            for a in coco_fixture["annotations"]
            if a["image_id"] == img["id"] and a["num_keypoints"] >= 10
        ]
        scores = _match(coco, gts)
        # every well-annotated person is found, with a keypoint similarity a COCO AP50 match needs
        assert all(s >= 0.5 for s in scores), (img["file_name"], scores)
        matched.extend(scores)
        # and not many more people than annotated (each photo has at most one small unannotated person)
        n_annotated = sum(1 for a in coco_fixture["annotations"] if a["image_id"] == img["id"])
        assert len(poses) <= n_annotated + 1
        assert times.inference > 0 and times.decode > 0
    assert len(matched) == 12
    assert np.median(matched) >= 0.75


def test_poses_are_well_formed(estimator, part_names):
    poses, _ = estimator(read_image(PHOTO))
    assert len(poses) == 4
    assert poses.part_names == part_names
    assert poses.xy.dtype == np.float32 and poses.xy.shape == (4, len(part_names), 2)
    vis = poses.visible
    assert np.isnan(poses.xy[~vis]).all() and np.isfinite(poses.xy[vis]).all()
    assert ((poses.score > 0) & (poses.score <= 1)).all()
    assert (vis.sum(axis=1) >= 3).all()
    # keypoints land inside the photo
    assert (poses.xy[vis][:, 0] >= -1).all() and (poses.xy[vis][:, 0] <= 640).all()
    assert (poses.xy[vis][:, 1] >= -1).all() and (poses.xy[vis][:, 1] <= 429).all()
    coco = poses.to_coco17()
    assert coco.xy.shape == (4, 17, 2)
    # each COCO-17 joint is the network's joint of that name
    for name in ("nose", "left_shoulder", "right_ankle"):
        np.testing.assert_array_equal(coco.xy[:, COCO17_NAMES.index(name)], poses.xy[:, part_names.index(name)])


@pytest.mark.parametrize("size", [(432, 368), (-1, 368), (-1, 256)])
def test_input_sizes_find_the_same_players(size, coco_fixture):
    from livepose import PoseEstimator

    est = PoseEstimator(size=size, threads=2)
    poses, _ = est(read_image(COCO_DIR / "000000785.jpg".rjust(16, "0")))
    gt = next(a for a in coco_fixture["annotations"] if a["image_id"] == 785)
    assert len(poses) == 1
    assert oks(poses.to_coco17().xy[0], np.asarray(gt["keypoints"], float).reshape(17, 3), gt["area"]) > 0.8
