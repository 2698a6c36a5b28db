"""Convert an OpenVINO IR (version 10: ``NAME.xml`` + ``NAME.bin``) of an OpenPose-style network to
ONNX with our own code, check it against OpenVINO's own runs of the IR, and write its model card.

    python tools/convert_openvino_ir.py IR.xml --out models/lwop.onnx --card models/lwop.json
    python tools/convert_openvino_ir.py IR.xml --out X.onnx [--card X.json] [--weights int8|dq|float]
        [--bin IR.bin] [--name NAME] [--size -1x368] [--pad-value neutral|NUMBER] [--no-check]
        [--check-images PATH ...] [--skeleton models/mobilenet_thin.json] [--force] [--quiet]

What it does (xml.etree and numpy read the IR, the ``onnx`` package of the dev extra writes the
result; neither torch nor OpenVINO is needed for the conversion itself, OpenVINO only for --check):

* **Weight subgraphs are evaluated to constants.** Every layer whose inputs are all constants
  (``Const``, ``Convert``, ``Subtract``, ``Multiply``, ``Add``, ``Reshape``, ``FakeQuantize``) is
  computed with numpy in float32.  In an FP16-INT8 release a weight is
  ``int8 Const -> Convert -> Subtract zero point -> Multiply per-output-channel scale`` (then a
  ``Reshape`` to [groups, out/groups, in/groups, kh, kw] for the depthwise convolutions); float32
  is how OpenVINO's int8 kernels apply it (int8 products, the scale applied in float32).
* **Layers map to standard ONNX operators** (opset 17): ``Convolution`` -> ``Conv``,
  ``GroupConvolution`` -> ``Conv`` with ``group``, ``Add``/``Multiply``/``Subtract`` ->
  ``Add``/``Mul``/``Sub``, ``ReLU`` -> ``Relu``, ``Elu`` -> ``Elu``, ``Concat`` -> ``Concat``;
  a ``Conv`` whose only reader adds a [1, C, 1, 1] constant takes it as its bias.  Any other layer
  type (or a Convert/Reshape on activations) is refused with one ``error:`` line naming it.
* **Activation FakeQuantize nodes are dropped.** They stand for the rounding of activations to
  256 levels that OpenVINO's int8 kernels do; without them the ONNX model computes the activations
  in float32.  Measured: OpenVINO running the same IR with its FakeQuantize bypassed agrees with
  the ONNX file to correlation 0.999998 (that is the conversion); OpenVINO running the IR as it is
  differs more (its int8 execution, mostly where it requantizes the inputs of ``concat_stage2`` to
  one common range), and gives the lower AP (models/README.md).
* **Weights are stored int8** where the IR's are int8 with one scale per output channel
  (``--weights int8``, the default): the int8 tensor and the float32 scales go into the file, and
  ``Cast`` + ``Mul`` (+ ``Sub`` for a zero point that is not 0) in front of the ``Conv`` give the
  float weights back.  ONNX Runtime and OpenVINO fold those into float constants when they load the
  model, so it runs exactly as fast as float32 weights at a quarter of the size.  ``--weights dq``
  uses ``DequantizeLinear`` instead: same size and outputs, but ONNX Runtime keeps those nodes (to
  look for quantized operator patterns) and runs them on every frame (slower, measured);
  ``--weights float`` stores float32 (4x larger).  A zero point that is not a whole number (this
  IR's are +-7.6e-06, an fp16 residue of the quantizer) is rounded when within 1e-3 of a quantum;
  a weight that is not int8 per channel, or whose int8 form would not equal the float one, is
  stored float32.
* **The input** keeps its name; its batch, height and width become dynamic (``N``, ``H``, ``W``).
  Outputs keep the names OpenVINO gives them.

The card (``--card``, default ``--out`` with .json) takes parts, limbs and flip pairs from
``--skeleton`` (default the bundled mobilenet_thin card: the same OpenPose-COCO parts, limbs and PAF
channel pairs), finds which output holds the heatmaps (parts, or parts + background) and which the PAFs
(2 per limb) by their channel counts, takes the stride from the IR's own input and output sizes,
reads the input normalisation from the graph (the ``Multiply``/``Add`` constants after the
``Parameter``) and writes ``mean`` 0, ``scale`` 1 (the normalisation stays in the graph), the pad
value and the provenance (``converted_from``).  ``--pad-value neutral`` (the default) pads with
the raw value that the graph's normalisation turns into 0 (128 here), as the Open Model Zoo demo
and the original Lightweight OpenPose code pad.

``--check`` (on unless ``--no-check``; needs OpenVINO): letterboxes ``--check-images`` (default the
4 COCO photos of tests/data/coco) with livepose's own Preprocessor and the new card, runs the ONNX
file on ONNX Runtime, and the IR on OpenVINO (``openvino.Core().read_model``, reshaped to the same
input size, f32 inference precision) twice: with every FakeQuantize bypassed, and as it is.  It
prints, per output, the lowest correlation over the photos and the mean and largest absolute
difference, and fails (exit 1, one line) when, on any photo,
  against the bypassed run: a correlation is below %(CONVERSION_MIN_CORR)s or a mean abs difference above
  %(CONVERSION_MAX_REL_MEAN_ABS)s of the output's standard deviation (a conversion error shows here);
  against the IR as it is: the heatmap correlation is below %(HEAT_MIN_CORR)s, the PAF correlation
  below %(PAF_MIN_CORR)s, or a mean abs difference above %(MAX_REL_MEAN_ABS)s of the output's standard deviation;
  with int8 weights, against the same conversion with float32 weights: a difference above %(MAX_STORAGE_DIFF)s.

Exit status: 0 written (and checked); 2 bad input (a missing or unreadable path, not an IR, an IR
of another version, a layer type this converter does not know, a .bin of the wrong size, an
output that exists without ``--force``): one ``error: <path>: <what>`` line, never a traceback;
1 the check failed, or another step did (one ``error:`` line).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SKELETON = REPO / "models" / "mobilenet_thin.json"
DEFAULT_CHECK_IMAGES = REPO / "tests" / "data" / "coco"
IR_VERSION = "10"
OPSET = 17
ONNX_IR_VERSION = 8  # readable by every onnxruntime >= 1.17 (the project's minimum)

# --check thresholds (mean abs differences as a fraction of the output's standard deviation, so that
# they hold for any network).  Measured on the 4 fixture photos at -1x368 with OpenVINO 2026.4 on an
# AVX-512 VNNI CPU: against the bypassed (float) run correlation >= 0.999998, mean abs 1.4e-05 / 1.0e-05
# (6.6e-05 / 2.2e-04 of the std); against the IR as it is, heatmaps 0.99934-0.99985 and PAFs
# 0.958-0.997 (the lowest on 000000000785.jpg), mean abs 0.0024 / 0.0027 (0.011 / 0.070 of the std);
# the shared README reports 0.9998 / 0.997 on other photos.  The margins leave room for other
# OpenVINO versions and CPUs, whose int8 kernels round differently.
CONVERSION_MIN_CORR = 0.9999
CONVERSION_MAX_REL_MEAN_ABS = 0.002
HEAT_MIN_CORR = 0.998
PAF_MIN_CORR = 0.93
MAX_REL_MEAN_ABS = 0.15
MAX_STORAGE_DIFF = 1e-3  # int8-stored weights against float32 weights (zero points rounded)
ZERO_POINT_TOLERANCE = 1e-3  # of one quantum: a zero point this close to a whole number is rounded

__doc__ = __doc__ % {"CONVERSION_MIN_CORR": CONVERSION_MIN_CORR,
                     "CONVERSION_MAX_REL_MEAN_ABS": CONVERSION_MAX_REL_MEAN_ABS, "HEAT_MIN_CORR": HEAT_MIN_CORR,
                     "PAF_MIN_CORR": PAF_MIN_CORR, "MAX_REL_MEAN_ABS": MAX_REL_MEAN_ABS,
                     "MAX_STORAGE_DIFF": MAX_STORAGE_DIFF}

# IR element types -> numpy
ELEMENT_TYPES = {"f16": np.float16, "f32": np.float32, "f64": np.float64, "i8": np.int8, "u8": np.uint8,
                 "i16": np.int16, "u16": np.uint16, "i32": np.int32, "u32": np.uint32, "i64": np.int64,
                 "u64": np.uint64, "boolean": np.bool_}
# layers computed on activations, and those only allowed on constants (evaluated here)
ACTIVATION_LAYERS = {"Parameter", "Result", "Convolution", "GroupConvolution", "Add", "Multiply", "Subtract",
                     "ReLU", "Elu", "Concat", "FakeQuantize"}
CONSTANT_ONLY_LAYERS = {"Const", "Convert", "Reshape"}
KNOWN_LAYERS = ACTIVATION_LAYERS | CONSTANT_ONLY_LAYERS
ELEMENTWISE_ONNX = {"Add": "Add", "Multiply": "Mul", "Subtract": "Sub"}


class InputError(Exception):
    """Bad input: ``error: <path>: <what>``, exit status 2."""

    def __init__(self, path, what: str):
        super().__init__(f"{path}: {what}")


class ToolError(Exception):
    """A step failed (the check, a write): exit status 1."""


# ------------------------------------------------------------------------------------ reading the IR

@dataclass
class Layer:
    id: str
    name: str
    type: str
    data: dict
    in_ports: list[int] = field(default_factory=list)
    out_ports: list[tuple[int, list[int], list[str]]] = field(default_factory=list)  # (port, dims, names)


@dataclass
class IR:
    xml_path: Path
    bin_path: Path
    name: str
    layers: dict[str, Layer]  # in file order
    sources: dict[tuple[str, int], tuple[str, int]]  # (to layer, to port) -> (from layer, from port)
    weights: bytes
    order: list[str] = field(default_factory=list)  # topological

    def input_of(self, layer: Layer, k: int) -> tuple[str, int]:
        """(layer id, port) feeding the k-th input port of ``layer``."""
        return self.sources[(layer.id, layer.in_ports[k])]

    def consumers(self) -> dict[tuple[str, int], list[tuple[str, int]]]:
        out: dict[tuple[str, int], list[tuple[str, int]]] = {}
        for dst, src in self.sources.items():
            out.setdefault(src, []).append(dst)
        return out


def _dims(port: ET.Element) -> list[int]:
    try:
        return [int(d.text) for d in port.findall("dim")]
    except (TypeError, ValueError):
        return []


def read_ir(xml_path: str | Path, bin_path: str | Path | None = None) -> IR:
    """Parse and check an IR v10 (layers, edges, the .bin's size); raises InputError."""
    xml_path = Path(xml_path)
    if not xml_path.exists():
        raise InputError(xml_path, "not found")
    if not xml_path.is_file():
        raise InputError(xml_path, "not a file")
    try:
        root = ET.parse(xml_path).getroot()
    except ET.ParseError as exc:
        raise InputError(xml_path, f"not an XML file ({exc})") from None
    except OSError as exc:
        raise InputError(xml_path, f"cannot read ({exc.strerror or exc})") from None
    if root.tag != "net" or root.find("layers") is None or root.find("edges") is None:
        raise InputError(xml_path, f"not an OpenVINO IR (root element <{root.tag}>, expected <net> with <layers> "
                                   "and <edges>)")
    version = root.get("version")
    if version != IR_VERSION:
        raise InputError(xml_path, f"IR version {version}, this converter reads version {IR_VERSION}")

    layers: dict[str, Layer] = {}
    for el in root.find("layers"):
        lid, ltype = el.get("id"), el.get("type")
        if lid is None or ltype is None:
            raise InputError(xml_path, "a <layer> without id or type")
        if lid in layers:
            raise InputError(xml_path, f"layer id {lid} appears twice")
        if ltype not in KNOWN_LAYERS:
            raise InputError(xml_path, f"layer {el.get('name')!r} (id {lid}) has type {ltype}, which this converter "
                                       f"does not know (it knows {', '.join(sorted(KNOWN_LAYERS))})")
        data = el.find("data")
        layer = Layer(lid, el.get("name") or f"layer{lid}", ltype, dict(data.attrib) if data is not None else {})
        inp = el.find("input")
        if inp is not None:
            layer.in_ports = [int(p.get("id")) for p in inp.findall("port")]
        out = el.find("output")
        if out is not None:
            for p in out.findall("port"):
                names = [n.strip() for n in (p.get("names") or "").split(",") if n.strip()]
                layer.out_ports.append((int(p.get("id")), _dims(p), names))
        layers[lid] = layer

    sources: dict[tuple[str, int], tuple[str, int]] = {}
    for e in root.find("edges"):
        try:
            src = (e.get("from-layer"), int(e.get("from-port")))
            dst = (e.get("to-layer"), int(e.get("to-port")))
        except (TypeError, ValueError):
            raise InputError(xml_path, "an <edge> without from-layer/from-port/to-layer/to-port") from None
        if src[0] not in layers or dst[0] not in layers:
            raise InputError(xml_path, f"an edge names a layer that does not exist ({src[0]} -> {dst[0]})")
        sources[dst] = src
    for layer in layers.values():
        for port in layer.in_ports:
            if (layer.id, port) not in sources:
                raise InputError(xml_path, f"input port {port} of layer {layer.name!r} is not connected")

    bin_path = Path(bin_path) if bin_path is not None else xml_path.with_suffix(".bin")
    if not bin_path.is_file():
        raise InputError(bin_path, "not found (the IR's weights, beside the .xml)")
    try:
        weights = bin_path.read_bytes()
    except OSError as exc:
        raise InputError(bin_path, f"cannot read ({exc.strerror or exc})") from None
    end = 0
    for layer in layers.values():
        if layer.type != "Const":
            continue
        try:
            offset, size = int(layer.data["offset"]), int(layer.data["size"])
        except (KeyError, ValueError):
            raise InputError(xml_path, f"Const layer {layer.name!r} has no offset/size") from None
        end = max(end, offset + size)
    if end != len(weights):
        raise InputError(bin_path, f"wrong size: {len(weights)} bytes, the IR's constants "
                                   f"{'need' if end > len(weights) else 'use'} {end} (not this IR's .bin?)")
    ir = IR(xml_path, bin_path, root.get("name") or xml_path.stem, layers, sources, weights)
    ir.order = _topological(ir)
    return ir


def _topological(ir: IR) -> list[str]:
    deps = {lid: {ir.sources[(lid, p)][0] for p in layer.in_ports} for lid, layer in ir.layers.items()}
    users: dict[str, list[str]] = {lid: [] for lid in ir.layers}
    for lid, ds in deps.items():
        for d in ds:
            users[d].append(lid)
    pending = {lid: len(ds) for lid, ds in deps.items()}
    ready = [lid for lid in ir.layers if pending[lid] == 0]
    order: list[str] = []
    while ready:
        lid = ready.pop(0)
        order.append(lid)
        for u in users[lid]:
            pending[u] -= 1
            if pending[u] == 0:
                ready.append(u)
    if len(order) != len(ir.layers):
        raise InputError(ir.xml_path, "the layers form a cycle")
    return order


# ------------------------------------------------------------------------------ constant evaluation

@dataclass
class QuantWeight:
    """An int8 weight as the IR stores it: (q - zero_point) * scale, per output channel (axis 0)."""

    q: np.ndarray  # int8
    zero_point: np.ndarray  # float32, broadcastable to q
    scale: np.ndarray  # float32, broadcastable to q


def _const_array(ir: IR, layer: Layer) -> np.ndarray:
    etype = layer.data.get("element_type")
    if etype not in ELEMENT_TYPES:
        raise InputError(ir.xml_path, f"Const layer {layer.name!r} has element type {etype!r}, not one of "
                                      f"{', '.join(ELEMENT_TYPES)}")
    shape_text = layer.data.get("shape", "")
    shape = [int(s) for s in shape_text.split(",") if s.strip()] if shape_text.strip() else []
    dtype = np.dtype(ELEMENT_TYPES[etype])
    offset, size = int(layer.data["offset"]), int(layer.data["size"])
    if size != int(np.prod(shape, dtype=np.int64)) * dtype.itemsize:
        raise InputError(ir.xml_path, f"Const layer {layer.name!r}: size {size} does not match shape {shape} "
                                      f"of {etype}")
    return np.frombuffer(ir.weights, dtype, count=size // dtype.itemsize, offset=offset).reshape(shape).copy()


def _reshape_target(x: np.ndarray, target: np.ndarray, special_zero: bool) -> list[int]:
    shape = [int(v) for v in np.asarray(target).reshape(-1)]
    if special_zero:
        shape = [x.shape[i] if v == 0 else v for i, v in enumerate(shape)]
    return shape


def fake_quantize(x, in_low, in_high, out_low, out_high, levels: int) -> np.ndarray:
    """OpenVINO's FakeQuantize-1, elementwise with numpy broadcasting."""
    x = np.asarray(x, np.float32)
    lo, hi = np.minimum(in_low, in_high), np.maximum(in_low, in_high)
    span = np.where(in_high == in_low, 1.0, in_high - in_low)
    q = np.round((x - in_low) / span * (levels - 1)) / (levels - 1) * (out_high - out_low) + out_low
    return np.where(x <= lo, out_low, np.where(x > hi, out_high, q)).astype(np.float32)


def evaluate_constants(ir: IR) -> tuple[dict[tuple[str, int], np.ndarray], dict[tuple[str, int], QuantWeight]]:
    """Every layer output computable from constants alone, in float32 (integer tensors, e.g. shapes,
    keep their type), and which of them are int8 weights with their scales (for int8 storage)."""
    values: dict[tuple[str, int], np.ndarray] = {}
    quant: dict[tuple[str, int], QuantWeight] = {}
    raw_int8: dict[tuple[str, int], np.ndarray] = {}
    for lid in ir.order:
        layer = ir.layers[lid]
        if layer.type == "Parameter" or layer.type == "Result":
            continue
        srcs = [ir.input_of(layer, k) for k in range(len(layer.in_ports))]
        if layer.type != "Const" and not all(s in values for s in srcs):
            if layer.type in CONSTANT_ONLY_LAYERS:
                raise InputError(ir.xml_path, f"layer {layer.name!r} ({layer.type}) computes on activations, "
                                              "which this converter does not support")
            continue
        args = [values[s] for s in srcs]
        out_key = (lid, layer.out_ports[0][0]) if layer.out_ports else (lid, 0)
        t = layer.type
        if t == "Const":
            value = _const_array(ir, layer)
            if value.dtype == np.int8:
                raw_int8[out_key] = value
            if np.issubdtype(value.dtype, np.floating):
                value = value.astype(np.float32)
        elif t == "Convert":
            dst = layer.data.get("destination_type", "f32")
            if dst not in ELEMENT_TYPES:
                raise InputError(ir.xml_path, f"Convert layer {layer.name!r} to unknown type {dst!r}")
            src_val = args[0]
            value = src_val.astype(np.float32) if dst in ("f16", "f32", "f64") else src_val.astype(ELEMENT_TYPES[dst])
            if srcs[0] in raw_int8:
                quant[out_key] = QuantWeight(raw_int8[srcs[0]], np.zeros((), np.float32), np.ones((), np.float32))
        elif t in ELEMENTWISE_ONNX:
            a, b = args
            value = {"Add": np.add, "Multiply": np.multiply, "Subtract": np.subtract}[t](a, b)
            if np.issubdtype(value.dtype, np.floating):
                value = value.astype(np.float32)
            # the dequantization pattern: Convert(int8) - zero point, then * scale
            qa = quant.get(srcs[0])
            if t == "Subtract" and qa is not None and np.all(qa.scale == 1) and np.all(qa.zero_point == 0):
                quant[out_key] = QuantWeight(qa.q, np.asarray(b, np.float32), qa.scale)
            elif t == "Multiply":
                k = 0 if qa is not None else 1
                qa = quant.get(srcs[k])
                if qa is not None and np.all(qa.scale == 1):
                    quant[out_key] = QuantWeight(qa.q, qa.zero_point, np.asarray(args[1 - k], np.float32))
        elif t == "Reshape":
            x, target = args
            value = x.reshape(_reshape_target(x, target, layer.data.get("special_zero", "false") == "true"))
            qa = quant.get(srcs[0])
            if qa is not None:
                quant[out_key] = qa  # the int8 data is reshaped with the weight when it is stored
        elif t == "FakeQuantize":
            value = fake_quantize(*args, levels=int(layer.data.get("levels", 256)))
        else:  # a type that only runs on activations, here on constants
            raise InputError(ir.xml_path, f"layer {layer.name!r} ({t}) has only constant inputs, which this "
                                          "converter does not evaluate")
        values[out_key] = value
    return values, quant


# ------------------------------------------------------------------------------------ building ONNX

@dataclass
class Stats:
    layers: dict[str, int] = field(default_factory=dict)
    fake_quantize_dropped: int = 0
    fake_quantize_emulated: int = 0
    weights_int8: int = 0
    weights_float: int = 0
    zero_point_rounding: float = 0.0  # largest |zp - round(zp)|, in quanta
    biases_fused: int = 0
    normalisation: tuple[float, float] | None = None  # (mean, scale) read from the graph: x = (pixel - mean) * scale
    input_dims: list[int] = field(default_factory=list)  # the IR's own input shape
    output_dims: dict[str, list[int]] = field(default_factory=dict)  # ONNX output name -> the IR's shape


def _ints(text: str | None, default: list[int]) -> list[int]:
    if text is None or not text.strip():
        return default
    return [int(v) for v in text.split(",")]


def _int8_weight(qw: QuantWeight, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float] | None:
    """(q, scale, zero_point, rounding) for a DequantizeLinear giving ``weight`` (axis 0), or None when
    the IR's weight is not int8 with one scale and zero point per output channel."""
    out = weight.shape[0]
    q = qw.q.reshape(weight.shape) if qw.q.size == weight.size else None
    if q is None:
        return None
    try:
        scale = np.broadcast_to(qw.scale, qw.q.shape)
        zp = np.broadcast_to(qw.zero_point, qw.q.shape)
    except ValueError:
        return None
    scale = scale.reshape(out, -1)
    zp = zp.reshape(out, -1)
    if not (np.all(scale == scale[:, :1]) and np.all(zp == zp[:, :1])):
        return None  # not per output channel
    scale, zp = scale[:, 0].astype(np.float32), zp[:, 0].astype(np.float32)
    if np.any(scale == 0) or not np.all(np.isfinite(scale)):
        return None
    zp_int = np.round(zp)
    rounding = float(np.abs(zp - zp_int).max()) if zp.size else 0.0
    if rounding > ZERO_POINT_TOLERANCE or np.any(zp_int < -128) or np.any(zp_int > 127):
        return None
    zp8 = zp_int.astype(np.int8)
    shape = (out,) + (1,) * (weight.ndim - 1)
    deq = (q.astype(np.float32) - zp8.astype(np.float32).reshape(shape)) * scale.reshape(shape)
    # equal to the float weights up to the rounded zero point (|zp - round(zp)| * scale) and float32 rounding
    tolerance = float((np.abs(zp - zp_int) * np.abs(scale)).max()) * 1.01 + float(np.abs(weight).max()) * 2.0 ** -20
    if not np.allclose(deq, weight, rtol=0, atol=tolerance):
        return None
    return q.astype(np.int8), scale, zp8, rounding


def build_onnx(ir: IR, weights: str = "int8", activations: str = "drop"):
    """The ONNX model (onnx.ModelProto) of the IR, and the Stats of the conversion.  ``weights``: int8,
    dq or float (see the module docstring); ``activations``: what to do with activation FakeQuantize
    nodes, ``drop`` (what the tool ships) or ``emulate`` (their rounding in float ops: a diagnostic,
    it brings the result no closer to OpenVINO's int8 run)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    values, quant = evaluate_constants(ir)
    stats = Stats()
    consumers = ir.consumers()
    nodes, initializers, inputs, outputs = [], [], [], []
    used_names: set[str] = set()
    tensor: dict[tuple[str, int], str] = {}  # IR output port -> ONNX tensor name

    def unique(name: str) -> str:
        base, k = name, 1
        while name in used_names:
            k += 1
            name = f"{base}:{k}"
        used_names.add(name)
        return name

    def const_input(key: tuple[str, int], name: str) -> str:
        arr = values[key]
        if np.issubdtype(arr.dtype, np.floating):
            arr = arr.astype(np.float32)
        n = unique(name)
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(arr), n))
        return n

    def operand(layer: Layer, k: int) -> str:
        src = ir.input_of(layer, k)
        if src in values:
            return const_input(src, f"{layer.name}/const{k}")
        if src not in tensor:
            raise InputError(ir.xml_path, f"layer {layer.name!r}: input {k} comes from a layer not converted")
        return tensor[src]

    # graph outputs take the name OpenVINO gives them: the producing port's names, else its layer's name
    result_names: dict[tuple[str, int], str] = {}
    for layer in ir.layers.values():
        if layer.type == "Result":
            src = ir.input_of(layer, 0)
            producer = ir.layers[src[0]]
            port_names = next((names for p, _, names in producer.out_ports if p == src[1]), [])
            result_names[src] = port_names[0] if port_names else producer.name
    used_names.update(result_names.values())

    def out_name(layer: Layer, port: int) -> str:
        key = (layer.id, port)
        return result_names[key] if key in result_names else unique(layer.name)

    fused_into: dict[str, tuple[str, int]] = {}  # Add layer id -> the conv's IR port whose tensor it takes

    for lid in ir.order:
        layer = ir.layers[lid]
        t = layer.type
        if t == "Const" or (layer.out_ports and (lid, layer.out_ports[0][0]) in values):
            continue  # evaluated
        stats.layers[t] = stats.layers.get(t, 0) + 1
        port = layer.out_ports[0][0] if layer.out_ports else 0
        if t == "Parameter":
            dims = layer.out_ports[0][1] if layer.out_ports else []
            if len(dims) != 4:
                raise InputError(ir.xml_path, f"input {layer.name!r} has shape {dims}, expected [N, C, H, W]")
            name = unique(layer.name)
            stats.input_dims = list(dims)
            inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", dims[1], "H", "W"]))
            tensor[(lid, port)] = name
        elif t == "Result":
            src = ir.input_of(layer, 0)
            src_layer = ir.layers[src[0]]
            dims = next((d for p, d, _ in src_layer.out_ports if p == src[1]), [])
            name = tensor[src]
            shape = ["N", dims[1], None, None] if len(dims) == 4 else None
            stats.output_dims[name] = list(dims)
            outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))
        elif t == "FakeQuantize" and activations == "emulate":
            # the IR's rounding of the activation, with float ops (to check the conversion, not to ship)
            stats.fake_quantize_emulated += 1
            x = operand(layer, 0)
            lim = [ir.input_of(layer, k) for k in range(1, 5)]
            if not all(k in values for k in lim):
                raise InputError(ir.xml_path, f"layer {layer.name!r}: FakeQuantize ranges computed from activations")
            il, ih, ol, oh = (values[k].astype(np.float32) for k in lim)
            levels = float(int(layer.data.get("levels", 256)) - 1)
            consts = {"lo": np.minimum(il, ih), "hi": np.maximum(il, ih), "il": il,
                      "step": (levels / np.where(ih == il, 1, ih - il)).astype(np.float32),
                      "ostep": ((oh - ol) / levels).astype(np.float32), "ol": ol}
            cn = {}
            for k, v in consts.items():
                cn[k] = unique(f"{layer.name}/{k}")
                initializers.append(numpy_helper.from_array(np.ascontiguousarray(v, np.float32), cn[k]))
            steps = [("Min", [x, cn["hi"]]), ("Max", [None, cn["lo"]]), ("Sub", [None, cn["il"]]),
                     ("Mul", [None, cn["step"]]), ("Round", [None]), ("Mul", [None, cn["ostep"]]),
                     ("Add", [None, cn["ol"]])]
            prev = None
            for k, (op, ins) in enumerate(steps):
                ins = [prev if v is None else v for v in ins]
                prev = out_name(layer, port) if k == len(steps) - 1 else unique(f"{layer.name}/{op.lower()}{k}")
                nodes.append(helper.make_node(op, ins, [prev], name=f"{layer.name}/{op.lower()}{k}"))
            tensor[(lid, port)] = prev
        elif t == "FakeQuantize":
            # dropped: the activation passes through unquantized (see the module docstring)
            stats.fake_quantize_dropped += 1
            src = ir.input_of(layer, 0)
            if (lid, port) in result_names:
                nodes.append(helper.make_node("Identity", [tensor[src]], [result_names[(lid, port)]], name=layer.name))
                tensor[(lid, port)] = result_names[(lid, port)]
            else:
                tensor[(lid, port)] = tensor[src]
        elif t in ("Convolution", "GroupConvolution"):
            wkey = ir.input_of(layer, 1)
            if wkey not in values:
                raise InputError(ir.xml_path, f"layer {layer.name!r}: weights computed from activations are not "
                                              "supported")
            w = values[wkey].astype(np.float32)
            attrs: dict = {}
            if t == "GroupConvolution":
                if w.ndim < 4:
                    raise InputError(ir.xml_path, f"layer {layer.name!r}: group weights of shape {list(w.shape)}")
                groups = w.shape[0]
                w = w.reshape((w.shape[0] * w.shape[1],) + w.shape[2:])
                attrs["group"] = groups
            spatial = w.ndim - 2
            strides = _ints(layer.data.get("strides"), [1] * spatial)
            dilations = _ints(layer.data.get("dilations"), [1] * spatial)
            auto_pad = layer.data.get("auto_pad", "explicit").lower()
            if auto_pad in ("same_upper", "same_lower"):
                attrs["auto_pad"] = auto_pad.upper()
            elif auto_pad == "valid":
                attrs["pads"] = [0] * (2 * spatial)
            elif auto_pad in ("explicit", "notset", ""):
                attrs["pads"] = _ints(layer.data.get("pads_begin"), [0] * spatial) + \
                    _ints(layer.data.get("pads_end"), [0] * spatial)
            else:
                raise InputError(ir.xml_path, f"layer {layer.name!r}: auto_pad {auto_pad!r} is not supported")
            attrs.update(kernel_shape=list(w.shape[2:]), strides=strides, dilations=dilations)
            # the weight: int8 + DequantizeLinear, or float32
            packed = _int8_weight(quant[wkey], w) if weights in ("int8", "dq") and wkey in quant else None
            if packed is not None:
                q, scale, zp8, rounding = packed
                stats.weights_int8 += 1
                stats.zero_point_rounding = max(stats.zero_point_rounding, rounding)
                qn, sn, zn, wn = (unique(f"{layer.name}/{s}") for s in ("W_int8", "W_scale", "W_zero_point", "W"))
                initializers.append(numpy_helper.from_array(q, qn))
                if weights == "dq":
                    initializers += [numpy_helper.from_array(scale, sn), numpy_helper.from_array(zp8, zn)]
                    nodes.append(helper.make_node("DequantizeLinear", [qn, sn, zn], [wn],
                                                  name=f"{layer.name}/dequantize", axis=0))
                else:  # Cast (and Sub of a zero point that is not 0) and Mul: folded to a constant at load
                    col = (-1,) + (1,) * (w.ndim - 1)
                    initializers.append(numpy_helper.from_array(scale.reshape(col), sn))
                    fn = unique(f"{layer.name}/W_float")
                    nodes.append(helper.make_node("Cast", [qn], [fn], name=f"{layer.name}/W_cast",
                                                  to=TensorProto.FLOAT))
                    if np.any(zp8 != 0):
                        initializers.append(numpy_helper.from_array(zp8.astype(np.float32).reshape(col), zn))
                        cn = unique(f"{layer.name}/W_centered")
                        nodes.append(helper.make_node("Sub", [fn, zn], [cn], name=f"{layer.name}/W_sub"))
                        fn = cn
                    nodes.append(helper.make_node("Mul", [fn, sn], [wn], name=f"{layer.name}/W_mul"))
            else:
                stats.weights_float += 1
                wn = unique(f"{layer.name}/W")
                initializers.append(numpy_helper.from_array(w, wn))
            conv_inputs = [operand(layer, 0), wn]
            # a per-channel constant Add as the only reader: the Conv's bias
            readers = consumers.get((lid, port), [])
            out_layer, out_port = layer, port
            if len(readers) == 1 and (lid, port) not in result_names:
                add = ir.layers[readers[0][0]]
                if add.type == "Add" and len(add.in_ports) == 2:
                    other = ir.input_of(add, 1 - add.in_ports.index(readers[0][1]))
                    bias = values.get(other)
                    if bias is not None and bias.ndim == w.ndim and bias.shape[1] == w.shape[0] and \
                            bias.size == w.shape[0]:  # [1, C, 1, 1]: one value per output channel
                        bn = unique(f"{layer.name}/B")
                        initializers.append(numpy_helper.from_array(values[other].astype(np.float32).reshape(-1), bn))
                        conv_inputs.append(bn)
                        out_layer, out_port = add, add.out_ports[0][0]
                        fused_into[add.id] = (lid, port)
                        stats.biases_fused += 1
            name = out_name(out_layer, out_port)
            nodes.append(helper.make_node("Conv", conv_inputs, [name], name=layer.name, **attrs))
            tensor[(out_layer.id, out_port)] = name
            tensor[(lid, port)] = name
        elif t in ELEMENTWISE_ONNX:
            if lid in fused_into:
                continue
            a, b = operand(layer, 0), operand(layer, 1)
            if layer.data.get("auto_broadcast", "numpy") not in ("numpy", "none"):
                raise InputError(ir.xml_path, f"layer {layer.name!r}: auto_broadcast "
                                              f"{layer.data['auto_broadcast']!r} is not supported")
            name = out_name(layer, port)
            nodes.append(helper.make_node(ELEMENTWISE_ONNX[t], [a, b], [name], name=layer.name))
            tensor[(lid, port)] = name
        elif t == "ReLU":
            name = out_name(layer, port)
            nodes.append(helper.make_node("Relu", [operand(layer, 0)], [name], name=layer.name))
            tensor[(lid, port)] = name
        elif t == "Elu":
            name = out_name(layer, port)
            nodes.append(helper.make_node("Elu", [operand(layer, 0)], [name], name=layer.name,
                                          alpha=float(layer.data.get("alpha", 1.0))))
            tensor[(lid, port)] = name
        elif t == "Concat":
            name = out_name(layer, port)
            nodes.append(helper.make_node("Concat", [operand(layer, k) for k in range(len(layer.in_ports))], [name],
                                          name=layer.name, axis=int(layer.data.get("axis", 1))))
            tensor[(lid, port)] = name
        else:
            raise InputError(ir.xml_path, f"layer {layer.name!r} ({t}) cannot be converted")

    if len(inputs) != 1:
        raise InputError(ir.xml_path, f"{len(inputs)} inputs (Parameter layers); an OpenPose-style network has one")
    if not outputs:
        raise InputError(ir.xml_path, "no Result layers")
    stats.normalisation = _read_normalisation(ir, values)
    graph = helper.make_graph(nodes, ir.name, inputs, outputs, initializers)
    model = helper.make_model(graph, producer_name="livepose tools/convert_openvino_ir.py",
                              opset_imports=[helper.make_operatorsetid("", OPSET)])
    model.ir_version = ONNX_IR_VERSION
    model.doc_string = f"Converted from the OpenVINO IR {ir.xml_path.name} by livepose tools/convert_openvino_ir.py"
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as exc:
        raise ToolError(f"the converted model does not pass onnx.checker: {str(exc).splitlines()[0]}") from None
    return model, stats


def _read_normalisation(ir: IR, values) -> tuple[float, float] | None:
    """(mean, scale) such that the graph computes (pixel - mean) * scale from its input, when it starts
    with Multiply and/or Add (or Subtract) by constants the same for every channel; None otherwise."""
    param = next(layer for layer in ir.layers.values() if layer.type == "Parameter")
    consumers = ir.consumers()
    key = (param.id, param.out_ports[0][0])
    mul, add = 1.0, 0.0  # x * mul + add
    while True:
        readers = consumers.get(key, [])
        if len(readers) != 1:
            break
        layer = ir.layers[readers[0][0]]
        if layer.type not in ("Multiply", "Add", "Subtract"):
            break
        other = ir.input_of(layer, 1 - layer.in_ports.index(readers[0][1]))
        if other not in values:
            break
        c = np.unique(values[other])
        if c.size != 1:
            return None
        c = float(c[0])
        if layer.type == "Multiply":
            mul, add = mul * c, add * c
        elif layer.type == "Add":
            add += c
        elif layer.in_ports.index(readers[0][1]) == 0:
            add -= c
        else:
            break
        key = (layer.id, layer.out_ports[0][0])
    if mul == 1.0 and add == 0.0:
        return None
    return (-add / mul, mul)


# ------------------------------------------------------------------------------------------- card

def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def make_card(ir: IR, model_path: Path, card_path: Path, stats: Stats, *, name: str, skeleton_path: Path,
              size: tuple[int, int], pad_value: float, weights: str, description: str, license_line: str) -> dict:
    """The model card of the converted network (models/README.md describes the format)."""
    import onnx

    try:
        skeleton = json.loads(Path(skeleton_path).read_text(encoding="utf-8"))
        parts, limbs = skeleton["parts"], skeleton["limbs"]
    except FileNotFoundError:
        raise InputError(skeleton_path, "not found (the card that gives the parts and limbs)") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(skeleton_path, f"not a model card with parts and limbs ({exc})") from None
    channels = {n: d[1] for n, d in stats.output_dims.items() if len(d) == 4}
    pairs = [(h, f) for h, ch in channels.items() for f, cf in channels.items()
             if h != f and ch in (len(parts), len(parts) + 1) and cf == 2 * len(limbs)]
    if len(pairs) != 1:
        raise ToolError(f"cannot tell the heatmap and PAF outputs apart by their channels ({channels}; "
                        f"{len(parts)} parts, {len(limbs)} limbs)")
    heat, paf = [pairs[0][0]], [pairs[0][1]]
    heat_channels = channels[heat[0]]
    input_name = next(layer.name for layer in ir.layers.values() if layer.type == "Parameter")
    # the stride from the IR's own sizes (input height over output height)
    out_h, in_h = stats.output_dims[heat[0]][2], stats.input_dims[2]
    if not out_h or in_h % out_h or stats.output_dims[paf[0]][2] != out_h:
        raise ToolError(f"the IR's sizes give no whole stride (input height {in_h}, output height {out_h})")
    stride = in_h // out_h
    versions = {"onnx": onnx.__version__, "numpy": np.__version__}
    card = {
        "name": name,
        "description": description,
        "model": model_path.name if model_path.parent.resolve() == card_path.parent.resolve() else str(model_path),
        "sha256": sha256_of(model_path),
        "license": license_line,
        "precision": "fp32",
        "parts": parts,
        "limbs": limbs,
        **({"flip": skeleton["flip"]} if "flip" in skeleton else {}),  # the mirror pairs (accuracy mode)
        "stride": stride,
        "input": {"name": input_name, "layout": "NCHW", "channel_order": "BGR",
                  "mean": [0.0, 0.0, 0.0], "scale": [1.0, 1.0, 1.0],
                  "default_size": [int(size[0]), int(size[1])], "size_multiple": stride, "pad_value": pad_value},
        "heatmaps": {"output": heat[0], "layout": "NCHW", "offset": 0, "count": len(parts),
                     "background": heat_channels == len(parts) + 1},
        "pafs": {"output": paf[0], "layout": "NCHW", "offset": 0, "count": 2 * len(limbs)},
        "notes": {
            "heatmaps": f"{heat[0]} has {heat_channels} channels: the {len(parts)} parts"
                        + (", then the background (the 19th, not used)" if heat_channels == len(parts) + 1 else ""),
            "normalisation": _normalisation_text(stats),
            "skeleton": f"parts, limbs, PAF channel pairs{' and flip pairs' if 'flip' in skeleton else ''} as "
                        f"{Path(skeleton_path).name}",
        },
        "converted_from": {
            "ir": ir.xml_path.name, "ir_sha256": sha256_of(ir.xml_path),
            "bin": ir.bin_path.name, "bin_sha256": sha256_of(ir.bin_path),
            "tool": "tools/convert_openvino_ir.py", "versions": versions,
            "weights": WEIGHTS_TEXT[weights],
            "weights_int8": stats.weights_int8, "weights_float32": stats.weights_float,
            "zero_point_rounding": stats.zero_point_rounding,
            "activation_fake_quantize": f"{stats.fake_quantize_dropped} dropped (activations run in float32)"
                                        if not stats.fake_quantize_emulated else
                                        f"{stats.fake_quantize_emulated} emulated with float operators",
            "provenance": "models/README.md",
        },
    }
    return card


def _normalisation_text(stats: Stats) -> str:
    if stats.normalisation is None:
        return "none found at the graph's input: raw pixels go in as they are"
    mean, scale = stats.normalisation
    return (f"inside the graph: (pixel - {mean:.4g}) * {scale:.6g} (= (pixel - {mean:.4g}) / {1 / scale:.4g}); "
            "the card feeds raw BGR 0..255")


# ------------------------------------------------------------------------------------------ check

def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    a, b = a - a.mean(), b - b.mean()
    den = math.sqrt(float((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 0 else float("nan")


def _openvino_ir(core, ir: IR, input_name: str, shape: tuple, bypass_fake_quantize: bool):
    """The IR compiled by OpenVINO for the CPU at ``shape``; ``bypass_fake_quantize``: with every
    FakeQuantize's output replaced by its input (OpenVINO then runs the same weights in float32)."""
    model = core.read_model(str(ir.xml_path), str(ir.bin_path))
    model.reshape({input_name: list(shape)})
    if bypass_fake_quantize:
        for op in model.get_ordered_ops():
            if op.get_type_name() == "FakeQuantize":
                op.output(0).replace(op.input_value(0))
        model.validate_nodes_and_infer_types()
    return core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})


