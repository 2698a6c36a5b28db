"""The accuracy mode (test-time augmentation): several network runs per image, fused into one map set.

For each scale ``s`` of :class:`livepose.settings.AugmentSettings` the image is letterboxed at
the input size times ``s`` (its own letterbox buffers per scale, reused from frame to frame) and
run through the network; with ``flip`` its mirror image is run too (the letterboxed picture
mirrored, padding kept, in the scale's second buffer slot; two batch-1 calls, which measured no
slower on a CPU than one call of batch 2).  Every run's heatmaps and PAFs are then brought to the grid of the scale-1
letterbox, the one the decoder maps back to pixels:

* geometry: one affine map per run from the base grid to the run's grid (``cv2.warpAffine``,
  bilinear).  Grid cell ``g`` covers the network-input pixels around ``(g + 0.5) * stride - 0.5``,
  so in edge coordinates ``u = g + 0.5`` a grid is the image content scaled by
  ``content_size / stride`` and two grids differ only by the ratio of their content sizes
  (exact, whatever the rounding of sizes to the stride).  A mirrored run is mirrored back about
  its own content width ``content_w / stride`` (not about the grid's cells: the content of a
  letterbox rarely ends on a cell boundary);
* channels (mirrored runs): part ``p`` is read from ``flip(p)`` and limb ``k`` (a, b) from the
  limb joining flip(a) and flip(b), whose field's x component changes sign; when that limb runs
  from flip(b) to flip(a) the whole vector changes sign as well (:class:`Mirror`, from the card's
  ``flip`` field, :class:`livepose.card.FlipSpec`);
* padding: the cells of the base grid outside the image content are 0.

The maps are averaged, channel by channel, and handed to decoding as one
:class:`~livepose.types.NetOutput` with the scale-1 letterbox.  Everything here is whole-array
numpy and OpenCV: no loop over pixels.  The stage that runs it is
:class:`livepose.stages.AugmentedInferenceStage`.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from livepose.card import ModelCard
from livepose.errors import ModelError
from livepose.types import Letterbox


class Mirror:
    """The channel permutation and signs that undo a left-right mirror on a card's maps.

    ``parts`` (P,): heatmap channel ``p`` of the original image is channel ``parts[p]`` of the
    mirrored image's maps.  ``paf_source`` (2L,) and ``paf_sign`` (2L,): PAF channel ``c`` of the
    original is ``paf_sign[c] * pafs_mirrored[..., paf_source[c]]`` (at the mirrored position).
    ``channels`` and ``signs``: the same over heatmaps and PAFs side by side (P + 2L channels).
    """

    def __init__(self, card: ModelCard):
        flip = card.flip
        if flip is None:
            raise ModelError(f"{card.card_path}: the accuracy mode's flip needs the card's field 'flip' "
                             "(its left/right part pairs, see models/README.md); run without --flip")
        self.parts = flip.parts.astype(np.intp)
        paf = card.paf_channels
        source = np.empty(2 * card.num_limbs, np.intp)
        sign = np.empty(2 * card.num_limbs, np.float32)
        for k in range(card.num_limbs):  # per limb, not per pixel: 19 entries
            m = int(flip.limbs[k])
            along = -1.0 if flip.reversed[k] else 1.0  # the mirrored limb runs the other way
            source[paf[k, 0]], sign[paf[k, 0]] = paf[m, 0], -along  # x: mirrored, so its sign flips
            source[paf[k, 1]], sign[paf[k, 1]] = paf[m, 1], along
        self.paf_source, self.paf_sign = source, sign
        p = card.num_parts
        self.channels = np.concatenate([self.parts, p + source])
        self.signs = np.concatenate([np.ones(p, np.float32), sign])

    def heatmaps(self, heat: np.ndarray) -> np.ndarray:
        """Heatmaps of a mirrored image (H, W, P), channels as the original's (positions still mirrored)."""
        return heat[..., self.parts]

    def pafs(self, pafs: np.ndarray) -> np.ndarray:
        """PAFs of a mirrored image (H, W, 2L), channels and signs as the original's (positions still mirrored)."""
        return pafs[..., self.paf_source] * self.paf_sign

    def unmirror(self, heat: np.ndarray, pafs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Maps of a mirrored image back to the original (positions mirrored across the whole grid
        width, then :meth:`heatmaps` and :meth:`pafs`); for maps whose content fills the grid."""
        return self.heatmaps(heat[:, ::-1]), self.pafs(pafs[:, ::-1])


def scaled_size(size: tuple[int, int], scale: float) -> tuple[int, int]:
    """The requested network input size ``size`` (w, h; -1 keeps the aspect ratio) times ``scale``."""
    return tuple(d if d <= 0 else min(4096, max(1, round(d * scale))) for d in size)  # type: ignore[return-value]


def grid_size(box: Letterbox, stride: float) -> tuple[int, int]:
    """(w, h) of a letterbox's output grid."""
    w, h = box.net_size
    return (int(round(w / stride)), int(round(h / stride)))


def content_cells(box: Letterbox, stride: float) -> tuple[int, int]:
    """(w, h): the grid cells that overlap the image content (the others cover only padding)."""
    cw, ch = box.content_size
    gw, gh = grid_size(box, stride)
    return (min(gw, math.ceil(cw / stride - 1e-6)), min(gh, math.ceil(ch / stride - 1e-6)))


def grid_transform(run: Letterbox, base: Letterbox, stride: float, mirrored: bool = False) -> np.ndarray:
    """The 2x3 affine map from base-grid cell coordinates to ``run``-grid cell coordinates (what
    ``cv2.warpAffine`` takes with ``WARP_INVERSE_MAP``); ``mirrored``: the run is of the mirror image."""
    (rw, rh), (bw, bh) = run.content_size, base.content_size
    rx, ry = rw / bw, rh / bh
    if mirrored:  # u_run = rw / stride - u_base * rx, in edge coordinates u = g + 0.5
        return np.array([[-rx, 0.0, rw / stride - 0.5 * rx - 0.5], [0.0, ry, 0.5 * ry - 0.5]], np.float64)
    return np.array([[rx, 0.0, 0.5 * rx - 0.5], [0.0, ry, 0.5 * ry - 0.5]], np.float64)


def to_base_grid(maps: np.ndarray, run: Letterbox, base: Letterbox, stride: float, *, mirrored: bool = False,
                 out: np.ndarray | None = None) -> np.ndarray:
    """``maps`` (H, W, C) of one run, on the base letterbox's grid (Hb, Wb, C), bilinear; cells
    outside the base content are 0.  ``mirrored``: the run is of the mirror image (positions are
    mirrored back here; its channels are :class:`Mirror`'s business)."""
    gw, gh = grid_size(base, stride)
    cw, ch = content_cells(base, stride)
    maps = np.ascontiguousarray(maps, np.float32)
    if run == base and not mirrored:
        warped = maps
    else:
        matrix = grid_transform(run, base, stride, mirrored)
        warped = cv2.warpAffine(maps, matrix, (cw, ch), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                borderMode=cv2.BORDER_REPLICATE)
        if warped.ndim == 2:  # OpenCV drops a single channel
            warped = warped[:, :, None]
    if out is None:
        out = np.empty((gh, gw, maps.shape[2]), np.float32)
    out[:ch, :cw] = warped[:ch, :cw]
    out[ch:] = 0.0
    out[:ch, cw:] = 0.0
    return out


def mirror_content(tensor: np.ndarray, dst: np.ndarray, box: Letterbox, layout: str) -> None:
    """Write into ``dst`` the letterboxed mirror image of ``tensor`` (one image: (3, H, W) or
    (H, W, 3)): the content region mirrored left-right, the padding as it is."""
    cw, ch = box.content_size
    np.copyto(dst, tensor)
    if layout == "NCHW":
        dst[:, :ch, :cw] = tensor[:, :ch, cw - 1::-1]
    else:
        dst[:ch, :cw] = tensor[:ch, cw - 1::-1]


class Fusion:
    """Sums runs' maps on the base grid (channels: heatmaps, then PAFs), then their mean."""

    def __init__(self, card: ModelCard, flip: bool):
        self.card = card
        self.stride = float(card.stride)
        self.mirror = Mirror(card) if flip else None
        self._sum: np.ndarray | None = None
        self._scratch: np.ndarray | None = None
        self._runs = 0

    def start(self, out: np.ndarray) -> None:
        """Sum into ``out`` (Hb, Wb, P + 2L), a buffer the caller keeps (zeroed here)."""
        out.fill(0.0)
        self._sum, self._runs = out, 0

    def add(self, heat: np.ndarray, pafs: np.ndarray, run: Letterbox, base: Letterbox, *,
            mirrored: bool = False) -> None:
        """Add one run's maps (``run``: its letterbox; ``mirrored``: of the mirror image)."""
        maps = np.concatenate((heat, pafs), axis=2)
        if mirrored:
            maps = maps[..., self.mirror.channels]
            maps *= self.mirror.signs
        if self._scratch is None or self._scratch.shape != self._sum.shape:
            self._scratch = np.empty_like(self._sum)
        self._sum += to_base_grid(maps, run, base, self.stride, mirrored=mirrored, out=self._scratch)
        self._runs += 1

    def mean(self) -> tuple[np.ndarray, np.ndarray]:
        """(heatmaps, pafs): views of the caller's buffer, now the mean of the runs."""
        self._sum *= np.float32(1.0 / max(1, self._runs))
        p = self.card.num_parts
        return self._sum[..., :p], self._sum[..., p:]
