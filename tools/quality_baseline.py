"""Measure livepose's quality through its CLI, write models/quality_baseline.json and the docs' figures.

    python tools/quality_baseline.py                # measure; rewrite the baseline and the docs' blocks
    python tools/quality_baseline.py --check        # measure; print baseline vs now; write nothing
    python tools/quality_baseline.py --docs-only    # rewrite the docs' blocks from the baseline; measure nothing
    PYTHONPATH=/tmp/lp-ref python tools/quality_baseline.py --repo /tmp/lp-ref   # measure another checkout

Everything runs through the public command line, ``python -m livepose eval|run|eval-track ... --json``
(or ``--jsonl``), as subprocesses of this Python, always with ``--backend onnxruntime`` (deterministic;
OpenVINO differs slightly) and otherwise default settings.  The livepose measured is the one this
Python finds (``PYTHONPATH`` first, then the installed one); ``--repo DIR`` puts DIR first on the
subprocesses' ``PYTHONPATH`` and measures DIR's fixture photos and clip.  What is written (the
baseline, README.md, benchmarks/README.md) is always this checkout's, the one holding this file.

Sections of the baseline:

* ``coco_fixture``: ``livepose eval`` on the four COCO val2017 photos of tests/data/coco: AP, AP50,
  AP75, APm, APl, AR, people found.
* ``clip``: ``livepose run examples/one-by-one-clip.mp4 --jsonl``: frames, people-frames, distinct
  ids, frames per id, and jitter without ground truth: the mean 2-D norm of the frame-to-frame
  second difference ``x[t+1] - 2 x[t] + x[t-1]`` of each track's joints, for the smoothed
  ``keypoints`` and the ``raw`` ones, over the same samples (same track and joint, both known in
  three consecutive frames); ratio smoothed / raw.
* ``coco_train_mini`` (needs ../shared): ``livepose eval`` on coco-train-mini with the default
  settings, ``--rules tfpose`` and ``--size=-1x432`` (the README's AP table).
* ``bonn_posetrack`` (needs ../shared): ``livepose eval`` on the 41 Bonn frames (a copy of the
  annotations with area = keypoint-box area, as benchmarks/bench_backends.py scores them) and
  ``livepose eval-track``: MOTA, IDF1, switches, precision, recall, keypoint precision and recall,
  jitter raw / smoothed / ratio and the lag smoothing adds.

Without the shared data folder (``$LIVEPOSE_SHARED``, else ../shared beside this checkout, or
``--shared``) those two sections keep their old values and the tool says so.  A section whose
figures did not change keeps its ``recorded`` stamp (date, livepose version, model sha256), so a
rerun on unchanged code leaves the file as it was.

Docs: ``<!-- quality:NAME -->...<!-- /quality:NAME -->`` in README.md and benchmarks/README.md.
NAME is either a dotted path into the baseline (``coco_train_mini.default.AP``; the text between is
the figure, 3 decimals) or a block template of this file (``readme-tracking``,
``benchmarks-baseline``; markers on their own lines, the lines between rewritten).  A marker that
is missing is reported, never an error.

Exit status: 0 done (``--check``: every figure within its tolerance and the docs quote the
baseline), 1 ``--check`` found a difference, 2 a livepose command failed or an input is missing.
The tolerances are stated in tests/e2e/test_quality.py, which checks the same figures (slow, as every
end-to-end test).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import math
import os
import platform
import re
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent  # the checkout written to
BASELINE = ROOT / "models" / "quality_baseline.json"
TEST_FILE = ROOT / "tests" / "e2e" / "test_quality.py"
DIGITS = 4
BACKEND = ("--backend", "onnxruntime")

# inputs, relative to the measured checkout (--repo) or to the shared data folder
COCO_FIXTURE = ("tests/data/coco/test_coco.json", "tests/data/coco")
CLIP = "examples/one-by-one-clip.mp4"
COCO_MINI = ("data/images/coco-train-mini/person_keypoints_train2017.json", "data/images/coco-train-mini")
BONN = ("data/bonn-posetrack/annotations/bonn_test_060470979_frames_present.json", "data/bonn-posetrack")
# coco-train-mini variants: name in the baseline -> extra options (the README's AP table rows)
COCO_MINI_VARIANTS = {"default": (), "size_-1x432": ("--size=-1x432",), "mobilenet_thin": ("--model", "mobilenet_thin"),
                      "mobilenet_thin_rules_tfpose": ("--model", "mobilenet_thin", "--rules", "tfpose")}
EVAL_METRICS = ("AP", "AP50", "AP75", "APm", "APl", "AR")
SECTIONS = ("coco_fixture", "clip", "coco_train_mini", "bonn_posetrack", "networks")
SHARED_SECTIONS = ("coco_train_mini", "bonn_posetrack")
ABOUT = ("Quality of livepose's default pipeline (ONNX Runtime, default settings), measured through its CLI. "
         "Written only by `python tools/quality_baseline.py`; checked by tests/e2e/test_quality.py. Each section's "
         "'recorded' is the run that first gave its figures.")

DOCS = {  # the markers each document is expected to hold (a missing one is reported)
    "README.md": ("readme-tracking", "coco_train_mini.mobilenet_thin_rules_tfpose.AP", "coco_train_mini.default.AP",
                  "coco_train_mini.size_-1x432.AP", "coco_train_mini.mobilenet_thin.AP"),
    "benchmarks/README.md": (
        "coco_train_mini.default.AP", "bonn_posetrack.eval.AP", "bonn_posetrack.eval_track.mota",
        "bonn_posetrack.eval_track.idf1", "coco_train_mini.default.AP50", "coco_train_mini.default.AP75",
        "coco_train_mini.default.APm", "coco_train_mini.default.APl", "coco_train_mini.default.AR",
        "coco_train_mini.default.people_found", "benchmarks-baseline"),
}


class QualityError(Exception):
    """A livepose command failed or an input is missing: one line for the user."""


# --------------------------------------------------------------------------------------------- running

@dataclass
class Runner:
    """Runs ``python -m livepose`` as a subprocess.  ``repo``: the checkout whose inputs are measured
    (and, with ``prepend``, whose livepose runs); ``shared``: the shared data folder or None;
    ``extra``: options added to every measuring command (e.g. ``--threads 1``)."""

    repo: Path = ROOT
    shared: Path | None = None
    prepend: bool = False
    extra: tuple[str, ...] = ()
    python: str = sys.executable
    env: dict = field(default_factory=lambda: dict(os.environ))
    timeout: float = 900.0

    def environment(self) -> dict:
        env = dict(self.env)
        if self.prepend:
            env["PYTHONPATH"] = os.pathsep.join(p for p in (str(self.repo), env.get("PYTHONPATH", "")) if p)
        return env

    def run(self, args: list[str], what: str) -> subprocess.CompletedProcess:
        # cwd: an empty folder, so that `-m` (which puts the working directory first on sys.path) cannot
        # pick up a livepose/ other than the one PYTHONPATH or the installation gives
        with tempfile.TemporaryDirectory(prefix="lp-quality-cwd-") as cwd:
            try:
                out = subprocess.run([self.python, *args], capture_output=True, text=True, cwd=cwd,
                                     env=self.environment(), timeout=self.timeout)
            except subprocess.TimeoutExpired:
                raise QualityError(f"{what}: no answer within {self.timeout:.0f} s") from None
        if out.returncode != 0:
            tail = (out.stderr.strip() or out.stdout.strip()).splitlines()[-3:]
            raise QualityError(f"{what}: exit {out.returncode}: {' | '.join(tail)}")
        return out

    def livepose(self, args: list[str], what: str) -> subprocess.CompletedProcess:
        return self.run(["-m", "livepose", *args, *self.extra], what)

    def repo_file(self, rel: str) -> Path:
        path = self.repo / rel
        if not path.exists():
            raise QualityError(f"{path} is missing")
        return path

    def shared_file(self, rel: str) -> Path:
        assert self.shared is not None
        path = self.shared / rel
        if not path.exists():
            raise QualityError(f"{path} is missing (shared data folder {self.shared})")
        return path

    def shown(self, path: Path | str) -> str:
        """A path as the recorded command line shows it: relative to the checkout, or ../shared/..."""
        path = Path(path)
        for base, prefix in ((self.repo, ""), (self.shared, "../shared/")):
            if base is not None:
                try:
                    return prefix + path.resolve().relative_to(Path(base).resolve()).as_posix()
                except ValueError:
                    pass
        return str(path)


_ABOUT_SCRIPT = """
import json, sys, livepose
from pathlib import Path
from livepose.card import load_card
card = load_card()
import onnxruntime
print(json.dumps({"livepose": livepose.__version__, "package": str(Path(livepose.__file__).resolve().parent),
                  "model": card.name, "model_sha256": card.sha256, "onnxruntime": onnxruntime.__version__,
                  "python": "%d.%d.%d" % sys.version_info[:3]}))
