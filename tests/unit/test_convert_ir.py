"""tools/convert_openvino_ir.py on tiny synthetic OpenVINO IR v10 files written here (a handful of
layers of every type it converts): the ONNX file computes what numpy says the IR computes, with each
way of storing the weights and at another input size than the IR's; the card; and the bad inputs
(one ``error: <path>: <what>`` line, exit status 2).  The real IR end to end: e2e/test_lwop.py."""

from __future__ import annotations

import importlib.util
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from helpers import error_line, load_tool

pytestmark = pytest.mark.skipif(importlib.util.find_spec("onnx") is None,
                                reason="tools/convert_openvino_ir.py needs onnx (pip install -e .[dev])")

RNG = np.random.default_rng(12)
IR_SIZE = (8, 8)  # H, W of the synthetic IR's input
SKELETON = {"parts": ["a", "b", "c"],
            "limbs": [{"parts": ["a", "b"], "paf": [0, 1]}, {"parts": ["b", "c"], "paf": [2, 3]}]}


@pytest.fixture(scope="module")
def tool():
    return load_tool("convert_openvino_ir")


# ---------------------------------------------------------------------------- a tiny IR writer

class IRWriter:
    """Writes an IR v10 .xml + .bin the way OpenVINO's Model Optimizer lays them out."""

    PRECISION = {np.float16: "FP16", np.float32: "FP32", np.int8: "I8", np.int64: "I64"}
    ETYPE = {np.float16: "f16", np.float32: "f32", np.int8: "i8", np.int64: "i64"}

    def __init__(self):
        self.layers: list[tuple] = []  # (id, name, type, data, in_dims, out_dims)
        self.edges: list[tuple[int, int]] = []  # (from layer, to layer), in the order of the inputs
        self.blob = bytearray()

    def _add(self, name, ltype, data, inputs, out_dims):
        lid = len(self.layers)
        in_dims = [self.layers[i][5] for i in inputs]
        self.layers.append((lid, name, ltype, data, in_dims, out_dims))
        self.edges += [(i, lid) for i in inputs]
        return lid

    def dims(self, lid):
        return self.layers[lid][5]

    def const(self, name, array):
        array = np.ascontiguousarray(array)
        data = {"element_type": self.ETYPE[array.dtype.type], "offset": str(len(self.blob)),
                "shape": ",".join(str(s) for s in array.shape), "size": str(array.nbytes)}
        self.blob += array.tobytes()
        return self._add(name, "Const", data, [], list(array.shape))

    def layer(self, name, ltype, inputs, out_dims, **data):
        return self._add(name, ltype, {k: str(v) for k, v in data.items()}, inputs, out_dims)

    def int8_weight(self, name, q, zero_point, scale, reshape=None):
        """int8 Const -> Convert -> Subtract zero point -> Multiply scale [-> Reshape]."""
        c = self.const(f"{name}/quantized", q.astype(np.int8))
        f = self.layer(f"{name}/to_f16", "Convert", [c], list(q.shape), destination_type="f16")
        z = self.const(f"{name}/zero_point", zero_point.astype(np.float16))
        s = self.layer(f"{name}/minus_zp", "Subtract", [f, z], list(q.shape), auto_broadcast="numpy")
        k = self.const(f"{name}/scale", scale.astype(np.float16))
        m = self.layer(f"{name}/mulpiply_by_scale", "Multiply", [s, k], list(q.shape), auto_broadcast="numpy")
        if reshape is None:
            return m
        shape = self.const(f"{name}/shape", np.asarray(reshape, np.int64))
        return self.layer(f"{name}/reshape", "Reshape", [m, shape], list(reshape), special_zero="true")

    def write(self, xml_path: Path, version: str = "10") -> Path:
        net = ET.Element("net", name="tiny", version=version)
        layers = ET.SubElement(net, "layers")
        ports_out: dict[int, int] = {}
        for lid, name, ltype, data, in_dims, out_dims in self.layers:
            el = ET.SubElement(layers, "layer", id=str(lid), name=name, type=ltype, version="opset1")
            if data:
                ET.SubElement(el, "data", data)
            if in_dims:
                inp = ET.SubElement(el, "input")
                for k, dims in enumerate(in_dims):
                    port = ET.SubElement(inp, "port", id=str(k))
                    for d in dims:
                        ET.SubElement(port, "dim").text = str(d)
            if ltype != "Result":
                out = ET.SubElement(el, "output")
                ports_out[lid] = len(in_dims)
                etype = data.get("element_type", "f32") if ltype == "Const" else "f32"
                prec = {"f16": "FP16", "f32": "FP32", "i8": "I8", "i64": "I64"}.get(etype, "FP32")
                port = ET.SubElement(out, "port", id=str(len(in_dims)), precision=prec)
                if ltype not in ("Const",) and name in ("heat", "paf"):
                    port.set("names", name)
                for d in out_dims:
                    ET.SubElement(port, "dim").text = str(d)
        edges = ET.SubElement(net, "edges")
        seen: dict[int, int] = {}
        for src, dst in self.edges:
            k = seen.get(dst, 0)
            seen[dst] = k + 1
            ET.SubElement(edges, "edge", {"from-layer": str(src), "from-port": str(ports_out[src]),
                                          "to-layer": str(dst), "to-port": str(k)})
        ET.ElementTree(net).write(xml_path, encoding="utf-8", xml_declaration=True)
        xml_path.with_suffix(".bin").write_bytes(bytes(self.blob))
        return xml_path


