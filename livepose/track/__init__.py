"""Tracking: poses in, identities and smoothed keypoints out.

    from livepose.track import PoseTracker, TrackerConfig
    tracker = PoseTracker(part_names, TrackerConfig())
    tracks = tracker.update(poses, timestamp)     # livepose.types.Tracks, one row per detection taken

The pieces, each usable alone:

====================  ======================================================================
:mod:`.cost`          OKS-style keypoint cost and box IoU between track skeletons and poses
:mod:`.assign`        ``assign(cost, gate) -> (matches (K, 2), unmatched_tracks, unmatched_dets)``
:mod:`.kalman`        constant-velocity Kalman filters for all tracks and joints at once
:mod:`.one_euro`      the same job with One-Euro filters (lighter, adaptive low-pass)
:mod:`.tracker`       :class:`PoseTracker` (lifecycle, ids, bounded state) and :class:`TrackerConfig`
====================  ======================================================================
"""

from livepose.track.assign import assign
from livepose.track.cost import (
    box_gap, box_iou, box_size, keypoint_cost, keypoint_cost_pairs, person_size, pose_boxes, pose_cost,
)
from livepose.track.kalman import (
    ConstantVelocityKalman, kf_initiate, kf_predict, kf_update, q_discrete_white_noise,
)
from livepose.track.one_euro import OneEuroSmoother
from livepose.track.tracker import SMOOTHERS, PoseTracker, TrackerConfig

__all__ = [
    "PoseTracker", "TrackerConfig", "SMOOTHERS", "assign", "box_gap", "box_iou", "box_size", "keypoint_cost",
    "keypoint_cost_pairs", "person_size", "pose_boxes", "pose_cost", "ConstantVelocityKalman", "kf_initiate",
    "kf_predict", "kf_update", "q_discrete_white_noise", "OneEuroSmoother",
]
