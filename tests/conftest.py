"""Shared fixtures.  The network is loaded once per test session."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).resolve().parent / "data"
COCO_DIR = DATA / "coco"
REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("LIVEPOSE_SHARED", REPO.parent / "shared"))

# COCO's per-keypoint OKS constants (sigmas), COCO-17 order (from the COCO keypoint evaluation).
COCO_SIGMAS = np.array([.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89]) / 10.0


@pytest.fixture(scope="session")
def estimator():
    from livepose import PoseEstimator

    return PoseEstimator(threads=2)


@pytest.fixture(scope="session")
def coco_fixture() -> dict:
    return json.loads((COCO_DIR / "test_coco.json").read_text())


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared data folder {SHARED} is absent (set LIVEPOSE_SHARED to use another)")
    return SHARED


def oks(pred_xy: np.ndarray, gt: np.ndarray, area: float) -> float:
    """COCO object keypoint similarity of one predicted COCO-17 skeleton (17, 2; NaN missing)
    against one annotation (17, 3 with visibility), over the annotated keypoints."""
    vis = gt[:, 2] > 0
    if not vis.any():
        return 0.0
    d2 = (pred_xy[:, 0] - gt[:, 0]) ** 2 + (pred_xy[:, 1] - gt[:, 1]) ** 2
    e = d2 / (2.0 * area * (2.0 * COCO_SIGMAS) ** 2 + np.finfo(float).eps)
    k = np.where(np.isnan(e), 0.0, np.exp(-np.nan_to_num(e, nan=0.0)))
    return float(k[vis].mean())
