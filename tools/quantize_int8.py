#!/usr/bin/env python3
"""Make an int8 copy of a livepose network by static quantization, calibrated on real frames.

    python tools/quantize_int8.py            # models/mobilenet_thin.int8.onnx + .json, as shipped
    python tools/quantize_int8.py --card other.json --calibration clips/ --calibration photos/ \
        --frames 200 --method percentile --equalize 0.5 --output /tmp/other_int8.onnx

Steps:

1. frames: ``--frames`` frames taken evenly from the calibration sources (video files, folders
   of images or of videos, image files; default: ``../shared/data/video`` and
   ``../shared/data/images/openpose-examples`` beside this repository when present), shared out
   evenly between the sources (a video, or a folder of images, is one source), each letterboxed
   exactly as livepose's Preprocessor does at the card's default size (``--size`` for another);
2. optionally ONNX Runtime's ``quant_pre_process`` (``--pre-process``; it made no difference
   here);
3. activation equalization (``--equalize STRENGTH``): each activation whose channels can be
   rescaled exactly (see "activation equalization" below) gets its small channels scaled up
   towards the tensor's range, undone in the next convolution's weights; the fp32 outputs are
   checked unchanged;
4. ``onnxruntime.quantization.quantize_static``: QDQ format (QuantizeLinear/DequantizeLinear
   pairs, which ONNX Runtime and OpenVINO both run as int8), weights int8 per output channel
   (7-bit range with ``--reduce-range``), activations uint8 per tensor, ranges from the
   calibration frames by ``--method`` (minmax, entropy or percentile), one frame at a time so
   that frames of different sizes mix and memory stays flat; ``--only`` / ``--keep-fp32``
   (regular expressions on node names) leave the rest of the graph in fp32;
5. writes the model (default: ``NAME.int8.onnx`` beside ``NAME.json``) and its model card
   (same name, ``.json``): a copy of the source card with the new model file, its sha256,
   ``"precision": "int8"`` and a ``quantization`` object saying how it was made and calibrated.
   ``livepose ... --precision int8`` finds that card beside the fp32 one by its name.

A network named in PRESETS gets the settings measured for it unless options override them
(``--no-preset`` for none).  The calibration frames are not the evaluation sets: keep
coco-train-mini and the Bonn PoseTrack frames out of ``--calibration`` when the result is to be
judged by their AP (``python benchmarks/bench_backends.py --ap``).

Exit status: 0 done; 2 a calibration source is missing or holds no readable frame, or a bad
option; 3 the source model or card is missing or broken; 1 anything else (one ``error:`` line
each).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import json
import re
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO))

from livepose.card import ModelCard, bundled_models_dir, load_card, sibling_card_path  # noqa: E402
from livepose.errors import InputError, LiveposeError, ModelError  # noqa: E402
from livepose.images import IMAGE_SUFFIXES, read_image  # noqa: E402
from livepose.inference import file_sha256  # noqa: E402
from livepose.preprocess import Preprocessor, parse_size  # noqa: E402

SHARED_DATA = REPO.parent / "shared" / "data"
DEFAULT_SOURCES = (SHARED_DATA / "video", SHARED_DATA / "images" / "openpose-examples")
VIDEO_SUFFIXES = (".avi", ".mp4", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")
METHODS = ("minmax", "entropy", "percentile")

# Settings measured for a network, by card name, used unless overridden on the command line
# (benchmarks/README.md, "CPU backends", has the measurements that chose them).
PRESETS: dict[str, dict] = {
    # The MobileNet backbone in int8, the six refinement stages in fp32: with the stages' inner
    # layers quantized AP on coco-train-mini fell from 0.243 to 0.000-0.233 whatever the method;
    # entropy ranges chose by AP over minmax and percentile; 7-bit weights because CPUs without
    # VNNI (AVX2 only) saturate int8 x uint8 products, which cost OpenVINO 0.012 AP with 8 bits.
    "mobilenet_thin": {"only": r"^(MobilenetV1/|feat_concat$|Conv2d_3_pool$)", "equalize": 0.5, "method": "entropy",
                       "reduce_range": True},
}


# -- calibration frames ------------------------------------------------------------------------
def _expand(source: Path) -> list[Path]:
    """A source as its files: a folder gives its videos and images (name order), a file itself."""
    if not source.exists():
        raise InputError(f"{source}: calibration source not found (give --calibration a video, an image or "
                         f"a folder of them)")
    if source.is_file():
        if source.suffix.lower() not in VIDEO_SUFFIXES + IMAGE_SUFFIXES:
            raise InputError(f"{source}: not a video or image file ({', '.join(VIDEO_SUFFIXES + IMAGE_SUFFIXES)})")
        return [source]
    files = sorted(p for p in source.iterdir()
                   if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES + IMAGE_SUFFIXES)
    if not files:
        raise InputError(f"{source}: no videos or images in this folder")
    return files


def _even(total: int, count: int) -> list[int]:
    """``count`` indices spread evenly over ``range(total)`` (all of them when count >= total)."""
    if count >= total:
        return list(range(total))
    return sorted({int((k + 0.5) * total / count) for k in range(count)})


def _video_frames(path: Path, count: int) -> list[np.ndarray]:
    """``count`` frames spread evenly over a video, read in order (no seeking: exact on any codec)."""
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise InputError(f"{path}: cannot open video")
        total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        if total <= 0:  # unknown length: count by reading
            total = 0
            while cap.grab():
                total += 1
            cap.release()
            cap = cv2.VideoCapture(str(path))
        wanted = set(_even(total, count))
        frames, index = [], 0
        while wanted and index <= max(wanted):
            if not cap.grab():
                break
            if index in wanted:
                ok, frame = cap.retrieve()
                if ok and frame is not None:
                    frames.append(frame)
            index += 1
    finally:
        cap.release()
    if not frames:
        raise InputError(f"{path}: no frame could be read")
    return frames


def gather_frames(sources: list[Path], count: int) -> tuple[list[np.ndarray], list[dict]]:
    """About ``count`` BGR frames shared evenly between the sources (a folder of images counts as
    one source, each video as one), and a record of where they came from."""
    if count < 1:
        raise InputError(f"--frames must be at least 1, got {count}")
    groups: list[tuple[str, list[Path]]] = []
    for source in sources:
        files = _expand(source)
        images = [f for f in files if f.suffix.lower() in IMAGE_SUFFIXES]
        groups += [(str(f), [f]) for f in files if f.suffix.lower() in VIDEO_SUFFIXES]
        if images:
            groups.append((str(source), images))
    frames: list[np.ndarray] = []
    record: list[dict] = []
    for k, (name, files) in enumerate(groups):
        share = count // len(groups) + (1 if k < count % len(groups) else 0)
        if share == 0:
            continue
        if files[0].suffix.lower() in VIDEO_SUFFIXES:
            got = _video_frames(files[0], share)
        else:
            got = [read_image(files[i]) for i in _even(len(files), share)]
        frames += got
        record.append({"source": _shown(name), "frames": len(got)})
    if not frames:
        raise InputError(f"{', '.join(map(str, sources))}: no calibration frame could be read")
    return frames, record


def _shown(path: str) -> str:
    """A source path as the card records it: relative to the repository when under its parent
    (e.g. ../shared/data/video/x.avi), else as given."""
    resolved = Path(path).resolve()
    try:
        return (Path("..") / resolved.relative_to(REPO.parent)).as_posix()
    except ValueError:
        return str(path)


class FrameReader:
    """onnxruntime's CalibrationDataReader over letterboxed tensors, one frame per call; supports
    ``set_range`` so that quantize_static can collect statistics a frame at a time."""

    def __init__(self, input_name: str, tensors: list[np.ndarray]):
        self.input_name = input_name
        self.tensors = tensors
        self._start, self._end = 0, len(tensors)
        self._next = 0

    def get_next(self) -> dict | None:
        if self._next >= self._end:
            return None
        tensor = self.tensors[self._next]
        self._next += 1
        return {self.input_name: tensor}

    def __len__(self) -> int:
        return len(self.tensors)

    def set_range(self, start_index: int, end_index: int) -> None:
        self._start, self._end = start_index, min(end_index, len(self.tensors))
        self._next = self._start

    def rewind(self) -> None:
        self.set_range(0, len(self.tensors))


def letterbox_all(card: ModelCard, frames: list[np.ndarray], size: tuple[int, int] | None) -> list[np.ndarray]:
    pre = Preprocessor(card.input, size)
    return [pre(frame)[0].copy() for frame in frames]  # the Preprocessor reuses its buffer


# -- quantization ------------------------------------------------------------------------------
def quantize(model: Path, output: Path, reader: FrameReader, method: str, *, pre_process: bool = False,
             reduce_range: bool = False, percentile: float = 99.999, exclude: list[str] | None = None,
             equalize_strength: float | None = None) -> dict:
    """quantize_static into ``output`` (QDQ, per-channel int8 weights, uint8 activations), after
    activation equalization when ``equalize_strength`` is given.  Returns what was done."""
    report: dict = {}
    from onnxruntime.quantization import (CalibrationMethod, QuantFormat, QuantType, quant_pre_process,
                                          quantize_static)

    calibrate = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
                 "percentile": CalibrationMethod.Percentile}[method]
    extra = {
        # one frame per statistics pass: frames of different sizes never meet in one array, and the
        # histograms (entropy, percentile) never hold more than one frame's activations
        "CalibStridedMinMax": 1,
        "CalibPercentile": percentile,
    }
    with tempfile.TemporaryDirectory(prefix="livepose-int8-") as tmp:
        source = model
        if pre_process:
            source = Path(tmp) / "pre.onnx"
            quant_pre_process(str(model), str(source), skip_symbolic_shape=True)  # ONNX shape inference suffices
        if equalize_strength is not None:
            import onnx

            graph = onnx.load(str(source))
            chains = equalize(graph, reader, equalize_strength)
            equalized = Path(tmp) / "equalized.onnx"
            onnx.save(graph, str(equalized))
            diff, scale = fp32_difference(source, equalized, reader)
            if not diff <= 1e-4 * max(scale, 1.0):
                raise ModelError(f"{model}: activation equalization changed the fp32 output by {diff:.3g} "
                                 f"(outputs up to {scale:.3g}); not quantizing")
            report["equalized_tensors"] = chains
            report["equalized_fp32_max_abs_diff"] = float(f"{diff:.3g}")
            source = equalized
        # onnxruntime's calibrators print a line per statistics pass: keep them out of the tool's output
        with contextlib.redirect_stdout(io.StringIO()):
            quantize_static(
                str(source), str(output), reader,
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                reduce_range=reduce_range,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=calibrate,
                nodes_to_exclude=exclude or [],
                extra_options=extra,
            )
    return report


def fp32_difference(a: Path, b: Path, reader: "FrameReader") -> tuple[float, float]:
    """Largest |output difference| of two fp32 models on the first calibration frame, and the
    largest |output| (for scale)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    reader.rewind()
    feed = reader.get_next()
    reader.rewind()
    outs = [ort.InferenceSession(str(m), options, providers=["CPUExecutionProvider"]).run(None, feed) for m in (a, b)]
    diff = max(float(np.abs(x - y).max()) for x, y in zip(*outs))
    return diff, max(float(np.abs(x).max()) for x in outs[0])


