"""``--size auto`` end to end on the example clip: the command line and the Python API pick one of
the candidate sizes from sampled frames, say so in one line, and run at it (livepose.autosize)."""

from __future__ import annotations

import json
import re

from helpers import CLIP, CLIP_SIZE, run_cli
from livepose import autosize as A
from livepose import settings as S

BASE = (-1, 368)


def test_size_auto_on_the_example_clip_picks_a_candidate_and_runs(capsys, tmp_path):
    out = tmp_path / "out.jsonl"
    code, _, err = run_cli(capsys, "run", CLIP, "--size", "auto", "--max-frames", "3", "--jsonl", out,
                           "--threads", "2")
    assert code == 0, err
    picked = [line for line in err.splitlines() if line.startswith("size auto: ")]
    assert len(picked) == 1 and "on 3 sampled frames" in picked[0], err
    network = next(line for line in err.splitlines() if line.startswith("network: "))
    height = int(re.search(r"input -1x(\d+)", network).group(1))
    assert (-1, height) in A.candidate_sizes(BASE, CLIP_SIZE, 8)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [d["frame"] for d in lines] == [0, 1, 2]


def test_the_python_api_keeps_the_choice(tmp_path):
    import livepose
    from livepose.build import build

    run = build(S.RunConfig.from_overrides(source=str(CLIP), size="auto", max_frames=3, threads=2), outputs=False)
    try:
        choice = run.size_choice
        assert choice is not None and choice.size in choice.candidates and choice.frames == 3
        assert run.stream.stages.letterbox.size == choice.size == run.estimator.size
        assert len(list(run.stream)) == 3
    finally:
        run.close()
    with livepose.open(str(CLIP), size="auto", max_frames=2, threads=2) as stream:
        assert stream.stages.letterbox.size in choice.candidates and len(list(stream)) == 2
