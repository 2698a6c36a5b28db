"""``size="auto"`` (livepose.autosize): the candidates, the comparison of the people found, the choice
on constructed figures with known answers, the sampling, the settings and the command line, and a
live source (the composed runs on the example clip: tests/e2e/test_size_auto.py)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from helpers import CLIP, CLIP_SIZE, COCO_DIR, COCO_PHOTOS, error_line, run_cli
from livepose import autosize as A
from livepose import settings as S

BASE = (-1, 368)


# -- candidates --------------------------------------------------------------------------------
@pytest.mark.parametrize("image_size, heights", [
    ((1280, 720), [368, 552, 736]),   # 1312x736 = 0.97 MP: within the pixel cap
    ((768, 432), [368, 552, 736]),
    ((720, 1280), [368, 552, 736]),   # portrait: narrow inputs, cheap
    ((480, 360), [368, 552, 720]),    # at most 2x the frame's own 360 rows
    ((426, 240), [368, 480]),         # 1.5x and 2x both capped at 480 rows: tried once
    ((1920, 800), [368, 552, 640]),   # 21:9: 2x (1768x736, 1.3 MP) shrunk to 1536x640 (0.98 MP)
    ((160, 120), [368]),              # already above 2x the frame: nothing larger to try
])
def test_candidates_grow_the_height_within_the_caps(image_size, heights):
    from livepose.preprocess import plan_letterbox

    sizes = A.candidate_sizes(BASE, image_size, 8)
    assert sizes == [(-1, h) for h in heights]
    for size in sizes[1:]:
        net = plan_letterbox(image_size, size, 8).net_size
        assert net[0] * net[1] <= A.MAX_PIXELS and net[1] <= max(368, A.MAX_UPSCALE * image_size[1])


def test_a_fixed_request_grows_on_both_sides_rounded_down_to_the_multiple():
    assert A.scaled_request((432, 368), 1.5, 8) == (648, 552)
    assert A.scaled_request((-1, 368), 1.3, 8) == (-1, 472)   # 478.4 -> 472
    assert A.scaled_request((656, -1), 2.0, 16) == (1312, -1)
    assert A.candidate_sizes((432, 368), (1280, 720), 8) == [(432, 368), (648, 552), (864, 736)]


# -- the people of two sizes -------------------------------------------------------------------
def box(x, y, w, h):
    return [x, y, x + w, y + h]


def test_person_boxes_hold_the_parts_found():
    xy = np.full((2, 18, 2), np.nan, np.float32)
    xy[0, :3] = [[10, 20], [30, 80], [20, 50]]
    boxes, parts = A.person_boxes(xy)
    np.testing.assert_array_equal(boxes[0], [10, 20, 30, 80])
    assert parts.tolist() == [3, 0]
    empty_boxes, empty_parts = A.person_boxes(np.zeros((0, 18, 2), np.float32))
    assert empty_boxes.shape == (0, 4) and empty_parts.shape == (0,)


def test_fragments_of_a_found_person_are_not_new_and_small_people_elsewhere_are():
    big = box(100, 100, 100, 300)
    base = np.array([big])
    other = np.array([
        box(105, 110, 90, 140),   # the big person's upper half: a fragment (centre inside)
        box(110, 250, 80, 140),   # its legs: another fragment
        box(600, 50, 12, 40),     # a small person far away, 8 parts: new
        box(700, 50, 12, 40),     # a small thing of 2 parts: not a person worth counting
    ])
    parts = np.array([9, 6, 8, 2])
    assert A.compare(base, other, parts) == (1, 0)
    assert A.compare(base, other[2:], parts[2:]) == (1, 1)   # the big person itself is lost there
    assert A.compare(np.zeros((0, 4)), other, parts) == (3, 0)
    assert A.compare(base, np.zeros((0, 4)), np.zeros(0)) == (0, 1)


def test_related_boxes_overlap_or_hold_each_others_centre():
    a = np.array([box(0, 0, 100, 100)])
    b = np.array([box(60, 60, 100, 100), box(40, 40, 20, 20), box(300, 300, 10, 10), box(-90, 0, 100, 100)])
    assert A.related(a, b).tolist() == [[True, True, False, False]]
    line = np.array([[50, 0, 50, 100]])   # parts in a vertical line: no area of their own
    assert A.related(line, np.array([[50, 0, 50, 100]])).tolist() == [[True]]


# -- the choice --------------------------------------------------------------------------------
@pytest.mark.parametrize("people, gains, want", [
    ([9.5, 13.6, 16.0], [0, 3.5, 6.0], 2),     # a crowd of small people: the largest is far better
    ([2.0, 3.8, 3.9], [0, 1.6, 1.75], 1),      # 1.5x finds nearly all 2x finds: the cheaper one
    ([3.0, 3.0, 3.4], [0, 0.0, 0.4], 0),       # under half a person per frame: not worth it
    ([20.0, 21.0, 22.0], [0, 1.5, 1.8], 0),    # under a tenth of a crowd: not worth it
    ([1.0, 0.9, 0.7], [0, -0.1, -0.4], 0),     # large people only: a larger input loses some
    ([1.0, 2.0], [0, 1.0], 1),                 # one larger size tried
    ([4.0], [0], 0),                           # nothing larger to try
    ([2.0, 2.6, 3.5], [0, 0.6, 1.5], 2),       # 1.5x gains enough but far less than 2x
    ([2.0, 2.4, 3.1], [0, 0.4, 1.1], 2),       # 1.5x is near the best but under the bar itself
])
def test_the_smallest_size_finding_nearly_as_many_as_the_best(people, gains, want):
    index, why = A.choose(people, gains)
    assert index == want, why
    assert why


def test_the_rules_can_be_tightened():
    assert A.choose([2.0, 3.8, 3.9], [0, 1.6, 1.75], tolerance=0.0)[0] == 1   # within the quarter person
    assert A.choose([2.0, 3.0, 4.0], [0, 1.0, 2.0], tolerance=0.0)[0] == 2
    assert A.choose([2.0, 3.8], [0, 1.6], min_gain=2.0)[0] == 0
    with pytest.raises(ValueError):
        A.choose([1.0, 2.0], [0.0])


def trial(size, net, counts, ms=10.0, parts=9, x0=0):
    """A Trial whose frames hold ``counts[k]`` people, person j at x = x0 + 100 j (far apart)."""
    boxes = tuple(np.array([box(x0 + 100 * j, 10, 20, 60) for j in range(n)]).reshape(-1, 4) for n in counts)
    return A.Trial(size=size, net_size=net, boxes=boxes, parts=tuple(np.full(n, parts) for n in counts), ms=ms)


def test_a_choice_from_measured_trials_says_what_and_why():
    trials = [trial((-1, 368), (656, 368), [2, 2, 3, 1]), trial((-1, 552), (984, 552), [4, 4, 5, 3]),
              trial((-1, 736), (1312, 736), [4, 5, 5, 3])]
    choice = A.choice_from_trials(trials)
    assert choice.size == (-1, 552) and choice.index == 1 and choice.changed
    assert choice.candidates == ((-1, 368), (-1, 552), (-1, 736))
    assert choice.people == (2.0, 4.0, 4.25) and choice.gains == (0.0, 2.0, 2.25)
    assert choice.net_size == (984, 552) and choice.frames == 4
    assert choice.line == ("size auto: 656x368 -> 984x552 (people/frame 2.0 -> 4.0, 1312x736 4.2 on 4 sampled "
                           "frames; 2.2x the pixels)")
    kept = A.choice_from_trials([trial((-1, 368), (208, 368), [3, 3]), trial((-1, 736), (416, 736), [3, 3])])
    assert kept.size == (-1, 368) and not kept.changed
    assert kept.line == "size auto: 208x368 kept (people/frame 3.0 on 2 sampled frames; 416x736 3.0: nothing gained)"
    alone = A.choice_from_trials([trial((-1, 368), (208, 368), [1])])
    assert alone.line == "size auto: 208x368 kept (people/frame 1.0 on 1 sampled frame; no larger size to try)"


def test_fragments_at_a_larger_size_do_not_make_it_chosen():
    ref = trial((-1, 368), (656, 368), [1, 1, 1])
    # the larger input breaks the one person into three overlapping pieces in every frame
    pieces = tuple(np.array([box(0, 10, 20, 25), box(0, 35, 20, 35), box(2, 12, 16, 50)]) for _ in range(3))
    broken = A.Trial(size=(-1, 736), net_size=(1312, 736), boxes=pieces, parts=tuple(np.full(3, 6) for _ in range(3)))
    assert broken.people == 3.0
    choice = A.choice_from_trials([ref, broken])
    assert choice.index == 0 and choice.gains == (0.0, 0.0)


# -- sampling ----------------------------------------------------------------------------------
@pytest.mark.parametrize("frames, want", [(None, 8), (1, 1), (2, 2), (3, 3), (50, 3), (100, 4), (205, 8),
                                          (10_000, 8), (0, 0)])
def test_short_runs_sample_fewer_frames(frames, want):
    assert A.sample_count(frames) == want


def test_frames_are_sampled_over_a_video_without_moving_the_source():
    from livepose.capture import open_source

    with open_source(str(CLIP)) as source:
        frames = A.sample_frames(source, 4)
        assert len(frames) == 4 and all(f.shape == (CLIP_SIZE[1], CLIP_SIZE[0], 3) for f in frames)
        assert not all(np.array_equal(frames[0], f) for f in frames[1:])   # spread, not one frame
        assert next(iter(source)).index == 0
        limited = A.sample_frames(source, limit=10)
        assert len(limited) == 3   # a run of 10 frames: the fewest samples


def test_frames_are_sampled_over_an_image_folder_and_none_from_a_live_source():
    from livepose.capture import open_source

    with open_source(str(COCO_DIR)) as source:
        frames = A.sample_frames(source, 2)
    assert len(frames) == 2 and frames[0].ndim == 3
    with open_source(str(CLIP), realtime=True) as live:
        assert A.sample_frames(live) == []
    assert len(COCO_PHOTOS) == 4


# -- settings and the command line -------------------------------------------------------------
def test_auto_is_a_size_setting_everywhere():
    assert S.ModelSettings(size="auto").size == "auto" == S.AUTO_SIZE == A.AUTO_SIZE
    config = S.RunConfig.from_overrides(source="a.mp4", size="auto")
    assert config.model.size == "auto" and pickle.loads(pickle.dumps(config)) == config
    assert S.RunConfig.from_overrides(size=[-1, 552]).model.size == (-1, 552)


@pytest.mark.parametrize("bad", ["banana", "Auto ", (0, 368), "656x368"])
def test_a_wrong_size_setting_is_one_line_naming_auto(bad):
    with pytest.raises(S.SettingError) as info:
        S.ModelSettings(size=bad)
    message = str(info.value)
    assert message.startswith("setting model.size: must be (width, height)") and "'auto'" in message
    assert "\n" not in message and info.value.exit_code == 2


def test_the_command_line_takes_auto_and_says_in_one_line_what_a_wrong_size_is(capsys):
    from livepose.cli import build_parser, run_config

    assert run_config(build_parser().parse_args(["run", "a.mp4", "--size", "AUTO"])).model.size == "auto"
    assert run_config(build_parser().parse_args(["run", "a.mp4", "--size=-1x552"])).model.size == (-1, 552)
    code, _, err = run_cli(capsys, "run", "no-such-video.mp4", "--size", "banana")
    line = error_line(err)
    assert code == 2 and "--size" in line and "auto" in line and "'banana'" in line
    code, _, err = run_cli(capsys, "run", "no-such-video.mp4", "--size", "99999x368")
    assert code == 2 and "auto" in error_line(err)


def test_auto_is_for_video_runs_photos_say_so_in_one_line(capsys, tmp_path):
    from helpers import PHOTO
    from livepose.build import build_estimator

    with pytest.raises(S.SettingError, match="'auto' picks one input size for a whole video run"):
        build_estimator(S.ModelSettings(size="auto"))
    code, _, err = run_cli(capsys, "image", PHOTO, "--out", tmp_path, "--size", "auto")
    assert code == 2 and "for photos and evaluation give WxH" in error_line(err)


# -- composed runs -----------------------------------------------------------------------------
def test_a_live_source_warns_and_runs_at_the_default_size(tmp_path):
    from livepose.build import build

    warnings: list[str] = []
    announced: list[str] = []
    config = S.RunConfig.from_overrides(source=str(CLIP), realtime=True, max_frames=2, size="auto",
                                        jsonl=str(tmp_path / "a.jsonl"), threads=2)
    run = build(config, warn=warnings.append, announce=announced.append)
    try:
        assert run.size_choice is None
        assert run.stream.stages.letterbox.size == run.estimator.card.input.default_size == run.estimator.size
    finally:
        run.close()
    w, h = run.estimator.card.input.default_size
    assert warnings == [A.LIVE_WARNING.format(size=f"{w}x{h}")]
    assert "a live source runs at the network's default size" in warnings[0] and "--size WxH" in warnings[0]
    assert not any(line.startswith("size auto") for line in announced)
