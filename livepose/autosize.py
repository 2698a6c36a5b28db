"""``size="auto"`` (``--size auto``): the network input size of a file run, picked from the people found.

At the card's input height (368 rows for the bundled networks) people under about 60 pixels tall
in the network input are mostly missed; a larger input finds them, at a cost (pixels, so about
the square of the height).  Before a file run (video file, image folder or glob) the network runs
on a few frames spread over the file (:func:`sample_frames`) at the card's size and at larger
heights (:func:`candidate_sizes`: 1.5x and 2x, capped so that the input is at most
:data:`MAX_UPSCALE` times the frame's own height and at most :data:`MAX_PIXELS` pixels); the
smallest size that finds (nearly) as many people as the best one tried is kept for the whole run
(:func:`choose`), and one line says what was picked and why::

    size auto: 656x368 -> 1312x736 (people/frame 8.6 -> 13.9, 984x552 11.6 on 8 sampled frames; 4.0x the pixels)
    size auto: 208x368 kept (people/frame 3.0 on 8 sampled frames; 312x552 3.0, 416x736 3.0: nothing gained)

Measured (benchmarks/README.md, "bench_autosize.py"): on the shared street video and PETS09 it
finds 1.5 to 2.9 times the people per frame, at 2.2 to 4 times the pixels; on the basketball and
dance videos it keeps the card's size.

A person counts as *new* at a larger size only when nothing found at the card's size is the same
person (:func:`related`: boxes overlapping, or one's centre inside the other's), so a large person
broken into fragments by a too-large input gains nothing; a person found at the card's size and
by nothing at the larger one counts as *lost*.  The gain of a size is new minus lost, per frame.

A live source (camera, stream URL, a file played with ``--realtime``) runs at the card's size,
with a warning (:data:`LIVE_WARNING`): its frames cannot be sampled ahead and the letterbox
ring is sized once.

The choice is pure (:func:`choose`, :func:`compare`, :func:`candidate_sizes` take numbers and
arrays); :func:`probe` runs a built :class:`~livepose.estimator.PoseEstimator` on the samples at
each size, and :func:`auto_size` does all of it.  :func:`livepose.build.build` composes it, so
``livepose run``, ``livepose.open`` and ``livepose.run`` all get it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from livepose.settings import AUTO_SIZE

__all__ = ["AUTO_SIZE", "FACTORS", "LIVE_WARNING", "MAX_PIXELS", "MAX_UPSCALE", "MIN_SAMPLES", "SAMPLES",
           "SizeChoice", "Trial", "auto_size", "candidate_sizes", "choice_from_trials", "choose", "compare",
           "person_boxes", "probe", "related", "sample_count", "sample_frames", "scaled_request"]

#: the input heights tried, as multiples of the card's (1 first: the reference)
FACTORS = (1.0, 1.5, 2.0)
#: frames sampled over the file: one per :data:`FRAMES_PER_SAMPLE` frames run, from :data:`MIN_SAMPLES`
#: to :data:`SAMPLES` (probing costs about 7 frames at the card's size per sample: 1 + 1.5^2 + 2^2)
SAMPLES = 8
MIN_SAMPLES = 3
FRAMES_PER_SAMPLE = 25
#: cost cap: network input pixels (1312x736, twice the 656x368 of a 16:9 frame, fits)
MAX_PIXELS = 1_000_000
#: the network input is at most this many times the frame's own size (a 360-row video up to 720 rows)
MAX_UPSCALE = 2.0
#: a larger size is worth it when it gains at least this many people per frame ...
MIN_GAIN = 0.5
#: ... and at least this fraction of the people found at the card's size
MIN_GAIN_FRACTION = 0.1
#: "nearly as many": a smaller size is kept when it finds within this fraction of the best count
TOLERANCE = 0.1
#: a person found only at a larger size must have at least this many parts to count as new
MIN_PARTS = 5

LIVE_WARNING = ("--size auto: a live source runs at the network's default size {size} (its frames cannot be "
                "sampled ahead); give --size WxH to choose")


# -- sizes ---------------------------------------------------------------------------------
def scaled_request(base: tuple[int, int], factor: float, multiple: int) -> tuple[int, int]:
    """The size request ``base`` (w, h; -1 keeps the aspect ratio) with its given sides times
    ``factor``, rounded down to ``multiple`` (at least ``multiple``)."""

    def side(v: int) -> int:
        return v if v <= 0 else max(multiple, int(math.floor(v * factor / multiple + 1e-6)) * multiple)

    return (side(base[0]), side(base[1]))


def candidate_sizes(base: tuple[int, int], image_size: tuple[int, int], multiple: int,
                    factors: Sequence[float] = FACTORS, *, max_pixels: int = MAX_PIXELS,
                    max_upscale: float = MAX_UPSCALE) -> list[tuple[int, int]]:
    """The size requests to try for frames of ``image_size`` (w, h): ``base`` first, then ``base``
    times each factor above 1, each shrunk (not dropped) to keep the network input within
    ``max_pixels`` pixels and ``max_upscale`` times the frame's size; sizes giving the same
    network input as a smaller one are left out.  In increasing order."""
    from livepose.preprocess import plan_letterbox

    ref = plan_letterbox(image_size, base, multiple)
    ref_pixels = ref.net_size[0] * ref.net_size[1]
    cap = min(max_upscale / ref.scale, math.sqrt(max_pixels / ref_pixels))
    out = [tuple(base)]
    seen = {ref.net_size}
    for f in sorted(factors):
        if f <= 1.0:
            continue
        size = scaled_request(base, min(f, cap), multiple)
        net = plan_letterbox(image_size, size, multiple).net_size
        if net in seen or net[0] * net[1] <= ref_pixels:
            continue
        seen.add(net)
        out.append(size)
    return out


# -- people --------------------------------------------------------------------------------
def person_boxes(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(boxes (N, 4) x0, y0, x1, y1 around each pose's parts, parts (N,) found) of poses' ``xy``
    (N, P, 2), NaN where a part is missing."""
    xy = np.asarray(xy, np.float64)
    if xy.ndim != 3 or not len(xy):
        return np.zeros((0, 4)), np.zeros(0, np.int64)
    found = np.isfinite(xy).all(-1)
    parts = found.sum(1)
    boxes = np.zeros((len(xy), 4))
    for i in range(len(xy)):
        if parts[i]:
            p = xy[i][found[i]]
            boxes[i] = (*p.min(0), *p.max(0))
    return boxes, parts


