"""The bundled networks, by name: which ones ship, what they are, and what was measured of each.

    livepose run match.mp4 --model mobilenet_thin       # a bundled network by name
    livepose run match.mp4 --model my_net.onnx          # any OpenPose-style ONNX file with its card
    livepose models                                     # the bundled networks, with measured AP and speed

A bundled network is a model card in the bundled models folder (``models/`` of a checkout,
``livepose/_bundled`` of an installed wheel) whose weights are its own (a card of a converted
precision, ``NAME.int8.json`` or ``NAME.fp16.json``, is a sibling of its network, not another
network).  The figures shown for each come from the committed quality baseline
(``models/quality_baseline.json``, written only by ``tools/quality_baseline.py``), never typed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from livepose.card import CARD_PRECISIONS, DEFAULT_CARD_NAME, ModelCard, bundled_models_dir, load_card
from livepose.errors import ModelError

BASELINE_NAME = "quality_baseline.json"


@dataclass(frozen=True)
class NetworkInfo:
    """One bundled network: its ``name`` (what ``--model`` takes), its card, and the card's
    ``description`` and ``license`` lines."""

    name: str
    card_path: Path
    description: str
    license: str

    def card(self) -> ModelCard:
        return load_card(self.card_path)


def _is_sibling(path: Path) -> bool:
    """``NAME.int8.json``-style cards describe a converted precision of another network."""
    stem_suffix = Path(path.stem).suffix.lstrip(".")
    return stem_suffix in CARD_PRECISIONS


def bundled_networks(folder: Path | None = None) -> list[NetworkInfo]:
    """The bundled networks, the default first, then by name."""
    folder = bundled_models_dir() if folder is None else Path(folder)
    found = []
    for path in sorted(folder.glob("*.json")):
        if _is_sibling(path):
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        if not isinstance(data, dict) or "parts" not in data or "model" not in data:
            continue  # not a card (e.g. the quality baseline)
        found.append(NetworkInfo(str(data.get("name") or path.stem), path, str(data.get("description", "")),
                                 str(data.get("license", ""))))
    found.sort(key=lambda n: (n.card_path.name != DEFAULT_CARD_NAME, n.name))
    return found


def default_network() -> str:
    """The name of the network used when none is given."""
    return bundled_networks()[0].name


def _looks_like_a_name(spec: str) -> bool:
    return "/" not in spec and "\\" not in spec and Path(spec).suffix == ""


def card_for(model: str | Path | None = None, card: str | Path | None = None) -> ModelCard:
    """The card ``--model`` and ``--card`` mean: a bundled network's name, an ONNX path (its card
    beside it unless ``card`` is given) or nothing (the default network).  A name that is not a
    bundled network and not a file is one :class:`ModelError` line listing the names there are."""
    if model is not None and card is None:
        spec = str(model)
        networks = {n.name: n for n in bundled_networks()}
        if spec in networks:
            return load_card(networks[spec].card_path)
        if _looks_like_a_name(spec) and not Path(spec).exists():
            names = ", ".join(networks) or "none"
            raise ModelError(f"{spec}: no bundled network of that name (the bundled networks are {names}); "
                             "or give the path of an ONNX file")
    return load_card(card, model)


def measured(folder: Path | None = None) -> dict:
    """What the committed quality baseline says of each bundled network: name -> figures (empty when
    the baseline is absent or has no such section)."""
    folder = bundled_models_dir() if folder is None else Path(folder)
    try:
        data = json.loads((folder / BASELINE_NAME).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    networks = data.get("networks") if isinstance(data, dict) else None
    return networks if isinstance(networks, dict) else {}


def describe_networks() -> list[str]:
    """The lines of ``livepose models``: per network its name, parts, limbs, default input size,
    license and the AP and milliseconds the baseline holds for it."""
    figures = measured()
    lines = []
    for k, net in enumerate(bundled_networks()):
        card = net.card()
        w, h = card.input.default_size
        head = f"{net.name}{' (default)' if k == 0 else ''}: {card.num_parts} parts, {card.num_limbs} limbs, " \
               f"input {w}x{h}, stride {card.stride:g}"
        lines.append(head)
        if net.description:
            lines.append(f"  {net.description}")
        if net.license:
            lines.append(f"  license: {net.license}")
        got = figures.get(net.name)
        if isinstance(got, dict) and got:
            parts, speed = [], None
            for key, label in (("coco_fixture", "the 4 COCO fixture photos"), ("coco_train_mini", "coco-train-mini")):
                sec = got.get(key)
                if isinstance(sec, dict) and sec.get("AP") is not None:
                    parts.append(f"AP {sec['AP']:.3f} on {label}")
                    speed = sec.get("speed") or speed
            if isinstance(speed, dict) and speed.get("inference_ms") is not None:
                parts.append(f"{speed['inference_ms']:.0f} ms per photo for the network "
                             f"({speed.get('backend', '?')}, {speed.get('machine', '?')})")
            lines.append("  measured: " + "; ".join(parts))
        else:
            lines.append("  measured: not in the quality baseline yet (python tools/quality_baseline.py --only networks)")
    return lines
