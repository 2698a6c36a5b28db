"""Letterbox an image into the network input, and the one inverse mapping back to pixels.

The image keeps its aspect ratio: it is scaled to fit the requested network size and
placed at the top-left corner; the input is padded on the right and bottom to the size,
which is always a multiple of the card's ``size_multiple``.  A size of -1 in one
dimension means "whatever the aspect ratio asks for", so ``(-1, 368)`` gives every
image a height of 368 and the narrowest stride-aligned width that holds it.

The network input never exceeds ``MAX_NET_AREA`` pixels (4 MP, e.g. 2048x2048): an extreme aspect
ratio (a 20000x64 panorama at -1x368 would ask for 115000x368) is scaled down to fit, with one
warning (:class:`NetSizeWarning`, shown once per image size).  A size side must be at least the
card's ``size_multiple`` (the network's stride).
"""

from __future__ import annotations

import math
import warnings

import cv2
import numpy as np

from livepose.card import InputSpec
from livepose.types import Letterbox


#: the largest network input, in pixels (w x h): 4 MP, e.g. 2048x2048 or 4096x1024
MAX_NET_AREA = 4096 * 1024
#: the smallest side of --size: below it a network's stride leaves no feature map worth decoding
MIN_SIZE_SIDE = 16


class NetSizeWarning(UserWarning):
    """The network input an image asks for is larger than MAX_NET_AREA and was scaled down."""


def _round_up(value: float, multiple: int) -> int:
    return max(multiple, int(math.ceil(value / multiple - 1e-6)) * multiple)


def _round_down(value: float, multiple: int) -> int:
    return max(multiple, int(math.floor(value / multiple + 1e-6)) * multiple)


def plan_letterbox(image_size: tuple[int, int], size: tuple[int, int], multiple: int) -> Letterbox:
    """Choose the scale and network input size for an image of ``image_size`` (w, h)."""
    w, h = image_size
    want_w, want_h = size
    if w <= 0 or h <= 0:
        raise ValueError(f"image size must be positive, got {image_size}")
    if want_w <= 0 and want_h <= 0:
        raise ValueError(f"network size needs at least one positive dimension, got {size}")
    if want_w <= 0:
        scale = want_h / h
        net = (_round_up(w * scale, multiple), _round_up(want_h, multiple))
    elif want_h <= 0:
        scale = want_w / w
        net = (_round_up(want_w, multiple), _round_up(h * scale, multiple))
    else:
        net = (_round_up(want_w, multiple), _round_up(want_h, multiple))
        scale = min(want_w / w, want_h / h)
    if net[0] * net[1] > MAX_NET_AREA:
        asked = net
        shrink = math.sqrt(MAX_NET_AREA / (net[0] * net[1]))
        scale *= shrink
        net = (_round_down(net[0] * shrink, multiple), _round_down(net[1] * shrink, multiple))
        # the content must still fit the (rounded down) input
        scale = min(scale, net[0] / w, net[1] / h)
        warnings.warn(NetSizeWarning(
            f"an image of {w}x{h} at size {want_w}x{want_h} asks for a network input of {asked[0]}x{asked[1]}, "
            f"over the maximum of 4 MP ({MAX_NET_AREA} pixels); running it at {net[0]}x{net[1]}"), stacklevel=2)
    return Letterbox(image_size=(w, h), net_size=net, scale=float(scale))


def parse_size(text: str) -> tuple[int, int]:
    """Parse 'WxH' where either may be -1 (keep the aspect ratio), e.g. '432x368' or '-1x368'."""
    try:
        w_text, h_text = text.lower().split("x")
        w, h = int(w_text), int(h_text)
    except ValueError:
        raise ValueError(f"size must look like 432x368 or -1x368, got {text!r}") from None
    if (w <= 0 and w != -1) or (h <= 0 and h != -1) or (w == -1 and h == -1):
        raise ValueError(f"size must be positive numbers, -1 allowed in one of them, got {text!r}")
    if max(w, h) > 4096:
        raise ValueError(f"size {text!r} is larger than 4096 pixels on a side")
    if min(v for v in (w, h) if v != -1) < MIN_SIZE_SIDE:
        raise ValueError(f"size {text!r} is smaller than {MIN_SIZE_SIDE} pixels on a side")
    if w > 0 and h > 0 and w * h > MAX_NET_AREA:
        raise ValueError(f"size {text!r} is over the maximum network input of 4 MP ({MAX_NET_AREA} pixels)")
    return (w, h)


