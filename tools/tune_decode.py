"""Sweep decoding settings and input sizes against COCO keypoint AP on an annotated photo set.

The network runs once per image and size; every decoding variant reuses those outputs,
so a sweep of many settings costs little more than one evaluation.

    python tools/tune_decode.py --annotations ../shared/data/images/coco-train-mini/person_keypoints_train2017.json \
        --images ../shared/data/images/coco-train-mini --size=-1x368 --size 432x368 \
        --set openpose --set tfpose --set upsample=2 --set peak_threshold=0.05

Each ``--set`` is either a rule preset name or comma-separated field=value changes
applied to the OpenPose rules.  Prints one line per (size, settings) with AP and AR.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from livepose.card import load_card  # noqa: E402
from livepose.settings import OPENPOSE_RULES, RULES, DecodeConfig  # noqa: E402
from livepose.decode import Decoder, Skeleton  # noqa: E402
from livepose.eval import coco_eval, load_coco_keypoints  # noqa: E402
from livepose.formats import coco_results  # noqa: E402
from livepose.images import read_image  # noqa: E402
from livepose.inference import Network  # noqa: E402
from livepose.preprocess import Preprocessor, parse_size  # noqa: E402


def parse_setting(text: str) -> DecodeConfig:
    if text in RULES:
        return RULES[text]
    changes = {}
    fields = OPENPOSE_RULES.as_dict()
    for item in text.split(","):
        key, value = item.split("=")
        kind = type(fields[key])
        changes[key] = value.lower() in ("1", "true", "yes") if kind is bool else kind(value)
    return OPENPOSE_RULES.with_(**changes)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--annotations", required=True, type=Path)
    ap.add_argument("--images", required=True, type=Path)
    ap.add_argument("--size", dest="sizes", action="append", default=[], help="WxH, repeatable")
    ap.add_argument("--set", dest="settings", action="append", default=[])
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", type=Path, help="also write all rows here")
    args = ap.parse_args()

    card = load_card()
    net = Network(card, threads=args.threads)
    data = load_coco_keypoints(args.annotations)
    images = [(img["id"], read_image(args.images / img["file_name"])) for img in data["images"]]
    ids = [i for i, _ in images]
    settings = args.settings or ["openpose"]
    rows = []
    for size_text in args.sizes or ["-1x368"]:
        pre = Preprocessor(card.input, parse_size(size_text))
        outputs = []
        for image_id, image in images:
            tensor, box = pre(image)
            outputs.append((image_id, net.run(tensor.copy(), box)))
        for text in settings:
            decoder = Decoder(Skeleton.from_card(card), parse_setting(text))
            results = []
            for image_id, out in outputs:
                results.extend(coco_results(decoder(out), image_id))
            m = coco_eval(data, results, ids)
            rows.append({"size": size_text, "settings": text, **m, "people": len(results)})
            print(f"{size_text:>9}  {text:<50} AP {m['AP']:.3f}  AP50 {m['AP50']:.3f}  AR {m['AR']:.3f}"
                  f"  people {len(results)}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
