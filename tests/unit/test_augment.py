"""The accuracy mode (livepose.augment, AugmentedInferenceStage): the card's flip pairs, mirroring
maps back, bringing a run's maps to the scale-1 grid, the plain path kept bit for bit, the real
network on a real photo, and the settings, card and command-line lines."""

from __future__ import annotations

import re

import cv2
import numpy as np
import pytest

from helpers import PHOTO, card_dict, run_cli, write_card
from livepose import settings as S
from livepose.augment import Fusion, Mirror, content_cells, grid_size, mirror_content, scaled_size, to_base_grid
from livepose.card import load_card
from livepose.errors import InputError, ModelError
from livepose.images import read_image
from livepose.preprocess import plan_letterbox
from livepose.stages import AugmentedInferenceStage, InferenceStage, make_stages


def _mirror_name(name: str) -> str:
    for a, b in (("left_", "right_"), ("right_", "left_")):
        if name.startswith(a):
            return b + name[len(a):]
    return name


# -- the card's flip pairs ---------------------------------------------------------------------
def test_flip_swaps_left_and_right_parts_of_the_real_card(card):
    perm = card.flip.parts
    assert sorted(perm.tolist()) == list(range(card.num_parts))
    assert (perm[perm] == np.arange(card.num_parts)).all()  # mirroring twice is the identity
    for p, name in enumerate(card.parts):
        assert card.parts[perm[p]] == _mirror_name(name)  # nose and neck stay, left <-> right
    assert card.parts[perm[card.parts.index("nose")]] == "nose"


def test_flip_maps_each_limb_to_its_mirror_limb(card):
    flip = card.flip
    assert (flip.limbs[flip.limbs] == np.arange(card.num_limbs)).all()
    for k, (a, b) in enumerate(card.limbs):
        m = flip.limbs[k]
        mirrored = (card.parts[card.limbs[m][0]], card.parts[card.limbs[m][1]])
        assert mirrored == (_mirror_name(card.parts[a]), _mirror_name(card.parts[b]))  # this card: same order
    assert not flip.reversed.any()
    neck_nose = next(k for k, (a, b) in enumerate(card.limbs) if {card.parts[a], card.parts[b]} == {"neck", "nose"})
    assert flip.limbs[neck_nose] == neck_nose


def test_mirror_changes_the_sign_of_the_x_component_only(card):
    mirror = Mirror(card)
    x, y = card.paf_channels[:, 0], card.paf_channels[:, 1]
    assert (mirror.paf_sign[x] == -1).all() and (mirror.paf_sign[y] == 1).all()
    # limb k reads the mirror limb's x and y channels
    assert (mirror.paf_source[x] == card.paf_channels[card.flip.limbs, 0]).all()
    assert (mirror.paf_source[y] == card.paf_channels[card.flip.limbs, 1]).all()
    # undoing the mirror twice is the identity, channels and signs
    assert (mirror.channels[mirror.channels] == np.arange(len(mirror.channels))).all()
    assert (mirror.signs * mirror.signs[mirror.channels] == 1).all()


