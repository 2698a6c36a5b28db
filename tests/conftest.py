"""Shared fixtures (the network is loaded once per test session) and which tests are slow.

The tests are a map of what livepose guarantees (the table in README.md, "Layout"):

    unit/      one module or stage at a time, on synthetic inputs or the fixture photos and clip
    contract/  every implementation of an interface through the same checks: sources, engines,
               outputs, smoothers
    e2e/       the whole program: the command line, the tools, the pipeline over real video, the
               network's people against annotations, the quality baseline, the shared data sets

``slow`` (registered in pyproject.toml) is given at collection by the rules below; the test files
carry no marks of their own.  ``python -m pytest -q -m "not slow"`` is the fast loop to run after
every change (unit and contract tests); ``python -m pytest -q`` runs everything (what CI runs).
Shared plain code (paths, the CLI in-process, card copies, ...) is in helpers.py.  The folders have
no __init__.py: pytest imports test files by their name, so a name is used once across folders.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import COCO_DIR, SHARED, bundled_card, clip_results, load_tool

TESTS = Path(__file__).resolve().parent


# ------------------------------------------------------------------------------- slow tests
# Rules, in order:
#   1. everything under tests/e2e/ (end to end: the command line, the tools, real video through the
#      pipeline, the quality baseline, the shared data sets);
#   2. the tests of SLOW_TESTS ("folder/file name::test function", every parametrization): a unit or
#      contract test that takes 2 s or more and is not the only check of what it guards, with its time
#      as measured by `python -m pytest -q --durations=0` on the 2-core machine.
# SLOW_TESTS is empty: since the end-to-end tests moved to tests/e2e/ no unit or contract test needs
# it.  Measured (2-core machine, 2026-12-01): `-m "not slow"` ran 660 tests in 28 s (`-m slow`: 82
# in 95 s); its slowest are the WebSocket stalled-client test (2.3-4.2 s, the only check that a
# client that never reads loses frames and nobody else does), the first user of the session's
# `clip_run` (2.4-2.6 s: the example clip through the network and the tracker, once for all the
# output tests) and the real-time file pacing (1.0 s).
# Using the session `estimator` (the real network) does not make a test slow: loading it takes
# about 0.5 s once, and a photo through it 0.1 s.
SLOW_TESTS: dict[str, str] = {}


def slow_reason(path: Path, test_name: str) -> str | None:
    """Why the test ``test_name`` (without parametrization) of file ``path`` is slow, or None."""
    try:
        parts = path.resolve().relative_to(TESTS).parts
    except ValueError:
        parts = path.parts
    if "e2e" in parts[:-1]:
        return "end to end (under tests/e2e/)"
    return SLOW_TESTS.get(f"{'/'.join(parts)}::{test_name}")


def pytest_collection_modifyitems(config, items):
    for item in items:
        name = getattr(item, "originalname", None) or item.name.split("[")[0]
        if slow_reason(Path(str(item.path)), name) is not None:
            item.add_marker(pytest.mark.slow)


# ---------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def card():
    """The bundled model's card: the skeleton (parts, limbs) tests take instead of a typed list."""
    return bundled_card()


@pytest.fixture(scope="session")
def part_names(card) -> tuple[str, ...]:
    """The bundled network's part names, in its output order (card.parts)."""
    return tuple(card.parts)


@pytest.fixture(scope="session")
def estimator():
    from livepose import PoseEstimator

    return PoseEstimator(threads=2)


@pytest.fixture(scope="session")
def clip_run(estimator):
    """(info, results): the example clip's 50 frames through the session's network and a default
    tracker (helpers.clip_results), made once for every output test that wants real tracked people
    (helpers.first_frames cuts it shorter)."""
    info, results = clip_results(estimator)
    assert len(results) == 50 and sum(len(r.poses) for r in results) > 0
    return info, results


@pytest.fixture(scope="session")
def coco_fixture() -> dict:
    return json.loads((COCO_DIR / "test_coco.json").read_text())


@pytest.fixture(scope="session")
def quality_tool():
    """tools/quality_baseline.py as a module: what measures and compares the quality baseline."""
    return load_tool("quality_baseline")


@pytest.fixture(scope="session")
def quality_baseline(quality_tool) -> dict:
    """The committed baseline, models/quality_baseline.json (written only by the tool)."""
    data = quality_tool.load_baseline()
    assert data, f"{quality_tool.BASELINE} is missing: python tools/quality_baseline.py writes it"
    return data


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared data folder {SHARED} is absent (set LIVEPOSE_SHARED to use another)")
    return SHARED