# -- activation equalization -------------------------------------------------------------------
# Activations are quantized with one scale per tensor.  In this network many tensors mix channels
# whose ranges differ by 100x (a stage's input holds the backbone features, up to ~35, next to the
# previous stage's heatmaps and PAFs, about +-1), and the small channels lose nearly all their
# levels.  Every such tensor T here is made by convolutions whose output channels can be scaled
# (a Conv, a ReLU of a Conv: ReLU(t x) = t ReLU(x) for t > 0, or a Concat of those) and is read
# only by convolutions that can undo the scale on their input channels (a depthwise Conv: its
# channel's filter divided by t; any other Conv: that input channel's weights divided by t).  So
# channel c of T is multiplied by
#     t_c = (max_k r_k / r_c) ** strength        (r_c: largest |value| of channel c in calibration)
# in its producer's weights and bias and divided back out in its consumers: the fp32 function is
# unchanged (checked), each tensor's values change and no other tensor's do.  strength 1 gives
# every channel the tensor's full range, so each channel's rounding error is proportional to its
# own range, as with a scale per channel; 0 changes nothing.  The consumers' weights, quantized
# per output channel, are then quantized relative to the largest contribution they receive.
def _attr(node, name: str, default=None):
    import onnx

    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


class _Graph:
    def __init__(self, model):
        from collections import defaultdict

        from onnx import numpy_helper

        self.model = model
        self.inits = {i.name: i for i in model.graph.initializer}
        self.arrays = {name: numpy_helper.to_array(t) for name, t in self.inits.items()}
        self.consumers = defaultdict(list)
        self.producer = {}
        for node in model.graph.node:
            for name in node.input:
                self.consumers[name].append(node)
            for name in node.output:
                self.producer[name] = node
        self.outputs = {o.name for o in model.graph.output}

    def only_consumer(self, tensor: str, node) -> bool:
        return tensor not in self.outputs and [c.name for c in self.consumers[tensor]] == [node.name]

    def conv_channels(self, node) -> int | None:
        """Output channels of a Conv with initializer weights (and bias, if any)."""
        if node.op_type != "Conv" or any(x not in self.arrays for x in node.input[1:]):
            return None
        return int(self.arrays[node.input[1]].shape[0])

    def scalable_rows(self, tensor: str):
        """[(conv node, first channel, channels)] making up ``tensor`` channel by channel, with None
        for a block whose channels cannot be scaled; None when the tensor cannot be handled."""
        node = self.producer.get(tensor)
        if node is None:
            return None
        if node.op_type == "Conv":
            channels = self.conv_channels(node)
            return None if channels is None else [(node, channels)]
        if node.op_type == "Relu":
            conv = self.producer.get(node.input[0])
            if conv is None or not self.only_consumer(node.input[0], node):
                return None
            channels = self.conv_channels(conv)
            return None if channels is None else [(conv, channels)]
        if node.op_type == "Concat" and _attr(node, "axis") == 1:
            blocks = []
            for part in node.input:
                inner = self.scalable_rows(part) if self.only_consumer(part, node) else None
                if inner is None:
                    channels = self._channels_of(part)
                    if channels is None:
                        return None
                    blocks.append((None, channels))
                else:
                    blocks += inner
            return blocks
        return None

    def _channels_of(self, tensor: str) -> int | None:
        node = self.producer.get(tensor)
        if node is None:
            return None
        if node.op_type == "Conv":
            return self.conv_channels(node)
        if node.op_type in ("Relu", "MaxPool"):
            return self._channels_of(node.input[0])
        if node.op_type == "Concat" and _attr(node, "axis") == 1:
            parts = [self._channels_of(p) for p in node.input]
            return None if None in parts else sum(parts)
        return None

    def undoable(self, tensor: str, channels: int) -> bool:
        """Every consumer is a Conv reading ``tensor`` as its input and able to undo a channel scale."""
        readers = self.consumers[tensor]
        if not readers or tensor in self.outputs:
            return False
        for node in readers:
            if node.op_type != "Conv" or node.input[0] != tensor or node.input[1] not in self.arrays:
                return False
            w = self.arrays[node.input[1]]
            group = _attr(node, "group", 1)
            if not ((group == 1 and w.shape[1] == channels) or (group == channels and w.shape[:2] == (channels, 1))):
                return False
        return True

    def set(self, node, index: int, array: np.ndarray) -> None:
        """Replace ``node``'s initializer input ``index``, copying it first when other nodes share it."""
        from onnx import numpy_helper

        name = node.input[index]
        if len(self.consumers[name]) > 1:
            new = f"{name}__livepose_eq_{node.name}"
            self.model.graph.initializer.append(numpy_helper.from_array(array.astype(np.float32), new))
            self.consumers[name] = [c for c in self.consumers[name] if c.name != node.name]
            self.consumers[new] = [node]
            node.input[index] = new
            self.inits[new] = self.model.graph.initializer[-1]
            name = new
        else:
            self.inits[name].CopyFrom(numpy_helper.from_array(array.astype(np.float32), name))
        self.arrays[name] = array.astype(np.float32)


