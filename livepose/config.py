"""Frozen, validated settings for the decoding stage, with the two rule sets of the field."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace


@dataclass(frozen=True)
class DecodeConfig:
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
        problems = []
        if not 1 <= self.upsample <= 8:
            problems.append(f"upsample must be 1..8, got {self.upsample}")
        if not 0.0 <= self.peak_threshold < 1.0:
            problems.append(f"peak_threshold must be in [0, 1), got {self.peak_threshold}")
        if not 1 <= self.nms_radius <= 5:
            problems.append(f"nms_radius must be 1..5, got {self.nms_radius}")
        if not 1 <= self.max_peaks <= 1024:
            problems.append(f"max_peaks must be 1..1024, got {self.max_peaks}")
        if self.samples < 0 or self.samples == 1:
            problems.append(f"samples must be 0 (adaptive) or at least 2, got {self.samples}")
        if not 2 <= self.min_samples <= self.max_samples <= 100:
            problems.append(f"need 2 <= min_samples <= max_samples <= 100, got {self.min_samples}, {self.max_samples}")
        if not 0.0 <= self.min_pass_ratio < 1.0:
            problems.append(f"min_pass_ratio must be in [0, 1), got {self.min_pass_ratio}")
        if self.min_parts < 1:
            problems.append(f"min_parts must be at least 1, got {self.min_parts}")
        if problems:
            raise ValueError("invalid decode settings: " + "; ".join(problems))

    def with_(self, **changes) -> "DecodeConfig":
        return replace(self, **changes)

    def as_dict(self) -> dict:
        return asdict(self)


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
