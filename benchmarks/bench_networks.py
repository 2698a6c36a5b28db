"""Every bundled network on every engine and precision that runs it here: speed and accuracy, one table.

    python benchmarks/bench_networks.py                            # everything (20-25 min on 2 idle cores)
    python benchmarks/bench_networks.py --json /tmp/networks.json --readme README.md
    python benchmarks/bench_networks.py --only lwop --no-track     # one network, every engine
    python benchmarks/bench_networks.py --only mobilenet_thin:onnxruntime:int8 --no-ap
    python benchmarks/bench_networks.py --render /tmp/networks.json --readme README.md   # no measuring

Rows: each bundled network (``livepose models``) x each engine + precision installed and supported
here: ONNX Runtime fp32 (the card's ONNX model) and int8 (the card's NAME.int8.json sibling when its
model is ONNX: ONNX Runtime cannot read an OpenVINO IR); OpenVINO fp32, bf16 (when OpenVINO's CPU
capabilities list BF16) and int8 (the sibling, ONNX QDQ or IR); fp16 only where ONNX Runtime has
CUDA.  What is left out is listed with the reason.  Columns, per row:

* network alone: ms per frame (``run_raw``) on a real photo letterboxed at the card's default size
  as a 16:9 video frame (1280x720) and a 4:3 one (640x480) would be; every configuration and both
  sizes once per round, the order rotated each round, ``--runs`` rounds after two warm-up runs;
  median and quartiles;
* end to end: ``livepose run VIDEO --max-frames N --jsonl TMP --no-display`` (a subprocess), the FPS
  livepose prints in its summary line (from the first frame read to the last result written: model
  loading excluded, the first frames' warm-up included); ``--e2e-runs`` runs per configuration,
  interleaved, median;
* ``livepose eval`` AP (and AP50, AR, people found, median ms per photo) on coco-train-mini and on
  the 41 Bonn PoseTrack frames (the annotation copy with areas that tools/quality_baseline.py makes;
  12 body joints annotated);
* ``livepose eval-track`` on the Bonn frames: MOTA, IDF1, identity switches;
* accuracy mode (``--accuracy high``: scales 0.5, 1, 1.5 and the mirror image): one more row per
  network, fp32 on the engine whose fp32 network time was the lowest in this run: AP on both sets
  and ms per photo (``livepose eval``'s median preprocess + inference + decode).

Missing shared data (``$LIVEPOSE_SHARED`` or ../shared beside the checkout, or ``--shared``) or a
missing video leaves those columns empty, with the reason in the notes.  ``--json`` writes every
figure with the machine's facts; ``--readme FILE`` rewrites the block between
``<!-- networks-table -->`` and ``<!-- /networks-table -->`` (a file without the markers is left
alone and the tool says so).  Exit status 0, also when a configuration failed (its cells say so);
2 on a bad option.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
PHOTO = REPO / "examples" / "000000196141.jpg"
DEFAULT_VIDEO = "data/video/pets09-s2l1-480x360-10fps.avi"  # relative to the shared folder
COCO_MINI = ("data/images/coco-train-mini/person_keypoints_train2017.json", "data/images/coco-train-mini")
BONN = ("data/bonn-posetrack/annotations/bonn_test_060470979_frames_present.json", "data/bonn-posetrack")
ASPECTS = {"16:9": (1280, 720), "4:3": (640, 480)}  # frame sizes letterboxed for the network timing
MARK_OPEN, MARK_CLOSE = "<!-- networks-table -->", "<!-- /networks-table -->"
ACCURACY = ("--accuracy", "high")


# ------------------------------------------------------------------------------ shared helpers

def quality_baseline_module():
    """tools/quality_baseline.py as a module (its ``bonn_coco_annotations`` is the one copy of the
    Bonn annotations-with-areas recipe)."""
    name = "livepose_tools_quality_baseline"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "tools" / "quality_baseline.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # before exec: its dataclasses look their module up
        spec.loader.exec_module(module)
    return sys.modules[name]


def bonn_coco_annotations(path: Path, out: Path) -> Path:
    """The Bonn annotations with an ``area`` and ``bbox`` per person (tools/quality_baseline.py's)."""
    return quality_baseline_module().bonn_coco_annotations(path, out)


def default_shared() -> Path:
    env = os.environ.get("LIVEPOSE_SHARED")
    return Path(env) if env else REPO.parent / "shared"


def configurations(card, installed=None) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The (backend, precision) pairs that can run ``card`` here, and (``backend precision``, reason)
    for those that cannot.  ``installed``: a :class:`livepose.inference.Installed` (default: probed)."""
    from livepose.card import sibling_card_path
    from livepose.inference import CUDA, Installed

    installed = installed or Installed.probe()
    ok: list[tuple[str, str]] = []
    skipped: list[tuple[str, str]] = []
    own_onnx = card.model_path.suffix.lower() == ".onnx"
    int8 = sibling_card_path(card, "int8")
    int8_model = None
    if int8.is_file():
        int8_model = Path(json.loads(int8.read_text(encoding="utf-8")).get("model", "")).name
    fp16 = sibling_card_path(card, "fp16")

    if own_onnx:
        ok.append(("onnxruntime", "fp32"))
    else:
        skipped.append(("onnxruntime fp32", f"{card.model_path.name} is not an ONNX file"))
    if int8_model is None:
        skipped.append(("int8", f"no {int8.name} beside {card.card_path.name} (python tools/quantize_int8.py)"))
    elif int8_model.lower().endswith(".onnx"):
        ok.append(("onnxruntime", "int8"))
    else:
        skipped.append(("onnxruntime int8", f"{int8_model} is an OpenVINO IR, which ONNX Runtime cannot read"))
    if fp16.is_file():
        if CUDA in installed.providers:
            ok.append(("onnxruntime", "fp16"))
        else:
            skipped.append(("onnxruntime fp16", "fp16 is for CUDA/TensorRT; this ONNX Runtime has no CUDA provider"))
    if installed.openvino:
        ok.append(("openvino", "fp32"))
        if "BF16" in installed.openvino_cpu:
            ok.append(("openvino", "bf16"))
        else:
            skipped.append(("openvino bf16", "no BF16 in OpenVINO's CPU capabilities"))
        if int8_model is not None:
            ok.append(("openvino", "int8"))
    else:
        skipped.append(("openvino", "not installed (pip install -e .[openvino])"))
    return ok, skipped


@dataclass(frozen=True)
class Config:
    network: str    # the bundled network's name (--model)
    backend: str
    precision: str
    model: str = ""  # the file the engine runs (filled in once opened)

    @property
    def key(self) -> str:
        return f"{self.network}:{self.backend}:{self.precision}"

    def options(self) -> list[str]:
        return ["--model", self.network, "--backend", self.backend, "--precision", self.precision]


def selected(config: Config, only: list[str] | None) -> bool:
    """``only``: NETWORK, NETWORK:BACKEND or NETWORK:BACKEND:PRECISION items."""
    if not only:
        return True
    parts = [config.network, config.backend, config.precision]
    return any(spec.split(":") == parts[:len(spec.split(":"))] for spec in only)


def quartiles(values: list[float]) -> dict:
    q1, med, q3 = np.percentile(values, [25, 50, 75])
    return {"median": round(float(med), 2), "q1": round(float(q1), 2), "q3": round(float(q3), 2),
            "runs": [round(v, 2) for v in values]}


def time_networks(nets: dict, tensors: dict, runs: int, warm: int = 2) -> dict:
    """``nets``: {key: network}; ``tensors``: {key: {aspect: tensor}}.  Median ms per ``run_raw`` of
    each network at each aspect, all of them once per round, the order rotated each round."""
    jobs = [(key, aspect) for key in nets for aspect in tensors[key]]
    for key, aspect in jobs:
        for _ in range(warm):
            nets[key].run_raw(tensors[key][aspect])
    times: dict = {job: [] for job in jobs}
    for r in range(runs):
        shift = r % len(jobs)
        for key, aspect in jobs[shift:] + jobs[:shift]:
            t0 = time.perf_counter()
            nets[key].run_raw(tensors[key][aspect])
            times[(key, aspect)].append((time.perf_counter() - t0) * 1e3)
    out: dict = {}
    for (key, aspect), values in times.items():
        out.setdefault(key, {})[aspect] = quartiles(values)
    return out


# ------------------------------------------------------------------------------ running livepose

def livepose(args: list[str], timeout: float = 1800.0) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "livepose", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=timeout)


def _tail(out: subprocess.CompletedProcess) -> str:
    lines = (out.stderr.strip() or out.stdout.strip()).splitlines()
    return f"exit {out.returncode}: " + " | ".join(lines[-2:])


def shown(path: Path, shared: Path) -> str:
    """A path as the docs write it: relative to the checkout, or ../shared/..."""
    for base, prefix in ((REPO, ""), (shared, "../shared/")):
        try:
            return prefix + Path(path).resolve().relative_to(base.resolve()).as_posix()
        except ValueError:
            pass
    return str(path)


SUMMARY = re.compile(r"^(\d+) frames in ([0-9.]+) s \(([0-9.]+) FPS\), ([0-9.]+) people per frame", re.M)


def run_video(config: Config, video: Path, frames: int, extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory(prefix="lp-bench-networks-") as tmp:
        args = ["run", str(video), "--max-frames", str(frames), "--jsonl", f"{tmp}/out.jsonl", "--no-display",
                *config.options(), *extra]
        t0 = time.perf_counter()
        out = livepose(args)
        wall = time.perf_counter() - t0
    m = SUMMARY.search(out.stderr)  # the summary line goes to stderr
    if out.returncode != 0 or not m:
        return {"error": _tail(out)}
    engine = re.search(r"^network: (.*)$", out.stderr, re.M)
    return {"frames": int(m.group(1)), "seconds": float(m.group(2)), "fps": float(m.group(3)),
            "people_per_frame": float(m.group(4)), "wall_s": round(wall, 2),
            "engine": engine.group(1) if engine else None}


def run_eval(config: Config, annotations: Path, images: Path, extra: list[str], mode: tuple[str, ...] = ()) -> dict:
    with tempfile.TemporaryDirectory(prefix="lp-bench-networks-") as tmp:
        report = Path(tmp) / "report.json"
        out = livepose(["eval", "--annotations", str(annotations), "--images", str(images), "--json", str(report),
                        "--quiet", *config.options(), *mode, *extra])
        if out.returncode != 0 or not report.is_file():
            return {"error": _tail(out)}
        data = json.loads(report.read_text())
    m, t = data["metrics"], data.get("timings_ms", {})
    return {"AP": m["AP"], "AP50": m["AP50"], "AP75": m["AP75"], "AR": m["AR"], "images": data["num_images"],
            "people_found": data["num_people_found"], "timings_ms": t,
            "ms_per_photo": round(sum(t.get(k, 0.0) for k in ("preprocess", "inference", "decode")), 2),
            "seconds": data.get("seconds"), "providers": data.get("providers"), "model": data.get("model")}


def run_track(config: Config, annotations: Path, frames: Path, extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory(prefix="lp-bench-networks-") as tmp:
        report = Path(tmp) / "report.json"
        out = livepose(["eval-track", "--annotations", str(annotations), "--frames", str(frames), "--json",
                        str(report), "--quiet", *config.options(), *extra])
        if out.returncode != 0 or not report.is_file():
            return {"error": _tail(out)}
        data = json.loads(report.read_text())
    m = data["metrics"]
    return {"mota": m["mota"], "idf1": m["idf1"], "switches": m["num_switches"], "precision": m["precision"],
            "recall": m["recall"], "every_person_one_id": data.get("every_person_one_id")}


# ------------------------------------------------------------------------------ machine facts

def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    facts = {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(),
             "python": platform.python_version(), "numpy": np.__version__}
    if hasattr(os, "sched_getaffinity"):
        facts["cores_usable"] = len(os.sched_getaffinity(0))
    for name in ("onnxruntime", "openvino", "cv2", "livepose"):
        try:
            facts[name] = __import__(name).__version__
        except Exception:  # noqa: BLE001 - absent or odd: say so
            facts[name] = None
    if facts["openvino"]:  # "2026.4.1-22982-e213a147257-releases/2026/4": the release, then the build
        facts["openvino_build"] = facts["openvino"]
        facts["openvino"] = facts["openvino"].split("-")[0]
    try:
        from livepose.inference import Installed
        installed = Installed.probe()
        facts["onnxruntime_providers"] = list(installed.providers)
        facts["openvino_cpu_capabilities"] = list(installed.openvino_cpu)
    except Exception as exc:  # noqa: BLE001
        facts["probe_error"] = str(exc)
    return facts


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


# ------------------------------------------------------------------------------ measuring

def measure(args) -> dict:
    import cv2

    from livepose.errors import LiveposeError
    from livepose.inference import BackendError, Installed, make_network
    from livepose.models import bundled_networks
    from livepose.preprocess import Preprocessor

    shared = Path(args.shared)
    extra = ["--threads", str(args.threads)] if args.threads else []
    result: dict = {"command": args.command_line, "date": datetime.date.today().isoformat(),
                    "started": datetime.datetime.now().isoformat(timespec="seconds"), "machine": machine(),
                    "load_average_start": load_average(),
                    "settings": {"runs": args.runs, "frames": args.frames, "e2e_runs": args.e2e_runs,
                                 "threads": args.threads or "all", "photo": shown(PHOTO, shared)},
                    "skipped": [], "not_measured": {}, "rows": []}
    installed = Installed.probe()
    networks = bundled_networks()
    result["default_network"] = networks[0].name if networks else None
    if networks:  # what `livepose run` with no options runs here, and the default before lwop
        from livepose.inference import choose_engine
        from livepose.settings import ModelSettings

        auto = choose_engine(ModelSettings(), installed, networks[0].card())
        result["default_key"] = f"{networks[0].name}:{auto.backend}:{auto.precision}"
        if "BF16" in installed.openvino_cpu:  # what the same install runs on a CPU without BF16
            plain = dataclasses.replace(installed, openvino_cpu=tuple(c for c in installed.openvino_cpu if c != "BF16"))
            other = choose_engine(ModelSettings(), plain, networks[0].card())
            result["default_key_without_bf16"] = f"{networks[0].name}:{other.backend}:{other.precision}"
        result["baseline_key"] = "mobilenet_thin:onnxruntime:fp32"

    configs: list[Config] = []
    for info in networks:
        card = info.card()
        ok, skipped = configurations(card, installed)
        if not args.only or any(spec.split(":")[0] == info.name for spec in args.only):
            result["skipped"] += [{"config": f"{info.name} {what}", "reason": why} for what, why in skipped]
        configs += [Config(info.name, b, p) for b, p in ok]
    available = [c.key for c in configs]
    if args.only:
        unknown = [s for s in args.only if not any(selected(c, [s]) for c in configs)]
        if unknown:
            print(f"--only {', '.join(unknown)}: no such configuration here; there are: " + ", ".join(available),
                  file=sys.stderr)
            raise SystemExit(2)
        configs = [c for c in configs if selected(c, args.only)]
    for s in result["skipped"]:
        print(f"skipped: {s['config']}: {s['reason']}")

    # open every engine; one that cannot open is skipped with its message
    nets, tensors, opened = {}, {}, []
    image = cv2.imread(str(PHOTO))
    cards = {info.name: info.card() for info in networks}
    for c in configs:
        try:
            net = make_network(cards[c.network], backend=c.backend, precision=c.precision, threads=args.threads,
                               installed=installed)
        except (BackendError, LiveposeError, RuntimeError) as exc:
            reason = str(exc).splitlines()[0]
            result["skipped"].append({"config": f"{c.network} {c.backend} {c.precision}", "reason": reason})
            print(f"skipped: {c.key}: {reason}")
            continue
        c = Config(c.network, c.backend, c.precision, net.card.model_path.name)
        nets[c.key], opened = net, opened + [c]
        tensors[c.key] = {}
        for aspect, (w, h) in ASPECTS.items():
            tensor, box = Preprocessor(net.card.input, None)(cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA))
            tensors[c.key][aspect] = tensor.copy()
            result.setdefault("sizes", {}).setdefault(c.network, {})[aspect] = list(box.net_size)
        result["rows"].append({"network": c.network, "backend": c.backend, "precision": c.precision,
                               "model": c.model, "mode": "normal", "providers": list(net.providers)})
    configs = opened
    if not configs:
        print("nothing to measure")
        return result
    rows = {r["network"] + ":" + r["backend"] + ":" + r["precision"]: r for r in result["rows"]}
    print("configurations: " + ", ".join(f"{c.key} ({c.model})" for c in configs))

    print(f"network alone: ms per frame, {args.runs} rounds (threads: {args.threads or 'all'}) ...", flush=True)
    timed = time_networks(nets, tensors, args.runs)
    for key, by_aspect in timed.items():
        rows[key]["network_ms"] = by_aspect
        print(f"  {key:<34} " + "  ".join(
            f"{a} {'x'.join(map(str, result['sizes'][key.split(':')[0]][a]))} {v['median']:7.1f} ms "
            f"({v['q1']:.1f}-{v['q3']:.1f})" for a, v in by_aspect.items()))
    nets.clear()  # free the engines' threads and memory before the subprocesses

    video = Path(args.video) if args.video else shared / DEFAULT_VIDEO
    if not video.is_file():
        result["not_measured"]["end to end"] = f"{shown(video, shared)} absent"
        print(f"end to end: skipped ({video} absent)")
    else:
        result["video"] = shown(video, shared)
        cmd = (f"livepose run {shown(video, shared)} --max-frames {args.frames} --jsonl OUT.jsonl --no-display "
               "--model NETWORK --backend BACKEND --precision PRECISION"
               + (f" --threads {args.threads}" if extra else ""))
        result["commands"] = {"end_to_end": cmd}
        print(f"end to end: {cmd}, {args.e2e_runs} run(s) each ...", flush=True)
        runs: dict = {c.key: [] for c in configs}
        for r in range(args.e2e_runs):
            shift = r % len(configs)
            for c in configs[shift:] + configs[:shift]:
                runs[c.key].append(run_video(c, video, args.frames, extra))
        for c in configs:
            good = [x for x in runs[c.key] if "fps" in x]
            if not good:
                rows[c.key]["end_to_end"] = {"error": runs[c.key][0]["error"]}
                print(f"  {c.key:<34} failed: {runs[c.key][0]['error']}")
                continue
            fps = [x["fps"] for x in good]
            e2e = {"fps": round(statistics.median(fps), 2), "fps_runs": fps, "frames": good[0]["frames"],
                   "wall_s_runs": [x["wall_s"] for x in good],
                   "people_per_frame": good[0]["people_per_frame"], "engine": good[0]["engine"]}
            rows[c.key]["end_to_end"] = e2e
            print(f"  {c.key:<34} {e2e['fps']:6.2f} FPS (runs {', '.join(map(str, fps))}; {e2e['frames']} frames; "
                  f"{e2e['engine']})")

    sets: list[tuple[str, Path, Path]] = []
    with tempfile.TemporaryDirectory(prefix="lp-bench-networks-") as tmp:
        if args.no_ap:
            result["not_measured"]["AP"] = "--no-ap"
        else:
            mini_ann, mini_img = (shared / p for p in COCO_MINI)
            if mini_ann.is_file():
                sets.append(("coco_train_mini", mini_ann, mini_img))
            else:
                result["not_measured"]["AP coco-train-mini"] = f"{shown(mini_ann, shared)} absent"
                print(f"AP: coco-train-mini skipped ({mini_ann} absent)")
            bonn_ann, bonn_img = (shared / p for p in BONN)
            if bonn_ann.is_file():
                sets.append(("bonn", bonn_coco_annotations(bonn_ann, Path(tmp) / "bonn-with-areas.json"), bonn_img))
            else:
                result["not_measured"]["AP Bonn"] = f"{shown(bonn_ann, shared)} absent"
                print(f"AP: Bonn skipped ({bonn_ann} absent)")
            result.setdefault("commands", {})["ap"] = {
                name: f"livepose eval --annotations {shown(a, shared) if name != 'bonn' else 'BONN-WITH-AREAS.json'} "
                      f"--images {shown(i, shared)} --json REPORT.json --quiet --model NETWORK --backend BACKEND "
                      "--precision PRECISION" for name, a, i in sets}
        for name, ann, img in sets:
            print(f"AP on {name} (livepose eval) ...", flush=True)
            for c in configs:
                ev = run_eval(c, ann, img, extra)
                rows[c.key].setdefault("ap", {})[name] = ev
                print(f"  {c.key:<34} " + (f"AP {ev['AP']:.3f}  AP50 {ev['AP50']:.3f}  AR {ev['AR']:.3f}  "
                                            f"{ev['people_found']} people  {ev['ms_per_photo']:.1f} ms/photo"
                                            if "AP" in ev else ev["error"]))

        if args.no_track:
            result["not_measured"]["tracking"] = "--no-track"
        else:
            bonn_ann, bonn_img = (shared / p for p in BONN)
            if not bonn_ann.is_file():
                result["not_measured"]["tracking"] = f"{shown(bonn_ann, shared)} absent"
                print(f"tracking: skipped ({bonn_ann} absent)")
            else:
                result.setdefault("commands", {})["tracking"] = (
                    f"livepose eval-track --annotations {shown(bonn_ann, shared)} --frames {shown(bonn_img, shared)} "
                    "--json REPORT.json --quiet --model NETWORK --backend BACKEND --precision PRECISION")
                print("tracking on the Bonn frames (livepose eval-track) ...", flush=True)
                for c in configs:
                    tr = run_track(c, bonn_ann, bonn_img, extra)
                    rows[c.key]["tracking"] = tr
                    print(f"  {c.key:<34} " + (f"MOTA {tr['mota']:.3f}  IDF1 {tr['idf1']:.3f}  switches "
                                                f"{tr['switches']}" if "mota" in tr else tr["error"]))

        if args.no_accuracy or args.no_ap:
            result["not_measured"]["accuracy mode"] = "--no-accuracy" if args.no_accuracy else "--no-ap"
        elif sets:
            print("accuracy mode (--accuracy high), fp32 on the fastest fp32 engine of each network ...", flush=True)
            for network in dict.fromkeys(c.network for c in configs):
                fp32 = [c for c in configs if c.network == network and c.precision == "fp32"]
                if not fp32:
                    why = f"--only selects no fp32 configuration of {network}"
                    result["not_measured"][f"accuracy mode of {network}"] = why
                    print(f"  {network}: skipped ({why})")
                    continue
                best = min(fp32, key=lambda c: sum(v["median"] for v in rows[c.key]["network_ms"].values()))
                row = {"network": network, "backend": best.backend, "precision": "fp32", "model": best.model,
                       "mode": "accuracy high", "engine_choice": (
                           "the lowest fp32 network time of this run among "
                           + ", ".join(c.backend for c in fp32)), "ap": {}}
                for name, ann, img in sets:
                    ev = run_eval(best, ann, img, extra, ACCURACY)
                    row["ap"][name] = ev
                    print(f"  {best.key:<34} {name}: " + (f"AP {ev['AP']:.3f}  AR {ev['AR']:.3f}  "
                                                           f"{ev['ms_per_photo']:.0f} ms/photo"
                                                           if "AP" in ev else ev["error"]))
                result["rows"].append(row)
                result.setdefault("commands", {})["accuracy"] = "the AP commands with --accuracy high"
        else:
            result["not_measured"]["accuracy mode"] = "no AP data set"
    result["load_average_end"] = load_average()
    result["finished"] = datetime.datetime.now().isoformat(timespec="seconds")
    return result


# ------------------------------------------------------------------------------ the table

def _ms(cell: dict | None) -> str:
    return f"{cell['median']:.1f} ({cell['q1']:.1f}–{cell['q3']:.1f})" if cell else "—"


def _ap(row: dict, name: str) -> str:
    ev = (row.get("ap") or {}).get(name)
    if not ev:
        return "—"
    return f"{ev['AP']:.3f}" if "AP" in ev else "failed"


def _precision(row: dict) -> str:
    p = row["precision"]
    if p == "int8":
        return f"int8 ({'IR' if row['model'].endswith('.xml') else 'QDQ'})"
    return p


ENGINES = {"onnxruntime": "ONNX Runtime", "openvino": "OpenVINO"}


def table(result: dict) -> str:
    sizes = result.get("sizes", {})
    head_sizes = {}
    for aspect in ASPECTS:
        distinct = {tuple(s[aspect]) for s in sizes.values() if aspect in s}
        head_sizes[aspect] = "x".join(map(str, distinct.pop())) if len(distinct) == 1 else "card's size"
    video = Path(result.get("video", "video")).name
    lines = ["| network | engine | precision | mode | network ms, 16:9 frame → " + head_sizes["16:9"]
             + " | network ms, 4:3 frame → " + head_sizes["4:3"] + f" | `livepose run` FPS ({video}) | "
             "ms per photo (coco-train-mini) | AP coco-train-mini | AP Bonn | MOTA / IDF1 / switches (Bonn) |",
             "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    default = result.get("default_network")
    order = {n: i for i, n in enumerate(dict.fromkeys(r["network"] for r in result["rows"]))}
    rows = sorted(result["rows"], key=lambda r: (order[r["network"]], r["mode"] != "normal"))
    for r in rows:
        net = r["network"] + (" (default)" if r["network"] == default else "")
        ms = r.get("network_ms", {})
        e2e = r.get("end_to_end")
        fps = "—" if not e2e else (f"{e2e['fps']:.1f}" if "fps" in e2e else "failed")
        mini = (r.get("ap") or {}).get("coco_train_mini") or {}
        photo = f"{mini['ms_per_photo']:.0f}" if "ms_per_photo" in mini else "—"
        tr = r.get("tracking")
        track = "—" if not tr else (f"{tr['mota']:.3f} / {tr['idf1']:.3f} / {tr['switches']}" if "mota" in tr
                                    else "failed")
        mode = "normal" if r["mode"] == "normal" else "`--accuracy high`"
        lines.append(f"| {net} | {ENGINES.get(r['backend'], r['backend'])} | {_precision(r)} | {mode} | "
                     f"{_ms(ms.get('16:9'))} | {_ms(ms.get('4:3'))} | {fps} | {photo} | {_ap(r, 'coco_train_mini')} | "
                     f"{_ap(r, 'bonn')} | {track} |")
    return "\n".join(lines)


def notes(result: dict) -> str:
    m = result["machine"]
    s = result["settings"]
    la, la_end = result.get("load_average_start"), result.get("load_average_end")
    facts = (f"{m.get('cpu')}, {m.get('cores')} cores ({m.get('cores_usable', '?')} usable), "
             f"onnxruntime {m.get('onnxruntime')}, openvino {m.get('openvino') or 'not installed'}, "
             f"Python {m.get('python')}, livepose {m.get('livepose')}"
             + (f"; load average {la[0]:.2f} at the start, {la_end[0]:.2f} at the end" if la and la_end else ""))
    out = [f"Generated by `{result['command']}` on {result['date']} ({facts}). Do not edit by hand: rerun it "
           "(`--render SAVED.json --readme README.md` rewrites the block from a saved `--json`)."]
    rows = result["rows"]
    said = [f"Network ms: `run_raw` alone on {s['photo']} letterboxed as a 1280x720 and a 640x480 frame at the "
            f"card's default size, median (quartiles) of {s['runs']} rounds, every configuration and size once "
            f"per round, threads: {s['threads']}."]
    if any("end_to_end" in r for r in rows):
        said.append(f"FPS: the summary line of `livepose run {result.get('video', 'VIDEO')} --max-frames "
                    f"{s['frames']} --jsonl OUT.jsonl --no-display` (model loading excluded, the first frames' "
                    f"warm-up included), median of {s['e2e_runs']} run(s).")
    images = {name: ev["images"] for r in rows for name, ev in (r.get("ap") or {}).items() if "images" in ev}
    if "coco_train_mini" in images:
        said.append(f"ms per photo: `livepose eval`'s median preprocess + inference + decode on coco-train-mini "
                    f"({images['coco_train_mini']} COCO train2017 photos, which COCO-trained networks were trained "
                    "on: their AP flatters them).")
    if "bonn" in images:
        said.append(f"AP Bonn: `livepose eval` on the {images['bonn']} Bonn PoseTrack frames, 12 body joints "
                    "annotated, person areas from the keypoint boxes (tools/quality_baseline.py's copy).")
    if any("tracking" in r for r in rows):
        said.append("MOTA / IDF1 / switches: `livepose eval-track` on the 41 Bonn PoseTrack frames (4 people).")
    accurate = [r for r in rows if r["mode"] != "normal"]
    if accurate:
        said.append("`--accuracy high` (scales 0.5, 1, 1.5 and the mirror image, averaged): fp32 only, on the "
                    "engine with the lowest fp32 network time of this run ("
                    + ", ".join(f"{r['network']}: {ENGINES.get(r['backend'], r['backend'])}" for r in accurate)
                    + "); AP and ms per photo only.")
    out += ["", " ".join(said)]
    by_key = {f"{r['network']}:{r['backend']}:{r['precision']}": r for r in rows if r["mode"] == "normal"}
    fps = {k: ((r.get("end_to_end") or {}).get("fps")) for k, r in by_key.items()}
    base = fps.get(result.get("baseline_key", ""))
    said = []
    for key, what in (("default_key", "here"), ("default_key_without_bf16", "on a CPU without BF16")):
        mine = fps.get(result.get(key, ""))
        if mine and base:
            said.append(f"{what}, {result[key]}: {mine:.1f} / {base:.1f} FPS = **{mine / base:.2f}x**")
    if said:
        out += ["", f"The default (`livepose run` with no options) against the default before lwop "
                    f"({result['baseline_key']}), end to end in the same run: " + "; ".join(said) + "."]
    skipped = result.get("skipped") or []
    missing = result.get("not_measured") or {}
    if skipped or missing:
        parts = [f"{x['config']}: {x['reason']}" for x in skipped] + [f"{k}: {v}" for k, v in missing.items()]
        out += ["", "Not measured: " + "; ".join(parts) + "."]
    return "\n".join(out)


def block(result: dict) -> str:
    return table(result) + "\n\n" + notes(result)


def rewrite_readme(path: Path, text: str) -> bool:
    """Replace what is between the markers (kept, on their own lines) with ``text``.  False when the
    file lacks them."""
    content = path.read_text(encoding="utf-8")
    start, end = content.find(MARK_OPEN), content.find(MARK_CLOSE)
    if start < 0 or end < start:
        return False
    new = content[:start + len(MARK_OPEN)] + "\n" + text.strip() + "\n" + content[end:]
    if new != content:
        path.write_text(new, encoding="utf-8")
    return True


# ------------------------------------------------------------------------------ main

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", metavar="NETWORK[:BACKEND[:PRECISION]]", action="append",
                        help="measure only these (repeatable), e.g. lwop or mobilenet_thin:openvino:int8")
    parser.add_argument("--runs", type=int, default=10, help="rounds of the network-alone timing (default 10)")
    parser.add_argument("--frames", type=int, default=150, help="frames of the end-to-end run (default 150)")
    parser.add_argument("--e2e-runs", type=int, default=3, help="end-to-end runs per configuration (default 3)")
    parser.add_argument("--video", help=f"video of the end-to-end run (default ../shared/{DEFAULT_VIDEO})")
    parser.add_argument("--shared", default=str(default_shared()),
                        help="the shared data folder (default $LIVEPOSE_SHARED, else ../shared beside the checkout)")
    parser.add_argument("--threads", type=int, help="inference threads (default: all cores)")
    parser.add_argument("--no-ap", action="store_true", help="no livepose eval (and so no accuracy mode)")
    parser.add_argument("--no-track", action="store_true", help="no livepose eval-track")
    parser.add_argument("--no-accuracy", action="store_true", help="no --accuracy high rows")
    parser.add_argument("--json", metavar="PATH", help="write every figure and the machine's facts here")
    parser.add_argument("--readme", metavar="PATH", help="rewrite the block between the networks-table markers")
    parser.add_argument("--render", metavar="JSON", help="measure nothing: the table from a saved --json")
    args = parser.parse_args(argv)
    for name in ("runs", "frames", "e2e_runs"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    shown_argv = sys.argv[1:] if argv is None else argv
    args.command_line = "python benchmarks/bench_networks.py" + "".join(
        " " + shlex.quote(a) for a in shown_argv)

    if args.render:
        result = json.loads(Path(args.render).read_text())
    else:
        result = measure(args)
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
            print(f"wrote {args.json}")
    text = block(result)
    print()
    print(text)
    if args.readme:
        path = Path(args.readme)
        if rewrite_readme(path, text):
            print(f"\nrewrote the block between {MARK_OPEN} and {MARK_CLOSE} in {path}")
        else:
            print(f"\n{path} has no {MARK_OPEN} ... {MARK_CLOSE} markers: nothing written (the table is above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