def check(ir: IR, model_bytes: bytes, card_path: Path, images: list[Path], *, float_bytes: bytes | None = None,
          say=print) -> list[str]:
    """Run the ONNX model (ONNX Runtime) and the IR (OpenVINO, as it is and with its FakeQuantize
    bypassed) on ``images``; print the agreement and return the failures (empty: passed)."""
    import cv2
    import onnxruntime as ort

    try:
        import openvino as ov
    except ImportError:
        raise ToolError("--check needs OpenVINO (pip install openvino) to run the IR; or pass --no-check") from None
    from livepose.card import load_card
    from livepose.preprocess import Preprocessor

    card = load_card(card_path)
    prep = Preprocessor(card.input, None)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(model_bytes, sess_options=options, providers=["CPUExecutionProvider"])
    float_session = (ort.InferenceSession(float_bytes, sess_options=options, providers=["CPUExecutionProvider"])
                     if float_bytes is not None else None)
    core = ov.Core()
    outputs = {"heatmaps": card.heatmaps.output, "pafs": card.pafs.output}
    runs = ("float", "int8")  # OpenVINO with FakeQuantize bypassed; the IR as it is
    figures = {(r, k): {"corr": [], "mean": [], "max": [], "rel": []} for r in runs for k in outputs}
    storage_diff = 0.0
    compiled: dict[tuple, object] = {}
    for path in images:
        image = cv2.imread(str(path))
        if image is None:
            raise InputError(path, "not an image OpenCV can read")
        tensor, _ = prep(image)
        tensor = np.ascontiguousarray(tensor)
        ort_out = dict(zip([o.name for o in session.get_outputs()], session.run(None, {card.input.name: tensor})))
        for run in runs:
            key = (run, tuple(tensor.shape))
            if key not in compiled:
                compiled[key] = _openvino_ir(core, ir, card.input.name, tensor.shape, run == "float")
            result = compiled[key]({card.input.name: tensor})
            ov_out = {n: result[port] for port in compiled[key].outputs for n in port.get_names()}
            for kind, name in outputs.items():
                a, b = ort_out[name], ov_out[name]
                f = figures[(run, kind)]
                f["corr"].append(_corr(a, b))
                f["mean"].append(float(np.abs(a - b).mean()))
                f["max"].append(float(np.abs(a - b).max()))
                f["rel"].append(float(np.abs(a - b).mean() / max(float(b.std()), 1e-12)))
        if float_session is not None:
            for name, value in zip([o.name for o in float_session.get_outputs()],
                                   float_session.run(None, {card.input.name: tensor})):
                storage_diff = max(storage_diff, float(np.abs(value - ort_out[name]).max()))
    failures = []
    size = "x".join(str(s) for s in card.input.default_size)
    sizes = ", ".join(sorted({f"{k[1][3]}x{k[1][2]}" for k in compiled}))
    say(f"check: {len(images)} photos letterboxed at {size} ({sizes}); ONNX Runtime running this file against:")
    for run, what, limits in (
            ("float", "OpenVINO running the IR with its FakeQuantize bypassed (float32: the conversion itself)",
             (CONVERSION_MIN_CORR, CONVERSION_MIN_CORR, CONVERSION_MAX_REL_MEAN_ABS)),
            ("int8", "OpenVINO running the IR as it is (its int8 kernels)",
             (HEAT_MIN_CORR, PAF_MIN_CORR, MAX_REL_MEAN_ABS))):
        say(f"  {what}:")
        for kind, limit in zip(("heatmaps", "pafs"), limits[:2]):
            f = figures[(run, kind)]
            corr, mean, mx, rel = min(f["corr"]), max(f["mean"]), max(f["max"]), max(f["rel"])
            say(f"    {kind:8s} {outputs[kind]}: correlation {corr:.6f} (lowest; per photo "
                f"{', '.join(f'{c:.6f}' for c in f['corr'])}), mean abs difference {mean:.2g} (highest; "
                f"{rel:.2g} of the output's standard deviation), max {mx:.2g}")
            if not corr >= limit:
                failures.append(f"{kind} correlation {corr:.6f} with OpenVINO's {run} run, below {limit}")
            if not rel <= limits[2]:
                failures.append(f"{kind} mean abs difference {rel:.2g} of the output's standard deviation with "
                                f"OpenVINO's {run} run, above {limits[2]}")
    if float_session is not None:
        say(f"  the same conversion with float32 weights: max abs difference {storage_diff:.2g}")
        if not storage_diff <= MAX_STORAGE_DIFF:
            failures.append(f"int8-stored weights differ from float32 weights by {storage_diff:.2g} "
                            f"(above {MAX_STORAGE_DIFF}); convert with --weights float")
    return failures