def related(a: np.ndarray, b: np.ndarray, *, iou: float = 0.3, margin: float = 0.1) -> np.ndarray:
    """(Na, Nb) bool: box ``a[i]`` and box ``b[j]`` (x0, y0, x1, y1) may be the same person: their
    IoU is at least ``iou``, or the centre of one lies inside the other; each box widened by
    ``margin`` times its larger side (at least 2 pixels) first, so a pose of parts in a line still
    has an area."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)), bool)

    def widen(x):
        pad = np.maximum(margin * np.maximum(x[:, 2] - x[:, 0], x[:, 3] - x[:, 1]), 2.0)[:, None]
        return np.concatenate([x[:, :2] - pad, x[:, 2:] + pad], 1)

    a, b = widen(a), widen(b)
    ax0, ay0, ax1, ay1 = (a[:, k][:, None] for k in range(4))
    bx0, by0, bx1, by1 = (b[:, k][None, :] for k in range(4))
    inter = np.clip(np.minimum(ax1, bx1) - np.maximum(ax0, bx0), 0, None) * \
        np.clip(np.minimum(ay1, by1) - np.maximum(ay0, by0), 0, None)
    union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter
    overlap = inter >= iou * union
    acx, acy = (ax0 + ax1) / 2, (ay0 + ay1) / 2
    bcx, bcy = (bx0 + bx1) / 2, (by0 + by1) / 2
    a_in_b = (acx >= bx0) & (acx <= bx1) & (acy >= by0) & (acy <= by1)
    b_in_a = (bcx >= ax0) & (bcx <= ax1) & (bcy >= ay0) & (bcy <= ay1)
    return overlap | a_in_b | b_in_a


def compare(base: np.ndarray, other: np.ndarray, other_parts: np.ndarray | None = None, *,
            min_parts: int = MIN_PARTS) -> tuple[int, int]:
    """(new, lost) people of one frame: poses found at a larger size (boxes ``other``, with
    ``other_parts`` parts each) that nothing found at the reference size (boxes ``base``) is
    related to and that have at least ``min_parts`` parts; and reference poses that nothing found
    at the larger size is related to."""
    base, other = np.asarray(base, np.float64).reshape(-1, 4), np.asarray(other, np.float64).reshape(-1, 4)
    parts = np.full(len(other), min_parts) if other_parts is None else np.asarray(other_parts)
    link = related(base, other)
    new = int(np.count_nonzero(~link.any(0) & (parts >= min_parts)))
    lost = int(np.count_nonzero(~link.any(1)))
    return new, lost


# -- the choice ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Trial:
    """One size tried on the sampled frames: the size request, the network input of the first
    sample, per sample the boxes (image pixels) and parts of the people found, and the median
    network-plus-decoding milliseconds per frame."""

    size: tuple[int, int]
    net_size: tuple[int, int]
    boxes: tuple[np.ndarray, ...]
    parts: tuple[np.ndarray, ...]
    ms: float = float("nan")

    @property
    def people(self) -> float:
        """People found per sampled frame (mean)."""
        return float(np.mean([len(b) for b in self.boxes])) if self.boxes else 0.0


@dataclass(frozen=True)
class SizeChoice:
    """What ``size="auto"`` picked: ``size`` (the request, e.g. (-1, 736)) of ``candidates`` (the
    requests tried, the reference first), ``index`` into ``candidates``, ``line`` (what the user
    reads) and ``reason`` (why, in short).  Per candidate: ``net_sizes`` (the network input of the
    first sampled frame; :attr:`net_size` is the chosen one's), ``people`` and ``gains`` (per
    frame), ``ms`` (median network and decoding time per frame).  ``frames``: frames sampled;
    ``measured`` False: none could be, the card's size without a probe."""

    size: tuple[int, int] | None
    candidates: tuple[tuple[int, int], ...]
    index: int
    line: str
    net_sizes: tuple[tuple[int, int], ...] = ()
    people: tuple[float, ...] = ()
    gains: tuple[float, ...] = ()
    ms: tuple[float, ...] = ()
    frames: int = 0
    reason: str = ""
    measured: bool = field(default=True)

    @property
    def net_size(self) -> tuple[int, int] | None:
        return self.net_sizes[self.index] if self.net_sizes else None

    @property
    def changed(self) -> bool:
        return self.index > 0