"""


def about_livepose(runner: Runner) -> dict:
    """Which livepose runs: version, package folder, bundled model and its sha256 (from the card)."""
    try:
        return json.loads(runner.run(["-c", _ABOUT_SCRIPT], "reading livepose's version and model card").stdout)
    except QualityError:
        # the card module may have moved: take the version from the CLI, the card from the checkout
        version = runner.livepose(["--version"], "livepose --version").stdout.split()[-1]
        card = json.loads(runner.repo_file("models/mobilenet_thin.json").read_text())
        return {"livepose": version, "package": "?", "model": card["name"], "model_sha256": card["sha256"],
                "onnxruntime": "?", "python": platform.python_version()}


def recorded_stamp(about: dict, today: str | None = None) -> dict:
    return {"date": today or datetime.date.today().isoformat(), "livepose": about["livepose"],
            "model": about["model"], "model_sha256": about["model_sha256"], "onnxruntime": about["onnxruntime"],
            "python": about["python"], "machine": f"{platform.machine()}, {os.cpu_count()} cores"}


def _round(x: Any) -> Any:
    if isinstance(x, float):
        return round(x, DIGITS) if math.isfinite(x) else None
    return x


def _command(args: list[str], runner: Runner, placeholders: dict[str, str]) -> str:
    shown = []
    for a in args:
        if a in placeholders:
            shown.append(placeholders[a])
        elif a.startswith("/") or a.startswith(str(runner.repo)):
            shown.append(runner.shown(a))
        else:
            shown.append(a)
    return "livepose " + shlex.join(shown)


# ---------------------------------------------------------------------------------------- measurements

def _eval(runner: Runner, annotations: Path, images: Path, options: tuple[str, ...], what: str,
          placeholders: dict[str, str] | None = None, with_speed: bool = False) -> dict:
    with tempfile.TemporaryDirectory(prefix="lp-quality-") as tmp:
        report = str(Path(tmp) / "report.json")
        args = ["eval", "--annotations", str(annotations), "--images", str(images), *BACKEND, *options,
                "--json", report, "--quiet"]
        runner.livepose(args, what)
        data = json.loads(Path(report).read_text())
    out = {"command": _command(args, runner, {report: "REPORT.json", **(placeholders or {})}),
           "images": data["num_images"],
           "people_found": data["num_people_found"]}
    out.update({k: _round(float(data["metrics"][k])) for k in EVAL_METRICS})
    if with_speed:
        ms = data.get("timings_ms", {}).get("inference")
        out["speed"] = {"inference_ms": _round(float(ms)) if ms is not None else None,
                        "machine": f"{platform.machine()}, {os.cpu_count()} cores", "backend": BACKEND[1]}
    return out


def measure_coco_fixture(runner: Runner) -> dict:
    ann, images = (runner.repo_file(p) for p in COCO_FIXTURE)
    return _eval(runner, ann, images, (), "livepose eval on the COCO fixture")


def clip_figures(lines: list[str]) -> dict:
    """Frames, people-frames, distinct ids, frames per id and raw / smoothed jitter of a
    ``livepose run --jsonl`` file's lines (see the module docstring)."""
    frames = [json.loads(line) for line in lines if line.strip()]
    tracks: dict[int, dict[int, tuple[list, list]]] = {}
    people_frames = 0
    for fr in frames:
        for p in fr.get("people", []):
            people_frames += 1
            if p.get("id") is not None:
                tracks.setdefault(p["id"], {})[fr["frame"]] = (p["keypoints"], p.get("raw"))
    n_raw = n_sm = 0.0
    samples = 0

    def second_diff(a, b, c) -> float | None:
        if None in (a[0], a[1], b[0], b[1], c[0], c[1]):
            return None
        return math.hypot(c[0] - 2 * b[0] + a[0], c[1] - 2 * b[1] + a[1])

    for by_frame in tracks.values():
        for f in sorted(by_frame):
            if f + 1 not in by_frame or f + 2 not in by_frame:
                continue
            (s0, r0), (s1, r1), (s2, r2) = by_frame[f], by_frame[f + 1], by_frame[f + 2]
            if r0 is None or r1 is None or r2 is None:
                continue
            for j in range(len(s0)):
                dr = second_diff(r0[j], r1[j], r2[j])
                ds = second_diff(s0[j], s1[j], s2[j])
                if dr is None or ds is None:
                    continue
                n_raw += dr
                n_sm += ds
                samples += 1
    raw = n_raw / samples if samples else float("nan")
    smoothed = n_sm / samples if samples else float("nan")
    with_id = sum(len(v) for v in tracks.values())
    return {"frames": len(frames), "people_frames": people_frames, "distinct_ids": len(tracks),
            "frames_per_id": _round(with_id / len(tracks)) if tracks else None,
            "jitter_raw_px": _round(raw), "jitter_smoothed_px": _round(smoothed),
            "jitter_ratio": _round(smoothed / raw) if samples and raw > 0 else None, "jitter_samples": samples}


