"""Sweep decoding settings and input sizes against COCO keypoint AP on annotated photo sets.

The network runs once per image and size; every decoding variant reuses those outputs,
so a sweep of many settings costs little more than one evaluation.  Each variant is scored
exactly as ``livepose eval`` scores it: the same letterbox, network, decoder and suppression
stages (:func:`livepose.stages.make_stages`), on every image of each set.

    python tools/tune_decode.py --model lwop \\
        --data ../shared/data/images/coco-train-mini/person_keypoints_train2017.json ../shared/data/images/coco-train-mini \\
        --data ../shared/data/bonn-posetrack/annotations/bonn_test_060470979_frames_present.json ../shared/data/bonn-posetrack \\
        --size=-1x368 --size=-1x432 \\
        --set card --set openpose --set tfpose --set upsample=2 --set peak_threshold=0.1,min_parts=4

``--data ANNOTATIONS IMAGES`` is repeatable (``--annotations``/``--images`` name one set too); an
annotation without ``area`` gets its box's (the Bonn file has none, as tools/quality_baseline.py's
``bonn_coco_annotations`` does).  Each ``--set`` is ``card`` (the card's own ``decode`` defaults,
what a run uses without ``--rules``/``--upsample``), a rule preset name, or comma-separated
field=value changes of :class:`livepose.settings.DecodeConfig` applied to the card's defaults
(``rules=tfpose`` as the first item starts from that preset instead).  Prints one line per
(size, settings) with AP per set, the mean AP and the decode milliseconds per image; ``--json``
writes every row with all metrics.  Not run in CI (see tools/README.md).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from livepose.eval import coco_eval, load_coco_keypoints  # noqa: E402
from livepose.formats import coco_results  # noqa: E402
from livepose.images import read_image  # noqa: E402
from livepose.preprocess import parse_size  # noqa: E402
from livepose.settings import BACKENDS, PRECISIONS, RULES, DecodeConfig, ModelSettings, SUPPRESS_OFF  # noqa: E402
from livepose.settings import SuppressSettings  # noqa: E402
from livepose.stages import DecodeStage  # noqa: E402


def _value(kind: type, text: str):
    if kind is bool:
        if text.lower() not in ("1", "0", "true", "false", "yes", "no"):
            raise ValueError(f"not true or false: {text!r}")
        return text.lower() in ("1", "true", "yes")
    return kind(text)


def parse_setting(text: str, base: DecodeConfig) -> DecodeConfig:
    """``card`` (``base``), a preset name, or ``[rules=NAME,]field=value,...`` over ``base``."""
    if text == "card":
        return base
    if text in RULES:
        return RULES[text]
    items = [item for item in text.split(",") if item]
    if items and items[0].startswith("rules="):
        base = RULES[items.pop(0).split("=", 1)[1]]
    fields = base.as_dict()
    changes = {}
    for item in items:
        key, value = item.split("=", 1)
        if key not in fields:
            raise SystemExit(f"--set {text}: {key} is not a DecodeConfig field ({', '.join(fields)})")
        changes[key] = _value(type(fields[key]), value)
    return base.with_(**changes)


def load_set(annotations: Path, images_dir: Path) -> dict:
    data = load_coco_keypoints(annotations)
    for ann in data["annotations"]:  # scorable without segment areas (the Bonn file)
        box = ann.get("bbox") or ann.get("bbox_from_keypoints")
        if box is not None:
            ann["bbox"] = box
            ann.setdefault("area", float(box[2] * box[3]))
    images = [(img["id"], read_image(images_dir / img["file_name"])) for img in data["images"]]
    return {"name": images_dir.name, "data": data, "images": images, "ids": [i for i, _ in images]}


def run_network(estimator, images) -> tuple[list, float]:
    """(image id, maps copied out of the engine's buffers) per image, and the median network ms."""
    stages = estimator.stages()
    outputs, times = [], []
    for image_id, image in images:
        tensor, box = stages.letterbox.single(image)
        t0 = time.perf_counter()
        (out,) = stages.inference(tensor, [box], [image])
        times.append((time.perf_counter() - t0) * 1e3)
        out = type(out)(heatmaps=out.heatmaps.copy(), pafs=out.pafs.copy(), stride=out.stride, letterbox=out.letterbox)
        outputs.append((image_id, out))
    return outputs, statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", nargs=2, action="append", default=[], metavar=("ANNOTATIONS", "IMAGES"),
                    help="a COCO person_keypoints file and its images folder (repeatable)")
    ap.add_argument("--annotations", type=Path)
    ap.add_argument("--images", type=Path)
    ap.add_argument("--model", help="a bundled network's name or an ONNX file (default: the default network)")
    ap.add_argument("--card", help="its model card, when not beside it")
    ap.add_argument("--backend", choices=BACKENDS, default="onnxruntime")
    ap.add_argument("--precision", choices=PRECISIONS, default="auto")
    ap.add_argument("--size", dest="sizes", action="append", default=[], help="WxH, repeatable (default: the card's)")
    ap.add_argument("--set", dest="settings", action="append", default=[])
    ap.add_argument("--no-suppress", action="store_true", help="score the decoder's poses without suppression")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", type=Path, help="also write all rows here")
    args = ap.parse_args()

    from livepose.estimator import PoseEstimator

    pairs = [(Path(a), Path(i)) for a, i in args.data]
    if args.annotations is not None or args.images is not None:
        if args.annotations is None or args.images is None:
            ap.error("--annotations and --images go together")
        pairs.insert(0, (args.annotations, args.images))
    if not pairs:
        ap.error("no photo set: give --data ANNOTATIONS IMAGES")
    sets = [load_set(a, i) for a, i in pairs]
    settings = ModelSettings(model=args.model, card=args.card, backend=args.backend, precision=args.precision,
                             threads=args.threads)
    estimator = PoseEstimator.from_settings(settings, warm_up=False)
    card = estimator.card
    base = getattr(card, "decode", None) or DecodeConfig()  # the card's defaults, else OpenPose's rules
    suppress = SUPPRESS_OFF if args.no_suppress else SuppressSettings()
    variants = [(text, parse_setting(text, base)) for text in (args.settings or ["card"])]
    print(f"network {estimator.describe()}; card defaults {base if base != DecodeConfig() else 'openpose'}",
          flush=True)
    rows = []
    for size_text in args.sizes or [None]:
        sized = estimator.with_size(None if size_text is None else parse_size(size_text))
        sized.warm_up()
        w, h = sized.size
        size_label = f"{w}x{h}"
        nets = []
        for s in sets:
            outputs, net_ms = run_network(sized, s["images"])
            nets.append((s, outputs, net_ms))
        print(f"{size_label}: network median ms " + ", ".join(f"{s['name']} {ms:.1f}" for s, _, ms in nets),
              flush=True)
        for text, config in variants:
            stage = DecodeStage(card, config, suppress)
            row = {"size": size_label, "settings": text, "decode": config.as_dict(), "sets": {}}
            line, aps, decode_ms = [], [], []
            for s, outputs, net_ms in nets:
                results = []
                for image_id, out in outputs:
                    t0 = time.perf_counter()
                    poses = stage(out)
                    decode_ms.append((time.perf_counter() - t0) * 1e3)
                    results.extend(coco_results(poses, image_id))
                m = coco_eval(s["data"], results, s["ids"])
                row["sets"][s["name"]] = {**m, "people": len(results), "network_ms": round(net_ms, 2)}
                aps.append(m["AP"])
                line.append(f"{s['name']} AP {m['AP']:.3f} AR {m['AR']:.3f} n {len(results):>3}")
            row["mean_AP"] = statistics.mean(aps)
            row["decode_ms"] = statistics.median(decode_ms)
            rows.append(row)
            print(f"{size_label:>9}  {text:<44} " + "  ".join(line)
                  + f"  mean {row['mean_AP']:.4f}  decode {row['decode_ms']:.1f} ms", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