def test_a_mirror_limb_in_the_other_order_flips_the_whole_vector(tmp_path):
    data = card_dict()
    k_left = next(k for k, limb in enumerate(data["limbs"]) if limb["parts"] == ["neck", "left_shoulder"])
    data["limbs"][k_left]["parts"] = ["left_shoulder", "neck"]  # the mirror of neck->right_shoulder, reversed
    card = load_card(write_card(tmp_path, data))
    k_right = next(k for k, (a, b) in enumerate(card.limbs)
                   if (card.parts[a], card.parts[b]) == ("neck", "right_shoulder"))
    assert card.flip.limbs[k_right] == k_left and card.flip.reversed[k_right] and card.flip.reversed[k_left]
    assert card.flip.reversed.sum() == 2
    # a limb from the neck to the right shoulder pointing along v in the picture; in the mirror
    # image it points along (-vx, vy), and the network's limb there runs from the left shoulder
    # (the mirror of the right) to the neck: its field is -(-vx, vy) = (vx, -vy)
    vx, vy = 0.6, 0.8
    pafs_mirror = np.zeros((4, 5, 2 * card.num_limbs), np.float32)
    cx, cy = card.paf_channels[k_left]
    pafs_mirror[..., cx], pafs_mirror[..., cy] = vx, -vy
    back = Mirror(card).pafs(pafs_mirror)
    rx, ry = card.paf_channels[k_right]
    assert np.allclose(back[..., rx], vx) and np.allclose(back[..., ry], vy)
    # a same-order pair still only flips x
    k_elbow = next(k for k, (a, b) in enumerate(card.limbs)
                   if (card.parts[a], card.parts[b]) == ("right_shoulder", "right_elbow"))
    m = card.flip.limbs[k_elbow]
    pafs_mirror[...] = 0
    pafs_mirror[..., card.paf_channels[m, 0]], pafs_mirror[..., card.paf_channels[m, 1]] = -vx, vy
    back = Mirror(card).pafs(pafs_mirror)
    assert np.allclose(back[..., card.paf_channels[k_elbow, 0]], vx)
    assert np.allclose(back[..., card.paf_channels[k_elbow, 1]], vy)


def test_mirroring_synthetic_maps_then_unmirroring_gives_them_back(card):
    rng = np.random.default_rng(0)
    heat = rng.random((23, 31, card.num_parts), dtype=np.float32)
    pafs = rng.standard_normal((23, 31, 2 * card.num_limbs), dtype=np.float32)
    mirror = Mirror(card)
    h1, p1 = mirror.unmirror(heat, pafs)
    assert not np.array_equal(h1, heat)
    h2, p2 = mirror.unmirror(h1, p1)
    assert np.array_equal(h2, heat) and np.array_equal(p2, pafs)
    # the same through the fusion's geometry: content filling the grid, mirrored twice, exact
    box = plan_letterbox((248, 184), (248, 184), 8)  # 31 x 23 cells, no padding
    fusion = Fusion(card, flip=True)
    once = np.empty((23, 31, card.num_parts + 2 * card.num_limbs), np.float32)
    fusion.start(once)
    fusion.add(heat, pafs, box, box, mirrored=True)
    h1, p1 = fusion.mean()
    assert np.allclose(h1, mirror.unmirror(heat, pafs)[0]) and np.allclose(p1, mirror.unmirror(heat, pafs)[1])
    twice = np.empty_like(once)
    fusion.start(twice)
    fusion.add(np.ascontiguousarray(h1), np.ascontiguousarray(p1), box, box, mirrored=True)
    h2, p2 = fusion.mean()
    assert np.allclose(h2, heat, atol=1e-6) and np.allclose(p2, pafs, atol=1e-6)


# -- the geometry: every run on the scale-1 grid ------------------------------------------------
def _x_of_cells(box, stride: float, mirrored: bool = False) -> np.ndarray:
    """A map whose value is the picture x (pixel centres) each grid cell of ``box`` looks at: a
    linear function, which bilinear resampling keeps exactly."""
    gw, gh = grid_size(box, stride)
    cw, _ = box.content_size
    w = box.image_size[0]
    x = (np.arange(gw) + 0.5) * stride * w / cw - 0.5  # content edge -> picture edge
    if mirrored:
        x = (w - 1) - x  # the mirror image's x is the picture's w - 1 - x
    return np.broadcast_to(x[None, :, None], (gh, gw, 1)).astype(np.float32)