def measure_clip(runner: Runner) -> dict:
    clip = runner.repo_file(CLIP)
    with tempfile.TemporaryDirectory(prefix="lp-quality-") as tmp:
        jsonl = str(Path(tmp) / "clip.jsonl")
        args = ["run", str(clip), *BACKEND, "--jsonl", jsonl, "--no-display", "--quiet"]
        runner.livepose(args, "livepose run on the clip")
        lines = Path(jsonl).read_text().splitlines()
    return {"command": _command(args, runner, {jsonl: "OUT.jsonl"}), **clip_figures(lines)}


def measure_coco_train_mini(runner: Runner) -> dict:
    ann, images = (runner.shared_file(p) for p in COCO_MINI)
    return {name: _eval(runner, ann, images, options, f"livepose eval on coco-train-mini ({name})")
            for name, options in COCO_MINI_VARIANTS.items()}


def bonn_coco_annotations(path: Path, out: Path) -> Path:
    """The Bonn annotations as pycocotools can score them: every person gets ``bbox`` and an ``area``
    (the keypoint box's; the file has no segment areas), as benchmarks/bench_backends.py does."""
    data = json.loads(path.read_text())
    for ann in data["annotations"]:
        box = ann.get("bbox") or ann.get("bbox_from_keypoints")
        ann["bbox"] = box
        ann["area"] = float(box[2] * box[3])
    out.write_text(json.dumps(data))
    return out