def conv_attrs(stride=1, pad=0, dilation=1):
    return {"strides": f"{stride},{stride}", "pads_begin": f"{pad},{pad}", "pads_end": f"{pad},{pad}",
            "dilations": f"{dilation},{dilation}", "auto_pad": "explicit"}


def tiny_ir(extra=None):
    """The synthetic network, its weights (for the numpy reference) and the writer.

    data -> *1/255 -> -128/255 -> FakeQuantize -> conv3x3 (int8 weights) + bias -> ReLU (r1)
    r1 -> depthwise 3x3 stride 2 (int8 weights, Reshape to groups) + bias -> Elu (e1)
    r1 -> conv1x1 stride 2 (float weights) (s1);  e1 + s1 (res);  Concat(res, e1) (cat)
    cat -> conv1x1 (int8) + bias -> Result 'heat' (3 channels);  cat -> conv1x1 dilated 3x3 pad 2 -> Result 'paf' (4)
    """
    w = IRWriter()
    H, W = IR_SIZE
    p = {}
    x = w.layer("data", "Parameter", [], [1, 3, H, W], element_type="f16", shape=f"1,3,{H},{W}")
    m = w.layer("data/scale", "Multiply", [x, w.const("mul", np.full((1, 1, 1, 1), 1 / 255, np.float16))],
                [1, 3, H, W], auto_broadcast="numpy")
    p["mean"] = np.full((1, 3, 1, 1), -128 / 255, np.float16)
    n = w.layer("data/mean", "Add", [m, w.const("add", p["mean"])], [1, 3, H, W], auto_broadcast="numpy")
    lims = [w.const(f"fq{k}", np.asarray(v, np.float16)) for k, v in enumerate((-0.5, 0.5, -0.5, 0.5))]
    fq = w.layer("conv1/fq_input_0", "FakeQuantize", [n, *lims], [1, 3, H, W], levels=256, auto_broadcast="numpy")

    p["q1"] = RNG.integers(-127, 128, (4, 3, 3, 3))
    p["zp1"] = np.array([0, 7.6e-6, -7.6e-6, 0]).reshape(4, 1, 1, 1)  # the real IR's fp16 residues
    p["s1"] = RNG.uniform(0.002, 0.01, (4, 1, 1, 1))
    c1 = w.layer("conv1", "Convolution", [fq, w.int8_weight("conv1", p["q1"], p["zp1"], p["s1"])], [1, 4, H, W],
                 **conv_attrs(pad=1))
    p["b1"] = RNG.normal(0, 0.1, (1, 4, 1, 1)).astype(np.float16)
    a1 = w.layer("conv1/bias", "Add", [c1, w.const("b1", p["b1"])], [1, 4, H, W], auto_broadcast="numpy")
    r1 = w.layer("relu1", "ReLU", [a1], [1, 4, H, W])

    p["q2"] = RNG.integers(-127, 128, (4, 1, 3, 3))
    p["s2"] = RNG.uniform(0.01, 0.05, (4, 1, 1, 1))
    wq2 = w.int8_weight("dw", p["q2"], np.zeros((4, 1, 1, 1)), p["s2"], reshape=[4, 1, 1, 3, 3])
    h2, w2 = H // 2, W // 2
    c2 = w.layer("dw", "GroupConvolution", [r1, wq2], [1, 4, h2, w2], **conv_attrs(stride=2, pad=1))
    p["b2"] = RNG.normal(0, 0.1, (1, 4, 1, 1)).astype(np.float16)
    a2 = w.layer("dw/bias", "Add", [c2, w.const("b2", p["b2"])], [1, 4, h2, w2], auto_broadcast="numpy")
    e1 = w.layer("elu1", "Elu", [a2], [1, 4, h2, w2], alpha=1.0)

    p["w3"] = RNG.normal(0, 0.3, (4, 4, 1, 1)).astype(np.float16)
    s1 = w.layer("side", "Convolution", [r1, w.const("w3", p["w3"])], [1, 4, h2, w2], **conv_attrs(stride=2))
    res = w.layer("res", "Add", [e1, s1], [1, 4, h2, w2], auto_broadcast="numpy")
    cat = w.layer("cat", "Concat", [res, e1], [1, 8, h2, w2], axis=1)

    p["q4"] = RNG.integers(-127, 128, (3, 8, 1, 1))
    p["s4"] = RNG.uniform(0.002, 0.01, (3, 1, 1, 1))
    c4 = w.layer("heat/conv", "Convolution", [cat, w.int8_weight("heat", p["q4"], np.zeros((3, 1, 1, 1)), p["s4"])],
                 [1, 3, h2, w2], **conv_attrs())
    p["b4"] = RNG.normal(0, 0.1, (1, 3, 1, 1)).astype(np.float16)
    heat = w.layer("heat", "Add", [c4, w.const("b4", p["b4"])], [1, 3, h2, w2], auto_broadcast="numpy")
    w.layer("heat/sink_port_0", "Result", [heat], [])
    p["w5"] = RNG.normal(0, 0.3, (4, 8, 3, 3)).astype(np.float16)
    paf = w.layer("paf", "Convolution", [cat, w.const("w5", p["w5"])], [1, 4, h2, w2], **conv_attrs(pad=2, dilation=2))
    w.layer("paf/sink_port_0", "Result", [paf], [])
    if extra is not None:
        extra(w, cat)
    return w, p


