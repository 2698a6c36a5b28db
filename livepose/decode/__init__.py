"""Decoding: network maps in, people out.  ``Decoder(skeleton, config)(net_output) -> Poses``.

The chain (each stage a Numba kernel in :mod:`.kernels`, with a numpy twin in
:mod:`.reference`): optional upsampling -> peak finding with NMS and sub-pixel refinement
-> PAF line integrals and greedy one-to-one limb assignment -> person assembly -> person
filter -> mapping back to image pixels (:meth:`livepose.types.Letterbox.net_to_image`).

Crowds.  A limb has (peaks of one part) x (peaks of the other) candidate pairs, almost all
of them parts of two different people.  For limbs with many pairs the kernel first maps
where the limb's field is too weak for any sample to pass the sample threshold, and drops
a pair without its line integral when more of its samples fall there than the pass ratio
allows (kernels.live_blocks, kernels.probe_plan): such a pair would be rejected anyway, so
the people are the same as with every pair integrated (the reference, and
``Decoder(prune="never")``), only found with less work.

A :class:`Decoder` owns its scratch buffers (reused from frame to frame); there is no
module-level mutable state, so each thread simply uses its own Decoder.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from livepose.settings import DecodeConfig
from livepose.decode import kernels
from livepose.types import NetOutput, Poses


@dataclass(frozen=True)
class Skeleton:
    """Parts and limbs of a network (from its model card), ready for the kernels."""

    parts: tuple[str, ...]
    limbs: np.ndarray  # (L, 2) int32 part indices
    paf_channels: np.ndarray  # (L, 2) int32 channel offsets into the PAF block
    redundant: np.ndarray  # (L,) bool: limb closes a loop (never starts a person)

    @classmethod
    def from_card(cls, card) -> "Skeleton":
        return cls.build(card.parts, card.limbs, card.paf_channels)

    @classmethod
    def build(cls, parts, limbs, paf_channels) -> "Skeleton":
        limbs = np.ascontiguousarray(limbs, np.int32).reshape(-1, 2)
        paf = np.ascontiguousarray(paf_channels, np.int32).reshape(-1, 2)
        # A limb is redundant when earlier limbs already connect its two parts (union-find).
        root = list(range(len(parts)))

        def find(i: int) -> int:
            while root[i] != i:
                root[i] = root[root[i]]
                i = root[i]
            return i

        redundant = np.zeros(len(limbs), np.bool_)
        for k, (a, b) in enumerate(limbs):
            ra, rb = find(int(a)), find(int(b))
            redundant[k] = ra == rb
            root[ra] = rb
        return cls(tuple(parts), limbs, paf, redundant)

    @property
    def num_parts(self) -> int:
        return len(self.parts)


def person_capacity(num_parts: int, max_peaks: int) -> int:
    """Person slots needed so that no fragment is ever dropped: each holds at least two of the
    at most P * M peaks."""
    return num_parts * max_peaks // 2 + 1


def live_min_pairs(grid_h: int, grid_w: int) -> int:
    """Pairs from which a limb's weak-field map (kernels.live_blocks) pays for itself: its
    share of the pass over the maps costs about as much as scoring H * W / 64 pairs one by
    one (measured on crowds, benchmarks/bench_decode.py).  Only speed depends on it."""
    return max(64, grid_h * grid_w // 64)


#: sample counts n go up to 100 (DecodeConfig.samples and max_samples)
_MAX_SAMPLES = 100


def probe_plan(min_pass_ratio: float, extra: int = 8):
    """(fail_limit, probe_t, probe_count) for kernels.connect_limbs (see kernels.probe_plan)."""
    size = _MAX_SAMPLES + 1
    fail_limit = np.zeros(size, np.int32)
    probe_t = np.zeros((size, size), np.float64)
    probe_count = np.zeros(size, np.int32)
    kernels.probe_plan(float(min_pass_ratio), extra, fail_limit, probe_t, probe_count)
    return fail_limit, probe_t, probe_count


class _Workspace:
    """Scratch arrays for one grid size and one configuration."""

    def __init__(self, grid_hw: tuple[int, int], num_parts: int, num_limbs: int, paf_channels: int,
                 config: DecodeConfig):
        h, w = grid_hw
        f = config.upsample
        m = config.max_peaks
        n = person_capacity(num_parts, m)
        self.grid_hw = grid_hw
        if f > 1:
            self.heat_up = np.empty((h * f, w * f, num_parts), np.float32)
            self.paf_up = np.empty((h * f, w * f, paf_channels), np.float32)
        self.scratch_pos = np.empty(h * f * w * f, np.int64)
        self.scratch_val = np.empty(h * f * w * f, np.float32)
        self.peak_xy = np.zeros((num_parts, m, 2), np.float32)
        self.peak_score = np.zeros((num_parts, m), np.float32)
        self.peak_count = np.zeros(num_parts, np.int32)
        self.cand_score = np.empty(m * m, np.float32)
        self.cand_a = np.empty(m * m, np.int32)
        self.cand_b = np.empty(m * m, np.int32)
        self.used_a = np.empty(m, np.bool_)
        self.used_b = np.empty(m, np.bool_)
        # where each limb's field is too weak for a sample to pass (built for limbs with many pairs)
        self.live = np.empty((num_limbs, h * f, w * f), np.uint8)
        self.live_wanted = np.zeros(num_limbs, np.bool_)
        self.live_min_pairs = live_min_pairs(h * f, w * f)
        self.fail_limit, self.probe_t, self.probe_count = probe_plan(config.min_pass_ratio)
        self.conn = np.zeros((num_limbs, m, 2), np.int32)
        self.conn_score = np.zeros((num_limbs, m), np.float32)
        self.conn_count = np.zeros(num_limbs, np.int32)
        self.owner = np.empty((num_parts, m), np.int32)
        self.person_parts = np.empty((n, num_parts), np.int32)
        self.person_total = np.empty(n, np.float32)
        self.person_count = np.empty(n, np.int32)
        self.person_alive = np.empty(n, np.bool_)
        self.out_xy = np.empty((n, num_parts, 2), np.float32)
        self.out_conf = np.empty((n, num_parts), np.float32)
        self.out_total = np.empty(n, np.float32)
        self.out_count = np.empty(n, np.int32)


def person_scores(total: np.ndarray, count: np.ndarray, num_parts: int) -> np.ndarray:
    """A person's score in [0, 1]: parts' and limbs' scores over the most a full skeleton can have.

    A complete, confident skeleton scores near 1; a fragment scores low, which ranks
    detections well for COCO's AP (fragments are the likeliest false positives).
    """
    del count
    return np.clip(total / np.float32(2 * num_parts - 1), 0.0, 1.0).astype(np.float32)


class Decoder:
    """Turns one frame's :class:`NetOutput` into :class:`Poses`.  One instance per thread."""

    #: ``prune``: "auto" (limbs with many pairs: see live_min_pairs), "always" or "never" (every pair
    #: through the line integral, the former kernel).  Only speed depends on it, never the people.
    PRUNE = ("auto", "always", "never")

    def __init__(self, skeleton: Skeleton, config: DecodeConfig | None = None, *, prune: str = "auto"):
        if prune not in self.PRUNE:
            raise ValueError(f"prune must be one of {', '.join(self.PRUNE)}; got {prune!r}")
        self.skeleton = skeleton
        self.config = config if config is not None else DecodeConfig()
        self.prune = prune
        self._ws: _Workspace | None = None

    def _workspace(self, out: NetOutput) -> _Workspace:
        hw = out.heatmaps.shape[:2]
        if self._ws is None or self._ws.grid_hw != hw:
            self._ws = _Workspace(hw, self.skeleton.num_parts, len(self.skeleton.limbs),
                                  out.pafs.shape[2], self.config)
        return self._ws

    def peaks(self, out: NetOutput):
        """Stages 1-2 only (upsampling, peaks).  Returns (workspace, heatmaps, pafs, cell_px): the
        peaks are in the workspace's peak_xy (grid cells), peak_score and peak_count; heatmaps and
        pafs are the maps decoded (upsampled when configured); cell_px is input pixels per cell."""
        cfg = self.config
        ws = self._workspace(out)
        heat, pafs = out.heatmaps, out.pafs
        if heat.shape[2] != self.skeleton.num_parts:
            raise ValueError(f"decoder expects {self.skeleton.num_parts} heatmaps, got {heat.shape[2]}")
        if cfg.upsample > 1:
            kernels.upsample_cubic(heat, cfg.upsample, ws.heat_up)
            kernels.upsample_cubic(pafs, cfg.upsample, ws.paf_up)
            heat, pafs = ws.heat_up, ws.paf_up
        kernels.find_peaks(heat, np.float32(cfg.peak_threshold), cfg.nms_radius, cfg.refine, cfg.max_peaks,
                           ws.scratch_pos, ws.scratch_val, ws.peak_xy, ws.peak_score, ws.peak_count)
        cell_px = out.stride / cfg.upsample
        return ws, heat, pafs, cell_px

    def __call__(self, out: NetOutput) -> Poses:
        cfg, sk = self.config, self.skeleton
        ws, heat, pafs, cell_px = self.peaks(out)
        net_h = float(out.letterbox.net_size[1])
        if self.prune == "never":
            kernels.connect_limbs_exhaustive(
                pafs, sk.limbs, sk.paf_channels, ws.peak_xy, ws.peak_count, cell_px, net_h, cfg.samples,
                cfg.min_samples, cfg.max_samples, cfg.sample_threshold, cfg.min_pass_ratio, cfg.score_all_samples,
                cfg.length_prior, ws.cand_score, ws.cand_a, ws.cand_b, ws.used_a, ws.used_b,
                ws.conn, ws.conn_score, ws.conn_count)
        else:
            kernels.connect_limbs(
                pafs, sk.limbs, sk.paf_channels, ws.peak_xy, ws.peak_count, cell_px, net_h, cfg.samples,
                cfg.min_samples, cfg.max_samples, cfg.sample_threshold, cfg.min_pass_ratio, cfg.score_all_samples,
                cfg.length_prior, ws.cand_score, ws.cand_a, ws.cand_b, ws.used_a, ws.used_b,
                ws.conn, ws.conn_score, ws.conn_count, ws.live, ws.live_wanted,
                0 if self.prune == "always" else ws.live_min_pairs, ws.fail_limit, ws.probe_t, ws.probe_count)
        used = kernels.assemble(sk.limbs, sk.redundant, ws.conn, ws.conn_score, ws.conn_count, ws.peak_score,
                                ws.owner, ws.person_parts, ws.person_total, ws.person_count, ws.person_alive)
        kept = kernels.gather_people(used, ws.person_parts, ws.person_total, ws.person_count, ws.person_alive,
                                     cfg.min_parts, np.float32(cfg.min_mean_score), ws.peak_xy, ws.peak_score,
                                     ws.out_xy, ws.out_conf, ws.out_total, ws.out_count)
        return finish_poses(ws.out_xy[:kept], ws.out_conf[:kept], ws.out_total[:kept], ws.out_count[:kept],
                            cell_px, out, sk.parts)


def finish_poses(grid_xy, conf, total, count, cell_px, out: NetOutput, parts) -> Poses:
    """Grid cells -> network-input pixels -> image pixels; scores.  New arrays (the result outlives the scratch)."""
    net_xy = (grid_xy + np.float32(0.5)) * np.float32(cell_px) - np.float32(0.5)
    return Poses(
        xy=out.letterbox.net_to_image(net_xy).astype(np.float32, copy=False),
        conf=conf.copy(),
        score=person_scores(total, count, len(parts)),
        part_names=tuple(parts),
    )