def measure_bonn(runner: Runner) -> dict:
    ann, frames = (runner.shared_file(p) for p in BONN)
    with tempfile.TemporaryDirectory(prefix="lp-quality-") as tmp:
        scored = bonn_coco_annotations(ann, Path(tmp) / "bonn-with-areas.json")
        ev = _eval(runner, scored, frames, (), "livepose eval on the Bonn frames",
                   {str(scored): "BONN-WITH-AREAS.json"})
        ev["note"] = "annotations copied with area = keypoint-box area (they have none); 12 body joints annotated"
        report = str(Path(tmp) / "track.json")
        args = ["eval-track", "--annotations", str(ann), "--frames", str(frames), *BACKEND, "--json", report,
                "--quiet"]
        runner.livepose(args, "livepose eval-track on the Bonn frames")
        data = json.loads(Path(report).read_text())
    m, kp, jit = data["metrics"], data["keypoints"]["smoothed"], data["jitter"]
    track = {"command": _command(args, runner, {report: "REPORT.json"}), "frames": data["num_frames"],
             "people": data["num_gt_people"], "mota": m["mota"], "idf1": m["idf1"], "switches": m["num_switches"],
             "precision": m["precision"], "recall": m["recall"], "keypoint_precision": kp["precision"],
             "keypoint_recall": kp["recall"], "jitter_raw_px": jit["raw_px"], "jitter_smoothed_px": jit["smoothed_px"],
             "jitter_ratio": jit["ratio"], "lag_frames": jit["lag_frames"],
             "every_person_one_id": bool(data["every_person_one_id"])}
    return {"eval": ev, "eval_track": {k: _round(v) for k, v in track.items()}}