@pytest.mark.parametrize("image_size", [(640, 429), (333, 517), (1280, 720)])
@pytest.mark.parametrize("scale", [0.5, 0.75, 1.0, 1.25, 1.5])
@pytest.mark.parametrize("mirrored", [False, True])
def test_a_run_lands_on_the_base_grid_where_the_picture_is(image_size, scale, mirrored):
    stride = 8.0
    base = plan_letterbox(image_size, (-1, 368), 8)
    run = plan_letterbox(image_size, scaled_size((-1, 368), scale), 8)
    out = to_base_grid(_x_of_cells(run, stride, mirrored), run, base, stride, mirrored=mirrored)
    want = _x_of_cells(base, stride)
    cw, ch = content_cells(base, stride)
    # inside the content, away from the edge cells (where the run's grid has no neighbour to
    # interpolate with): the picture position of each cell, to a small fraction of a pixel
    inner = np.s_[1:ch - 1, 2:cw - 2]
    assert np.abs(out[inner] - want[inner]).max() < 0.05 * stride
    assert (out[ch:] == 0).all() and (out[:, cw:] == 0).all()


def test_a_constant_map_stays_constant_in_the_content_and_zero_in_the_padding():
    stride = 8.0
    image_size = (500, 300)
    base = plan_letterbox(image_size, (432, 368), 8)  # 432 x 260 content in 432 x 368: padding below
    for scale in (0.5, 0.75, 1.25, 1.5):
        run = plan_letterbox(image_size, scaled_size((432, 368), scale), 8)
        gw, gh = grid_size(run, stride)
        for mirrored in (False, True):
            out = to_base_grid(np.full((gh, gw, 3), 0.7, np.float32), run, base, stride, mirrored=mirrored)
            cw, ch = content_cells(base, stride)
            assert out.shape == (46, 54, 3) and (cw, ch) == (54, 33)
            assert np.allclose(out[:ch, :cw], 0.7) and (out[ch:] == 0).all()


def test_mirror_content_mirrors_only_the_picture():
    box = plan_letterbox((100, 60), (-1, 64), 8)  # content 107 x 64 in 112 x 64
    tensor = np.random.default_rng(1).random((3, 64, 112), dtype=np.float32)
    tensor[:, :, 107:] = -5.0  # padding
    dst = np.empty_like(tensor)
    mirror_content(tensor, dst, box, "NCHW")
    assert np.array_equal(dst[:, :, :107], tensor[:, :, 106::-1]) and (dst[:, :, 107:] == -5.0).all()
    nhwc = np.ascontiguousarray(tensor.transpose(1, 2, 0))
    dst = np.empty_like(nhwc)
    mirror_content(nhwc, dst, box, "NHWC")
    assert np.array_equal(dst[:, :107], nhwc[:, 106::-1]) and (dst[:, 107:] == -5.0).all()


# -- the stages ----------------------------------------------------------------------------
def test_scale_one_without_flip_is_the_plain_path_bit_for_bit(estimator):
    assert not S.AugmentSettings().active
    stages = make_stages(estimator.network, augment=S.AugmentSettings())
    assert type(stages.inference) is InferenceStage and not stages.augmented
    image = read_image(PHOTO)
    plain, _ = estimator(image)
    same, _ = estimator.with_augment(S.AugmentSettings(scales=(1,), flip=False))(image)
    assert np.array_equal(plain.xy, same.xy, equal_nan=True) and np.array_equal(plain.conf, same.conf)
    assert np.array_equal(plain.score, same.score)


def _person_distances(plain, other):
    """Per person of ``plain``: the mean distance (px) of its parts to the nearest person of ``other``
    over the parts both have, and the number of parts in common."""
    out = []
    for i in range(len(plain)):
        dist = np.linalg.norm(other.xy - plain.xy[i][None], axis=-1)  # (N, P)
        mean = np.array([np.nanmean(d) if np.isfinite(d).any() else np.inf for d in dist])
        j = int(np.argmin(mean))
        out.append((float(mean[j]), int(np.isfinite(dist[j]).sum())))
    return out


def test_flip_on_a_real_photo_finds_the_same_people(estimator):
    image = read_image(PHOTO)
    plain, _ = estimator(image)
    flipped = estimator.with_augment(S.AugmentSettings(flip=True))
    assert flipped._stages.augmented
    poses, times = flipped(image)
    assert len(plain) == len(poses) == 4
    # measured (mobilenet_thin, ONNX Runtime and OpenVINO): 0.9 to 2.0 px mean per person, with 14
    # to 18 parts in common; a part taken for its mirror twin would be a shoulder width away
    # (30 px and more), a wrong PAF sign loses the limbs (10 fragments instead of 4 people)
    for mean, common in _person_distances(plain, poses):
        assert mean < 4.0 and common >= 12, (mean, common)
    assert times.inference > 0