def equalizable_tensors(model) -> list[tuple[str, list]]:
    """(tensor, producer blocks) for every activation that equalization can rescale."""
    g = _Graph(model)
    found = []
    for node in model.graph.node:
        if node.op_type not in ("Conv", "Relu", "Concat"):
            continue
        tensor = node.output[0]
        if node.op_type == "Conv" and any(c.op_type == "Relu" for c in g.consumers[tensor]):
            continue  # its ReLU's output is the tensor the next layer reads
        blocks = g.scalable_rows(tensor)
        if not blocks or all(conv is None for conv, _ in blocks):
            continue
        if g.undoable(tensor, sum(n for _, n in blocks)):
            found.append((tensor, blocks))
    return found


def channel_maxima(model, tensors: list[str], reader: "FrameReader") -> dict[str, np.ndarray]:
    """The largest |value| of each channel of each tensor over the calibration frames."""
    import onnx
    import onnxruntime as ort

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    names = []
    for k, tensor in enumerate(tensors):
        absolute, out = f"{tensor}__livepose_abs", f"{tensor}__livepose_channel_max"
        probe.graph.node.append(onnx.helper.make_node("Abs", [tensor], [absolute], name=f"livepose_abs_{k}"))
        probe.graph.node.append(onnx.helper.make_node("ReduceMax", [absolute], [out], axes=[0, 2, 3], keepdims=0,
                                                      name=f"livepose_max_{k}"))
        probe.graph.output.append(onnx.helper.make_tensor_value_info(out, onnx.TensorProto.FLOAT, None))
        names.append(out)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(probe.SerializeToString(), options, providers=["CPUExecutionProvider"])
    maxima: dict[str, np.ndarray] = {}
    reader.rewind()
    while (feed := reader.get_next()) is not None:
        for tensor, value in zip(tensors, session.run(names, feed)):
            maxima[tensor] = value if tensor not in maxima else np.maximum(maxima[tensor], value)
    reader.rewind()
    return maxima