_NETWORKS_SCRIPT = """
import json
from livepose.models import bundled_networks
print(json.dumps([n.name for n in bundled_networks()]))
"""


def measure_networks(runner: Runner) -> dict:
    """Per bundled network (``livepose models`` shows these): AP on the COCO fixture with its median
    network milliseconds per photo (``speed``: machine-dependent, shown, not checked), and AP on
    coco-train-mini when the shared data is there (else the old values are kept by ``main``)."""
    names = json.loads(runner.run(["-c", _NETWORKS_SCRIPT], "listing the bundled networks").stdout)
    ann, images = (runner.repo_file(p) for p in COCO_FIXTURE)
    out = {}
    for name in names:
        entry = {"coco_fixture": _eval(runner, ann, images, ("--model", name),
                                       f"livepose eval --model {name} on the COCO fixture", with_speed=True)}
        if runner.shared is not None:
            mini_ann, mini_images = (runner.shared_file(p) for p in COCO_MINI)
            entry["coco_train_mini"] = _eval(runner, mini_ann, mini_images, ("--model", name),
                                             f"livepose eval --model {name} on coco-train-mini", with_speed=True)
        out[name] = entry
    return out


MEASURE = {"coco_fixture": measure_coco_fixture, "clip": measure_clip,
           "coco_train_mini": measure_coco_train_mini, "bonn_posetrack": measure_bonn,
           "networks": measure_networks}


# ------------------------------------------------------------------------------------------ comparing

def figures(section: dict, prefix: str = "") -> dict[str, Any]:
    """The checked figures of a section, flattened: ``{"default.AP": 0.243, ...}`` (numbers and
    booleans; the ``recorded`` stamp, commands and notes are not figures)."""
    out = {}
    for k, v in section.items():
        if k in ("recorded", "speed"):  # when it was measured; speed is the machine's, shown not checked
            continue
        if isinstance(v, dict):
            out.update(figures(v, f"{prefix}{k}."))
        elif isinstance(v, (bool, int, float)) or v is None:
            out[f"{prefix}{k}"] = v
    return out


def tolerance_for(tolerances: dict, section: str, figure: str) -> float | None:
    """``section.figure`` first (e.g. ``coco_train_mini.people_found``), then the figure's last name."""
    leaf = figure.rsplit(".", 1)[-1]
    for key in (f"{section}.{leaf}", f"{section}.{figure}", leaf):
        if key in tolerances:
            return tolerances[key]
    return None


@dataclass
class Row:
    section: str
    figure: str
    baseline: Any
    now: Any
    tolerance: float | None
    status: str  # ok, DIFF, NEW (not in the baseline), MISSING (not measured), NO TOLERANCE

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def compare(section: str, baseline: dict, measured: dict, tolerances: dict) -> list[Row]:
    base, now = figures(baseline), figures(measured)
    rows = []
    for name in list(base) + [n for n in now if n not in base]:
        b, n = base.get(name), now.get(name)
        tol = tolerance_for(tolerances, section, name)
        if name not in base:
            status = "NEW"
        elif name not in now:
            status = "MISSING"
        elif tol is None:
            status = "NO TOLERANCE"
        elif isinstance(b, bool) or isinstance(n, bool) or b is None or n is None:
            status = "ok" if b == n else "DIFF"
        else:
            status = "ok" if abs(float(n) - float(b)) <= tol + 1e-12 else "DIFF"
        rows.append(Row(section, name, b, n, tol, status))
    return rows