def test_only_the_mirror_run_gives_the_people_with_left_and_right_in_place(estimator, card):
    """The mirror image alone, brought back: the same people, each part where the plain run has it
    (so left and right were swapped back, and the PAF signs let the limbs join)."""
    from livepose.stages import DecodeStage, LetterboxStage
    from livepose.inference import output_maps
    from livepose.types import NetOutput

    image = read_image(PHOTO)
    plain, _ = estimator(image)
    tensor, box = LetterboxStage(card, estimator.size).single(cv2.flip(image, 1))
    heat, pafs = output_maps(card, estimator.network.run_raw(tensor), 0)
    gw, gh = grid_size(box, card.stride)
    fusion = Fusion(card, flip=True)
    fusion.start(np.empty((gh, gw, card.num_parts + 2 * card.num_limbs), np.float32))
    fusion.add(heat, pafs, box, box, mirrored=True)
    h, p = fusion.mean()
    poses = DecodeStage(card)(NetOutput(h, p, float(card.stride), box))
    assert len(poses) == 4
    # measured: 2.0 to 4.4 px mean per person (the network is not exactly mirror-symmetric)
    for mean, common in _person_distances(plain, poses):
        assert mean < 7.0 and common >= 12, (mean, common)


def test_the_pipeline_runs_the_accuracy_mode_one_frame_at_a_time(estimator):
    from livepose.eval.frames import FrameList
    from livepose.pipeline import PoseStream
    augmented = estimator.with_augment(S.AugmentSettings(scales=(0.75, 1.0), flip=True))
    want, _ = augmented(read_image(PHOTO))
    with PoseStream(FrameList([PHOTO, PHOTO], folder=PHOTO.parent), augmented, batch=4) as stream:
        assert stream.batch == 1 and stream.augmented and stream.stages.augmented
        results = list(stream)
    assert len(results) == 2 and len(want) == 4
    for result in results:  # the same stage code as the photo path: the same people, bit for bit
        assert np.array_equal(result.poses.xy, want.xy, equal_nan=True)


def test_a_live_source_runs_one_scale_with_a_warning(estimator, tmp_path):
    from helpers import CLIP
    from livepose.build import LIVE_AUGMENT_WARNING, build
    from livepose.capture import open_source
    from livepose.pipeline import PoseStream

    augmented = estimator.with_augment(S.AugmentSettings(scales=(1.0, 1.5), flip=True))
    source = open_source(str(CLIP), realtime=True)
    try:
        stream = PoseStream(source, augmented, batch=4)
        assert stream.batch == 1 and not stream.augmented and type(stream.stages.inference) is InferenceStage
    finally:
        source.close()
    warnings: list[str] = []
    config = S.RunConfig.from_overrides(source=str(CLIP), realtime=True, max_frames=2, accuracy="high",
                                        jsonl=str(tmp_path / "a.jsonl"), backend="onnxruntime", threads=2)
    run = build(config, warn=warnings.append)
    try:
        assert not run.stream.augmented and type(run.stream.stages.inference) is InferenceStage
    finally:
        run.close()
    assert warnings == [LIVE_AUGMENT_WARNING]
    assert LIVE_AUGMENT_WARNING == "--accuracy/--scales/--flip ignored: a live source runs one scale (lowest latency)"


def test_the_augmented_stage_needs_the_pictures(estimator):
    stage = AugmentedInferenceStage(estimator.network, S.AugmentSettings(flip=True))
    with pytest.raises(ValueError, match="picture"):
        stage(np.zeros((1, 3, 368, 496), np.float32), [plan_letterbox((640, 480), (-1, 368), 8)])