# -------------------------------------------------------------------------------------------- main

def parse_args(argv):
    p = argparse.ArgumentParser(prog="convert_openvino_ir.py",
                                description="Convert an OpenVINO IR v10 to ONNX (own code), check it against "
                                            "OpenVINO, write the model card.")
    p.add_argument("xml", help="the IR's .xml (its .bin beside it, or --bin)")
    p.add_argument("--bin", help="the IR's .bin (default: the .xml's name with .bin)")
    p.add_argument("--out", required=True, help="the ONNX file to write")
    p.add_argument("--card", help="the model card to write (default: --out with .json)")
    p.add_argument("--name", help="the card's name (default: --out's stem)")
    p.add_argument("--weights", choices=("int8", "dq", "float"), default="int8",
                   help="how to store weights the IR has in int8 per channel: int8 + Cast/Mul (default), "
                        "int8 + DequantizeLinear, or float32")
    p.add_argument("--size", default="-1x368", help="the card's default input size WxH, -1 for one (default -1x368)")
    p.add_argument("--pad-value", default="neutral",
                   help="raw pixel value of the letterbox padding, or 'neutral': the value the graph's "
                        "normalisation turns into 0 (default)")
    p.add_argument("--skeleton", default=str(DEFAULT_SKELETON),
                   help="card whose parts and limbs the network shares (default models/mobilenet_thin.json)")
    p.add_argument("--description", default=None, help="the card's description")
    p.add_argument("--license", dest="license_line", default=None, help="the card's license line")
    p.add_argument("--check", dest="check", action="store_true", default=True,
                   help="run the result against OpenVINO's run of the IR (default)")
    p.add_argument("--no-check", dest="check", action="store_false")
    p.add_argument("--check-images", nargs="+", default=None,
                   help="photos or folders for --check (default tests/data/coco)")
    p.add_argument("--force", action="store_true", help="overwrite --out and --card")
    p.add_argument("--quiet", action="store_true")
    return p.parse_args(argv)


