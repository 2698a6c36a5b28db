"""CPU backends and precisions side by side: ms per frame, agreement with ONNX Runtime fp32,
end-to-end FPS, AP.

    python benchmarks/bench_backends.py                 # every installed backend + precision
    python benchmarks/bench_backends.py --runs 15 --ap  # also COCO AP on coco-train-mini and Bonn (slow)
    python benchmarks/bench_backends.py --ap --track    # and tracking (MOTA, IDF1) on the Bonn frames

For each backend and precision available here for the default network (``--model NAME`` for
another; ONNX Runtime fp32 always; OpenVINO fp32, and bf16 when the CPU has BF16; int8 when the
card has an int8 sibling NAME.int8.json, made by tools/quantize_int8.py: on both engines when it is
an ONNX file, on OpenVINO only when it is an IR; the choice is bench_networks.configurations'):

* network alone: median ms per frame on a real photo letterboxed to 496x368 (a 640x480 frame at
  the default -1x368) and to 432x368, configurations interleaved round by round so that a noisy
  machine affects them alike;
* max abs difference of heatmaps and PAFs from ONNX Runtime fp32 on the same photo (and the mean
  for the heatmaps);
* end to end: ``livepose run VIDEO --max-frames N --jsonl /tmp/...`` in-process, FPS, against the
  bare network's FPS on the same frames (letterboxed in memory beforehand);
* with ``--ap``: ``livepose eval`` on coco-train-mini, AP next to fp32's (the guard: a reduced
  precision may be the ``auto`` default only when its AP is within 0.01 of fp32 and it is
  faster), and the same on the 41 Bonn PoseTrack frames (12 body joints annotated; the file has
  no person areas, so a copy with area = keypoint-box area is scored);
* with ``--track``: ``livepose eval-track`` on the Bonn frames: MOTA, IDF1, identity switches.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_networks as _networks  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
VIDEO = SHARED / "video" / "pets09-s2l1-480x360-10fps.avi"
COCO_MINI = SHARED / "images" / "coco-train-mini"
BONN = SHARED / "bonn-posetrack"
BONN_ANN = BONN / "annotations" / "bonn_test_060470979_frames_present.json"
PHOTO = REPO / "examples" / "000000196141.jpg"


def configurations(card) -> list[tuple[str, str]]:
    """The (backend, precision) pairs that run ``card`` here (bench_networks.configurations: int8
    on ONNX Runtime only when the int8 sibling is an ONNX file, bf16 only with BF16); prints what is
    left out and why."""
    ok, skipped = _networks.configurations(card)
    for what, why in skipped:
        print(f"{what}: skipped ({why})")
    return ok


bonn_coco_annotations = _networks.bonn_coco_annotations  # tools/quality_baseline.py's, the one copy


def _ap(argv: list[str]) -> tuple[float, str]:
    out = subprocess.run([sys.executable, "-m", "livepose", *argv], capture_output=True, text=True, cwd=REPO)
    m = re.search(r"^AP ([0-9.]+).*$", out.stdout, re.M)
    return (float(m.group(1)), m.group(0)) if m else (float("nan"), (out.stdout + out.stderr).strip()[-300:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10, help="timed runs per configuration and size")
    parser.add_argument("--threads", type=int, help="inference threads (default: all cores)")
    parser.add_argument("--frames", type=int, default=150, help="frames for the end-to-end run")
    parser.add_argument("--ap", action="store_true", help="also COCO AP on coco-train-mini and Bonn (livepose eval)")
    parser.add_argument("--track", action="store_true", help="also livepose eval-track on the Bonn frames")
    parser.add_argument("--model", metavar="NAME", help="the bundled network to measure (default: the default one)")
    parser.add_argument("--only", metavar="BACKEND:PRECISION", action="append",
                        help="measure only these configurations (e.g. onnxruntime:int8; repeatable)")
    args = parser.parse_args()

    from livepose.card import load_card
    from livepose.cli import main as cli_main
    from livepose.inference import make_network
    from livepose.models import card_for
    from livepose.preprocess import Preprocessor

    card = card_for(args.model) if args.model else load_card(None, None)
    model = ["--model", args.model] if args.model else []
    configs = configurations(card)
    if args.only:
        configs = [c for c in configs if f"{c[0]}:{c[1]}" in args.only]
    nets = {c: make_network(card, backend=c[0], precision=c[1], threads=args.threads) for c in configs}
    print("configurations: " + ", ".join(f"{c[0]} {c[1]} ({net.card.model_path.name})" for c, net in nets.items()))
    image = cv2.resize(cv2.imread(str(PHOTO)), (640, 480))
    tensors = {}
    for size in ((-1, 368), (432, 368)):
        tensor, box = Preprocessor(card.input, size)(image)
        tensors[box.net_size] = tensor.copy()

    print(f"network alone, median ms per frame over {args.runs} runs (threads: {args.threads or 'all'}):")
    for net_size, tensor in tensors.items():
        for net in nets.values():
            net.run_raw(tensor)  # warm
        times: dict = {c: [] for c in configs}
        for _ in range(args.runs):
            for c, net in nets.items():
                t0 = time.perf_counter()
                net.run_raw(tensor)
                times[c].append((time.perf_counter() - t0) * 1e3)
        for c in configs:
            q1, q3 = np.percentile(times[c], [25, 75])
            print(f"  {net_size[0]}x{net_size[1]}  {c[0]:<12} {c[1]}  {statistics.median(times[c]):7.1f} ms  "
                  f"(quartiles {q1:.1f}-{q3:.1f})")

    tensor = tensors[(496, 368)]
    hm, pf = card.heatmaps, card.pafs
    ref = next(iter(nets.values())).run_raw(tensor) if ("onnxruntime", "fp32") not in nets else \
        nets[("onnxruntime", "fp32")].run_raw(tensor)
    print("difference from onnxruntime fp32 on", PHOTO.name, "at 496x368 (max abs; heatmaps also mean abs):")
    for c, net in nets.items():
        out = net.run_raw(tensor)
        heat = np.abs(out[hm.output][..., hm.offset:hm.offset + hm.count]
                      - ref[hm.output][..., hm.offset:hm.offset + hm.count])
        paf = np.abs(out[pf.output][..., pf.offset:pf.offset + pf.count]
                     - ref[pf.output][..., pf.offset:pf.offset + pf.count])
        print(f"  {c[0]:<12} {c[1]}  heatmaps {heat.max():.2e} (mean {heat.mean():.1e})  PAFs {paf.max():.2e}")

    if VIDEO.is_file():
        cap = cv2.VideoCapture(str(VIDEO))
        frames = []
        while len(frames) < args.frames:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(frame)
        cap.release()
        pre = Preprocessor(card.input, None)
        prepared = [pre(f)[0].copy() for f in frames]
        print(f"end to end: livepose run {VIDEO.name} --max-frames {len(frames)} --jsonl (in-process):")
        for c, net in nets.items():
            t0 = time.perf_counter()
            for t in prepared:
                net.run_raw(t)
            bare = len(prepared) / (time.perf_counter() - t0)
            with tempfile.TemporaryDirectory() as tmp:
                argv = ["run", str(VIDEO), "--max-frames", str(len(frames)), "--jsonl", f"{tmp}/out.jsonl",
                        "--quiet", "--backend", c[0], "--precision", c[1], *model]
                if args.threads:
                    argv += ["--threads", str(args.threads)]
                t0 = time.perf_counter()
                rc = cli_main(argv)
                fps = len(frames) / (time.perf_counter() - t0)
            print(f"  {c[0]:<12} {c[1]}  pipeline {fps:5.2f} FPS  bare network {bare:5.2f} FPS  "
                  f"ratio {fps / bare:.2f}  (exit {rc}; pipeline time includes start-up)")
    else:
        print(f"end to end: skipped ({VIDEO} absent)")

    if args.ap:
        ann = COCO_MINI / "person_keypoints_train2017.json"
        sets = []
        if ann.is_file():
            sets.append(("coco-train-mini", ann, COCO_MINI))
        else:
            print(f"AP: coco-train-mini skipped ({ann} absent)")
        with tempfile.TemporaryDirectory() as tmp:
            if BONN_ANN.is_file():
                sets.append(("bonn (12 body joints)", bonn_coco_annotations(BONN_ANN, Path(tmp) / "bonn.json"), BONN))
            else:
                print(f"AP: bonn skipped ({BONN_ANN} absent)")
            for name, annotations, images in sets:
                print(f"COCO keypoint AP on {name} (livepose eval --annotations {annotations} --images {images}):")
                base = None
                for c in configs:
                    ap, line = _ap(["eval", "--annotations", str(annotations), "--images", str(images), "--quiet",
                                    "--backend", c[0], "--precision", c[1], *model])
                    base = ap if base is None else base
                    print(f"  {c[0]:<12} {c[1]}  AP {ap:.3f}  (vs first {ap - base:+.3f})  {line}")
    if args.track:
        if not BONN_ANN.is_file():
            print(f"tracking: skipped ({BONN_ANN} absent)")
            return 0
        print(f"tracking on the Bonn frames (livepose eval-track --annotations {BONN_ANN} --frames {BONN}):")
        for c in configs:
            out = subprocess.run([sys.executable, "-m", "livepose", "eval-track", "--annotations", str(BONN_ANN),
                                  "--frames", str(BONN), "--quiet", "--backend", c[0], "--precision", c[1], *model],
                                 capture_output=True, text=True, cwd=REPO)
            lines = [ln for ln in out.stdout.splitlines() if ln.startswith(("MOTA", "keypoints:"))]
            print(f"  {c[0]:<12} {c[1]}  " + ("  |  ".join(lines) or (out.stdout + out.stderr).strip()[-300:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