def choose(people: Sequence[float], gains: Sequence[float], *, min_gain: float = MIN_GAIN,
           min_gain_fraction: float = MIN_GAIN_FRACTION, tolerance: float = TOLERANCE) -> tuple[int, str]:
    """(index, why) of the size to run.  The candidates are in increasing size, the reference
    (the card's size) first; ``people``: people per frame found at each; ``gains``: per frame, the
    people each finds that the reference does not, minus those it misses (:func:`compare`; the
    reference's own is taken as 0).

    The reference is kept unless the best gain is at least ``min_gain`` and at least
    ``min_gain_fraction`` of the reference's people.  Otherwise the smallest candidate whose gain
    is that large and falls short of the best gain by at most ``tolerance`` of the best count
    (reference people plus best gain; at least a quarter person) is taken: nearly as many people
    as the best size, for less."""
    if len(people) != len(gains) or not people:
        raise ValueError(f"people and gains must be one per candidate, got {len(people)} and {len(gains)}")
    gains = [0.0] + [float(g) for g in gains[1:]]
    best = max(range(len(gains)), key=lambda i: (gains[i], -i))
    enough = max(min_gain, min_gain_fraction * float(people[0]))
    if best == 0 or gains[best] < enough:
        return 0, "nothing gained" if gains[best] <= 0 else f"gain {gains[best]:.1f} people/frame is too small"
    slack = max(0.25, tolerance * (float(people[0]) + gains[best]))
    for i in range(1, len(gains)):
        if gains[i] >= max(enough, gains[best] - slack):
            return i, f"+{gains[i]:.1f} people/frame" + ("" if i == best else f" (best +{gains[best]:.1f})")
    return best, f"+{gains[best]:.1f} people/frame"  # pragma: no cover - best itself always qualifies