def _fmt(x: Any) -> str:
    if x is None:
        return "-"
    if isinstance(x, bool):
        return str(x).lower()
    if isinstance(x, float):
        return f"{x:.4f}"
    return str(x)


def table(rows: list[Row]) -> str:
    head = ("section", "figure", "baseline", "now", "diff", "tolerance", "")
    body = []
    for r in rows:
        try:
            diff = f"{float(r.now) - float(r.baseline):+.4f}" if not isinstance(r.now, bool) else ""
        except (TypeError, ValueError):
            diff = ""
        body.append((r.section, r.figure, _fmt(r.baseline), _fmt(r.now), diff,
                     "-" if r.tolerance is None else f"{r.tolerance:g}", r.status))
    widths = [max(len(str(c)) for c in col) for col in zip(head, *body)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in (head, *body)]
    return "\n".join(lines)


def load_tolerances() -> dict:
    """The tolerances stated at the top of tests/e2e/test_quality.py (imports pytest)."""
    spec = importlib.util.spec_from_file_location("livepose_test_quality", TEST_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.TOLERANCES)


# ----------------------------------------------------------------------------------------------- docs

def _get(baseline: dict, path: str) -> Any:
    node: Any = baseline
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _num(x: Any, digits: int = 3) -> str:
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def _readme_tracking(b: dict) -> str | None:
    t = _get(b, "bonn_posetrack.eval_track")
    if not t:
        return None
    sw = t["switches"]
    switches = f"**{sw} identity switch{'' if sw == 1 else 'es'}**"
    if t.get("every_person_one_id"):
        switches += " (every person keeps one id)"
    lag = t["lag_frames"]
    return (f"On the Bonn PoseTrack sequence ({t['frames']} frames, {t['people']} paddle boarders), "
            f"`livepose eval-track` gives:\n"
            f"MOTA {_num(t['mota'])}, IDF1 {_num(t['idf1'])}, {switches}, keypoint\n"
            f"precision/recall {_num(t['keypoint_precision'])}/{_num(t['keypoint_recall'])}, smoothed jitter "
            f"**{_num(t['jitter_ratio'], 2)}** of raw with **{_num(lag, 1)} frame{'' if abs(lag) <= 1 else 's'}** "
            f"of lag.")


def _stamp(rec: dict | None) -> str:
    if not rec:
        return "not recorded"
    return f"{rec['date']}, livepose {rec['livepose']}, onnxruntime {rec['onnxruntime']}"


def _benchmarks_baseline(b: dict) -> str | None:
    rows = ["| set | command | figures | recorded |", "| --- | --- | --- | --- |"]

    def ev(e: dict) -> str:
        return (f"AP {_num(e['AP'])}, AP50 {_num(e['AP50'])}, AP75 {_num(e['AP75'])}, AR {_num(e['AR'])}; "
                f"{e['people_found']} people found in {e['images']} images")

    if "coco_fixture" in b:
        s = b["coco_fixture"]
        rows.append(f"| COCO fixture (tests/data/coco, 4 val2017 photos) | `{s['command']}` | {ev(s)} | "
                    f"{_stamp(s.get('recorded'))} |")
    if "clip" in b:
        s = b["clip"]
        rows.append(f"| examples/one-by-one-clip.mp4 | `{s['command']}` | {s['frames']} frames, "
                    f"{s['people_frames']} people-frames, {s['distinct_ids']} distinct "
                    f"id{'' if s['distinct_ids'] == 1 else 's'} "
                    f"({_num(s['frames_per_id'], 1)} frames per id); jitter raw {_num(s['jitter_raw_px'], 2)} px, "
                    f"smoothed {_num(s['jitter_smoothed_px'], 2)} px, ratio {_num(s['jitter_ratio'])} "
                    f"({s['jitter_samples']} samples) | {_stamp(s.get('recorded'))} |")
    for name, s in (b.get("coco_train_mini") or {}).items():
        if name != "recorded":
            rows.append(f"| coco-train-mini ({name}) | `{s['command']}` | {ev(s)} | "
                        f"{_stamp(b['coco_train_mini'].get('recorded'))} |")
    if "bonn_posetrack" in b:
        s, rec = b["bonn_posetrack"], _stamp(b["bonn_posetrack"].get("recorded"))
        rows.append(f"| Bonn PoseTrack, 41 frames (areas from the keypoint boxes) | `{s['eval']['command']}` | "
                    f"{ev(s['eval'])} | {rec} |")
        t = s["eval_track"]
        rows.append(f"| Bonn PoseTrack, tracking | `{t['command']}` | MOTA {_num(t['mota'])}, IDF1 {_num(t['idf1'])}, "
                    f"{t['switches']} switches, precision/recall {_num(t['precision'])}/{_num(t['recall'])}, "
                    f"keypoints {_num(t['keypoint_precision'])}/{_num(t['keypoint_recall'])}; jitter raw "
                    f"{_num(t['jitter_raw_px'], 2)} px, smoothed {_num(t['jitter_smoothed_px'], 2)} px "
                    f"(ratio {_num(t['jitter_ratio'])}), lag {_num(t['lag_frames'], 1)} frames | {rec} |")
    sha = next((s["recorded"]["model_sha256"] for s in b.values() if isinstance(s, dict) and "recorded" in s), None)
    model = f"Model sha256 `{sha[:8]}…{sha[-7:]}` (the card's). " if sha else ""
    return ("\n".join(rows) + "\n\n" + model + "Paths: the repository root, `../shared` = the shared data folder; "
            "REPORT.json and OUT.jsonl are temporary files.")


