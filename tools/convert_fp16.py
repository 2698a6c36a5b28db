"""Write a float16 version of a model and its model card, for `livepose --precision fp16`.

    python tools/convert_fp16.py                               # the bundled mobilenet_thin
    python tools/convert_fp16.py --card models/other.json --out-dir /some/folder

For the card ``NAME.json`` (model ``NAME.onnx``) it writes, beside the card unless ``--out-dir``:

* ``NAME.fp16.onnx``: the same graph with float16 weights and activations; the input and output
  stay float32 (casts at the edges), so letterboxing and decoding are unchanged;
* ``NAME.fp16.json``: a copy of the card naming that file, with its sha256, ``"precision": "fp16"``
  and ``converted_from`` (the source model's file and sha256, the converter and its version).

`livepose run|image|eval --precision fp16` then picks ``NAME.fp16.json`` beside ``NAME.json``.
The converter is ONNX Runtime's own (``onnxruntime.transformers.float16``, shipped in the
onnxruntime wheel) and needs the ``onnx`` package (in the dev extra: ``pip install -e .[dev]``).
After writing, the fp16 model is loaded in ONNX Runtime (CPU provider), run on a real photo
next to the fp32 model and the largest output difference is printed.

Exit status: 0 written and checked; 1 a step failed (one ``error:`` line).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PHOTO = REPO / "examples" / "000000196141.jpg"


class ToolError(Exception):
    pass


def topological_sort(graph) -> None:
    """Reorder ``graph.node`` so that every node comes after the nodes producing its inputs
    (ONNX requires it; the order among independent nodes is kept)."""
    available = {i.name for i in graph.input} | {t.name for t in graph.initializer} | {""}
    pending = list(graph.node)
    ordered = []
    while pending:
        rest = []
        for node in pending:
            if all(name in available for name in node.input):
                ordered.append(node)
                available.update(node.output)
            else:
                rest.append(node)
        if len(rest) == len(pending):
            raise ToolError(f"the converted graph has a cycle or an undefined input near node {rest[0].name!r}")
        pending = rest
    copies = [type(n)() for n in ordered]
    for copy, node in zip(copies, ordered):
        copy.CopyFrom(node)
    del graph.node[:]
    graph.node.extend(copies)


def convert(model_path: Path, out_path: Path) -> str:
    """Convert; returns a description of the converter used."""
    try:
        import onnx
    except ImportError:
        raise ToolError("the onnx package is needed: pip install -e .[dev] (or pip install onnx)") from None
    try:
        import onnxruntime
        from onnxruntime.transformers.float16 import convert_float_to_float16
    except ImportError as exc:
        raise ToolError(f"onnxruntime's float16 converter cannot be imported ({exc})") from None
    model = onnx.load(str(model_path))
    converted = convert_float_to_float16(model, keep_io_types=True)
    topological_sort(converted.graph)  # the converter appends the input casts at the end
    onnx.checker.check_model(converted)
    onnx.save(converted, str(out_path))
    return f"onnxruntime.transformers.float16 (onnxruntime {onnxruntime.__version__}, onnx {onnx.__version__}), keep_io_types"


def check(card_path: Path, fp16_card_path: Path) -> dict:
    """Run both models on a real photo with ONNX Runtime's CPU provider; the output difference."""
    import cv2
    import numpy as np

    from livepose.card import load_card
    from livepose.inference import Network
    from livepose.preprocess import Preprocessor

    card, card16 = load_card(card_path), load_card(fp16_card_path)
    a = Network(card, providers=["CPUExecutionProvider"])
    b = Network(card16, providers=["CPUExecutionProvider"])
    for net in (a, b):
        for arg in net.session.get_inputs() + net.session.get_outputs():
            if arg.type != "tensor(float)":
                raise ToolError(f"{net.card.model_path}: {arg.name} is {arg.type}, expected float32")
    image = cv2.imread(str(PHOTO)) if PHOTO.is_file() else np.full((480, 640, 3), 128, np.uint8)
    tensor, box = Preprocessor(card.input, None)(image)
    out_a, out_b = a.run(tensor, box), b.run(tensor, box)
    return {
        "input": f"{box.net_size[0]}x{box.net_size[1]}",
        "heatmaps_max_abs_diff": float(np.abs(out_a.heatmaps - out_b.heatmaps).max()),
        "pafs_max_abs_diff": float(np.abs(out_a.pafs - out_b.pafs).max()),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--card", type=Path, help="model card (default: the bundled mobilenet_thin.json)")
    ap.add_argument("--out-dir", type=Path, help="where to write (default: beside the card)")
    ap.add_argument("--force", action="store_true", help="overwrite existing output files")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(REPO))
    from livepose.card import bundled_models_dir, load_card
    from livepose.errors import LiveposeError
    from livepose.inference import file_sha256 as sha256

    try:
        card_path = args.card or bundled_models_dir() / "mobilenet_thin.json"
        card = load_card(card_path)
        if card.precision != "fp32":
            raise ToolError(f"{card_path}: field 'precision' is {card.precision!r}; convert an fp32 card")
        if not card.model_path.is_file():
            raise ToolError(f"{card.model_path}: model file not found")
        out_dir = args.out_dir or card.card_path.parent
        out_dir.mkdir(parents=True, exist_ok=True)
        stem = card.card_path.stem
        model_out, card_out = out_dir / f"{stem}.fp16.onnx", out_dir / f"{stem}.fp16.json"
        for path in (model_out, card_out):
            if path.exists() and not args.force:
                raise ToolError(f"{path} exists; pass --force to overwrite")
        converter = convert(card.model_path, model_out)
        data = json.loads(card.card_path.read_text(encoding="utf-8"))
        digest = sha256(model_out)
        data.update(
            model=model_out.name,
            sha256=digest,
            precision="fp16",
            converted_from={"model": card.model_path.name, "sha256": sha256(card.model_path),
                            "tool": "tools/convert_fp16.py", "converter": converter},
        )
        if "description" in data:
            data["description"] += " Float16 weights and activations, float32 input and output."
        card_out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {model_out} ({model_out.stat().st_size / 1e6:.1f} MB, sha256 {digest}) and {card_out}")
        diff = check(card.card_path, card_out)
        print(f"checked with ONNX Runtime (CPU) on {PHOTO.name} at {diff['input']}: largest difference from fp32 "
              f"heatmaps {diff['heatmaps_max_abs_diff']:.4f}, PAFs {diff['pafs_max_abs_diff']:.4f}")
    except (ToolError, LiveposeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