def _wxh(size) -> str:
    return f"{size[0]}x{size[1]}"


def choice_from_trials(trials: Sequence[Trial], **rules) -> SizeChoice:
    """The :class:`SizeChoice` of measured ``trials`` (the reference first): :func:`compare` each
    larger one with the reference frame by frame, then :func:`choose`."""
    ref = trials[0]
    frames = len(ref.boxes)
    gains = [0.0]
    for t in trials[1:]:
        new = lost = 0
        for b0, b1, p1 in zip(ref.boxes, t.boxes, t.parts):
            n, lo = compare(b0, b1, p1, min_parts=rules.get("min_parts", MIN_PARTS))
            new, lost = new + n, lost + lo
        gains.append((new - lost) / max(1, frames))
    people = [t.people for t in trials]
    index, why = choose(people, gains, **{k: v for k, v in rules.items() if k != "min_parts"})
    net = [t.net_size for t in trials]
    ms = [t.ms for t in trials]
    sampled = f"{frames} sampled frame{'s' if frames != 1 else ''}"
    if index == 0:
        others = ", ".join(f"{_wxh(t.net_size)} {t.people:.1f}" for t in trials[1:])
        line = (f"size auto: {_wxh(net[0])} kept (people/frame {people[0]:.1f} on {sampled}"
                + (f"; {others}: {why}" if others else "; no larger size to try") + ")")
    else:
        others = "".join(f", {_wxh(t.net_size)} {t.people:.1f}" for i, t in enumerate(trials) if i not in (0, index))
        cost = (net[index][0] * net[index][1]) / (net[0][0] * net[0][1])
        line = (f"size auto: {_wxh(net[0])} -> {_wxh(net[index])} (people/frame {people[0]:.1f} -> "
                f"{people[index]:.1f}{others} on {sampled}; {cost:.1f}x the pixels)")
    return SizeChoice(size=trials[index].size, candidates=tuple(t.size for t in trials), index=index, line=line,
                      net_sizes=tuple(net), people=tuple(people), gains=tuple(gains), ms=tuple(ms), frames=frames,
                      reason=why)


# -- sampling and probing ------------------------------------------------------------------
def _spread(count: int, n: int) -> list[int]:
    """``n`` frame indices spread evenly over ``count`` frames (the middle of each of ``n`` parts)."""
    n = max(0, min(n, count))
    return sorted({int((k + 0.5) * count / n) for k in range(n)})


