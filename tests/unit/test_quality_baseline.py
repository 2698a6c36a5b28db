"""The committed quality baseline (models/quality_baseline.json) is complete and quoted: every figure
has a tolerance in e2e/test_quality.py (which measures them, slow), the always-available sections
are recorded, and README.md and benchmarks/README.md quote the baseline's figures."""

from __future__ import annotations


def test_every_figure_has_a_tolerance(quality_tool, quality_baseline):
    qb, baseline = quality_tool, quality_baseline
    tolerances = qb.load_tolerances()  # the tool's own reading of e2e/test_quality.py's TOLERANCES
    missing = [f"{s}.{f}" for s in qb.SECTIONS if s in baseline for f in qb.figures(baseline[s])
               if qb.tolerance_for(tolerances, s, f) is None]
    assert not missing, f"state a tolerance (with its reason) in {qb.TEST_FILE.name} for: {', '.join(missing)}"
    assert {"coco_fixture", "clip"} <= set(baseline), "the always-available sections are recorded"


def test_docs_quote_the_baseline(quality_tool, quality_baseline):
    problems = quality_tool.update_docs(quality_baseline, write=False, root=quality_tool.ROOT)
    assert not problems, "\n".join(problems)