def equalize(model, reader: "FrameReader", strength: float) -> int:
    """Rescale the channels of every equalizable activation in place; returns how many tensors."""
    found = equalizable_tensors(model)
    if not found:
        return 0
    maxima = channel_maxima(model, [t for t, _ in found], reader)
    g = _Graph(model)
    for tensor, blocks in found:
        r = maxima[tensor].astype(np.float64)
        scalable = np.concatenate([np.full(n, conv is not None) for conv, n in blocks])
        live = scalable & (r > 0)  # a channel that never fires is left as it is
        t = np.ones_like(r)
        t[live] = np.minimum((r.max() / r[live]) ** strength, 1e4)
        start = 0
        for conv, channels in blocks:
            if conv is not None:
                part = t[start:start + channels]
                w = g.arrays[conv.input[1]]
                g.set(conv, 1, w * part.reshape((-1,) + (1,) * (w.ndim - 1)))
                if len(conv.input) > 2:
                    g.set(conv, 2, g.arrays[conv.input[2]] * part)
            start += channels
        for reader_node in list(g.consumers[tensor]):
            w = g.arrays[reader_node.input[1]]
            if _attr(reader_node, "group", 1) == 1:
                g.set(reader_node, 1, w / t.reshape((1, -1) + (1,) * (w.ndim - 2)))
            else:  # depthwise: channel c's filter
                g.set(reader_node, 1, w / t.reshape((-1,) + (1,) * (w.ndim - 1)))
    return len(found)


