"""`livepose eval`: run the photo pipeline over a COCO person_keypoints set and score it.

The metrics are COCO's own (pycocotools, keypoint OKS): AP, AP50, AP75, APm, APl, AR.
Every image listed in the annotation file is processed, also those without people, so
false positives count.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from pathlib import Path
from typing import Callable

import numpy as np

from livepose.errors import InputError, LiveposeError
from livepose.estimator import PoseEstimator
from livepose.formats import coco_results
from livepose.images import read_image

METRIC_NAMES = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")


def read_annotation_json(path: str | Path) -> dict:
    """Parse an annotation file (COCO or PoseTrack style) into its top-level object, or raise
    InputError with one line naming the file and the problem."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: annotation file not found") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not an annotation file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable JSON annotation file ({exc})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected an object with 'images' and 'annotations'")
    return data


def load_coco_keypoints(path: Path) -> dict:
    """Read a COCO person_keypoints file, checking the fields evaluation needs."""
    data = read_annotation_json(path)
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise InputError(f"{path}: field '{key}' is missing or not a list")
    for k, img in enumerate(data["images"]):
        for key in ("id", "file_name"):
            if key not in img:
                raise InputError(f"{path}: field 'images[{k}].{key}' is missing")
    for k, ann in enumerate(data["annotations"]):
        for key in ("image_id", "keypoints", "category_id"):
            if key not in ann:
                raise InputError(f"{path}: field 'annotations[{k}].{key}' is missing")
    return data


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
    estimator: PoseEstimator,
    annotations_path: Path,
    images_dir: Path,
    on_image: Callable[[str, int, float], None] | None = None,
) -> tuple[dict, list[dict]]:
    """Run ``estimator`` on every image of the set.  Returns (report, COCO results)."""
    require_pycocotools()
    data = load_coco_keypoints(annotations_path)
    images_dir = Path(images_dir)
    if not images_dir.is_dir():
        raise InputError(f"{images_dir}: images folder not found")
    results: list[dict] = []
    times = {"preprocess": [], "inference": [], "decode": []}
    failed: list[str] = []
    t_start = time.perf_counter()
    for img in data["images"]:
        path = images_dir / img["file_name"]
        try:
            image = read_image(path)
        except InputError as exc:
            failed.append(str(exc))
            continue
        poses, stage = estimator(image)
        results.extend(coco_results(poses, img["id"]))
        times["preprocess"].append(stage.preprocess)
        times["inference"].append(stage.inference)
        times["decode"].append(stage.decode)
        if on_image:
            on_image(img["file_name"], len(poses), stage.total)
    if failed and len(failed) == len(data["images"]):
        raise InputError(f"{images_dir}: none of the {len(failed)} annotated images could be read ({failed[0]})")
    image_ids = [img["id"] for img in data["images"]]
    metrics = coco_eval(data, results, image_ids)
    report = {
        "annotations": str(annotations_path),
        "images": str(images_dir),
        "model": estimator.card.name,
        "input_size": list(estimator.preprocess.size),
        "decode": estimator.decoder.config.as_dict(),
        "providers": estimator.network.providers,
        "num_images": len(image_ids) - len(failed),
        "num_people_found": len(results),
        "failed_images": failed,
        "metrics": {k: round(v, 4) for k, v in metrics.items()},
        "timings_ms": {k: round(float(np.median(v)), 2) if v else None for k, v in times.items()},
        "seconds": round(time.perf_counter() - t_start, 2),
    }
    return report, results
