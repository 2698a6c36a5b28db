"""livepose.carry (keypoints carried between network frames by optical flow) and the tracker's
carried frames, on constructed pictures whose motion is known."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from helpers import CLIP, PHOTO
from livepose.carry import CarryStage, converging, keyframe_people, person_sizes
from livepose.records import FrameRecord
from livepose.settings import CarrySettings, RunConfig, SettingError, TrackerConfig, keyframe_every
from livepose.sinks.files.jsonl import jsonl_document
from livepose.sinks.stream.messages import frame_document
from livepose.track import PoseTracker
from livepose.types import Carried, Frame, FrameResult, People, Poses, StreamInfo

PARTS = ("a", "b", "c", "d")


def texture(w: int = 1280, h: int = 720, seed: int = 0) -> np.ndarray:
    """A BGR picture with texture at every scale (blurred noise), so that LK can follow any point."""
    rng = np.random.default_rng(seed)
    grey = rng.integers(0, 256, (h, w), dtype=np.uint8)
    grey = cv2.GaussianBlur(grey, (0, 0), 2.0)
    grey = cv2.normalize(grey, None, 0, 255, cv2.NORM_MINMAX)
    return cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)


def shifted(image: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """``image`` moved by (dx, dy) pixels (content at x now at x + dx); the border filled by wrapping."""
    return np.roll(np.roll(image, dy, axis=0), dx, axis=1)


def people(xy: np.ndarray, ids=None) -> People:
    xy = np.asarray(xy, np.float32)
    n, p = xy.shape[:2]
    conf = np.where(np.isfinite(xy[..., 0]), np.float32(0.8), np.float32(0.0))
    poses = Poses(xy=xy, conf=conf, score=np.full(n, 0.5, np.float32), part_names=PARTS[:p])
    if ids is None:
        return People(poses)
    return People(poses, ids=np.asarray(ids, np.int64), state=np.ones(n, np.int8), raw=poses,
                  predicted_xy=np.full((n, p, 2), np.nan, np.float32))


def carry_once(settings: CarrySettings, first: np.ndarray, second: np.ndarray, last: People) -> Carried:
    stage = CarryStage(settings)
    stage.see(first)
    return stage(second, last)


POINTS = np.array([[[400.0, 300.0], [420.5, 330.25], [460.0, 360.0], [500.0, 310.0]],
                   [[800.0, 200.0], [830.0, 240.0], [860.0, 280.0], [900.0, 330.0]]], np.float32)


@pytest.mark.parametrize("flow_size", [640, 1280])
def test_a_translated_picture_carries_every_point_by_the_translation(flow_size):
    image = texture()
    dx, dy = 6, -4
    carried = carry_once(CarrySettings(keyframe_every=3, flow_size=flow_size), image, shifted(image, dx, dy),
                         people(POINTS, ids=[7, 9]))
    assert not carried.cut
    assert carried.visible.all()
    np.testing.assert_allclose(carried.poses.xy, POINTS + np.float32([dx, dy]), atol=0.5)
    np.testing.assert_array_equal(carried.ids, [7, 9])
    np.testing.assert_allclose(carried.poses.conf, 0.8)  # the confidence the keypoint had


def test_missing_points_stay_missing_and_nothing_is_invented():
    image = texture()
    xy = POINTS.copy()
    xy[0, 2] = np.nan
    carried = carry_once(CarrySettings(keyframe_every=2), image, shifted(image, 3, 2), people(xy, ids=[1, 2]))
    assert not carried.visible[0, 2] and np.isnan(carried.poses.xy[0, 2]).all() and carried.poses.conf[0, 2] == 0
    assert carried.visible.sum() == 7


def test_a_point_that_leaves_the_frame_is_lost():
    image = texture()
    xy = POINTS.copy()
    xy[1, 3] = [1276.0, 330.0]  # 4 px from the right edge; the picture moves 10 px right
    carried = carry_once(CarrySettings(keyframe_every=2, flow_size=1280), image, shifted(image, 10, 0),
                         people(xy, ids=[1, 2]))
    assert not carried.visible[1, 3]
    assert np.isnan(carried.poses.xy[1, 3]).all()
    assert carried.visible.sum() == 7


@pytest.mark.parametrize("change", ["inverted", "flat", "other texture"])
def test_a_point_whose_surroundings_change_is_lost(change):
    """Something else appears where a point goes: the point is lost (the window no longer looks like
    where it came from, the flow finds no texture, or it fails the forward-backward check)."""
    image = texture()
    moved = shifted(image, 4, 4).copy()
    x, y = POINTS[0, 0].astype(int) + 4
    window = moved[y - 30:y + 31, x - 30:x + 31]
    settings = CarrySettings(keyframe_every=2, flow_size=1280)
    if change == "inverted":
        window[:] = 255 - window
    elif change == "flat":
        window[:] = 128
    else:  # texture of the same statistics: only a strict forward-backward threshold tells
        window[:] = texture(61, 61, seed=5)
        settings = settings.with_(fb_threshold=0.5, patch_error=20.0)
    carried = carry_once(settings, image, moved, people(POINTS, ids=[1, 2]))
    assert not carried.visible[0, 0]
    assert carried.visible[0, 2:].all() and carried.visible[1].all()  # the points away from the change stay
    np.testing.assert_allclose(carried.poses.xy[1], POINTS[1] + 4, atol=0.5)


@pytest.mark.parametrize("cut", ["blank", "flash", "another scene"])
def test_a_cut_loses_everyone_without_crashing(cut):
    image = cv2.resize(cv2.imread(str(PHOTO)), (1280, 720))
    if cut == "another scene":
        cap = cv2.VideoCapture(str(CLIP))
        ok, after = cap.read()
        cap.release()
        assert ok
        after = cv2.resize(after, (1280, 720))
    else:
        after = np.full_like(image, 0 if cut == "blank" else 255)
    carried = carry_once(CarrySettings(keyframe_every=3), image, after, people(POINTS, ids=[1, 2]))
    assert carried.cut
    assert not carried.visible.any()
    assert np.isnan(carried.poses.xy).all()


def test_points_carried_too_many_frames_in_a_row_are_lost():
    image = texture()
    stage = CarryStage(CarrySettings(keyframe_every=5, max_carry_frames=2, flow_size=1280))
    stage.see(image)
    last = people(POINTS)
    counts = []
    for k in range(1, 4):
        carried = stage(shifted(image, k, 0), last)
        counts.append(int(carried.visible.sum()))
        last = People(carried.poses)
    assert counts == [8, 8, 0]


def test_hold_keeps_the_points_and_predict_carries_none():
    image = texture()
    held = carry_once(CarrySettings(keyframe_every=2, carry_mode="hold"), image, shifted(image, 5, 5), people(POINTS))
    np.testing.assert_array_equal(held.poses.xy, POINTS)
    assert carry_once(CarrySettings(keyframe_every=2, carry_mode="predict"), image, image,
                      people(POINTS)).visible.sum() == 0


def test_converging_points_of_two_people_lose_the_smaller_persons_point():
    p0 = np.array([[10.0, 10.0], [20.0, 10.0], [50.0, 50.0], [80.0, 80.0]], np.float32)
    p1 = np.array([[15.0, 10.0], [15.5, 10.0], [50.0, 50.0], [80.0, 80.0]], np.float32)  # 0 and 1 meet
    owner = np.array([0, 1, 0, 1])
    lost = converging(p0, p1, owner, np.ones(4, bool), np.array([100.0, 40.0]), 2.0)
    np.testing.assert_array_equal(lost, [False, True, False, False])  # person 1 is smaller: behind
    # points of one person may meet (a hand on a knee); two people's points that were close stay
    assert not converging(p0, p1, np.zeros(4, int), np.ones(4, bool), np.array([100.0]), 2.0).any()
    near = p0.copy()
    near[1] = [11.0, 10.0]
    assert not converging(near, p1, owner, np.ones(4, bool), np.array([100.0, 40.0]), 2.0).any()
    np.testing.assert_allclose(person_sizes(POINTS, np.ones((2, 4), bool)), [np.sqrt(100 * 60), np.sqrt(100 * 130)])


def test_settings_check_their_values():
    for bad in (dict(keyframe_every=0), dict(flow_window=4), dict(carry_mode="magic"), dict(carry_noise=0.5)):
        with pytest.raises(SettingError):
            CarrySettings(**bad)
    assert keyframe_every(" 3 ") == 3
    for text in ("0", "-2", "abc", "2.5", ""):
        with pytest.raises(SettingError, match="--keyframe-every"):
            keyframe_every(text)
    assert RunConfig.from_overrides(keyframe_every=4).carry.active
    assert not CarrySettings().active


# -- the tracker on carried frames --------------------------------------------------------------------
def walker(x: float) -> Poses:
    xy = np.array([[[x, 100.0], [x + 10, 140.0], [x - 10, 140.0], [x, 200.0]]], np.float32)
    return Poses(xy=xy, conf=np.full((1, 4), 0.9, np.float32), score=np.ones(1, np.float32), part_names=PARTS)


def moved_carried(tracks, dx: float) -> Carried:
    raw = tracks.xy_raw + np.float32([dx, 0.0])
    return Carried(Poses(xy=raw, conf=tracks.conf.copy(), score=tracks.score.copy(), part_names=PARTS), tracks.ids)


def test_carried_measurements_are_noisier_than_the_networks():
    """The same measurement 10 px away: taken as carried, the estimate moves less towards it."""
    pulled = {}
    for kind in ("network", "carried"):
        tracker = PoseTracker(PARTS, TrackerConfig(min_hits=1))
        for k in range(5):
            tracks = tracker.update(walker(100.0), k / 30)
        if kind == "network":
            out = tracker.update(walker(110.0), 5 / 30)
        else:
            out = tracker.update_carried(moved_carried(tracks, 10.0), 5 / 30, noise=3.0)
            assert out.carried.all() and (out.det_index == -1).all()
        pulled[kind] = float(np.mean(out.xy[0, :, 0] - walker(100.0).xy[0, :, 0]))
    assert 0 < pulled["carried"] < pulled["network"] < 10.0


def test_carried_frames_keep_the_id_and_give_no_new_tracks():
    tracker = PoseTracker(PARTS, TrackerConfig(min_hits=1))
    tracks = tracker.update(walker(100.0), 0.0)
    ids = tracks.ids.copy()
    stranger = Carried(Poses(xy=walker(400.0).xy, conf=walker(400.0).conf, score=np.ones(1, np.float32),
                             part_names=PARTS), np.array([99], np.int64))
    assert len(tracker.update_carried(stranger, 1 / 30)) == 0  # an id the tracker has not: not born
    assert len(tracker) == 1
    for k in range(2, 6):  # the walker moves 4 px a frame; carried frames between network frames
        tracks = tracker.update_carried(moved_carried(tracks, 4.0), k / 30) if k % 3 else tracker.update(
            walker(100.0 + 4 * (k - 1)), k / 30)
        np.testing.assert_array_equal(tracks.ids, ids)
    assert len(tracker) == 1


def test_a_carried_frame_with_nobody_to_carry_is_still_a_carried_frame():
    tracker = PoseTracker(PARTS, TrackerConfig(min_hits=1))
    out = People.from_tracks(tracker.update_carried(Carried.empty(PARTS), 0.0))
    assert len(out) == 0 and not out.keyframe and out.carried.shape == (0, 4)
    frame = Frame(0, 0.0, 0.0, np.zeros((480, 640, 3), np.uint8))
    assert jsonl_document(INFO, FrameResult(frame, out))["keyframe"] is False


def test_a_carried_frame_with_everything_lost_reports_the_people_predicted_only():
    tracker = PoseTracker(PARTS, TrackerConfig(min_hits=1))
    tracks = tracker.update(walker(100.0), 0.0)
    lost = Carried(Poses(xy=np.full((1, 4, 2), np.nan, np.float32), conf=np.zeros((1, 4), np.float32),
                         score=tracks.score, part_names=PARTS), tracks.ids, cut=True)
    out = People.from_tracks(tracker.update_carried(lost, 1 / 30))
    assert not out.keyframe
    assert len(out) == 1 and not out.carried.any()
    assert np.isnan(out.poses.xy).all()
    assert np.isfinite(out.predicted_xy).all()  # where the tracker expects them, marked predicted


# -- the records and the documents -------------------------------------------------------------------
INFO = StreamInfo("s", (640, 480), 30.0, None, False, "m", PARTS, np.zeros((0, 2), int))


def test_records_and_documents_say_which_keypoints_were_carried():
    tracker = PoseTracker(PARTS, TrackerConfig(min_hits=1))
    tracks = tracker.update(walker(100.0), 0.0)
    key = keyframe_people(People.from_tracks(tracks))
    carried = moved_carried(tracks, 2.0)
    carried = Carried(Poses(xy=np.where(np.arange(4)[None, :, None] == 3, np.nan, carried.poses.xy).astype(np.float32),
                            conf=np.where(np.arange(4)[None] == 3, 0, carried.poses.conf).astype(np.float32),
                            score=carried.poses.score, part_names=PARTS), carried.ids)
    between = People.from_tracks(tracker.update_carried(carried, 1 / 30))
    frame = Frame(0, 0.0, 0.0, np.zeros((480, 640, 3), np.uint8))
    doc_key = jsonl_document(INFO, FrameResult(frame, key))
    doc_between = jsonl_document(INFO, FrameResult(frame, between))
    assert doc_key["keyframe"] is True and doc_key["people"][0]["carried"] == [0, 0, 0, 0]
    assert doc_between["keyframe"] is False and doc_between["people"][0]["carried"] == [1, 1, 1, 0]
    assert doc_between["people"][0]["keypoints"][3] == [None, None, 0]
    assert doc_between["people"][0]["predicted"][3] is not None  # the lost one is predicted
    message = frame_document(FrameResult(frame, between))
    assert message["keyframe"] is False and message["people"][0]["carried"] == [1, 1, 1, 0]
    # carrying off: no new fields (the files are as before)
    plain = jsonl_document(INFO, FrameResult(frame, People.from_tracks(tracks)))
    assert "keyframe" not in plain and "carried" not in plain["people"][0]
    assert "keyframe" not in frame_document(FrameResult(frame, People.from_tracks(tracks)))
    assert FrameRecord.from_people(People.from_tracks(tracks)).json_carried is None


# -- live sources: every frame for the carrying, the newest for the network ---------------------------
def test_a_live_sources_tap_gives_every_frame_in_order_then_none():
    from livepose.capture.fake import FakeCapture
    from livepose.capture.live import LiveSource

    cam = FakeCapture(100.0, period=0.002, fail_after=40)
    source = LiveSource(lambda: cam, "fake", finite=True)
    tap = source.tap(64)
    taken = []  # the newest-frame consumer takes only some
    while True:
        try:
            taken.append(next(source).index)
        except StopIteration:
            break
    got = []
    while (frame := tap.get(timeout=5)) is not None:
        got.append(frame.index)
    source.close()
    assert got == list(range(got[0], 40)) and got[0] <= 1  # every frame from the tap's start, in order
    assert set(taken) <= set(got) and source.tap_dropped == 0


def test_a_full_tap_drops_the_oldest_frames_and_counts_them():
    from livepose.capture.fake import FakeCapture
    from livepose.capture.live import LiveSource

    cam = FakeCapture(100.0, period=0.002, fail_after=30)
    source = LiveSource(lambda: cam, "fake", finite=True)
    tap = source.tap(4)
    deadline = time.perf_counter() + 5
    while cam.frames < 30 and time.perf_counter() < deadline:
        time.sleep(0.01)
    got = []
    while (frame := tap.get(timeout=5)) is not None:
        got.append(frame.index)
    source.close()
    assert got == sorted(got) and got[-1] == 29 and len(got) <= 4
    assert source.tap_dropped >= 20