def test_flip_with_a_card_without_pairs_is_one_line(tmp_path, estimator):
    data = card_dict()
    del data["flip"]
    card = load_card(write_card(tmp_path, data))
    assert card.flip is None
    with pytest.raises(ModelError) as exc:
        Fusion(card, flip=True)
    assert str(exc.value) == (f"{card.card_path}: the accuracy mode's flip needs the card's field 'flip' (its "
                              "left/right part pairs, see models/README.md); run without --flip")
    Fusion(card, flip=False)  # scales alone need no pairs


# -- card lines ----------------------------------------------------------------------------
@pytest.mark.parametrize("pairs, message", [
    ([["right_shoulder", "left_shoulder"], ["right_elbow", "left_elbow"], ["right_wrist", "left_wrist"],
      ["rigth_eye", "left_eye"]], "field 'flip.parts[3]' names 'rigth_eye', not a part of this card"),
    ([["right_eye", "left_eye"], ["left_eye", "right_ear"]], "field 'flip.parts[1]' pairs 'left_eye' a second time"),
    ([["nose", "nose"]], "field 'flip.parts[0]' pairs 'nose' with itself (a part not listed is its own mirror)"),
    ([["right_eye", "left_eye"]], "field 'flip.parts': limb 14 (right_eye, right_ear) mirrors to (left_eye, "
                                  "right_ear), which is not a limb of this card"),
    ([["right_eye"]], "field 'flip.parts[0]' must be two part names, got ['right_eye']"),
])
def test_bad_flip_pairs_are_one_line_naming_the_field(tmp_path, pairs, message):
    data = card_dict()
    data["flip"] = {"parts": pairs}
    path = write_card(tmp_path, data)
    with pytest.raises(ModelError) as exc:
        load_card(path)
    assert str(exc.value) == f"{path}: {message}"


def test_a_flip_field_that_is_not_pairs_is_named(tmp_path):
    data = card_dict()
    data["flip"] = [["right_eye", "left_eye"]]
    path = write_card(tmp_path, data)
    with pytest.raises(ModelError, match=re.escape(f"{path}: field 'flip' must be an object with 'parts'")):
        load_card(path)


def test_the_bundled_cards_pair_every_left_with_its_right():
    from livepose.card import bundled_models_dir

    for path in sorted(bundled_models_dir().glob("*.json")):
        if path.name == "quality_baseline.json":
            continue
        card = load_card(path)
        assert card.flip is not None, path
        lefts = {p for p in card.parts if p.startswith("left_")}
        assert {a for pair in card.flip.pairs for a in pair} == lefts | {_mirror_name(p) for p in lefts}, path


# -- settings ------------------------------------------------------------------------------
def test_augment_settings_and_presets():
    assert S.RunConfig().augment == S.AugmentSettings() and not S.AugmentSettings().active
    assert S.AugmentSettings(scales=[1, 1.5]).scales == (1.0, 1.5)
    high = S.accuracy_preset("high")
    assert high.flip and 1.0 in high.scales and len(high.scales) >= 2 and high.active
    assert S.accuracy_preset("normal") == S.AugmentSettings()
    config = S.RunConfig.from_overrides(accuracy="high")
    assert config.augment == high
    assert S.RunConfig.from_overrides(accuracy="high", scales=(1, 2)).augment == S.AugmentSettings((1.0, 2.0), True)
    assert S.RunConfig.from_overrides(accuracy="high", flip=False).augment == S.AugmentSettings(high.scales, False)
    assert S.RunConfig.from_overrides(flip=True).augment == S.AugmentSettings(flip=True)
    assert S.AugmentSettings(scales=(0.75, 1.0), flip=True).describe() == "scales 0.75,1 + flip"


