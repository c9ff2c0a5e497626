"""The authors' augmentations: relnas_mm.ColorJitterBCS, ResizeToCover (Cityscapes)
and RandomScaleRotate (COCO keypoints)."""
import numpy as np
import pytest

pytest.importorskip('mmcv')
from PIL import Image, ImageEnhance

from relnas_mm.downstream.transforms import ColorJitterBCS, RandomScaleRotate, ResizeToCover
from relnas_mm.registry import TRANSFORMS


def test_color_jitter_is_pil_brightness_contrast_saturation_in_that_order():
    rng = np.random.default_rng(0)
    bgr = rng.integers(0, 256, (16, 24, 3), dtype=np.uint8)
    np.random.seed(3)
    out = ColorJitterBCS(0.5, 0.5, 0.5).transform(dict(img=bgr.copy()))['img']
    np.random.seed(3)
    b, c, s = (np.random.uniform(0.5, 1.5) for _ in range(3))
    pil = Image.fromarray(bgr[..., ::-1])
    for enhance, factor in ((ImageEnhance.Brightness, b), (ImageEnhance.Contrast, c),
                            (ImageEnhance.Color, s)):
        pil = enhance(pil).enhance(factor)
    expected = np.asarray(pil)[..., ::-1].astype(int)
    assert out.shape == bgr.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - expected).max() <= 3  # PIL rounds each step


def test_color_jitter_zero_strength_is_identity():
    img = np.full((4, 4, 3), 77, np.uint8)
    assert np.array_equal(ColorJitterBCS(0, 0, 0).transform(dict(img=img.copy()))['img'], img)


def test_resize_to_cover_upscales_only_what_is_smaller_than_the_crop():
    small = dict(img=np.zeros((768, 1536, 3), np.uint8), gt_seg_map=np.zeros((768, 1536), np.uint8))
    out = ResizeToCover((1024, 1024)).transform(small)
    assert out['img'].shape[:2] == (1025, 2049) == out['gt_seg_map'].shape  # the authors' +1
    assert out['img_shape'] == (1025, 2049)
    big = dict(img=np.zeros((1024, 2048, 3), np.uint8))
    assert ResizeToCover((1024, 1024)).transform(big)['img'].shape[:2] == (1024, 2048)


def test_resize_to_cover_keeps_labels_nearest():
    labels = np.zeros((4, 8), np.uint8)
    labels[:, 4:] = 13
    out = ResizeToCover(
        (16, 16)).transform(dict(img=np.zeros((4, 8, 3), np.uint8), gt_seg_map=labels))
    assert set(np.unique(out['gt_seg_map'])) == {0, 13}


def test_scale_and_rotation_are_clipped_normals():
    np.random.seed(0)
    transform = RandomScaleRotate()
    n = 20000
    out = transform.transform(dict(bbox_scale=np.full((n, 2), 100.0, np.float32)))
    scale, rotation = out['bbox_scale'][:, 0] / 100.0, out['bbox_rotation']
    assert scale.min() == pytest.approx(0.7) and scale.max() == pytest.approx(1.3)
    # clipping (not truncation) leaves P(|z| >= 1) = 31.7% of the mass on the bounds
    assert np.mean(np.isclose(scale, 0.7) | np.isclose(scale, 1.3)) == pytest.approx(
        0.317, abs=0.015)
    assert np.allclose(out['bbox_scale'][:, 0], out['bbox_scale'][:, 1])
    assert np.mean(rotation == 0) == pytest.approx(0.4, abs=0.015)  # rotated with p=0.6
    rotated = rotation[rotation != 0]
    assert np.abs(rotated).max() == pytest.approx(80.0)
    assert np.std(np.clip(rotated, -40, 40)) < np.std(rotated) < 40  # N(0, 40), clipped at 2 sd
    assert np.mean(np.abs(rotated) == 80.0) == pytest.approx(0.0455, abs=0.01)


def test_registered_in_relnas_mm():
    for cls in (ColorJitterBCS, ResizeToCover, RandomScaleRotate):
        assert TRANSFORMS.get(cls.__name__) is cls
