"""Model cards: the small JSON description that makes any OpenPose-style ONNX network usable.

A card names the parts, the limbs (pairs of parts) with the two PAF channels of each,
the stride of the output grid, how to feed the input (layout, channel order,
normalisation, default size) and where the heatmaps and PAFs are in the outputs.
The skeleton is defined here and nowhere else.  See models/README.md for the format.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import Any

import numpy as np

from livepose.errors import ModelError
from livepose.settings import DecodeConfig, SettingError

DEFAULT_CARD_NAME = "lwop.json"
# Weight precisions a card may declare (field 'precision', default fp32)
CARD_PRECISIONS = ("fp32", "fp16", "bf16", "int8")


def bundled_models_dir() -> Path:
    """Where the bundled network lives: inside the installed package (a wheel maps the
    project's models/ folder to ``livepose/_bundled``), or models/ of a source checkout."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "_bundled", package.parent / "models"):
        if (candidate / DEFAULT_CARD_NAME).is_file():
            return candidate
    return package.parent / "models"


@dataclass(frozen=True)
class InputSpec:
    name: str
    layout: str  # "NCHW" or "NHWC"
    channel_order: str  # "BGR" or "RGB"
    mean: tuple[float, float, float]  # subtracted from 0..255 pixels, in channel_order
    scale: tuple[float, float, float]  # multiplied after the mean
    default_size: tuple[int, int]  # (w, h); -1 in one of them: derived from the aspect ratio
    size_multiple: int
    pad_value: float


@dataclass(frozen=True)
class MapSpec:
    """Where one kind of map is: which output, its layout and its channel range."""

    output: str
    layout: str  # "NHWC" or "NCHW"
    offset: int
    count: int


@dataclass(frozen=True)
class FlipSpec:
    """What mirroring an image left-right does to the network's channels (a card's ``flip``).

    ``parts`` (P,): part ``p`` of the mirrored image is part ``parts[p]`` of the original (left and
    right swapped, the others themselves).  ``limbs`` (L,): limb ``k`` (a, b) of the original is
    limb ``limbs[k]`` of the mirrored image, the limb joining flip(a) and flip(b); ``reversed``
    (L,) bool: that limb runs from flip(b) to flip(a), so its field points the other way.  The x
    component of every field changes sign under the mirror (:mod:`livepose.augment`)."""

    pairs: tuple[tuple[str, str], ...]
    parts: np.ndarray  # (P,) int32, an involution
    limbs: np.ndarray  # (L,) int32, an involution
    reversed: np.ndarray  # (L,) bool


@dataclass(frozen=True)
class ModelCard:
    name: str
    model_path: Path
    card_path: Path
    sha256: str | None
    parts: tuple[str, ...]
    limbs: np.ndarray  # (L, 2) int32 part indices (a, b)
    paf_channels: np.ndarray  # (L, 2) int32 offsets of the x and y field inside the PAF block
    stride: int
    input: InputSpec
    heatmaps: MapSpec
    pafs: MapSpec
    precision: str = "fp32"  # of the model file's weights (a converted sibling says e.g. "fp16")
    flip: FlipSpec | None = None  # left/right pairs, for the accuracy mode's mirrored run
    # the network's own decoding rules (a card's ``decode``), used when a run names none (None: OpenPose's)
    decode: DecodeConfig | None = None
    # per backend, the precisions ``--precision auto`` may take, in order of preference (the first
    # this machine runs), e.g. (("openvino", ("bf16", "int8")),): measured on the dev sets before a
    # card says so (models/README.md)
    auto_precision: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def auto_precision_for(self, backend: str) -> tuple[str, ...]:
        """The precisions ``auto`` may take on ``backend`` for this card, preferred first (empty: its
        own model's)."""
        return dict(self.auto_precision).get(backend, ())

    @property
    def num_parts(self) -> int:
        return len(self.parts)

    @property
    def num_limbs(self) -> int:
        return int(self.limbs.shape[0])


def _field(data: dict, key: str, where: str, kind: type | tuple[type, ...]) -> Any:
    if key not in data:
        raise ModelError(f"{where}: field '{key}' is missing")
    value = data[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        want = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ModelError(f"{where}: field '{key}' must be {want}, got {value!r}")
    return value


def _triple(data: dict, key: str, where: str, default: float) -> tuple[float, float, float]:
    value = data.get(key, [default] * 3)
    if isinstance(value, (int, float)):
        value = [value] * 3
    if not (isinstance(value, list) and len(value) == 3 and all(isinstance(v, (int, float)) for v in value)):
        raise ModelError(f"{where}: field 'input.{key}' must be a number or a list of 3 numbers")
    return (float(value[0]), float(value[1]), float(value[2]))


def _layout(value: str, where: str, field: str) -> str:
    if value not in ("NCHW", "NHWC"):
        raise ModelError(f"{where}: field '{field}' must be 'NCHW' or 'NHWC', got {value!r}")
    return value


def _map_spec(data: dict, key: str, where: str) -> MapSpec:
    spec = _field(data, key, where, dict)
    out = MapSpec(
        output=_field(spec, "output", f"{where} ({key})", str),
        layout=_layout(spec.get("layout", "NHWC"), where, f"{key}.layout"),
        offset=_field(spec, "offset", f"{where} ({key})", int),
        count=_field(spec, "count", f"{where} ({key})", int),
    )
    if out.offset < 0 or out.count <= 0:
        raise ModelError(f"{where}: fields '{key}.offset' and '{key}.count' must be >= 0 and > 0")
    return out


def _flip_spec(data: Any, where: str, parts: list[str], limbs: list[tuple[int, int]]) -> FlipSpec | None:
    """The card's optional ``flip`` field: ``{"parts": [[left, right], ...]}``."""
    if data is None:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("parts"), list):
        raise ModelError(f"{where}: field 'flip' must be an object with 'parts', a list of [part, part] pairs")
    index = {p: i for i, p in enumerate(parts)}
    perm = list(range(len(parts)))
    seen: set[str] = set()
    pairs = []
    for k, pair in enumerate(data["parts"]):
        fw = f"{where}: field 'flip.parts[{k}]'"
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)):
            raise ModelError(f"{fw} must be two part names, got {pair!r}")
        for p in pair:
            if p not in index:
                raise ModelError(f"{fw} names {p!r}, not a part of this card")
            if p in seen:
                raise ModelError(f"{fw} pairs {p!r} a second time")
        if pair[0] == pair[1]:
            raise ModelError(f"{fw} pairs {pair[0]!r} with itself (a part not listed is its own mirror)")
        seen.update(pair)
        a, b = index[pair[0]], index[pair[1]]
        perm[a], perm[b] = b, a
        pairs.append((pair[0], pair[1]))
    by_parts = {frozenset(limb): k for k, limb in enumerate(limbs)}
    mirror, rev = [], []
    for k, (a, b) in enumerate(limbs):
        fa, fb = perm[a], perm[b]
        m = by_parts.get(frozenset((fa, fb)))
        if m is None:
            raise ModelError(f"{where}: field 'flip.parts': limb {k} ({parts[a]}, {parts[b]}) mirrors to "
                             f"({parts[fa]}, {parts[fb]}), which is not a limb of this card")
        mirror.append(m)
        rev.append(limbs[m] != (fa, fb))
    return FlipSpec(pairs=tuple(pairs), parts=np.asarray(perm, np.int32), limbs=np.asarray(mirror, np.int32),
                    reversed=np.asarray(rev, np.bool_))


