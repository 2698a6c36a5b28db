"""Suppression through the whole program: ``livepose.open`` and ``livepose image`` on the fixture
photos, with it (the default) and without (``suppress=False``, ``--no-suppress``)."""

from __future__ import annotations

import json

import numpy as np

from helpers import COCO_DIR, COCO_PHOTOS, run_cli
from livepose.settings import SUPPRESS_OFF, SuppressSettings
from livepose.suppress import suppress


def _people(**settings):
    import livepose

    with livepose.open(str(COCO_DIR), track=False, threads=2, **settings) as stream:
        decode = stream.stages.decode
        poses = [r.poses for r in stream]
    return decode, poses


def test_open_applies_the_suppression_it_is_given(card):
    decode_off, raw = _people(suppress=False)
    decode_on, kept = _people()
    assert decode_off.suppress == SUPPRESS_OFF and decode_on.suppress == SuppressSettings()
    assert len(raw) == len(kept) == len(COCO_PHOTOS)
    for r, k in zip(raw, kept):  # the pipeline's people are the decoder's, suppressed by the default rules
        expected = suppress(r, card.limbs)
        np.testing.assert_array_equal(k.xy, expected.xy)
        np.testing.assert_array_equal(k.score, expected.score)
    assert 0 < sum(map(len, kept)) <= sum(map(len, raw))
    _, scored = _people(min_person_score=0.3)  # one rule's keyword reaches the stage too
    assert sum(map(len, scored)) <= sum(map(len, kept))
    assert all((p.score >= np.float32(0.3)).all() for p in scored)


def test_image_with_and_without_suppression(capsys, tmp_path, card):
    photo = COCO_PHOTOS[0]
    counts = {}
    for flag in ("--suppress", "--no-suppress"):
        out = tmp_path / flag.strip("-")
        code, stdout, err = run_cli(capsys, "image", photo, "--out", out, "--no-image", flag)
        assert code == 0, err
        data = json.loads((out / f"{photo.stem}_keypoints.json").read_text())
        counts[flag] = len(data["people"])
        assert f"{counts[flag]} {'person' if counts[flag] == 1 else 'people'}" in stdout
    assert 0 < counts["--suppress"] <= counts["--no-suppress"]
