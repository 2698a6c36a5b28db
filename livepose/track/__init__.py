"""Tracking: poses in, identities and smoothed keypoints out.

    from livepose.track import PoseTracker, TrackerConfig
    tracker = PoseTracker(part_names, TrackerConfig())
    tracks = tracker.update(poses, timestamp)     # livepose.types.Tracks, one row per detection taken

``TrackerConfig`` lives in :mod:`livepose.settings` (re-exported here).  The pieces, each usable alone:

====================  ======================================================================
:mod:`.cost`          OKS-style keypoint cost and box IoU between track skeletons and poses
:mod:`.assign`        ``assign(cost, gate) -> (matches (K, 2), unmatched_tracks, unmatched_dets)``
:mod:`.smoothers`     the :class:`Smoother` protocol, :class:`NoSmoother` and ``make_smoother(config)``
                      (the registry of the names in ``SMOOTHERS``)
:mod:`.kalman`        constant-velocity Kalman filters for all tracks and joints at once
:mod:`.one_euro`      the same job with One-Euro filters (lighter, adaptive low-pass)
:mod:`.table`         ``TrackTable``: the tracker's memory, one row per live track (private to it)
:mod:`.tracker`       :class:`PoseTracker` (association, lifecycle, ids, bounded state)
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
from livepose.track.smoothers import SMOOTHERS, NoSmoother, Smoother, make_smoother
from livepose.track.tracker import PoseTracker, TrackerConfig

__all__ = [
    "PoseTracker", "TrackerConfig", "SMOOTHERS", "assign", "box_gap", "box_iou", "box_size", "keypoint_cost",
    "keypoint_cost_pairs", "person_size", "pose_boxes", "pose_cost", "ConstantVelocityKalman", "kf_initiate",
    "kf_predict", "kf_update", "q_discrete_white_noise", "OneEuroSmoother", "NoSmoother", "Smoother", "make_smoother",
]