def _decode_spec(data: Any, where: str) -> DecodeConfig | None:
    """The card's optional ``decode`` field: the network's default decoding rules, as
    ``{DecodeConfig field: value}``; a field not named keeps OpenPose's value."""
    if data is None:
        return None
    names = [f.name for f in dataclass_fields(DecodeConfig)]
    if not isinstance(data, dict):
        raise ModelError(f"{where}: field 'decode' must be an object of decoding settings ({', '.join(names)})")
    defaults = DecodeConfig()
    values = {}
    for key, value in data.items():
        if key not in names:
            raise ModelError(f"{where}: field 'decode.{key}' is not a decoding setting; the settings are "
                             + ", ".join(names))
        if isinstance(getattr(defaults, key), float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)  # JSON's 0 for 0.0
        values[key] = value
    try:
        return DecodeConfig(**values)
    except SettingError as exc:  # "setting decode.NAME: must be ...; got V[; setting ...]": the first one
        first = re.match(r"setting decode\.(\w+): (.*?)(?=; setting |$)", str(exc))
        if first is None:
            raise ModelError(f"{where}: field 'decode': {exc}") from None
        raise ModelError(f"{where}: field 'decode.{first.group(1)}' {first.group(2)}") from None


def load_card(card_path: str | Path | None = None, model_path: str | Path | None = None) -> ModelCard:
    """Read and check a model card.  ``model_path`` overrides the card's own ``model`` entry.

    With no card path, the bundled default card is used.  When only a model path is given,
    the card is looked for beside it (same name, ``.json``).
    """
    if card_path is None:
        if model_path is not None and Path(model_path).with_suffix(".json").is_file():
            card_path = Path(model_path).with_suffix(".json")
        elif model_path is not None:
            raise ModelError(
                f"{model_path}: no model card beside it (expected {Path(model_path).with_suffix('.json')}); "
                "pass one with --card"
            )
        else:
            card_path = bundled_models_dir() / DEFAULT_CARD_NAME
    card_path = Path(card_path)
    where = str(card_path)
    try:
        data = json.loads(card_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{where}: model card not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"{where}: cannot read model card ({exc})") from None
    except json.JSONDecodeError as exc:
        raise ModelError(f"{where}: model card is not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(data, dict):
        raise ModelError(f"{where}: model card must be a JSON object")

    name = _field(data, "name", where, str)
    parts = _field(data, "parts", where, list)
    if not parts or not all(isinstance(p, str) and p for p in parts):
        raise ModelError(f"{where}: field 'parts' must be a non-empty list of names")
    if len(set(parts)) != len(parts):
        raise ModelError(f"{where}: field 'parts' has duplicate names")
    index = {p: i for i, p in enumerate(parts)}

    limbs_in = _field(data, "limbs", where, list)
    if not limbs_in:
        raise ModelError(f"{where}: field 'limbs' must not be empty")
    limbs, pafs = [], []
    for k, limb in enumerate(limbs_in):
        lw = f"{where}: field 'limbs[{k}]'"
        if not isinstance(limb, dict) or "parts" not in limb or "paf" not in limb:
            raise ModelError(f"{lw} must be an object with 'parts' and 'paf'")
        pair, paf = limb["parts"], limb["paf"]
        if not (isinstance(pair, list) and len(pair) == 2):
            raise ModelError(f"{lw}.parts must be two part names")
        for p in pair:
            if p not in index:
                raise ModelError(f"{lw}.parts names unknown part {p!r}")
        if pair[0] == pair[1]:
            raise ModelError(f"{lw}.parts joins a part to itself")
        if not (isinstance(paf, list) and len(paf) == 2 and all(isinstance(c, int) for c in paf)):
            raise ModelError(f"{lw}.paf must be two channel offsets (x, y)")
        limbs.append((index[pair[0]], index[pair[1]]))
        pafs.append(tuple(paf))

    stride = _field(data, "stride", where, int)
    if stride <= 0:
        raise ModelError(f"{where}: field 'stride' must be positive")

    inp = _field(data, "input", where, dict)
    size = inp.get("default_size", [-1, 368])
    if not (isinstance(size, list) and len(size) == 2 and all(isinstance(s, int) for s in size)
            and max(size) > 0 and all(s > 0 or s == -1 for s in size)):
        raise ModelError(f"{where}: field 'input.default_size' must be [w, h] with -1 for at most one")
    order = inp.get("channel_order", "BGR")
    if order not in ("BGR", "RGB"):
        raise ModelError(f"{where}: field 'input.channel_order' must be 'BGR' or 'RGB'")
    input_spec = InputSpec(
        name=_field(inp, "name", f"{where} (input)", str),
        layout=_layout(inp.get("layout", "NCHW"), where, "input.layout"),
        channel_order=order,
        mean=_triple(inp, "mean", where, 0.0),
        scale=_triple(inp, "scale", where, 1.0),
        default_size=(size[0], size[1]),
        size_multiple=int(inp.get("size_multiple", stride)),
        pad_value=float(inp.get("pad_value", 0)),
    )
    if input_spec.size_multiple <= 0:
        raise ModelError(f"{where}: field 'input.size_multiple' must be positive")

    heat = _map_spec(data, "heatmaps", where)
    paf = _map_spec(data, "pafs", where)
    if heat.count < len(parts):
        raise ModelError(
            f"{where}: field 'heatmaps.count' is {heat.count}, fewer than the {len(parts)} parts"
        )
    if paf.count != 2 * len(limbs):
        raise ModelError(
            f"{where}: field 'pafs.count' is {paf.count} but {len(limbs)} limbs need {2 * len(limbs)} channels"
        )
    flat = [c for pair in pafs for c in pair]
    if min(flat) < 0 or max(flat) >= paf.count or len(set(flat)) != len(flat):
        raise ModelError(f"{where}: field 'limbs[].paf' must use each of the {paf.count} PAF channels once")
    if heat.output == paf.output and heat.layout != paf.layout:
        raise ModelError(f"{where}: fields 'heatmaps.layout' and 'pafs.layout' differ on the same output")

    model_file = Path(model_path) if model_path is not None else card_path.parent / _field(data, "model", where, str)
    sha = data.get("sha256")
    precision = data.get("precision", "fp32")
    if precision not in CARD_PRECISIONS:
        raise ModelError(f"{where}: field 'precision' must be one of {', '.join(CARD_PRECISIONS)}, got {precision!r}")
    flip = _flip_spec(data.get("flip"), where, parts, limbs)
    decode = _decode_spec(data.get("decode"), where)
    auto = _auto_precision(data.get("auto_precision"), where)
    return ModelCard(
        name=name,
        model_path=model_file,
        card_path=card_path,
        sha256=sha if isinstance(sha, str) else None,
        parts=tuple(parts),
        limbs=np.asarray(limbs, np.int32).reshape(-1, 2),
        paf_channels=np.asarray(pafs, np.int32).reshape(-1, 2),
        stride=stride,
        input=input_spec,
        heatmaps=heat,
        pafs=paf,
        precision=precision,
        flip=flip,
        decode=decode,
        auto_precision=auto,
    )


AUTO_BACKENDS = ("onnxruntime", "openvino")


def _auto_precision(value: Any, where: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """A card's ``auto_precision``: {backend: precision or [precisions, preferred first]}, e.g.
    {"openvino": ["bf16", "int8"]}."""
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise ModelError(f"{where}: field 'auto_precision' must be an object {{backend: precision}}")
    out = []
    for backend, precisions in value.items():
        if backend not in AUTO_BACKENDS:
            raise ModelError(f"{where}: field 'auto_precision' names backend {backend!r}; "
                             f"use {' or '.join(AUTO_BACKENDS)}")
        listed = [precisions] if isinstance(precisions, str) else precisions
        if not isinstance(listed, list) or not listed or any(p not in CARD_PRECISIONS for p in listed):
            raise ModelError(f"{where}: field 'auto_precision.{backend}' must be one of "
                             f"{', '.join(CARD_PRECISIONS)} or a list of them, got {precisions!r}")
        out.append((backend, tuple(listed)))
    return tuple(sorted(out))


def sibling_card_path(card: ModelCard, precision: str) -> Path:
    """Where the card of ``card``'s model converted to ``precision`` lives: beside it, named
    ``<card stem>.<precision>.json`` (what ``tools/convert_fp16.py`` writes)."""
    return card.card_path.with_name(f"{card.card_path.stem}.{precision}.json")


def file_sha256(path: str | Path) -> str:
    """The hex sha256 of a file (what a card's ``sha256`` field holds)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