def np_conv(x, w, b=None, stride=1, pad=0, dilation=1, groups=1):
    """Plain numpy NCHW convolution (the reference)."""
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh = (h + 2 * pad - dilation * (kh - 1) - 1) // stride + 1
    ow = (wd + 2 * pad - dilation * (kw - 1) - 1) // stride + 1
    out = np.zeros((n, o, oh, ow), np.float64)
    og = o // groups
    for g in range(groups):
        xs = xp[:, g * cg:(g + 1) * cg]
        for i in range(kh):
            for j in range(kw):
                rows = slice(i * dilation, i * dilation + stride * oh, stride)
                cols = slice(j * dilation, j * dilation + stride * ow, stride)
                patch = xs[:, :, rows, cols]
                out[:, g * og:(g + 1) * og] += np.einsum("nchw,oc->nohw", patch, w[g * og:(g + 1) * og, :, i, j])
    return out if b is None else out + b.reshape(1, -1, 1, 1)


def reference(p, x, fake_quantize=None):
    """What the synthetic IR computes, its FakeQuantize left out (as the converter does) unless
    ``fake_quantize`` (the tool's numpy FakeQuantize) is given."""
    x = x.astype(np.float64) * np.float64(np.float16(1 / 255)) + p["mean"].astype(np.float64)
    if fake_quantize is not None:
        x = fake_quantize(x.astype(np.float32), np.float32(-0.5), np.float32(0.5), np.float32(-0.5), np.float32(0.5),
                          levels=256).astype(np.float64)
    w1 = (p["q1"] - p["zp1"]) * p["s1"].astype(np.float16).astype(np.float64)
    r1 = np.maximum(np_conv(x, w1, p["b1"].astype(np.float64), pad=1), 0)
    w2 = p["q2"] * p["s2"].astype(np.float16).astype(np.float64)
    a2 = np_conv(r1, w2, p["b2"].astype(np.float64), stride=2, pad=1, groups=4)
    e1 = np.where(a2 > 0, a2, np.expm1(np.minimum(a2, 0)))
    res = e1 + np_conv(r1, p["w3"].astype(np.float64), stride=2)
    cat = np.concatenate([res, e1], axis=1)
    heat = np_conv(cat, p["q4"] * p["s4"].astype(np.float16).astype(np.float64), p["b4"].astype(np.float64))
    paf = np_conv(cat, p["w5"].astype(np.float64), pad=2, dilation=2)
    return {"heat": heat, "paf": paf}