class Letterboxer:
    """Writes BGR uint8 images into network input tensors: the resize, the channel order, the
    normalisation and the padding, into a destination the caller owns (one image of a batch
    buffer).  Keeps one resize buffer per content size; not shared between threads."""

    def __init__(self, spec: InputSpec, size: tuple[int, int] | None = None):
        self.spec = spec
        self.size = size if size is not None else spec.default_size
        order = [0, 1, 2] if spec.channel_order == "BGR" else [2, 1, 0]
        self._src_channel = order  # input channel c is taken from BGR channel order[c]
        self._mean = np.asarray(spec.mean, np.float32)
        self._scale = np.asarray(spec.scale, np.float32)
        self._plain = bool(np.all(self._mean == 0) and np.all(self._scale == 1))
        self._pad = (np.float32(spec.pad_value) - self._mean) * self._scale
        self._resized: np.ndarray | None = None

    def plan(self, image_size: tuple[int, int]) -> Letterbox:
        return plan_letterbox(image_size, self.size, self.spec.size_multiple)

    def shape(self, net_size: tuple[int, int], batch: int = 1) -> tuple[int, int, int, int]:
        """The input tensor's shape for ``batch`` images of ``net_size`` (w, h)."""
        net_w, net_h = net_size
        return (batch, 3, net_h, net_w) if self.spec.layout == "NCHW" else (batch, net_h, net_w, 3)

    def pad(self, dst: np.ndarray) -> None:
        """Fill one image of the input (``dst``: (3, H, W) or (H, W, 3)) with the padding value."""
        for c in range(3):
            if self.spec.layout == "NCHW":
                dst[c] = self._pad[c]
            else:
                dst[:, :, c] = self._pad[c]

    def fill(self, image: np.ndarray, box: Letterbox, dst: np.ndarray) -> None:
        """Resize ``image`` into the top-left ``box.content_size`` of ``dst`` (one image of the
        input, already padded outside that region)."""
        cw, ch = box.content_size
        if self._resized is None or self._resized.shape[:2] != (ch, cw):
            self._resized = np.empty((ch, cw, 3), np.uint8)
        resized = self._resized
        # bilinear down to half size (0.35 ms for 720p, same AP on coco-train-mini as area
        # averaging, which takes 3 ms); area averaging only for stronger reductions (aliasing)
        interp = cv2.INTER_AREA if box.scale < 0.5 else cv2.INTER_LINEAR
        cv2.resize(image, (cw, ch), dst=resized, interpolation=interp)
        for c, src in enumerate(self._src_channel):
            out = dst[c, :ch, :cw] if self.spec.layout == "NCHW" else dst[:ch, :cw, c]
            if self._plain:
                np.copyto(out, resized[:, :, src], casting="unsafe")
            else:
                np.subtract(resized[:, :, src], self._mean[c], out=out, casting="unsafe")
                np.multiply(out, self._scale[c], out=out)


class Preprocessor:
    """Turns BGR uint8 images into (1, ...) network input tensors, reusing one buffer.

    The single-image form of :class:`livepose.stages.LetterboxStage` (which keeps a ring of batch
    buffers for the video pipeline).  Not shared between threads: give each thread its own.
    """

    def __init__(self, spec: InputSpec, size: tuple[int, int] | None = None):
        self.spec = spec
        self._box = Letterboxer(spec, size)
        self.size = self._box.size
        self._key: tuple | None = None
        self._tensor: np.ndarray | None = None

    def plan(self, image_size: tuple[int, int]) -> Letterbox:
        return self._box.plan(image_size)

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, Letterbox]:
        """Letterbox one BGR uint8 image (h, w, 3).  The returned tensor is reused by the next call."""
        h, w = image.shape[:2]
        box = self.plan((w, h))
        key = (box.net_size, box.content_size)
        if key != self._key:
            self._tensor = np.empty(self._box.shape(box.net_size), np.float32)
            self._box.pad(self._tensor[0])
            self._key = key
        self._box.fill(image, box, self._tensor[0])
        return self._tensor, box