TEMPLATES = {"readme-tracking": _readme_tracking, "benchmarks-baseline": _benchmarks_baseline}
MARKER = re.compile(r"<!-- quality:(?P<name>[\w.\-]+) -->(?P<body>.*?)<!-- /quality:(?P=name) -->", re.S)


def render_doc(text: str, baseline: dict) -> tuple[str, list[str], list[str]]:
    """``text`` with every quality block regenerated from ``baseline``; also the names found and
    notes (a name with no value or template is left as it was)."""
    found, notes = [], []

    def sub(m: re.Match) -> str:
        name = m.group("name")
        found.append(name)
        if name in TEMPLATES:
            new = TEMPLATES[name](baseline)
            if new is None:
                notes.append(f"{name}: the baseline has no figures for it; left as it was")
                return m.group(0)
            return f"<!-- quality:{name} -->\n{new.strip()}\n<!-- /quality:{name} -->"
        value = _get(baseline, name)
        if value is None or isinstance(value, dict):
            notes.append(f"{name}: not a figure of the baseline; left as it was")
            return m.group(0)
        return f"<!-- quality:{name} -->{_num(value)}<!-- /quality:{name} -->"

    return MARKER.sub(sub, text), found, notes


def update_docs(baseline: dict, write: bool = True, root: Path = ROOT) -> list[str]:
    """Regenerate the blocks of every document in DOCS; returns problems (a missing marker, a
    document out of date when not writing, ...) and prints what was done."""
    problems = []
    for rel, expected in DOCS.items():
        path = root / rel
        if not path.is_file():
            problems.append(f"{rel}: missing")
            continue
        text = path.read_text()
        new, found, notes = render_doc(text, baseline)
        for name in expected:
            if name not in found:
                problems.append(f"{rel}: marker quality:{name} is absent (nothing written for it)")
        problems += [f"{rel}: {n}" for n in notes]
        if new != text:
            if write:
                path.write_text(new)
                print(f"{rel}: quality blocks rewritten ({len(found)} markers)")
            else:
                problems.append(f"{rel}: its quality figures differ from the baseline (python tools/quality_baseline.py "
                                "--docs-only rewrites them)")
        elif write:
            print(f"{rel}: quality blocks already up to date ({len(found)} markers)")
    return problems


# ----------------------------------------------------------------------------------------------- main

def load_baseline(path: Path = BASELINE) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def dump_baseline(baseline: dict) -> str:
    ordered = {"about": ABOUT}
    ordered.update({k: baseline[k] for k in SECTIONS if k in baseline})
    return json.dumps(ordered, indent=2, ensure_ascii=False) + "\n"