@pytest.fixture(scope="module")
def ir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ir")
    writer, params = tiny_ir()
    return writer.write(folder / "tiny.xml"), params


def run_onnx(model_bytes, x):
    import onnxruntime as ort

    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in session.get_outputs()], session.run(None, {"data": x}))), session


# ----------------------------------------------------------------------------------- conversion

@pytest.mark.parametrize("weights", ["int8", "dq", "float"])
def test_converted_model_computes_what_numpy_says(tool, ir, weights):
    xml, params = ir
    model, stats = tool.build_onnx(tool.read_ir(xml), weights)
    for h, w in (IR_SIZE, (16, 24)):  # the IR's size and another: H and W are dynamic
        x = RNG.uniform(0, 255, (2, 3, h, w)).astype(np.float32)  # and the batch
        out, session = run_onnx(model.SerializeToString(), x)
        want = reference(params, x)
        assert sorted(out) == ["heat", "paf"]
        for name in out:
            assert out[name].shape == want[name].shape
            np.testing.assert_allclose(out[name], want[name], atol=2e-4, rtol=1e-4, err_msg=f"{name} at {h}x{w}")
    assert [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim] == ["N", 3, "H", "W"]
    assert stats.fake_quantize_dropped == 1 and stats.biases_fused == 3
    int8_weights = 3 if weights != "float" else 0
    assert (stats.weights_int8, stats.weights_float) == (int8_weights, 5 - int8_weights)
    ops = {n.op_type for n in model.graph.node}
    assert ops >= {"Conv", "Relu", "Elu", "Concat", "Add", "Mul"} and "FakeQuantize" not in ops
    assert ("DequantizeLinear" in ops) == (weights == "dq") and ("Cast" in ops) == (weights == "int8")
    int8_tensors = [t for t in model.graph.initializer if t.data_type == 3 and t.name.endswith("W_int8")]
    assert len(int8_tensors) == int8_weights
    if weights != "float":
        assert stats.zero_point_rounding == pytest.approx(7.6e-6, rel=0.01)  # rounded to 0


def test_int8_weights_equal_float_weights_and_the_file_is_smaller(tool, tmp_path):
    """The int8 forms give the float weights back (up to the rounded fp16 zero-point residues)."""
    writer = IRWriter()
    q = RNG.integers(-127, 128, (64, 32, 3, 3))
    x = writer.layer("data", "Parameter", [], [1, 32, 8, 8], element_type="f32", shape="1,32,8,8")
    wq = writer.int8_weight("c", q, np.full((64, 1, 1, 1), 7.6e-6), RNG.uniform(0.001, 0.01, (64, 1, 1, 1)))
    c = writer.layer("out", "Convolution", [x, wq], [1, 64, 8, 8], **conv_attrs(pad=1))
    writer.layer("out/sink", "Result", [c], [])
    parsed = tool.read_ir(writer.write(tmp_path / "big.xml"))
    data = RNG.uniform(-1, 1, (1, 32, 8, 8)).astype(np.float32)
    outs, sizes = {}, {}
    for weights in ("int8", "dq", "float"):
        blob = tool.build_onnx(parsed, weights)[0].SerializeToString()
        outs[weights], sizes[weights] = run_onnx(blob, data)[0]["out"], len(blob)
    np.testing.assert_allclose(outs["int8"], outs["float"], atol=1e-5)
    np.testing.assert_allclose(outs["int8"], outs["dq"], atol=1e-5, rtol=1e-6)
    assert sizes["int8"] < 0.3 * sizes["float"] and sizes["dq"] < 0.3 * sizes["float"]


def test_fake_quantize_can_be_emulated(tool, ir):
    """The diagnostic mode: the activation FakeQuantize's rounding in float operators."""
    xml, params = ir
    model, stats = tool.build_onnx(tool.read_ir(xml), "int8", activations="emulate")
    assert stats.fake_quantize_emulated == 1 and stats.fake_quantize_dropped == 0
    x = RNG.uniform(0, 255, (1, 3, 16, 16)).astype(np.float32)
    out, _ = run_onnx(model.SerializeToString(), x)
    want = reference(params, x, tool.fake_quantize)
    for name in out:
        np.testing.assert_allclose(out[name], want[name], atol=2e-3, rtol=1e-3)
    assert np.abs(out["heat"] - reference(params, x)["heat"]).max() > 1e-3  # the rounding shows


