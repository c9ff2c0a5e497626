"""Training augmentations of RelativeNAS's authors that mmseg and mmpose lack.

Registered in relnas_mm's TRANSFORMS (``type='relnas_mm.<Name>'`` in a pipeline).
They follow mmcv's ``BaseTransform`` contract on mmseg's/mmpose's results dicts
(``img`` is BGR ``uint8``) and draw from numpy's global generator, which mmengine
seeds per dataloader worker.

* :class:`ColorJitterBCS` and :class:`ResizeToCover` are the Cityscapes ones
  (EMI-Group/TransferLearning-Tasks, ``BiSeNet/data_utils/transform.py``): PIL-style
  brightness, contrast and saturation in that fixed order, and the upscaling their
  random crop applies to an image smaller than the crop (mmseg's ``RandomCrop``
  crops less and the batch is padded instead).
* :class:`RandomScaleRotate` is the COCO keypoint one (``Simplebaseline/lib/dataset/
  JointsDataset.py``): *clipped* normal draws. mmpose's ``RandomBBoxTransform``
  draws *truncated* normals bounded at one standard deviation, which cannot give a
  rotation of N(0, 40) clipped to +-80 degrees.
"""
from typing import Dict, Sequence, Tuple

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform

from relnas_mm.registry import TRANSFORMS


def _factor_range(name: str, strength: float) -> Tuple[float, float]:
    if strength < 0:
        raise ValueError(f'ColorJitterBCS: {name} must be >= 0, got {strength}')
    return max(0.0, 1.0 - strength), 1.0 + strength


@TRANSFORMS.register_module()
class ColorJitterBCS(BaseTransform):
    """Brightness, then contrast, then saturation, each by a factor drawn uniformly
    from ``[max(0, 1 - x), 1 + x]`` (PIL ``ImageEnhance`` semantics, mmcv's
    implementations for BGR images); 0 leaves that step out."""

    def __init__(self, brightness: float = 0.5, contrast: float = 0.5,
                 saturation: float = 0.5) -> None:
        self.brightness = brightness
        self.contrast = contrast
        self.saturation = saturation
        self._steps = [(fn, _factor_range(name, x))
                       for name, fn, x in (('brightness', mmcv.adjust_brightness, brightness),
                                           ('contrast', mmcv.adjust_contrast, contrast),
                                           ('saturation', mmcv.adjust_color, saturation)) if x > 0]

    def transform(self, results: Dict) -> Dict:
        img = results['img']
        for fn, (low, high) in self._steps:
            img = fn(img, np.random.uniform(low, high))
        results['img'] = img
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(brightness={self.brightness}, '
                f'contrast={self.contrast}, saturation={self.saturation})')


@TRANSFORMS.register_module()
class ResizeToCover(BaseTransform):
    """Upscale an image (bilinear) and its ``gt_seg_map`` (nearest) that is smaller
    than ``size`` (width, height) in either side, keeping the aspect ratio, until it
    covers ``size`` (one pixel more, as the authors' crop); others pass unchanged."""

    def __init__(self, size: Sequence[int] = (1024, 1024)) -> None:
        self.size = (int(size[0]), int(size[1]))

    def transform(self, results: Dict) -> Dict:
        height, width = results['img'].shape[:2]
        if width >= self.size[0] and height >= self.size[1]:
            return results
        scale = max(self.size[0] / width, self.size[1] / height)
        new_size = (int(scale * width + 1), int(scale * height + 1))
        results['img'] = mmcv.imresize(results['img'], new_size, interpolation='bilinear')
        if results.get('gt_seg_map') is not None:
            results['gt_seg_map'] = mmcv.imresize(results['gt_seg_map'], new_size,
                                                  interpolation='nearest')
        results['img_shape'] = results['img'].shape[:2]
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(size={self.size})'


@TRANSFORMS.register_module()
class RandomScaleRotate(BaseTransform):
    """Scale each person box by ``clip(N(1, scale_sigma), *scale_range)`` and, with
    probability ``rotate_prob``, rotate it by ``clip(N(0, rotate_sigma),
    -rotate_limit, rotate_limit)`` degrees (mmpose's ``bbox_rotation``, applied by
    ``TopdownAffine``). No shift, unlike mmpose's ``RandomBBoxTransform``."""

    def __init__(self, scale_sigma: float = 0.3, scale_range: Sequence[float] = (0.7, 1.3),
                 rotate_sigma: float = 40.0, rotate_limit: float = 80.0,
                 rotate_prob: float = 0.6) -> None:
        if not scale_range[0] <= 1 <= scale_range[1] or rotate_limit < 0 \
                or not 0 <= rotate_prob <= 1:
            raise ValueError('RandomScaleRotate: need scale_range around 1, rotate_limit >= 0 '
                             f'and rotate_prob in [0, 1], got {scale_range}, {rotate_limit}, '
                             f'{rotate_prob}')
        self.scale_sigma, self.scale_range = scale_sigma, tuple(scale_range)
        self.rotate_sigma, self.rotate_limit = rotate_sigma, rotate_limit
        self.rotate_prob = rotate_prob

    def transform(self, results: Dict) -> Dict:
        count = len(results['bbox_scale'])
        scale = np.clip(np.random.randn(count, 1) * self.scale_sigma + 1, *self.scale_range)
        rotate = np.clip(
            np.random.randn(count) * self.rotate_sigma, -self.rotate_limit, self.rotate_limit)
        rotate = np.where(np.random.rand(count) < self.rotate_prob, rotate, 0.0)
        results['bbox_scale'] = (results['bbox_scale'] * scale).astype(np.float32)
        results['bbox_rotation'] = rotate.astype(np.float32)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(scale_sigma={self.scale_sigma}, '
                f'scale_range={self.scale_range}, rotate_sigma={self.rotate_sigma}, '
                f'rotate_limit={self.rotate_limit}, rotate_prob={self.rotate_prob})')
