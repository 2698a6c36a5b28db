"""CPU backends side by side: ms per frame, agreement with ONNX Runtime fp32, end-to-end FPS, AP.

    python benchmarks/bench_backends.py                 # every installed backend + precision
    python benchmarks/bench_backends.py --runs 15 --ap  # also COCO AP on coco-train-mini (slow)

For each backend and precision available here (ONNX Runtime fp32 always; OpenVINO fp32, and bf16
when the CPU has BF16):

* network alone: median ms per frame on a real photo letterboxed to 496x368 (a 640x480 frame at
  the default -1x368) and to 432x368, configurations interleaved round by round so that a noisy
  machine affects them alike;
* max abs difference of heatmaps and PAFs from ONNX Runtime fp32 on the same photo;
* end to end: ``livepose run VIDEO --max-frames N --jsonl /tmp/...`` in-process, FPS, against the
  bare network's FPS on the same frames (letterboxed in memory beforehand);
* with ``--ap``: ``livepose eval`` on coco-train-mini, AP next to fp32's (the guard: a reduced
  precision may be the ``auto`` default only when its AP is within 0.01 of fp32).
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

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
VIDEO = SHARED / "video" / "pets09-s2l1-480x360-10fps.avi"
COCO_MINI = SHARED / "images" / "coco-train-mini"
PHOTO = REPO / "examples" / "000000196141.jpg"


def configurations() -> list[tuple[str, str]]:
    from livepose.inference import openvino_available, openvino_cpu_capabilities

    configs = [("onnxruntime", "fp32")]
    if openvino_available():
        configs.append(("openvino", "fp32"))
        if "BF16" in openvino_cpu_capabilities():
            configs.append(("openvino", "bf16"))
        else:
            print("openvino bf16: skipped (no BF16 in OpenVINO's CPU capabilities)")
    else:
        print("openvino: skipped (not installed: pip install -e .[openvino])")
    return configs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10, help="timed runs per configuration and size")
    parser.add_argument("--threads", type=int, help="inference threads (default: all cores)")
    parser.add_argument("--frames", type=int, default=150, help="frames for the end-to-end run")
    parser.add_argument("--ap", action="store_true", help="also COCO AP on coco-train-mini (livepose eval)")
    args = parser.parse_args()

    from livepose.card import load_card
    from livepose.cli import main as cli_main
    from livepose.inference import make_network
    from livepose.preprocess import Preprocessor

    card = load_card(None, None)
    configs = configurations()
    nets = {c: make_network(card, backend=c[0], precision=c[1], threads=args.threads) for c in configs}
    image = cv2.resize(cv2.imread(str(PHOTO)), (640, 480))
    tensors = {}
    for size in ((-1, 368), (432, 368)):
        tensor, box = Preprocessor(card.input, size)(image)
        tensors[box.net_size] = tensor

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
            print(f"  {net_size[0]}x{net_size[1]}  {c[0]:<12} {c[1]}  {statistics.median(times[c]):7.1f} ms")

    tensor = tensors[(496, 368)]
    ref = nets[("onnxruntime", "fp32")].run_raw(tensor)
    print("max abs difference from onnxruntime fp32 on", PHOTO.name, "at 496x368:")
    for c, net in nets.items():
        out = net.run_raw(tensor)
        diffs = {k: float(np.abs(out[k] - ref[k]).max()) for k in ref}
        hm = nets[c].card.heatmaps
        heat = float(np.abs(out[hm.output][..., hm.offset:hm.offset + hm.count]
                            - ref[hm.output][..., hm.offset:hm.offset + hm.count]).max())
        print(f"  {c[0]:<12} {c[1]}  all outputs {max(diffs.values()):.2e}  heatmaps {heat:.2e}")

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
        prepared = [pre(f)[0] for f in frames]
        print(f"end to end: livepose run {VIDEO.name} --max-frames {len(frames)} --jsonl (in-process):")
        for c, net in nets.items():
            t0 = time.perf_counter()
            for t in prepared:
                net.run_raw(t)
            bare = len(prepared) / (time.perf_counter() - t0)
            with tempfile.TemporaryDirectory() as tmp:
                argv = ["run", str(VIDEO), "--max-frames", str(len(frames)), "--jsonl", f"{tmp}/out.jsonl",
                        "--quiet", "--backend", c[0], "--precision", c[1]]
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
        if not ann.is_file():
            print(f"AP: skipped ({ann} absent)")
            return 0
        print("COCO AP on coco-train-mini (livepose eval):")
        base = None
        for c in configs:
            cmd = [sys.executable, "-m", "livepose", "eval", "--annotations", str(ann), "--images", str(COCO_MINI),
                   "--quiet", "--backend", c[0], "--precision", c[1]]
            out = subprocess.run(cmd, capture_output=True, text=True).stdout
            m = re.search(r"^AP ([0-9.]+)", out, re.M)
            ap = float(m.group(1)) if m else float("nan")
            base = ap if base is None else base
            print(f"  {c[0]:<12} {c[1]}  AP {ap:.3f}  (vs onnxruntime fp32 {ap - base:+.3f})  "
                  f"{out.strip().splitlines()[1] if m else out.strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