def sample_count(frames: int | None, *, most: int = SAMPLES, least: int = MIN_SAMPLES,
                 per_sample: int = FRAMES_PER_SAMPLE) -> int:
    """How many frames to sample for a run of ``frames`` frames (None: unknown, ``most``): one per
    ``per_sample`` frames, from ``least`` to ``most``, never more than the run has, so that
    probing stays a small part of a short run."""
    if frames is None:
        return most
    return max(0, min(frames, max(least, min(most, frames // per_sample))))


def sample_frames(source, n: int | None = None, *, limit: int | None = None) -> list[np.ndarray]:
    """BGR frames spread over a file source's first ``limit`` frames (all when None), ``n`` of them
    (None: :func:`sample_count` of the frames run), read apart from the source (it is not
    advanced): a video file by seeking a capture of its own
    (:class:`~livepose.capture.files.VideoFileSource`, its ``path``), an image sequence by reading
    its files (``paths``).  Anything else (a live source): no frames."""
    if n is None:
        count = getattr(source, "frame_count", None)
        if limit is not None:
            count = limit if count is None else min(count, limit)
        n = sample_count(count)
    paths = getattr(source, "paths", None)
    if paths is not None:
        from livepose.images import read_image

        count = len(paths) if limit is None else min(len(paths), limit)
        out = []
        for i in _spread(count, n):
            try:
                out.append(read_image(paths[i]))
            except Exception:  # an unreadable file is reported by the run when it gets there
                continue
        return out
    path = getattr(source, "path", None)
    if path is None or getattr(source, "is_live", False):
        return []
    import cv2

    from livepose.capture.base import _as_bgr

    capture = cv2.VideoCapture(str(path))
    try:
        count = source.frame_count or 0
        if limit is not None:
            count = min(count, limit) if count else limit
        out = []
        if count <= 0:  # no declared length: the first frames
            for _ in range(n):
                ok, image = capture.read()
                if not ok or image is None:
                    break
                out.append(_as_bgr(image, str(path)))
            return out
        for i in _spread(count, n):
            if i > 0:
                capture.set(cv2.CAP_PROP_POS_FRAMES, i)
            ok, image = capture.read()
            if ok and image is not None and image.size:
                out.append(_as_bgr(image, str(path)))
        return out
    finally:
        capture.release()


def probe(estimator, frames: Sequence[np.ndarray], sizes: Sequence[tuple[int, int]]) -> list[Trial]:
    """Run ``estimator`` (a :class:`~livepose.estimator.PoseEstimator`; one plain run per frame,
    whatever its accuracy mode) on ``frames`` at each size request of ``sizes``."""
    plain = estimator.with_augment(None) if getattr(estimator.augment, "active", False) else estimator
    trials = []
    for size in sizes:
        est = plain.with_size(size)
        boxes, parts, times = [], [], []
        for image in frames:
            t0 = time.perf_counter()
            poses, _ = est(image)
            times.append((time.perf_counter() - t0) * 1e3)
            b, p = person_boxes(poses.xy)
            boxes.append(b)
            parts.append(p)
        h, w = frames[0].shape[:2]
        ms = float(np.median(times[1:] if len(times) > 1 else times))  # the first pays the allocation
        trials.append(Trial(size=tuple(size), net_size=est.plan((w, h)).net_size, boxes=tuple(boxes),
                            parts=tuple(parts), ms=ms))
    return trials


def auto_size(estimator, frames: Sequence[np.ndarray], *, factors: Sequence[float] = FACTORS,
              max_pixels: int = MAX_PIXELS, max_upscale: float = MAX_UPSCALE,
              on_trial: Callable[[Trial], None] | None = None, **rules) -> SizeChoice:
    """The input size for a run whose frames look like ``frames``: the candidates
    (:func:`candidate_sizes` from the card's default size and the first frame's size) probed with
    ``estimator`` (:func:`probe`), then chosen (:func:`choice_from_trials`).  No frames: the
    card's size, unmeasured."""
    card = estimator.card
    base = tuple(card.input.default_size)
    if not frames:
        return SizeChoice(size=base, candidates=(base,), index=0, measured=False,
                          line=f"size auto: no frame could be sampled; the default size {_wxh(base)}")
    h, w = frames[0].shape[:2]
    sizes = candidate_sizes(base, (w, h), card.input.size_multiple, factors, max_pixels=max_pixels,
                            max_upscale=max_upscale)
    trials = probe(estimator, frames, sizes)
    if on_trial is not None:
        for t in trials:
            on_trial(t)
    return choice_from_trials(trials, **rules)