@pytest.mark.parametrize("kwargs, line", [
    (dict(scales=(0, 1)), "setting augment.scales: must be 1 to 8 different numbers in (0, 4], e.g. "
                          "(0.75, 1.0, 1.25); got (0.0, 1.0)"),
    (dict(scales=(1, 1.0)), "setting augment.scales: must be 1 to 8 different numbers in (0, 4], e.g. "
                            "(0.75, 1.0, 1.25); got (1.0, 1.0)"),
    (dict(scales=(4.5,)), "setting augment.scales: must be 1 to 8 different numbers in (0, 4], e.g. "
                          "(0.75, 1.0, 1.25); got (4.5,)"),
    (dict(scales=tuple(0.25 * k for k in range(1, 10))), "setting augment.scales: must be 1 to 8 different "
                                                         "numbers in (0, 4]"),
    (dict(scales=()), "setting augment.scales: must be 1 to 8"),
    (dict(scales=("1",)), "setting augment.scales: must be 1 to 8"),
    (dict(flip="yes"), "setting augment.flip: must be true or false; got 'yes'"),
])
def test_bad_augment_settings_are_one_line(kwargs, line):
    with pytest.raises(S.SettingError) as exc:
        S.AugmentSettings(**kwargs)
    assert str(exc.value).startswith(line) and "\n" not in str(exc.value)


def test_bad_accuracy_keyword_is_one_line():
    with pytest.raises(S.SettingError, match=r"^setting augment.accuracy: must be one of normal, high; got 'best'$"):
        S.RunConfig.from_overrides(accuracy="best")
    with pytest.raises(S.SettingError, match="either augment=AugmentSettings"):
        S.RunConfig.from_overrides(accuracy="high", augment=S.AugmentSettings())


# -- the command line ----------------------------------------------------------------------
def _augment(*argv):
    from livepose.cli import augment_settings, build_parser

    return augment_settings(build_parser().parse_args(["image", str(PHOTO), "--out", "x", *argv]))


def test_cli_options_make_the_augment_settings():
    high = S.ACCURACY["high"]
    assert _augment() == S.AugmentSettings()
    assert _augment("--accuracy", "normal") == S.AugmentSettings()
    assert _augment("--accuracy", "high") == high
    assert _augment("--accuracy", "high", "--scales", "1,1.5") == S.AugmentSettings((1.0, 1.5), True)
    assert _augment("--accuracy", "high", "--no-flip") == S.AugmentSettings(high.scales, False)
    assert _augment("--flip") == S.AugmentSettings(flip=True)
    assert _augment("--scales", "0.75, 1") == S.AugmentSettings((0.75, 1.0))


def test_cli_run_config_carries_the_accuracy_mode():
    from livepose.cli import build_parser, run_config

    args = build_parser().parse_args(["run", "clip.mp4", "--accuracy", "high", "--jsonl", "a.jsonl"])
    assert run_config(args).augment == S.ACCURACY["high"]
    for command in (["eval", "--annotations", "a", "--images", "b"], ["eval-track", "--annotations", "a", "--frames", "b"]):
        args = build_parser().parse_args([*command, "--scales", "1,1.25", "--flip"])
        assert (args.scales, args.flip) == ("1,1.25", True)


@pytest.mark.parametrize("argv, line", [
    (["--scales", "0,1"], "error: --scales: must be 1 to 8 different numbers above 0 and at most 4, comma separated, "
                          "e.g. 0.75,1,1.5; got '0,1'"),
    (["--scales", "big"], "error: --scales: must be 1 to 8 different numbers above 0 and at most 4, comma separated, "
                          "e.g. 0.75,1,1.5; got 'big'"),
    (["--scales", "1,1"], "error: --scales: must be 1 to 8 different numbers above 0 and at most 4, comma separated, "
                          "e.g. 0.75,1,1.5; got '1,1'"),
    (["--accuracy", "max"], "error: --accuracy: must be one of normal, high; got 'max'"),
])
def test_cli_bad_accuracy_options_are_one_line(capsys, tmp_path, argv, line):
    code, out, err = run_cli(capsys, "image", PHOTO, "--out", tmp_path / "o", *argv)
    assert code == 2 and err.strip() == line
    with pytest.raises(InputError):
        _augment(*argv)
