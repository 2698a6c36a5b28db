"""Evaluation: feed annotated photos or videos through the pipeline and score what comes out.

``livepose eval`` (COCO keypoint AP) and ``livepose eval-track`` (MOTA, IDF1, identity switches,
keypoint precision and recall, jitter and lag) run the same stages as ``livepose run``, through a
:class:`~livepose.pipeline.PoseStream`; this package only reads annotations, lists the frames
and scores.

===============================  ===========================================================
module                           what it holds
===============================  ===========================================================
``annotations``                  reading and checking COCO and PoseTrack-style annotation
                                 files (one InputError line per problem); videos in frame
                                 order, ground truth per frame (:class:`GtFrame`), head sizes
``frames``                       :class:`FrameList`: a Source over the annotated image files
                                 that skips (and records) the images it cannot read
``coco``                         ``livepose eval``: :func:`evaluate`, pycocotools metrics
                                 (:func:`coco_eval`)
``track_metrics``                the tracking metric pieces (PCKh matching, jitter, smoothing
                                 lag, ignore regions) and :class:`TrackingScorer`
``tracking``                     ``livepose eval-track``: :func:`evaluate_tracking`, a fresh
                                 tracker and stream per video, the report
===============================  ===========================================================
"""

from livepose.eval.annotations import (
    GtFrame, Video, gt_frames, head_size, load_coco_keypoints, load_posetrack, read_annotation_json, sequences,
)
from livepose.eval.coco import METRIC_NAMES, coco_eval, evaluate, require_pycocotools
from livepose.eval.frames import FrameList, NothingReadable
from livepose.eval.track_metrics import (
    MOT_METRICS, TrackingScorer, in_regions, jitter, keypoint_correct, match_distances, match_scores,
    require_motmetrics, smoothing_lag,
)
from livepose.eval.tracking import evaluate_tracking

__all__ = [
    "FrameList", "GtFrame", "METRIC_NAMES", "MOT_METRICS", "NothingReadable", "TrackingScorer", "Video", "coco_eval",
    "evaluate", "evaluate_tracking", "gt_frames", "head_size", "in_regions", "jitter", "keypoint_correct",
    "load_coco_keypoints", "load_posetrack", "match_distances", "match_scores", "read_annotation_json",
    "require_motmetrics", "require_pycocotools", "sequences", "smoothing_lag",
]