def default_shared() -> Path:
    return Path(os.environ.get("LIVEPOSE_SHARED", ROOT.parent / "shared"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="See tools/README.md (quality_baseline.py).")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="measure and compare with the baseline; write nothing")
    mode.add_argument("--docs-only", action="store_true", help="rewrite the docs' quality blocks from the baseline")
    p.add_argument("--repo", type=Path, metavar="DIR", help="checkout to measure: first on the subprocesses' PYTHONPATH, and "
                                             "its fixture photos and clip (default: this one, with the livepose "
                                             "Python finds)")
    p.add_argument("--shared", type=Path, metavar="DIR", help="shared data folder (default: $LIVEPOSE_SHARED, else ../shared)")
    p.add_argument("--only", action="append", choices=SECTIONS, help="measure only this section (repeatable); "
                                                                     "the others keep their values")
    p.add_argument("--threads", type=int, metavar="N", help="with --check: pass --threads N to livepose, to see "
                                                            "thread-count noise (the baseline is taken with "
                                                            "livepose's default)")
    p.add_argument("--no-docs", action="store_true", help="write the baseline only, not the docs' blocks")
    p.add_argument("--output", type=Path, default=BASELINE, metavar="JSON", help=f"baseline file (default {BASELINE.relative_to(ROOT)})")
    args = p.parse_args(argv)
    if args.threads and not args.check:
        p.error("--threads only goes with --check (the baseline is taken with livepose's default threads)")

    baseline = load_baseline(args.output)
    if args.docs_only:
        problems = update_docs(baseline)
        for line in problems:
            print(f"note: {line}")
        return 0

    shared = args.shared or default_shared()
    runner = Runner(repo=(args.repo or ROOT).resolve(), shared=shared if shared.is_dir() else None,
                    prepend=args.repo is not None,
                    extra=("--threads", str(args.threads)) if args.threads else ())
    tolerances = load_tolerances() if args.check else {}
    try:
        about = about_livepose(runner)
        print(f"measuring livepose {about['livepose']} from {about['package']} (model {about['model']} "
              f"{str(about['model_sha256'])[:12]}…, onnxruntime {about['onnxruntime']}); inputs from {runner.repo}")
        sections = args.only or list(SECTIONS)
        new = dict(baseline)
        rows: list[Row] = []
        for name in sections:
            if name in SHARED_SECTIONS and runner.shared is None:
                print(f"{name}: shared data folder {shared} is absent: "
                      + ("not checked" if args.check else "keeping the old values"))
                continue
            print(f"{name}: measuring ...", flush=True)
            measured = MEASURE[name](runner)
            old = baseline.get(name)
            if name == "networks" and runner.shared is None and old is not None:
                for net, entry in measured.items():  # coco-train-mini needs the shared data: keep the old
                    if isinstance(old.get(net), dict) and "coco_train_mini" in old[net]:
                        entry["coco_train_mini"] = old[net]["coco_train_mini"]
            if args.check:
                if old is None:
                    print(f"{name}: not in the baseline yet")
                    continue
                rows += compare(name, old, measured, tolerances)
                continue
            if old is not None and figures(old) == figures(measured) and "recorded" in old:
                stamp = old["recorded"]  # the same figures: keep when they were first measured
            else:
                stamp = recorded_stamp(about)
            new[name] = {"recorded": stamp, **measured}
    except QualityError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    if args.check:
        print(table(rows) if rows else "(nothing compared)")
        problems = update_docs(baseline, write=False)
        for line in problems:
            print(f"docs: {line}")
        bad = [r for r in rows if not r.ok]
        drift = [x for x in problems if "differ" in x]
        print(f"{len(rows) - len(bad)}/{len(rows)} figures within tolerance; docs "
              + ("out of date" if drift else "quote the baseline"))
        return 1 if bad or drift else 0

    text = dump_baseline(new)
    if args.output.is_file() and args.output.read_text() == text:
        print(f"{args.output}: unchanged")
    else:
        args.output.write_text(text)
        print(f"{args.output}: written")
    if not args.no_docs and args.output.resolve() == BASELINE.resolve():
        for line in update_docs(new):
            print(f"note: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
