"""Every setting of a run, in one tree of frozen, picklable dataclasses, checked in one place.

    RunConfig
    ├── model:   ModelSettings     which network, at what input size, on which engine
    ├── decode:  DecodeConfig      how heatmaps and PAFs become people (OpenPose's or tf-pose's rules)
    ├── augment: AugmentSettings   the accuracy mode: network scales and the mirrored run, fused maps
    ├── suppress: SuppressSettings false people (fragments, duplicates) dropped after decoding
    ├── track:   TrackerConfig     identities and smoothing; ``RunConfig.tracking`` turns it off
    ├── carry:   CarrySettings     the network on every k-th frame, keypoints carried by optical flow between
    ├── capture: CaptureSettings   the source, live or file policy, batching
    └── outputs: OutputSettings    files, window and network outputs

Nothing here imports numpy, OpenCV or an engine: a configuration can be made, compared,
pickled and sent to another process or machine before anything heavy loads.
:func:`livepose.build.build` turns a :class:`RunConfig` into a source, stages and outputs; the
command line only turns its arguments into one (``livepose.cli``), and ``livepose.open``
accepts the same settings as keywords (:meth:`RunConfig.from_overrides`).

A wrong value raises :class:`SettingError` (an ``InputError``, exit code 2, and a
``ValueError``) whose one line names the setting and what it accepts, e.g.
``setting model.backend: must be one of auto, onnxruntime, openvino; got 'tensorflow'``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable

from livepose.errors import InputError

# -- the choice lists (the CLI's choices come from here) -------------------------------------
BACKENDS = ("auto", "onnxruntime", "openvino")
PRECISIONS = ("auto", "fp32", "fp16", "bf16", "int8")
SMOOTHERS = ("kalman", "one_euro", "none")
RULE_NAMES = ("openpose", "tfpose")
OSC_MODES = ("both", "keypoints", "arrays")
#: the joints whose flexion angles ``angles`` draws (livepose run --angles), in drawing order
ANGLE_JOINTS = ("knee", "hip", "elbow", "shoulder")
ACCURACY_MODES = ("normal", "high")
LIMB_ACTIONS = ("cut", "drop")
#: how keypoints cross the frames between network frames (livepose.carry): optical flow, the last
#: network result held, or the tracker's prediction alone (the last two: baselines for measuring)
CARRY_MODES = ("flow", "hold", "predict")


class SettingError(InputError, ValueError):
    """A setting has a value it does not accept (exit code 2)."""


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class _Checks:
    """Collects every problem of one settings object, then raises them as one line."""

    def __init__(self, obj: Any, section: str):
        self.obj, self.section, self.problems = obj, section, []

    def need(self, name: str, ok: Callable[[Any], bool], accepted: str, *, optional: bool = False) -> None:
        value = getattr(self.obj, name)
        if optional and value is None:
            return
        try:
            good = bool(ok(value))
        except (TypeError, ValueError):
            good = False
        if not good:
            self.problems.append(f"setting {self.section}.{name}: must be {accepted}; got {value!r}")

    def number(self, name: str, ok: Callable[[float], bool], accepted: str, *, optional: bool = False) -> None:
        self.need(name, lambda v: _is_number(v) and ok(v), accepted, optional=optional)

    def integer(self, name: str, lo: int, hi: int, *, optional: bool = False) -> None:
        self.need(name, lambda v: _is_int(v) and lo <= v <= hi, f"a whole number {lo} to {hi}", optional=optional)

    def choice(self, name: str, choices: tuple[str, ...]) -> None:
        self.need(name, lambda v: v in choices, "one of " + ", ".join(choices))

    def flag(self, name: str) -> None:
        self.need(name, lambda v: isinstance(v, bool), "true or false")

    def done(self) -> None:
        if self.problems:
            raise SettingError("; ".join(self.problems))


class _Section:
    """What every settings object offers: ``with_(**changes)`` (checked again) and ``as_dict()``."""

    def with_(self, **changes):
        unknown = sorted(set(changes) - {f.name for f in fields(self)})
        if unknown:
            raise SettingError(f"setting {self._section}.{unknown[0]}: no such setting; the settings are "
                               + ", ".join(f.name for f in fields(self)))
        return replace(self, **changes)

    def as_dict(self) -> dict:
        return asdict(self)


# -- model and engine ----------------------------------------------------------------------
#: ``ModelSettings.size`` (``--size auto``): a file run picks its input size from the people found
#: on a few sampled frames (:mod:`livepose.autosize`); a live source runs at the card's
AUTO_SIZE = "auto"


def _size_ok(value: Any) -> bool:
    if value == AUTO_SIZE:
        return True
    w, h = value
    return (_is_int(w) and _is_int(h) and (w > 0 or w == -1) and (h > 0 or h == -1)
            and not (w == -1 and h == -1) and max(w, h) <= 4096)


@dataclass(frozen=True)
class ModelSettings(_Section):
    """Which network and how it runs.

    ``model``: an ONNX file (None: the bundled network); ``card``: its card when not the .json
    beside it.  ``size``: (w, h) network input, -1 in one of them keeps the aspect ratio (None:
    the card's; ``"auto"``: picked per file run, :mod:`livepose.autosize`).  ``backend`` and ``precision``: see :func:`livepose.inference.select.choose_engine`
    (``auto`` never fails).  ``providers``: ONNX Runtime execution providers in order (None:
    TensorRT, CUDA, CPU as the build has them).  ``allow_fallback``: go on when a named GPU
    provider does not load.  ``threads``: inference threads (None: all cores).  ``trt_cache``:
    TensorRT engine cache folder.  ``io_binding``: None decides by provider (on for CUDA/TensorRT).
    """

    _section = "model"

    model: str | None = None
    card: str | None = None
    size: tuple[int, int] | None = None
    backend: str = "auto"
    precision: str = "auto"
    providers: tuple[str, ...] | None = None
    threads: int | None = None
    allow_fallback: bool = False
    trt_cache: str | None = None
    io_binding: bool | None = None

    def __post_init__(self) -> None:
        for name in ("model", "card", "trt_cache"):  # paths travel as strings (picklable, comparable)
            value = getattr(self, name)
            if isinstance(value, Path):
                object.__setattr__(self, name, str(value))
        if self.size is not None and not isinstance(self.size, (tuple, str)):
            object.__setattr__(self, "size", tuple(self.size))
        if self.providers is not None and not isinstance(self.providers, tuple):
            providers = (self.providers,) if isinstance(self.providers, str) else tuple(self.providers)
            object.__setattr__(self, "providers", providers or None)
        c = _Checks(self, self._section)
        c.need("model", lambda v: isinstance(v, str) and v.strip(), "a path to an ONNX file", optional=True)
        c.need("card", lambda v: isinstance(v, str) and v.strip(), "a path to a model card", optional=True)
        c.need("size", _size_ok, "(width, height) in pixels up to 4096, -1 in one of them to keep the aspect "
               "ratio, or 'auto' (picked from the people found on sampled frames)", optional=True)
        c.choice("backend", BACKENDS)
        c.choice("precision", PRECISIONS)
        c.need("providers", lambda v: all(isinstance(p, str) and p for p in v),
               "execution provider names, e.g. ('CUDAExecutionProvider', 'CPUExecutionProvider')", optional=True)
        c.integer("threads", 1, 1024, optional=True)
        c.flag("allow_fallback")
        c.need("trt_cache", lambda v: isinstance(v, str) and v.strip(), "a folder path", optional=True)
        c.need("io_binding", lambda v: isinstance(v, bool), "true, false or None (by provider)", optional=True)
        c.done()


# -- decoding ------------------------------------------------------------------------------
@dataclass(frozen=True)
class DecodeConfig(_Section):
    """How heatmaps and PAFs become people.

    Peaks: a grid cell is a peak when its value exceeds ``peak_threshold`` and is the
    maximum of the (2 * ``nms_radius`` + 1)^2 window around it; ``refine`` moves it to the
    summit of a parabola through its neighbours (sub-pixel).  ``upsample`` enlarges heatmaps
    and PAFs by that integer factor (bicubic) before any of this; 1 works on the raw grid.

    Limbs: the PAF is sampled at ``samples`` evenly spaced points between two candidate
    parts (0: adaptive, round(sqrt(5 * length in input pixels)) clipped to
    [``min_samples``, ``max_samples``], OpenPose's rule).  A sample passes when the field's
    projection on the limb direction exceeds ``sample_threshold``; a pair is a candidate when
    more than ``min_pass_ratio`` of the samples pass.  Its score is the mean of the passing
    samples (``score_all_samples=False``, OpenPose) or of all samples (tf-pose), plus
    tf-pose's length prior ``min(0.5 * input_height / length - 1, 0)`` when ``length_prior``
    is set (and then the score must stay positive).  Candidates are taken greedily by score,
    each part peak at most once per limb.

    People: kept when they have at least ``min_parts`` parts and their total score (parts
    plus limbs) divided by the number of parts is at least ``min_mean_score``.
    """

    _section = "decode"

    upsample: int = 1
    peak_threshold: float = 0.05
    nms_radius: int = 1
    refine: bool = True
    max_peaks: int = 128
    samples: int = 0
    min_samples: int = 5
    max_samples: int = 25
    sample_threshold: float = 0.05
    min_pass_ratio: float = 0.95
    score_all_samples: bool = False
    length_prior: bool = False
    min_parts: int = 3
    min_mean_score: float = 0.4

    def __post_init__(self) -> None:
        c = _Checks(self, self._section)
        c.integer("upsample", 1, 8)
        c.number("peak_threshold", lambda v: 0.0 <= v < 1.0, "in [0, 1)")
        c.integer("nms_radius", 1, 5)
        c.flag("refine")
        c.integer("max_peaks", 1, 1024)
        c.need("samples", lambda v: _is_int(v) and (v == 0 or 2 <= v <= 100), "0 (adaptive) or 2 to 100")
        c.integer("min_samples", 2, 100)
        c.need("max_samples", lambda v: _is_int(v) and _is_int(self.min_samples) and self.min_samples <= v <= 100,
               "a whole number from min_samples to 100")
        c.number("sample_threshold", lambda v: -1.0 <= v <= 1.0, "in [-1, 1]")
        c.number("min_pass_ratio", lambda v: 0.0 <= v < 1.0, "in [0, 1)")
        c.flag("score_all_samples")
        c.flag("length_prior")
        c.integer("min_parts", 1, 1000)
        c.number("min_mean_score", lambda v: v >= 0.0, "at least 0")
        c.done()


#: OpenPose's own rules (bodyPartConnectorBase): adaptive samples, 95 % passing, >= 3 parts, mean >= 0.4.
OPENPOSE_RULES = DecodeConfig()

#: tf-pose-estimation's rules (pafprocess): 10 samples, more than 6 passing, length prior, >= 4 parts, mean >= 0.3.
TFPOSE_RULES = DecodeConfig(
    peak_threshold=0.15,
    samples=10,
    min_pass_ratio=0.6,
    score_all_samples=True,
    length_prior=True,
    min_parts=4,
    min_mean_score=0.3,
)

RULES = {"openpose": OPENPOSE_RULES, "tfpose": TFPOSE_RULES}


def decode_rules(rules: str = "openpose", upsample: int | None = None) -> DecodeConfig:
    """The named rule set, with ``upsample`` changed when given."""
    if rules not in RULES:
        raise SettingError(f"setting decode.rules: must be one of {', '.join(RULE_NAMES)}; got {rules!r}")
    config = RULES[rules]
    return config if upsample is None else config.with_(upsample=upsample)


# -- accuracy mode (test-time augmentation) ------------------------------------------------
MAX_SCALES = 8


def _scales_ok(value: Any) -> bool:
    return (isinstance(value, tuple) and 1 <= len(value) <= MAX_SCALES and len(set(value)) == len(value)
            and all(_is_number(s) and 0.0 < s <= 4.0 for s in value))


@dataclass(frozen=True)
class AugmentSettings(_Section):
    """The accuracy mode: the network runs on the image at each of ``scales`` (times the input
    size: 1.0 is the input size itself) and, with ``flip``, on its mirror image too; the heatmaps
    and PAFs of all runs are brought to the scale-1 grid and averaged before decoding
    (:mod:`livepose.augment`).  ``(1.0,)`` without flip is the normal single run.  Files and
    photos only: a live source always runs one scale (lowest latency).  The named presets are
    :data:`ACCURACY` (``--accuracy normal|high``)."""

    _section = "augment"

    scales: tuple[float, ...] = (1.0,)
    flip: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.scales, (list, tuple)):
            object.__setattr__(self, "scales", tuple(float(s) if _is_number(s) else s for s in self.scales))
        elif _is_number(self.scales):
            object.__setattr__(self, "scales", (float(self.scales),))
        c = _Checks(self, self._section)
        c.need("scales", _scales_ok, f"1 to {MAX_SCALES} different numbers in (0, 4], e.g. (0.75, 1.0, 1.25)")
        c.flag("flip")
        c.done()

    @property
    def active(self) -> bool:
        """More than the one plain network run per image."""
        return self.flip or self.scales != (1.0,)

    def describe(self) -> str:
        """e.g. 'scales 1,1.25 + flip' (empty for the plain single run)."""
        if not self.active:
            return ""
        return "scales " + ",".join(f"{s:g}" for s in self.scales) + (" + flip" if self.flip else "")


#: ``--accuracy`` presets: ``high`` is the scale set measured best on the dev sets (README, "Accuracy mode")
ACCURACY = {
    "normal": AugmentSettings(),
    "high": AugmentSettings(scales=(0.5, 1.0, 1.5), flip=True),
}


def accuracy_preset(name: str = "normal") -> AugmentSettings:
    """The named accuracy mode (``normal``: one run; ``high``: several scales and the mirror)."""
    if name not in ACCURACY:
        raise SettingError(f"setting augment.accuracy: must be one of {', '.join(ACCURACY_MODES)}; got {name!r}")
    return ACCURACY[name]


# -- suppressing false people --------------------------------------------------------------
@dataclass(frozen=True)
class SuppressSettings(_Section):
    """Which false people (weak partial skeletons, duplicates, objects taken for a person) are
    dropped between decoding and tracking; :mod:`livepose.suppress` gives the three rules in full.

    ``min_person_score``: rule 1, a pose whose person score is below it goes (0: off).
    ``pose_nms``: rule 2 on or off, a pose that a larger one covers goes: same parts within
    ``pose_nms_distance`` (fraction of the larger person's size; 0: no same-part test) for at
    least ``pose_nms_overlap`` of its parts, or at most ``pose_nms_box_parts`` parts (0: no box
    test) all inside the larger one's box widened by ``pose_nms_box_margin`` x its size.
    ``max_limb_ratio``: rule 3, a limb implying a body more than this many times what the pose's
    other limbs imply (at least ``limb_min_others`` of them) is implausible (0: off);
    ``limb_action``: "cut" it (the side with fewer parts goes) or "drop" the pose.

    The defaults are measured by benchmarks/bench_suppress.py; :data:`SUPPRESS_OFF` turns every
    rule off (``--no-suppress``, ``suppress=False``)."""

    _section = "suppress"

    min_person_score: float = 0.04
    pose_nms: bool = True
    pose_nms_distance: float = 0.1
    pose_nms_overlap: float = 0.5
    pose_nms_box_parts: int = 5
    pose_nms_box_margin: float = 0.2
    max_limb_ratio: float = 3.0
    limb_min_others: int = 2
    limb_action: str = "cut"

    def __post_init__(self) -> None:
        c = _Checks(self, self._section)
        c.number("min_person_score", lambda v: 0.0 <= v <= 1.0, "in [0, 1] (0: off)")
        c.flag("pose_nms")
        c.number("pose_nms_distance", lambda v: 0.0 <= v <= 1.0, "in [0, 1] (0: no same-part test)")
        c.number("pose_nms_overlap", lambda v: 0.0 < v <= 1.0, "in (0, 1]")
        c.integer("pose_nms_box_parts", 0, 1000)
        c.number("pose_nms_box_margin", lambda v: 0.0 <= v <= 1.0, "in [0, 1]")
        c.need("max_limb_ratio", lambda v: _is_number(v) and (v == 0.0 or v > 1.0), "0 (off) or a number > 1")
        c.integer("limb_min_others", 1, 100)
        c.choice("limb_action", LIMB_ACTIONS)
        c.done()

    @property
    def active(self) -> bool:
        """Some rule is on (else the poses pass untouched)."""
        return self.min_person_score > 0.0 or self.pose_nms or self.max_limb_ratio > 0.0


#: every rule off: the decoder's poses as they are (``--no-suppress``, ``suppress=False``)
SUPPRESS_OFF = SuppressSettings(min_person_score=0.0, pose_nms=False, max_limb_ratio=0.0)


# -- tracking ------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrackerConfig(_Section):
    """How poses become tracks (defaults for 10 to 60 FPS video; all times in seconds).

    Association: ``gate`` is the largest cost (0..1, 1 - OKS-style similarity, mixed with
    ``iou_weight`` x (1 - box IoU)) a match may have.  ``oks_kappa`` is the keypoint tolerance
    as a fraction of the person's size (sqrt of the box area of its joints); while a track is
    unseen the tolerance widens by ``unseen_spread`` sizes per second unseen.

    A track seen only once widens its tolerance at ``init_speed`` sizes per second instead (its
    velocity is unknown).  ``mirror_match``: a detection may also match a track with its left and
    right parts swapped (bottom-up networks label people seen from the side or back mirrored in
    some frames); such a match counts as mirrored (the detection is taken with its sides swapped)
    only when it costs less than as labelled by more than ``mirror_margin``.
    ``label_vote_frames``: a track's output keeps its own left/right labelling and adopts the
    network's only when its mirrored matches outnumber those as labelled by this many frames (a
    tentative track follows the majority of its frames); 0 or 1: the output follows the
    network's labels every frame (and with ``mirror_margin`` 0, the tracker does exactly as
    before the vote; :mod:`livepose.track.tracker`).

    Lifecycle: ``min_hits`` frames with a detection confirm a track; a confirmed track unseen
    coasts (predicted forward, not reported) and is re-associated for ``max_lost_seconds``, then
    removed; a tentative track unseen is removed at once.  ``max_tracks`` bounds the live tracks.
    A joint missing from a seen track is predicted for ``joint_predict_seconds``, then unknown.

    Smoothing (``smoother``): "kalman" (constant velocity per joint and axis; see
    :mod:`livepose.track.kalman` for ``process_noise``, ``measurement_noise``, ``init_speed``, in
    person sizes; ``init_speed``, the speed a new person may have, also widens the tolerance of
    a track seen once), "one_euro" (``one_euro_min_cutoff`` and ``one_euro_d_cutoff`` in Hz,
    ``one_euro_beta`` per person size per second) or "none" (raw coordinates).

    ``min_person_size``: the smallest person size used for scaling (pixels), so a pose of one
    or two joints still has a tolerance.  ``min_dt``: the time step used when a timestamp
    repeats or goes backwards.
    """

    _section = "track"

    smoother: str = "kalman"
    gate: float = 0.8
    oks_kappa: float = 0.15
    iou_weight: float = 0.0
    mirror_match: bool = True
    mirror_margin: float = 0.1
    label_vote_frames: int = 3
    unseen_spread: float = 0.5
    min_hits: int = 3
    max_lost_seconds: float = 1.0
    max_tracks: int = 100
    joint_predict_seconds: float = 0.3
    process_noise: float = 1.0
    measurement_noise: float = 0.03
    init_speed: float = 1.0
    one_euro_min_cutoff: float = 1.0
    one_euro_beta: float = 4.0
    one_euro_d_cutoff: float = 1.0
    min_person_size: float = 16.0
    min_dt: float = 1e-3

    def __post_init__(self) -> None:
        c = _Checks(self, self._section)
        c.choice("smoother", SMOOTHERS)
        c.number("gate", lambda v: 0.0 < v <= 1.0, "in (0, 1]")
        c.number("oks_kappa", lambda v: v > 0.0, "> 0")
        c.number("iou_weight", lambda v: 0.0 <= v <= 1.0, "in [0, 1]")
        c.flag("mirror_match")
        c.number("mirror_margin", lambda v: 0.0 <= v < 1.0, "in [0, 1)")
        c.integer("label_vote_frames", 0, 1000)
        c.number("unseen_spread", lambda v: v >= 0.0, ">= 0")
        c.integer("min_hits", 1, 1000)
        c.number("max_lost_seconds", lambda v: v >= 0.0, ">= 0")
        c.integer("max_tracks", 1, 100_000)
        c.number("joint_predict_seconds", lambda v: v >= 0.0, ">= 0")
        c.number("process_noise", lambda v: v > 0.0, "> 0")
        c.number("measurement_noise", lambda v: v > 0.0, "> 0")
        c.number("init_speed", lambda v: v > 0.0, "> 0")
        c.number("one_euro_min_cutoff", lambda v: v > 0.0, "> 0")
        c.number("one_euro_beta", lambda v: v >= 0.0, ">= 0")
        c.number("one_euro_d_cutoff", lambda v: v > 0.0, "> 0")
        c.number("min_person_size", lambda v: v > 0.0, "> 0")
        c.number("min_dt", lambda v: 0.0 < v <= 0.1, "in (0, 0.1]")
        c.done()


# -- carrying keypoints between network frames -----------------------------------------------
@dataclass(frozen=True)
class CarrySettings(_Section):
    """The network on every ``keyframe_every``-th frame only (1: every frame, carrying off); the
    frames between are *carried* (:mod:`livepose.carry`): each tracked person's last keypoints
    are moved to the new frame and given to the tracker as measurements with more noise.

    ``carry_mode``: "flow" (sparse pyramidal Lucas-Kanade on a grey copy of the frame whose longest
    side is ``flow_size`` pixels, window ``flow_window`` pixels, ``flow_levels`` pyramid levels above
    the base; a point whose forward-backward error exceeds ``fb_threshold`` flow-image pixels, whose
    window differs from where it came from by more than ``patch_error`` grey levels on average
    (something else is there now), whose tracking fails, that leaves the frame, or that converges onto another person's point, from
    further than ``converge_px`` flow-image pixels to within it, is lost), "hold" (the last
    keypoints as they were) or "predict" (no carried measurement: the tracker predicts).
    ``max_carry_frames``: a keypoint carried over this many frames in a row without the network is
    lost.  ``carry_noise``: a carried keypoint's measurement noise (standard deviation) is this many
    times a network keypoint's of the same confidence.  ``cut_fraction``: when more than this
    fraction of the points are lost in one frame, the frame is taken as a cut or a flash: every
    point is lost, and the next frame runs the network."""

    _section = "carry"

    keyframe_every: int = 1
    carry_mode: str = "flow"
    flow_size: int = 640
    flow_window: int = 21
    flow_levels: int = 2
    fb_threshold: float = 4.0
    patch_error: float = 40.0
    converge_px: float = 2.0
    max_carry_frames: int = 10
    carry_noise: float = 1.5
    cut_fraction: float = 0.8

    def __post_init__(self) -> None:
        c = _Checks(self, self._section)
        c.integer("keyframe_every", 1, 1000)
        c.choice("carry_mode", CARRY_MODES)
        c.integer("flow_size", 32, 4096)
        c.need("flow_window", lambda v: _is_int(v) and 5 <= v <= 101 and v % 2 == 1, "an odd whole number 5 to 101")
        c.integer("flow_levels", 0, 8)
        c.number("fb_threshold", lambda v: v > 0.0, "> 0 (flow-image pixels)")
        c.number("patch_error", lambda v: v > 0.0, "> 0 (mean grey-level difference, 0 to 255)")
        c.number("converge_px", lambda v: v >= 0.0, ">= 0 (flow-image pixels; 0: off)")
        c.integer("max_carry_frames", 1, 100_000)
        c.number("carry_noise", lambda v: v >= 1.0, ">= 1")
        c.number("cut_fraction", lambda v: 0.0 < v <= 1.0, "in (0, 1] (1: never a cut)")
        c.done()

    @property
    def active(self) -> bool:
        """Some frames are carried (the network does not run on every frame)."""
        return self.keyframe_every > 1


def keyframe_every(text: Any) -> int:
    """``--keyframe-every K`` as given on a command line: a whole number of at least 1, else one
    :class:`SettingError` line."""
    try:
        value = int(str(text).strip())
    except ValueError:
        value = None
    if value is None or value < 1 or value > 1000:
        raise SettingError(f"--keyframe-every: must be a whole number 1 to 1000 (the network runs on every "
                           f"K-th frame; 1: every frame); got {text!r}")
    return value


# -- capture -------------------------------------------------------------------------------
@dataclass(frozen=True)
class CaptureSettings(_Section):
    """Where frames come from and how they are scheduled.

    ``source``: a video file, image folder or glob, camera index or stream URL.  ``realtime``:
    play a file at its frame rate as a live source.  ``fps``: override the source's frame rate.
    ``max_frames``: stop after this many frames.  ``batch``: file sources, frames per network
    call.  ``prefetch``: frames read and letterboxed ahead (file sources).  ``max_age``: live
    sources, skip a frame older than this fraction of the frame interval when inference becomes
    free (not with live carrying: the network then takes the newest frame at once).
    ``stall_timeout``, ``open_timeout`` (seconds) and ``max_reconnects``: live sources.
    ``opencv_threads``: OpenCV's own thread pool during the run (``cv2.setNumThreads``, process
    wide; letterbox resizing, carrying and drawing use it): 1 by default, the work on the caller's
    thread, as its idle workers otherwise wake hundreds of times a frame and preempt the engine's
    threads (benchmarks/bench_overhead.py); None leaves OpenCV's setting as it is.
    """

    _section = "capture"

    source: str | None = None
    realtime: bool = False
    fps: float | None = None
    max_frames: int | None = None
    batch: int = 1
    prefetch: int = 3
    max_age: float = 0.5
    stall_timeout: float = 5.0
    open_timeout: float = 10.0
    max_reconnects: int = 5
    opencv_threads: int | None = 1

    def __post_init__(self) -> None:
        if self.source is not None and not isinstance(self.source, str):
            object.__setattr__(self, "source", str(self.source))
        c = _Checks(self, self._section)
        c.need("source", lambda v: isinstance(v, str) and v.strip(),
               "a video, folder, glob pattern, camera index or URL", optional=True)
        c.flag("realtime")
        c.number("fps", lambda v: 0.0 < v <= 1000.0, "a frame rate above 0 and up to 1000", optional=True)
        c.integer("max_frames", 1, 2**62, optional=True)
        c.integer("batch", 1, 65536)
        c.integer("prefetch", 1, 256)
        c.number("max_age", lambda v: v > 0.0, "> 0 (1 never skips)")
        c.number("stall_timeout", lambda v: v > 0.0, "> 0 seconds")
        c.number("open_timeout", lambda v: v > 0.0, "> 0 seconds")
        c.integer("max_reconnects", 0, 1000)
        c.integer("opencv_threads", 1, 1024, optional=True)
        c.done()


# -- outputs -------------------------------------------------------------------------------
def _endpoint_ok(value: Any) -> bool:
    host, port = value
    return isinstance(host, str) and bool(host) and _is_int(port) and 0 <= port <= 65535


@dataclass(frozen=True)
class OutputSettings(_Section):
    """What a run writes, shows and sends (any combination; schemas in docs/outputs.md and
    docs/streaming.md).

    Files: ``video``, ``jsonl``, ``coco``, ``csv`` (paths), ``openpose_json`` (a folder).
    ``display``: True shows the overlay window, False never, None (default) shows it when no
    other output is given.  Network: ``ws`` (host, port) WebSocket server and viewer, with
    ``ws_token`` and ``ws_frames`` (JPEG width, None: no pictures); ``ws_host_given``: the host
    was named (a non-loopback host then warns); ``osc`` (host, port) with ``osc_mode``; ``udp``
    (host, port).  ``angles``: the joints (of :data:`ANGLE_JOINTS`) whose flexion angles are drawn
    beside them on the video and in the window (None: none; :mod:`livepose.render_angles`).
    """

    _section = "outputs"

    video: str | None = None
    jsonl: str | None = None
    openpose_json: str | None = None
    coco: str | None = None
    csv: str | None = None
    display: bool | None = None
    ws: tuple[str, int] | None = None
    ws_token: str | None = None
    ws_frames: int | None = None
    osc: tuple[str, int] | None = None
    osc_mode: str = "both"
    udp: tuple[str, int] | None = None
    angles: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        for name in ("video", "jsonl", "openpose_json", "coco", "csv"):
            value = getattr(self, name)
            if isinstance(value, Path):
                object.__setattr__(self, name, str(value))
        for name in ("ws", "osc", "udp"):
            value = getattr(self, name)
            if isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, name, ("127.0.0.1", value))
            elif isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
        c = _Checks(self, self._section)
        for name in ("video", "jsonl", "openpose_json", "coco", "csv"):
            c.need(name, lambda v: isinstance(v, str) and v.strip(), "a path", optional=True)
        c.need("display", lambda v: isinstance(v, bool), "true, false or None (when nothing else)", optional=True)
        c.need("ws", _endpoint_ok, "(host, port) with a port 0 to 65535", optional=True)
        c.need("ws_token", lambda v: isinstance(v, str) and v, "a non-empty string", optional=True)
        c.integer("ws_frames", 1, 65535, optional=True)
        for name in ("osc", "udp"):
            c.need(name, lambda v: _endpoint_ok(v) and v[1] > 0, "(host, port) with a port 1 to 65535",
                   optional=True)
        c.choice("osc_mode", OSC_MODES)
        if isinstance(self.angles, bool):  # livepose.run(..., angles=True): every joint
            object.__setattr__(self, "angles", ANGLE_JOINTS if self.angles else None)
        elif isinstance(self.angles, (list, str)):
            object.__setattr__(self, "angles", tuple(self.angles.split(",") if isinstance(self.angles, str)
                                                     else self.angles))
        c.need("angles", lambda v: isinstance(v, tuple) and v and all(j in ANGLE_JOINTS for j in v),
               f"a list of joints among {', '.join(ANGLE_JOINTS)}", optional=True)
        c.done()

    @property
    def files(self) -> dict[str, str]:
        """The file outputs asked for: kind -> path."""
        return {name: getattr(self, name) for name in ("video", "jsonl", "openpose_json", "coco", "csv")
                if getattr(self, name) is not None}

    @property
    def network(self) -> bool:
        return self.ws is not None or self.osc is not None or self.udp is not None

    @property
    def show_display(self) -> bool:
        """Whether the overlay window opens: asked for, or the default with no other output."""
        if self.display is not None:
            return self.display
        return not self.files and not self.network


# -- the whole run -------------------------------------------------------------------------
@dataclass(frozen=True)
class RunConfig:
    """One run's settings.  ``tracking`` False gives raw poses without ids (``track`` is then
    unused).  ``quiet``: no progress, no summary, no warnings (errors only).  ``suppress``: the
    false people dropped after decoding, for every command (:data:`SUPPRESS_OFF`: none).  ``decode``
    None (the default): the network's own rules, its card's ``decode`` field, else OpenPose's; any
    decoding setting given (``rules``, ``upsample``, ``decode=``, one field's keyword) names the whole
    rule set instead, from OpenPose's rules unless ``rules`` says otherwise."""

    model: ModelSettings = field(default_factory=ModelSettings)
    decode: DecodeConfig | None = None
    track: TrackerConfig = field(default_factory=TrackerConfig)
    tracking: bool = True
    capture: CaptureSettings = field(default_factory=CaptureSettings)
    outputs: OutputSettings = field(default_factory=OutputSettings)
    quiet: bool = False
    augment: AugmentSettings = field(default_factory=AugmentSettings)
    suppress: SuppressSettings = field(default_factory=SuppressSettings)
    carry: CarrySettings = field(default_factory=CarrySettings)

    _SECTIONS = {"model": ModelSettings, "decode": DecodeConfig, "track": TrackerConfig,
                 "capture": CaptureSettings, "outputs": OutputSettings, "augment": AugmentSettings,
                 "suppress": SuppressSettings, "carry": CarrySettings}

    def __post_init__(self) -> None:
        for name, kind in self._SECTIONS.items():
            if not isinstance(getattr(self, name), kind) and not (name == "decode" and self.decode is None):
                raise SettingError(f"setting {name}: must be a {kind.__name__}; got {type(getattr(self, name)).__name__}")
        c = _Checks(self, "run")
        c.flag("tracking")
        c.flag("quiet")
        c.done()

    def with_(self, **changes) -> "RunConfig":
        return replace(self, **changes)

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_overrides(cls, base: "RunConfig | None" = None, **overrides) -> "RunConfig":
        """A configuration from keyword settings, as ``livepose.open`` takes them.

        A keyword is a whole section (``decode=DecodeConfig(...)``), ``track`` (True/False, or a
        TrackerConfig), ``rules`` and ``upsample`` (a named decoding rule set), ``accuracy`` (a named
        accuracy mode, ``"normal"`` or ``"high"``; ``scales=`` and ``flip=`` given too override it),
        ``suppress`` (True: the default rules, False: :data:`SUPPRESS_OFF`, or a SuppressSettings; a rule's
        own keyword given too, e.g. ``min_person_score=0.1``, changes that one), or the name of one
        setting in any section (``batch=8``, ``precision="fp16"``, ``smoother="one_euro"``,
        ``jsonl="out.jsonl"``, ``scales=(1, 1.5)``, ``pose_nms=False``).  An unknown name is a
        :class:`SettingError` listing the known ones.
        """
        config = base if base is not None else cls()
        sections: dict[str, Any] = {}
        flat: dict[str, dict[str, Any]] = {name: {} for name in cls._SECTIONS}
        rules, upsample = overrides.pop("rules", None), overrides.pop("upsample", None)
        accuracy = overrides.pop("accuracy", None)
        for key, value in overrides.items():
            if key in cls._SECTIONS and isinstance(value, cls._SECTIONS[key]):
                sections[key] = value
            elif key == "track" and isinstance(value, bool):
                sections["tracking"] = value
            elif key in ("tracking", "quiet"):
                sections[key] = value
            elif key == "suppress":
                if not isinstance(value, bool):
                    got = repr(value) if isinstance(value, (str, int, float)) else type(value).__name__
                    raise SettingError(f"setting suppress: must be true, false or a SuppressSettings; got {got}")
                sections["suppress"] = SuppressSettings() if value else SUPPRESS_OFF
            else:
                owner = _FLAT_NAMES.get(key)
                if owner is None:
                    raise SettingError(f"setting {key}: no such setting; the settings are "
                                       + ", ".join(sorted(set(_FLAT_NAMES) | {"accuracy", "rules", "upsample",
                                                                               "suppress", "track"})))
                flat[owner][key] = value
        if rules is not None or upsample is not None:
            if "decode" in sections:
                raise SettingError("setting decode: give either decode=DecodeConfig(...) or rules/upsample, not both")
            sections["decode"] = decode_rules(rules or "openpose", upsample)
        if accuracy is not None:
            if "augment" in sections:
                raise SettingError("setting augment: give either augment=AugmentSettings(...) or accuracy, not both")
            sections["augment"] = accuracy_preset(accuracy)
        config = replace(config, **sections)
        changed = {name: (getattr(config, name) or cls._SECTIONS[name]()).with_(**values)
                   for name, values in flat.items() if values}  # decode None: from OpenPose's rules
        return replace(config, **changed)


# each setting's section, by its (unique) name: the flat keywords of ``livepose.open``
_FLAT_NAMES: dict[str, str] = {}
for _name, _kind in RunConfig._SECTIONS.items():
    for _f in fields(_kind):
        if _f.name.startswith("_"):
            continue
        assert _f.name not in _FLAT_NAMES, f"setting name {_f.name} is in two sections"
        _FLAT_NAMES[_f.name] = _name
del _name, _kind, _f

__all__ = [
    "ACCURACY", "ACCURACY_MODES", "ANGLE_JOINTS", "AugmentSettings", "BACKENDS", "CaptureSettings", "DecodeConfig", "ModelSettings", "OPENPOSE_RULES", "OSC_MODES",
    "OutputSettings", "PRECISIONS", "RULES", "RULE_NAMES", "RunConfig", "SMOOTHERS", "SettingError",
    "TFPOSE_RULES", "TrackerConfig", "accuracy_preset", "decode_rules", "AUTO_SIZE",
    "LIMB_ACTIONS", "SUPPRESS_OFF", "SuppressSettings", "CARRY_MODES", "CarrySettings", "keyframe_every",
]