def test_fake_quantize_on_constants_is_evaluated(tool):
    x = np.array([-2.0, -0.5, 0.0, 0.3, 0.5, 2.0], np.float32)
    got = tool.fake_quantize(x, np.float32(-0.5), np.float32(0.5), np.float32(-1.0), np.float32(1.0), levels=3)
    np.testing.assert_array_equal(got, [-1, -1, 0, 1, 1, 1])


def test_main_writes_the_model_and_its_card(tool, ir, tmp_path, capsys):
    from livepose.card import file_sha256, load_card

    xml, params = ir
    skeleton = tmp_path / "skeleton.json"
    skeleton.write_text(json.dumps(SKELETON))
    out = tmp_path / "tiny.onnx"
    code = tool.main([str(xml), "--out", str(out), "--card", str(tmp_path / "tiny.json"), "--skeleton", str(skeleton),
                      "--no-check", "--size=-1x16"])
    assert code == 0, capsys.readouterr().err
    data = json.loads((tmp_path / "tiny.json").read_text())
    assert data["model"] == "tiny.onnx" and data["sha256"] == file_sha256(out) and data["precision"] == "fp32"
    assert data["parts"] == SKELETON["parts"] and data["limbs"] == SKELETON["limbs"]
    assert data["input"] == {"name": "data", "layout": "NCHW", "channel_order": "BGR", "mean": [0.0, 0.0, 0.0],
                             "scale": [1.0, 1.0, 1.0], "default_size": [-1, 16], "size_multiple": 2,
                             "pad_value": 128}  # the raw value the graph's (x/255 - 128/255) makes 0
    assert data["heatmaps"] == {"output": "heat", "layout": "NCHW", "offset": 0, "count": 3, "background": False}
    assert data["pafs"] == {"output": "paf", "layout": "NCHW", "offset": 0, "count": 4}
    assert data["stride"] == 2 and data["converted_from"]["bin_sha256"] == file_sha256(xml.with_suffix(".bin"))
    card = load_card(tmp_path / "tiny.json")
    assert card.model_path == out and card.num_parts == 3
    # refuses to overwrite; --force does
    assert tool.main([str(xml), "--out", str(out), "--skeleton", str(skeleton), "--no-check"]) == 2
    assert error_line(capsys.readouterr().err) == f"error: {out}: exists (pass --force to overwrite)"


@pytest.mark.skipif(importlib.util.find_spec("openvino") is None, reason="needs openvino")
def test_openvino_reads_the_synthetic_ir_and_agrees(tool, ir, tmp_path, capsys):
    """The synthetic IR is a real IR (OpenVINO runs it) and --check passes on it."""
    import cv2

    xml, params = ir
    skeleton = tmp_path / "skeleton.json"
    skeleton.write_text(json.dumps(SKELETON))
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), RNG.integers(0, 256, (20, 30, 3)).astype(np.uint8))
    code = tool.main([str(xml), "--out", str(tmp_path / "t.onnx"), "--skeleton", str(skeleton), "--size=-1x16",
                      "--check-images", str(photo)])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "FakeQuantize bypassed" in out and "check passed" in out


@pytest.mark.skipif(importlib.util.find_spec("openvino") is None, reason="needs openvino")
def test_check_catches_a_wrong_conversion(tool, ir, tmp_path):
    """A bias off by 0.05 is a failure against OpenVINO's float run of the IR."""
    import cv2
    import onnx
    from onnx import numpy_helper

    xml, params = ir
    skeleton = tmp_path / "skeleton.json"
    skeleton.write_text(json.dumps(SKELETON))
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), RNG.integers(0, 256, (20, 30, 3)).astype(np.uint8))
    assert tool.main([str(xml), "--out", str(tmp_path / "t.onnx"), "--skeleton", str(skeleton), "--size=-1x16",
                      "--no-check", "--quiet"]) == 0
    model = onnx.load(str(tmp_path / "t.onnx"))
    bias = next(t for t in model.graph.initializer if t.name == "conv1/B")
    bias.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(bias) + np.float32(0.05), bias.name))
    parsed = tool.read_ir(xml)
    quiet = dict(say=lambda *a: None)
    assert tool.check(parsed, (tmp_path / "t.onnx").read_bytes(), tmp_path / "t.json", [photo], **quiet) == []
    failures = tool.check(parsed, model.SerializeToString(), tmp_path / "t.json", [photo], **quiet)
    assert any("OpenVINO's float run" in f for f in failures), failures


