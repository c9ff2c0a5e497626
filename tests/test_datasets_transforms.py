"""Classification transforms: shapes, what each one does to the pixels, packing, and
the mmcv transforms the pipelines use instead of own copies."""
import os

import mmcv.transforms
import numpy as np
import pytest
import torch
from fixtures_tools import REPO
from mmcv.transforms import BaseTransform, Compose
from mmengine.config import Config
from mmengine.registry import TRANSFORMS, DefaultScope
from PIL import Image

import relnas_mm  # noqa: F401  (registers the transforms)
from relnas_mm.datasets.image_folder_io import read_rgb
from relnas_mm.datasets.transforms import (Cutout, PackClsInputs, RandomCropPad, RandomResizedCrop,
                                           ResizeCenterCrop)
from relnas_mm.registry import TRANSFORMS as RELNAS_TRANSFORMS


def _img(h=32, w=32, seed=0):
    return np.random.default_rng(seed).integers(1, 256, (h, w, 3), dtype=np.uint8)


def test_random_crop_pad_is_a_window_of_the_zero_padded_image():
    np.random.seed(0)
    img = _img()
    padded = np.pad(img, ((4, 4), (4, 4), (0, 0)))
    offsets = set()
    for _ in range(40):
        out = RandomCropPad(32, padding=4)(dict(img=img))
        assert out['img'].shape == (32, 32, 3) and out['img_shape'] == (32, 32)
        matches = [(t, left) for t in range(9) for left in range(9)
                   if np.array_equal(padded[t:t + 32, left:left + 32], out['img'])]
        assert len(matches) == 1
        offsets.add(matches[0])
    assert len(offsets) > 10  # the place is random


def test_random_crop_pad_refuses_an_impossible_crop():
    with pytest.raises(ValueError, match='larger than the padded image'):
        RandomCropPad(48, padding=4)(dict(img=_img()))


def test_no_transform_shadows_an_mmcv_one_and_all_are_base_transforms():
    import relnas_mm.downstream.transforms  # noqa: F401  (imported lazily by the configs)
    ours = set(RELNAS_TRANSFORMS.module_dict)
    assert ours == {
        'RandomCropPad', 'Cutout', 'RandomResizedCrop', 'ResizeCenterCrop', 'ColorJitter',
        'PackClsInputs', 'ColorJitterBCS', 'ResizeToCover', 'RandomScaleRotate'
    }
    assert not ours & set(mmcv.transforms.__all__)
    assert all(issubclass(cls, BaseTransform) for cls in RELNAS_TRANSFORMS.module_dict.values())


def test_cifar_pipeline_flips_with_mmcv_random_flip():
    """In relnas_mm's scope, 'RandomFlip' is mmcv's (no relnas_mm transform hides it)."""
    cfg = Config.fromfile(os.path.join(REPO, 'configs/cifar/relnas_cifar10.py'))
    with DefaultScope.overwrite_default_scope('relnas_mm'):
        pipeline = Compose(cfg.train_dataloader.dataset.pipeline)
        flip = TRANSFORMS.build(dict(type='RandomFlip', prob=1.0, direction='horizontal'))
    assert type(pipeline.transforms[1]) is mmcv.transforms.RandomFlip
    img = _img()
    out = flip(dict(img=img))
    np.testing.assert_array_equal(out['img'], img[:, ::-1])
    assert out['flip'] is True and out['flip_direction'] == 'horizontal'
    np.random.seed(1)
    packed = [pipeline(dict(img=img, gt_label=3)) for _ in range(40)]
    flips = [p['data_samples'].flip for p in packed]
    assert 5 < sum(flips) < 35
    assert all(p['inputs'].shape == (3, 32, 32) for p in packed)


def test_image_folder_config_resizes_as_the_search_does(tmp_path):
    """mmcv's Resize (pillow backend) in the retraining pipeline gives the very pixels
    the image-folder search read (``read_rgb(path, size)``)."""
    path = str(tmp_path / 'a.png')
    Image.fromarray(_img(50, 41, seed=3)).save(path)
    cfg = Config.fromfile(os.path.join(REPO, 'configs/cifar/relnas_image_folder.py'))
    with DefaultScope.overwrite_default_scope('relnas_mm'):
        pipeline = Compose(cfg.val_dataloader.dataset.pipeline)
    out = pipeline(dict(img=read_rgb(path), gt_label=0))
    np.testing.assert_array_equal(out['inputs'].numpy().transpose(1, 2, 0), read_rgb(path, 32))


def test_cutout_fills_one_square_and_leaves_the_rest():
    np.random.seed(0)
    img = np.full((32, 32, 3), 200, np.uint8)
    sizes = set()
    for _ in range(30):
        out = Cutout(length=16)(dict(img=img))['img']
        ys, xs = np.nonzero((out == 0).all(axis=2))
        assert len(ys) > 0
        h, w = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
        assert h <= 16 and w <= 16 and len(ys) == h * w  # one filled rectangle
        assert (out[out != 0] == 200).all()
        sizes.add((h, w))
    assert (16, 16) in sizes and len(sizes) > 1  # whole inside, or clipped at a border
    assert (img == 200).all()  # the input array is not written to
    grey = Cutout(length=8, fill=(125, 123, 114))(dict(img=img))['img']
    assert ((grey == (125, 123, 114)).all(axis=2)).sum() > 0


def test_random_resized_crop_gives_the_size_asked_for():
    np.random.seed(0)
    for shape in [(40, 60), (60, 40), (24, 24)]:
        out = RandomResizedCrop(size=24)(dict(img=_img(*shape)))
        assert out['img'].shape == (24, 24, 3) and out['img'].dtype == np.uint8
    # No crop satisfies an area above 100%: falls back to the central crop of the image.
    img = np.zeros((20, 80, 3), np.uint8)
    img[:, 30:50] = 255
    out = RandomResizedCrop(size=16, scale=(2.0, 3.0), ratio=(1.0, 1.0))(dict(img=img))
    assert out['img'].shape == (16, 16, 3) and out['img'].min() == 255


def test_resize_center_crop_keeps_the_centre():
    img = np.zeros((40, 80, 3), np.uint8)
    img[:, 36:44] = 255  # a bright band in the middle
    out = ResizeCenterCrop(resize=20, crop=10)(dict(img=img))
    assert out['img'].shape == (10, 10, 3)
    assert out['img'][:, 5].min() == 255 and out['img'][:, 0].max() == 0


def test_pack_gives_chw_uint8_inputs_and_the_label():
    img = _img()
    out = PackClsInputs()(dict(img=img, gt_label=7, sample_idx=3, img_shape=(32, 32)))
    assert set(out) == {'inputs', 'data_samples'}
    assert out['inputs'].dtype == torch.uint8 and out['inputs'].shape == (3, 32, 32)
    np.testing.assert_array_equal(out['inputs'].numpy(), img.transpose(2, 0, 1))
    sample = out['data_samples']
    assert sample.gt_label.dtype == torch.long and sample.gt_label.tolist() == [7]
    assert sample.sample_idx == 3 and sample.img_shape == (32, 32)


def test_transforms_are_registered_and_check_their_input():
    crop = TRANSFORMS.build(dict(type='relnas_mm.RandomCropPad', size=24, padding=2))
    assert isinstance(crop, RandomCropPad) and crop.size == (24, 24)
    assert 'Cutout(length=16' in repr(TRANSFORMS.build(dict(type='relnas_mm.Cutout')))
    with pytest.raises(TypeError, match=r'results\["img"\]'):
        Cutout()(dict(img=None))
