"""Letterboxing and its inverse, and the data types' conversions, on hand-checkable values."""

from __future__ import annotations

import numpy as np
import pytest

from livepose.card import load_card
from livepose.preprocess import Preprocessor, parse_size, plan_letterbox
from livepose.types import COCO17_NAMES, Letterbox, Poses


def test_plan_keeps_aspect_and_aligns_to_stride():
    box = plan_letterbox((640, 480), (-1, 368), 8)
    assert box.net_size == (496, 368)  # 640 * 368/480 = 490.7 -> 496
    assert box.scale == pytest.approx(368 / 480)
    box = plan_letterbox((1280, 720), (432, 368), 8)
    assert box.net_size == (432, 368) and box.scale == pytest.approx(432 / 1280)
    assert box.content_size == (432, 243)
    box = plan_letterbox((300, 1000), (368, -1), 8)
    assert box.net_size == (368, 1232)
    box = plan_letterbox((1, 1), (-1, 368), 8)
    assert box.net_size == (368, 368)


def test_inverse_mapping_round_trip_and_pixel_centres():
    box = Letterbox(image_size=(640, 480), net_size=(496, 368), scale=368 / 480)
    pts = np.array([[0.0, 0.0], [639.0, 479.0], [100.25, 33.5]], np.float32)
    np.testing.assert_allclose(box.net_to_image(box.image_to_net(pts)), pts, atol=1e-3)
    # the centre of the image maps to the centre of the content area
    centre = box.image_to_net(np.array([319.5, 239.5], np.float32))
    np.testing.assert_allclose(centre, [(640 * box.scale - 1) / 2, (368 - 1) / 2], atol=1e-3)


def test_parse_size():
    assert parse_size("432x368") == (432, 368)
    assert parse_size("-1X368") == (-1, 368)
    for bad in ("368", "ax3", "-1x-1", "0x368", "9000x368"):
        with pytest.raises(ValueError):
            parse_size(bad)


def test_preprocessor_places_raw_bgr_top_left_and_pads():
    card = load_card()
    pre = Preprocessor(card.input, (-1, 64))
    image = np.zeros((32, 50, 3), np.uint8)
    image[..., 0], image[..., 1], image[..., 2] = 10, 20, 30
    tensor, box = pre(image)
    assert tensor.shape == (1, 3, 64, 104) and tensor.dtype == np.float32
    assert box.content_size == (100, 64)
    assert (tensor[0, 0, :, :100] == 10).all() and (tensor[0, 2, :, :100] == 30).all()
    assert (tensor[0, :, :, 100:] == card.input.pad_value).all()  # lwop: 128, the value its training padded with
    again, _ = pre(image)
    assert again is tensor  # buffers are reused from frame to frame


def test_preprocessor_rgb_normalised_nhwc():
    from dataclasses import replace

    spec = replace(load_card().input, channel_order="RGB", mean=(127.5,) * 3, scale=(1 / 127.5,) * 3,
                   layout="NHWC", pad_value=0.0)
    pre = Preprocessor(spec, (16, 16))
    image = np.full((8, 16, 3), (0, 127, 255), np.uint8)  # B, G, R
    tensor, box = pre(image)
    assert tensor.shape == (1, 16, 16, 3)
    np.testing.assert_allclose(tensor[0, 0, 0], [1.0, (127 - 127.5) / 127.5, -1.0], atol=1e-6)
    np.testing.assert_allclose(tensor[0, 15, 0], [-1.0, -1.0, -1.0])  # padding is pixel value 0


def test_empty_poses_convert_cleanly():
    parts = load_card().parts
    empty = Poses.empty(parts)
    assert len(empty) == 0
    assert empty.flat_triples().shape == (0, 54)
    assert empty.to_coco17().xy.shape == (0, 17, 2)


def test_coco17_conversion_matches_the_documented_index():
    parts = load_card().parts
    xy = np.arange(18 * 2, dtype=np.float32).reshape(1, 18, 2)
    poses = Poses(xy=xy, conf=np.ones((1, 18), np.float32), score=np.ones(1, np.float32), part_names=parts)
    coco = poses.to_coco17()
    # typed on purpose: the documented OpenPose-18 -> COCO-17 mapping is the answer checked here
    index = [0, 15, 14, 17, 16, 5, 2, 6, 3, 7, 4, 11, 8, 12, 9, 13, 10]  # shared/data/README.md
    np.testing.assert_array_equal(coco.xy[0], xy[0, index])
    assert coco.part_names == COCO17_NAMES


def test_poses_reject_inconsistent_shapes():
    parts = load_card().parts
    with pytest.raises(ValueError, match="inconsistent"):
        Poses(xy=np.zeros((2, len(parts), 2), np.float32), conf=np.zeros((1, len(parts)), np.float32),
              score=np.zeros(1, np.float32), part_names=parts)