def onnx_node_names(model: Path) -> list[str]:
    import onnx

    return [n.name for n in onnx.load(str(model), load_external_data=False).graph.node]


def nodes_to_exclude(model: Path, only: str | None, keep_fp32: str | None) -> list[str]:
    """Names of the nodes to leave in fp32: those not matching ``only`` (a regular expression
    searched in node names; None: all match) and those matching ``keep_fp32``."""
    names = onnx_node_names(model)
    exclude = set()
    for option, pattern, keep in (("--only", only, True), ("--keep-fp32", keep_fp32, False)):
        if pattern is None:
            continue
        try:
            rx = re.compile(pattern)
        except re.error as exc:
            raise InputError(f"{option} {pattern!r}: not a regular expression ({exc})") from None
        hits = {n for n in names if rx.search(n)}
        if not hits:
            raise InputError(f"{option} {pattern!r}: no node name of {model.name} matches")
        exclude |= (set(names) - hits) if keep else hits
    if len(exclude) == len(names):
        raise InputError("--only/--keep-fp32 leave no node to quantize")
    return [n for n in names if n in exclude]


def write_card(source_card: Path, model: Path, card_out: Path, quantization: dict) -> dict:
    """The source card, copied, naming the int8 model with its sha256 and how it was made."""
    data = json.loads(source_card.read_text(encoding="utf-8"))
    data.pop("variants", None)
    data["name"] = f"{data['name']}_int8"
    data["description"] = (f"{data.get('description', data['name']).rstrip('.')}. Int8 by static quantization "
                           f"of {data['model']}, {quantization['quantized_nodes']} (see 'quantization').")
    try:
        data["model"] = model.resolve().relative_to(card_out.resolve().parent).as_posix()
    except ValueError:
        data["model"] = str(model.resolve())
    data["sha256"] = file_sha256(model)
    data["precision"] = "int8"
    data["quantization"] = quantization
    tmp = card_out.with_name(card_out.name + ".part")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    tmp.replace(card_out)
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--card", type=Path, help="model card of the fp32 network (default: the bundled "
                                                  "mobilenet_thin.json; lwop ships its own int8 IR)")
    parser.add_argument("--calibration", type=Path, action="append", metavar="PATH",
                        help="video, image or folder of them (repeatable; default: "
                             + ", ".join(str(p) for p in DEFAULT_SOURCES) + ")")
    parser.add_argument("--frames", type=int, default=120, help="calibration frames in all (default 120)")
    parser.add_argument("--size", type=parse_size, metavar="WxH",
                        help="letterbox size of the calibration frames (default: the card's, e.g. -1x368)")
    parser.add_argument("--method", choices=METHODS, help="how activation ranges are chosen (default: the "
                                                              "network's preset, else minmax)")
    parser.add_argument("--percentile", type=float, default=99.999, help="for --method percentile")
    parser.add_argument("--reduce-range", action=argparse.BooleanOptionalAction, default=None,
                        help="7-bit weights, for CPUs without VNNI (default: the network's preset, else off)")
    parser.add_argument("--pre-process", action="store_true", help="run onnxruntime's quant_pre_process first")
    parser.add_argument("--equalize", type=float, metavar="STRENGTH",
                        help="equalize the channel ranges of activations before quantizing, STRENGTH from 0 "
                             "(off) to 1 (every channel the tensor's range); default: the network's preset, else 0")
    parser.add_argument("--only", metavar="REGEX",
                        help="quantize only the nodes whose name matches (default: the network's preset, else all)")
    parser.add_argument("--keep-fp32", metavar="REGEX", help="leave the nodes whose name matches in fp32")
    parser.add_argument("--no-preset", action="store_true",
                        help="ignore the measured preset for this network (see PRESETS in this file)")
    parser.add_argument("--output", type=Path, help="int8 model (default: NAME.int8.onnx beside NAME.json); "
                                                    "its card is written beside it with .json")
    parser.add_argument("--quiet", "-q", action="store_true")
    args = parser.parse_args(argv)
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    try:
        try:
            import onnxruntime
            import onnxruntime.quantization  # noqa: F401
        except ImportError as exc:
            raise LiveposeError(f"onnxruntime's quantization tools are missing ({exc}); pip install onnxruntime onnx")
        card = load_card(args.card if args.card is not None else bundled_models_dir() / "mobilenet_thin.json", None)
        if not card.model_path.is_file():
            raise ModelError(f"{card.model_path}: model file not found (named by {card.card_path})")
        if card.sha256 and file_sha256(card.model_path) != card.sha256:
            raise ModelError(f"{card.model_path}: sha256 differs from the one in {card.card_path}")
        sources = args.calibration
        if not sources:
            sources = [p for p in DEFAULT_SOURCES if p.exists()]
            if not sources:
                raise InputError("no calibration frames: the default sources "
                                 + ", ".join(str(p) for p in DEFAULT_SOURCES)
                                 + " are absent; give --calibration VIDEO_OR_FOLDER")
        output = args.output or sibling_card_path(card, "int8").with_suffix(".onnx")
        if output.suffix != ".onnx":
            raise InputError(f"{output}: --output must end in .onnx (its card is written beside it as .json)")
        if output.resolve() == card.model_path.resolve():
            raise InputError(f"{output}: --output would overwrite the fp32 model")
        existing = output.with_suffix(".json")
        if existing.is_file():
            try:
                kept = load_card(existing)
            except ModelError:
                kept = None
            if kept is not None and kept.model_path.resolve() != output.resolve():
                raise InputError(f"{existing}: already the card of {kept.model_path.name}, which --output "
                                 f"{output.name} would replace; give another --output")
        output.parent.mkdir(parents=True, exist_ok=True)
        preset = {} if args.no_preset else PRESETS.get(card.name, {})
        method = args.method or preset.get("method", "minmax")
        strength = args.equalize if args.equalize is not None else preset.get("equalize", 0.0)
        if not 0.0 <= strength <= 1.0:
            raise InputError(f"--equalize {strength}: must be between 0 and 1")
        only = args.only if args.only is not None else preset.get("only")
        reduce_range = args.reduce_range if args.reduce_range is not None else preset.get("reduce_range", False)
        exclude = nodes_to_exclude(card.model_path, only, args.keep_fp32)
        total = len(onnx_node_names(card.model_path))
        if preset and not args.quiet:
            print(f"preset for {card.name}: method {method}, equalize {strength}, only {only!r}, "
                  f"reduce range {reduce_range} (override with the options, or --no-preset)", flush=True)

        t0 = time.perf_counter()
        frames, record = gather_frames(sources, args.frames)
        tensors = letterbox_all(card, frames, args.size)
        sizes = sorted({f"{t.shape[3]}x{t.shape[2]}" if card.input.layout == "NCHW" else f"{t.shape[2]}x{t.shape[1]}"
                        for t in tensors})
        say(f"{len(tensors)} calibration frames from {len(record)} sources, network sizes {', '.join(sizes)} "
            f"({time.perf_counter() - t0:.1f} s)")
        t0 = time.perf_counter()
        done = quantize(card.model_path, output, FrameReader(card.input.name, tensors), method,
                        pre_process=args.pre_process, reduce_range=reduce_range, percentile=args.percentile,
                        exclude=exclude, equalize_strength=strength or None)
        seconds = time.perf_counter() - t0
        size = args.size or card.input.default_size
        quantization = {
            "tool": "tools/quantize_int8.py (onnxruntime.quantization.quantize_static)",
            "onnxruntime": onnxruntime.__version__,
            "date": datetime.date.today().isoformat(),
            "source_model": card.model_path.name,
            "source_sha256": file_sha256(card.model_path),
            "format": "QDQ",
            "weights": "int8, per channel" + (", 7-bit range" if reduce_range else ""),
            "activations": "uint8, per tensor",
            "calibration_method": method + (f" {args.percentile}" if method == "percentile" else ""),
            "calibration_frames": len(tensors),
            "calibration_size": f"{size[0]}x{size[1]}",
            "calibration_sources": record,
            "pre_process": bool(args.pre_process),
            "equalization": None if not strength else {
                "strength": strength, "tensors": done.get("equalized_tensors"),
                "fp32_max_abs_diff": done.get("equalized_fp32_max_abs_diff")},
            "quantized_nodes": f"{total - len(exclude)} of {total} nodes"
                               + (f" (names matching {only!r}; the others fp32)" if only else ""),
            "kept_fp32": args.keep_fp32,
            "fp32_nodes": len(exclude),
        }
        card_out = output.with_suffix(".json")
        write_card(card.card_path, output, card_out, quantization)
        check = load_card(card_out)  # the written card must load like any other
        if check.precision != "int8":
            raise ModelError(f"{card_out}: written card does not read back as int8")
        say(f"wrote {output} ({output.stat().st_size / 1e6:.1f} MB, sha256 {file_sha256(output)[:16]}..., "
            f"{seconds:.0f} s) and {card_out}")
        return 0
    except LiveposeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
