"""relnas_mm.ColorJitter: torchvision's pixel operations with numpy's draws, and the
ImageNet training pipeline's setting (DARTS / RelativeNAS: 0.4, 0.4, 0.4, 0.2)."""
import os

import numpy as np
import pytest
from fixtures_tools import REPO
from mmengine.config import Config
from PIL import Image
from torchvision.transforms import functional as TF

from relnas_mm.datasets.transforms import ColorJitter


def _img(seed=0):
    return np.random.default_rng(seed).integers(0, 256, (16, 20, 3), dtype=np.uint8)


def test_one_adjustment_equals_torchvisions_with_the_same_draw():
    img = _img()
    np.random.seed(3)
    out = ColorJitter(brightness=0.4)(dict(img=img.copy()))['img']
    np.random.seed(3)
    factor = np.random.uniform(0.6, 1.4)
    expected = np.asarray(TF.adjust_brightness(Image.fromarray(img), factor))
    np.testing.assert_array_equal(out, expected)
    assert out.dtype == np.uint8 and out.shape == img.shape


def test_all_four_change_the_colours_and_zero_changes_nothing():
    img = _img(1)
    np.random.seed(0)
    jitter = ColorJitter(0.4, 0.4, 0.4, 0.2)
    outs = [jitter(dict(img=img.copy()))['img'] for _ in range(4)]
    assert all(not np.array_equal(o, img) for o in outs)
    assert len({o.tobytes() for o in outs}) == 4  # random each time
    np.testing.assert_array_equal(ColorJitter()(dict(img=img.copy()))['img'], img)


def test_bad_ranges_are_named():
    with pytest.raises(ValueError, match=r'hue must be in \[0, 0.5\], got 0.7'):
        ColorJitter(hue=0.7)
    with pytest.raises(ValueError, match='contrast must be in'):
        ColorJitter(contrast=-1)


def test_imagenet_training_pipeline_jitters_colours():
    cfg = Config.fromfile(os.path.join(REPO, 'configs/imagenet/relnas_imagenet_mobile.py'))
    pipeline = cfg.train_dataloader.dataset.pipeline
    assert [t.type for t in pipeline] == [
        'relnas_mm.RandomResizedCrop', 'RandomFlip', 'relnas_mm.ColorJitter',
        'relnas_mm.PackClsInputs'
    ]
    assert dict(pipeline[2]) == dict(type='relnas_mm.ColorJitter', brightness=0.4, contrast=0.4,
                                     saturation=0.4, hue=0.2)
    assert cfg.optim_wrapper.clip_grad is None  # as the authors' ImageNet training