# ------------------------------------------------------------------------------------ bad input

def _bad(tool, capsys, tmp_path, path, *extra) -> str:
    code = tool.main([str(path), "--out", str(tmp_path / "o.onnx"), "--no-check", *extra])
    err = capsys.readouterr().err
    assert code == 2, err
    assert not (tmp_path / "o.onnx").exists()
    return error_line(err)


def test_missing_path(tool, tmp_path, capsys):
    path = tmp_path / "nothing.xml"
    assert _bad(tool, capsys, tmp_path, path) == f"error: {path}: not found"


def test_not_xml(tool, tmp_path, capsys):
    path = tmp_path / "model.xml"
    path.write_bytes(b"\x89PNG\r\n not xml at all")
    assert _bad(tool, capsys, tmp_path, path).startswith(f"error: {path}: not an XML file (")


def test_xml_that_is_not_an_ir(tool, tmp_path, capsys):
    path = tmp_path / "page.xml"
    path.write_text("<html><body/></html>")
    assert _bad(tool, capsys, tmp_path, path).startswith(f"error: {path}: not an OpenVINO IR (root element <html>")


@pytest.mark.parametrize("version", ["7", "11"])
def test_ir_of_another_version(tool, tmp_path, capsys, version):
    writer, _ = tiny_ir()
    path = writer.write(tmp_path / "v.xml", version=version)
    assert _bad(tool, capsys, tmp_path, path) == \
        f"error: {path}: IR version {version}, this converter reads version 10"


def test_unknown_layer_type(tool, tmp_path, capsys):
    writer, _ = tiny_ir(extra=lambda w, cat: w.layer("sm/sink", "Result",
                                                     [w.layer("sm", "SoftMax", [cat], w.dims(cat), axis=1)], []))
    path = writer.write(tmp_path / "u.xml")
    line = _bad(tool, capsys, tmp_path, path)
    assert line.startswith(f"error: {path}: layer 'sm' (id ")
    assert "has type SoftMax, which this converter does not know" in line


def test_reshape_of_activations(tool, tmp_path, capsys):
    def extra(w, cat):
        shape = w.const("flat/shape", np.asarray([1, -1], np.int64))
        w.layer("flat/sink", "Result", [w.layer("flat", "Reshape", [cat, shape], [1, 128], special_zero="false")], [])
    writer, _ = tiny_ir(extra=extra)
    path = writer.write(tmp_path / "r.xml")
    assert _bad(tool, capsys, tmp_path, path) == \
        f"error: {path}: layer 'flat' (Reshape) computes on activations, which this converter does not support"


@pytest.mark.parametrize("change", ["truncated", "longer"])
def test_bin_of_the_wrong_size(tool, ir, tmp_path, capsys, change):
    xml, _ = ir
    data = xml.with_suffix(".bin").read_bytes()
    (tmp_path / "w.xml").write_bytes(xml.read_bytes())
    bin_path = tmp_path / "w.bin"
    bin_path.write_bytes(data[:-10] if change == "truncated" else data + b"\0" * 8)
    line = _bad(tool, capsys, tmp_path, tmp_path / "w.xml")
    want = "need" if change == "truncated" else "use"
    assert line == (f"error: {bin_path}: wrong size: {len(bin_path.read_bytes())} bytes, the IR's constants "
                    f"{want} {len(data)} (not this IR's .bin?)")


def test_missing_bin(tool, ir, tmp_path, capsys):
    xml, _ = ir
    (tmp_path / "nob.xml").write_bytes(xml.read_bytes())
    assert _bad(tool, capsys, tmp_path, tmp_path / "nob.xml") == \
        f"error: {tmp_path / 'nob.bin'}: not found (the IR's weights, beside the .xml)"


def test_missing_check_image(tool, ir, tmp_path, capsys):
    xml, _ = ir
    code = tool.main([str(xml), "--out", str(tmp_path / "o.onnx"), "--check-images", str(tmp_path / "none.jpg")])
    assert code == 2
    assert error_line(capsys.readouterr().err) == f"error: {tmp_path / 'none.jpg'}: not found (--check-images)"
