"""`livepose eval`: feed a COCO person_keypoints set through the pipeline and score the poses.

The metrics are COCO's own (pycocotools, keypoint OKS): AP, AP50, AP75, APm, APl, AR.
Every image listed in the annotation file is processed, also those without people, so
false positives count.  An image that cannot be read is left out of the scores (its people are
not counted as missed): the metrics are over the images read, and the report says how many of
the listed images that is (``num_images`` of ``num_images_listed``).
"""

from __future__ import annotations

import contextlib
import io
import time
from pathlib import Path
from typing import Callable

import numpy as np

from livepose.errors import InputError, LiveposeError
from livepose.eval.annotations import load_coco_keypoints
from livepose.eval.frames import FrameList
from livepose.formats import coco_results
from livepose.pipeline import PoseStream

METRIC_NAMES = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")
STAGES = ("preprocess", "inference", "decode")


def require_pycocotools() -> None:
    """Fail early, before any image is processed, when the evaluation extra is missing."""
    try:
        import pycocotools.cocoeval  # noqa: F401
    except ImportError:
        raise LiveposeError(
            "evaluation needs pycocotools: pip install pycocotools (or install livepose with the [eval] extra)"
        ) from None


def coco_eval(annotations: dict, results: list[dict], image_ids: list[int]) -> dict[str, float]:
    """COCO keypoint metrics for ``results`` on ``image_ids`` (pycocotools, output silenced)."""
    require_pycocotools()
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    if not results:
        return {name: 0.0 for name in METRIC_NAMES}
    gt = COCO()
    gt.dataset = annotations
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        dt = gt.loadRes(results)
        ev = COCOeval(gt, dt, "keypoints")
        ev.params.imgIds = list(image_ids)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {name: float(max(v, 0.0)) for name, v in zip(METRIC_NAMES, ev.stats)}


def evaluate(
    estimator,
    annotations_path: Path,
    images_dir: Path,
    on_image: Callable[[str, int, float], None] | None = None,
) -> tuple[dict, list[dict]]:
    """Run the pipeline of ``estimator`` (a :class:`livepose.estimator.PoseEstimator`) over every
    image of the set and score the poses.  ``on_image(file_name, people, milliseconds)`` after
    each image read.  Returns (report, COCO results).

    An image that cannot be read is listed in ``failed_images``; when none can, InputError."""
    require_pycocotools()
    data = load_coco_keypoints(annotations_path)
    images_dir = Path(images_dir)
    if not images_dir.is_dir():
        raise InputError(f"{images_dir}: images folder not found")
    images = data["images"]
    results: list[dict] = []
    times: dict[str, list[float]] = {k: [] for k in STAGES}
    failed: list[str] = []
    read_ids: list[int] = []
    t_start = time.perf_counter()
    if images:
        source = FrameList([images_dir / img["file_name"] for img in images], folder=images_dir, what="images")
        with PoseStream(source, estimator) as stream:
            for result in stream:
                img = images[result.frame.index]
                read_ids.append(img["id"])
                results.extend(coco_results(result.poses, img["id"]))
                for k in STAGES:
                    times[k].append(getattr(result.timings, k))
                if on_image:
                    on_image(img["file_name"], len(result.poses), result.timings.total)
        failed = [message for _, message in source.failures]
    image_ids = [img["id"] for img in images]
    # only the images read are scored: an unread image's people are not the network's misses
    metrics = coco_eval(data, results, read_ids) if read_ids else {name: 0.0 for name in METRIC_NAMES}
    report = {
        "annotations": str(annotations_path),
        "images": str(images_dir),
        "model": estimator.card.name,
        "input_size": list(estimator.size),
        "decode": estimator.decode_config.as_dict(),
        "suppress": suppress.as_dict() if (suppress := getattr(estimator, "suppress", None)) is not None else None,
        "augment": augment.as_dict() if (augment := getattr(estimator, "augment", None)) is not None else None,
        "engine": {"backend": estimator.network.backend, "precision": estimator.network.precision,
                   "model_file": estimator.network.card.model_path.name},
        "providers": estimator.network.providers,
        "num_images": len(read_ids),
        "num_images_listed": len(image_ids),
        "scored": "the images read" if failed else "every listed image",
        "num_people_found": len(results),
        "failed_images": failed,
        "metrics": {k: round(v, 4) for k, v in metrics.items()},
        "timings_ms": {k: round(float(np.median(v)), 2) if v else None for k, v in times.items()},
        "seconds": round(time.perf_counter() - t_start, 2),
    }
    return report, results
