"""From an engine's outputs to the network's two maps.

:func:`output_maps` cuts the card's heatmap and PAF channels out of the raw outputs (output
name -> array, as :meth:`BaseNetwork.run_raw` returns them) as channels-last views, checking that
the channels fit; :func:`check_stride` checks the output grid against the card's stride for a
given network input size.  Nothing here knows about letterboxes or engines.
"""

from __future__ import annotations

import numpy as np

from livepose.card import MapSpec, ModelCard
from livepose.errors import ModelError


def check_channels(card: ModelCard, key: str, spec: MapSpec, channels: int) -> None:
    """The card's ``key`` ('heatmaps' or 'pafs') channels must fit an output of ``channels``."""
    if spec.offset + spec.count > channels:
        raise ModelError(
            f"{card.card_path}: fields '{key}.offset' and '{key}.count' ({spec.offset}+{spec.count} "
            f"channels) do not fit "
            f"output {spec.output!r} with {channels} channels (layout {spec.layout})"
        )


def _channels_last(card: ModelCard, out: np.ndarray, spec: MapSpec, key: str, index: int) -> np.ndarray:
    channels = out.shape[3] if spec.layout == "NHWC" else out.shape[1]
    check_channels(card, key, spec, channels)
    if spec.layout == "NHWC":
        return out[index, :, :, spec.offset : spec.offset + spec.count]
    return out[index, spec.offset : spec.offset + spec.count].transpose(1, 2, 0)


def output_maps(card: ModelCard, outputs: dict[str, np.ndarray], index: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(heatmaps (H, W, parts), pafs (H, W, 2L)) of entry ``index`` of a (batched) output, as views
    of the engine's arrays."""
    heat = _channels_last(card, outputs[card.heatmaps.output], card.heatmaps, "heatmaps", index)[:, :, : card.num_parts]
    pafs = _channels_last(card, outputs[card.pafs.output], card.pafs, "pafs", index)
    return heat, pafs


def check_stride(card: ModelCard, net_size: tuple[int, int], heatmaps: np.ndarray) -> None:
    """A ``net_size`` (w, h) input must give an output grid of the card's stride."""
    net_w, net_h = net_size
    stride = net_w / heatmaps.shape[1]
    if abs(stride - card.stride) > 1e-6 or abs(net_h / heatmaps.shape[0] - card.stride) > 1e-6:
        raise ModelError(
            f"{card.card_path}: field 'stride' is {card.stride} but a {net_w}x{net_h} input gave a "
            f"{heatmaps.shape[1]}x{heatmaps.shape[0]} output grid"
        )
