"""Shared fixtures (the network is loaded once per test session) and which tests are slow.

``slow`` (registered in pyproject.toml): end-to-end tests, with the real network on real files or
the CLI in subprocesses.  ``python -m pytest -q -m "not slow"`` is the fast loop to run after every
change; ``python -m pytest -q`` runs everything.  The classification is the table below, applied
at collection (the test files carry no marks of their own, except tests/test_quality.py).
"""

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


# ------------------------------------------------------------------------------- slow tests
# Measured with `python -m pytest -q --durations=0 tests/` (whole suite 104 s, 477 tests, 2-core
# machine, 2026-12-01, shared data present); seconds are setup + call + teardown of that run.
# Rules, in order:
#   1. everything under a folder named `e2e` (tests/e2e/..., whatever the file is called);
#   2. the end-to-end modules of E2E_MODULES, by file name (wherever the file lives);
#   3. tests that use a fixture of SLOW_FIXTURES: a module fixture that runs the network over a
#      real sequence or a tool end to end (marking one of its users only moves the cost to the next);
#   4. the tests of unit modules listed in SLOW_TESTS ("file name::test function", every
#      parametrization): those that took 1 s or more.
# Using the session `estimator` (the real network) does not make a test slow: 57 tests use it,
# 16.6 s together, of which 12 s are three module fixtures that run the clip; loading it takes
# about 0.5 s once.  With this table `-m "not slow"` ran 415 tests in 34 s (39 s with a cold
# Numba cache, as on a fresh clone) and deselected 69 (about 65 s, plus test_quality.py's 40 s).
E2E_MODULES = {
    "test_run.py": "`livepose run` end to end on the clip, all outputs, interrupts (17.3 s)",
    "test_cli_stream.py": "`livepose run` with --ws/--osc/--udp from the command line (6.7 s)",
    "test_cli.py": "the `livepose image` command on real photos (4.4 s)",
    "test_eval.py": "`livepose eval` on the COCO fixture and coco-train-mini (4.3 s)",
    "test_photos_e2e.py": "people found on real photos against COCO annotations (0.9 s)",
    "test_viewer_browser.py": "the viewer page in headless Chromium (skips without one; seconds when it runs)",
}
SLOW_TESTS = {
    "test_gpu.py::test_cli_batch_writes_the_same_outputs": "CLI `run --batch` twice on the clip (4.1 s)",
    "test_gpu.py::test_batched_stream_gives_the_same_poses": "clip through batched streams, 3 sizes (9.5 s)",
    "test_gpu.py::test_stream_with_io_binding_gives_the_same_poses": "clip through I/O-bound streams (2.8 s)",
    "test_gpu.py::test_output_ring_survives_a_slow_decoder": "real stream with a slowed decoder (1.9 s)",
    "test_gpu.py::test_stop_capture_finishes_what_was_read_in_batches": "real stream, stopped mid-run (1.4 s)",
    "test_gpu.py::test_batches_split_where_the_frame_size_changes": "real stream over mixed sizes (1.2 s)",
    "test_gpu.py::test_io_binding_gives_the_same_outputs_on_cpu": "network over the clip's frames (1.1 s)",
}
SLOW_FIXTURES = {
    "made": "test_int8.py: tools/quantize_int8.py end to end, once for 3 tests (4.8 s)",
    "bonn_run": "test_track.py: network and tracker over the 41 Bonn frames, for 2 tests (2.4 s)",
    "bonn_report": "test_eval_track.py: network and eval-track over the 41 Bonn frames (2.4 s)",
}


def slow_reason(path: Path, test_name: str, fixtures=()) -> str | None:
    """Why the test ``test_name`` (without parametrization) of file ``path``, using ``fixtures``,
    is slow, or None."""
    try:
        folders = path.resolve().relative_to(Path(__file__).resolve().parent).parts[:-1]
    except ValueError:
        folders = path.parts[:-1]
    if "e2e" in folders:
        return "under an e2e folder"
    if path.name in E2E_MODULES:
        return E2E_MODULES[path.name]
    for name in fixtures:
        if name in SLOW_FIXTURES:
            return SLOW_FIXTURES[name]
    return SLOW_TESTS.get(f"{path.name}::{test_name}")


def pytest_collection_modifyitems(config, items):
    for item in items:
        name = getattr(item, "originalname", None) or item.name.split("[")[0]
        if slow_reason(Path(str(item.path)), name, getattr(item, "fixturenames", ())) is not None:
            item.add_marker(pytest.mark.slow)


# ---------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def card():
    """The bundled model's card: the skeleton (parts, limbs) tests take instead of a typed list."""
    from livepose.card import load_card

    return load_card()


@pytest.fixture(scope="session")
def part_names(card) -> tuple[str, ...]:
    """The bundled network's part names, in its output order (card.parts)."""
    return tuple(card.parts)


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
