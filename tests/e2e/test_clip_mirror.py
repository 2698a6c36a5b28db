"""Mirror-tolerant matching on the example clip through the default network: the walker, whom the
network labels mirrored in the first frame(s) (right shoulder on the left), keeps one id for all 50
frames; with ``mirror_match`` off the mirrored frames start new ids (what the switch fixes).
(Constructed scenes: unit/test_track_mirror.py.)"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from helpers import CLIP, CLIP_FPS, CLIP_FRAMES, check_tracks_contract
from livepose.track import PoseTracker, TrackerConfig


@pytest.fixture(scope="module")
def clip_poses(estimator):
    cap = cv2.VideoCapture(str(CLIP))
    poses = []
    try:
        while True:
            ok, image = cap.read()
            if not ok:
                break
            poses.append(estimator(image)[0])
    finally:
        cap.release()
    assert len(poses) == CLIP_FRAMES
    return poses


def _ids(poses, config: TrackerConfig, mirror=None):
    tracker = PoseTracker(poses[0].part_names, config, mirror=mirror)
    out = []
    for k, p in enumerate(poses):
        tracks = tracker.update(p, k / CLIP_FPS)
        check_tracks_contract(tracks, p)
        out.append(tracks.ids.tolist())
    return out


def test_clip_walker_keeps_one_id_through_mirrored_frames(clip_poses, estimator):
    assert all(len(p) == 1 for p in clip_poses)  # one person in every frame
    flip = estimator.card.flip.parts
    on = _ids(clip_poses, TrackerConfig(), mirror=flip)
    assert on == [[1]] * CLIP_FRAMES
    assert _ids(clip_poses, TrackerConfig()) == on  # the permutation from the part names: the same
    off = _ids(clip_poses, TrackerConfig(mirror_match=False))
    assert len({i for ids in off for i in ids}) > 1, off  # part by part the mirrored frame is someone else


def test_clip_mirror_is_the_first_frame(clip_poses, estimator):
    """What the test above rests on: the network labels the walker's sides one way in frame 0 and
    the other way in frame 1 (the right shoulder left of the left one in one frame, right of it in
    the other)."""
    parts = estimator.part_names
    rs, ls = parts.index("right_shoulder"), parts.index("left_shoulder")
    x0, x1 = clip_poses[0].xy[0, :, 0], clip_poses[1].xy[0, :, 0]
    assert np.isfinite([x0[rs], x0[ls], x1[rs], x1[ls]]).all()
    assert (x0[rs] < x0[ls]) != (x1[rs] < x1[ls])