WEIGHTS_TEXT = {
    "int8": "int8 per output channel, expanded by Cast and Mul (folded into float32 constants at load)",
    "dq": "int8 per output channel, expanded by DequantizeLinear",
    "float": "float32",
}
DESCRIPTION = ("Lightweight OpenPose (Intel Open Model Zoo human-pose-estimation-0001: MobileNet-v1 backbone, "
               "one initial and one refinement stage), trained on COCO; OpenPose-COCO 18-part topology. "
               "Converted from the FP16-INT8 OpenVINO IR.")
LICENSE = "Apache-2.0 (Intel Open Model Zoo, human-pose-estimation-0001; see models/README.md)"


def _images(args) -> list[Path]:
    sources = [Path(p) for p in args.check_images] if args.check_images else [DEFAULT_CHECK_IMAGES]
    out: list[Path] = []
    for src in sources:
        if src.is_dir():
            out += sorted(p for p in src.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".bmp"))
        elif src.is_file():
            out.append(src)
        else:
            raise InputError(src, "not found (--check-images)")
    if not out:
        raise InputError(sources[0], "no photos for --check")
    return out


def run(args, say) -> None:
    from livepose.preprocess import parse_size

    out = Path(args.out)
    card_path = Path(args.card) if args.card else out.with_suffix(".json")
    try:
        size = parse_size(args.size)
    except ValueError as exc:
        raise InputError("--size", str(exc)) from None
    for path in (out, card_path):
        if path.exists() and not args.force:
            raise InputError(path, "exists (pass --force to overwrite)")
        if not path.parent.is_dir():
            raise InputError(path.parent, "folder not found")
    images = _images(args) if args.check else []
    ir = read_ir(args.xml, args.bin)
    model, stats = build_onnx(ir, args.weights)
    data = model.SerializeToString()
    if args.pad_value == "neutral":
        pad = stats.normalisation[0] if stats.normalisation is not None else 0.0
    else:
        try:
            pad = float(args.pad_value)
        except ValueError:
            raise InputError("--pad-value", f"{args.pad_value!r} is not a number or 'neutral'") from None
    pad = round(pad, 4)
    pad = int(pad) if float(pad).is_integer() else pad
    out.write_bytes(data)
    card = make_card(ir, out, card_path, stats, name=args.name or out.stem, skeleton_path=Path(args.skeleton),
                     size=size, pad_value=pad, weights=args.weights,
                     description=args.description or DESCRIPTION, license_line=args.license_line or LICENSE)
    card_path.write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")
    layer_text = ", ".join(f"{n} {t}" for t, n in sorted(stats.layers.items()))
    say(f"{out}: {out.stat().st_size} bytes, sha256 {card['sha256']}; {len(model.graph.node)} ONNX nodes "
        f"from {layer_text}; "
        f"weights {stats.weights_int8} int8 ({args.weights}), {stats.weights_float} float32 "
        f"(zero points rounded by at most {stats.zero_point_rounding:.2g} of a quantum); {stats.biases_fused} biases "
        f"fused; {stats.fake_quantize_dropped} activation FakeQuantize dropped")
    say(f"{card_path}: card '{card['name']}', input {card['input']['name']} {_normalisation_text(stats)}, "
        f"pad value {pad}, heatmaps {card['heatmaps']['output']}, pafs {card['pafs']['output']}")
    if args.check:
        float_bytes = None
        if stats.weights_int8:
            float_bytes = build_onnx(ir, "float")[0].SerializeToString()
        failures = check(ir, data, card_path, images, float_bytes=float_bytes, say=say)
        if failures:
            raise ToolError("check failed: " + "; ".join(failures))
        say(f"check passed (thresholds: correlation >= {CONVERSION_MIN_CORR} and mean abs <= "
            f"{CONVERSION_MAX_REL_MEAN_ABS} std against the bypassed run; heatmap correlation >= {HEAT_MIN_CORR}, "
            f"PAF >= {PAF_MIN_CORR}, mean abs <= {MAX_REL_MEAN_ABS} std against the IR as it is)")


def main(argv=None) -> int:
    args = parse_args(argv)
    say = (lambda *a, **k: None) if args.quiet else print
    try:
        run(args, say)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ToolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ImportError as exc:
        print(f"error: {exc.name or exc} is not installed (pip install -e .[dev] for onnx; openvino for --check)",
              file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        print(f"error: {type(exc).__name__}: {first}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
