"""Data transforms for classification pipelines (registered in relnas_mm's TRANSFORMS).

They are mmcv ``BaseTransform``s: each maps a results dict to a results dict and works
on ``results['img']``, an RGB ``uint8`` numpy array of shape (H, W, 3). Only what
mmcv lacks is here; the pipelines use mmcv's ``RandomFlip`` and ``Resize``
(``backend='pillow'`` resizes exactly as the image-folder search does). Randomness
comes from numpy's global generator, which mmengine seeds per dataloader worker, so
runs are reproducible. Normalisation is not done here: the model's data
preprocessor (mean/std) does it on the device. :class:`PackClsInputs` ends every
pipeline.
"""
import math
from typing import Dict, Sequence, Tuple, Union

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import BaseDataElement
from PIL import Image

from ..registry import TRANSFORMS

Size = Union[int, Tuple[int, int]]
Fill = Union[int, Sequence[int]]


def _pair(size: Size) -> Tuple[int, int]:
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def _image(results: Dict) -> np.ndarray:
    img = results.get('img')
    if not isinstance(img, np.ndarray) or img.ndim != 3:
        got = getattr(img, 'shape', type(img).__name__)
        raise TypeError(f'results["img"] must be an (H, W, C) numpy array, got {got}')
    return img


def _set_image(results: Dict, img: np.ndarray) -> Dict:
    results['img'] = img
    results['img_shape'] = img.shape[:2]
    return results


def _resize(img: np.ndarray, height: int, width: int) -> np.ndarray:
    return np.asarray(Image.fromarray(img).resize((width, height), Image.BILINEAR))


class _Transform(BaseTransform):
    """``repr`` with the constructor arguments, so logged pipelines say what they do."""

    def __repr__(self) -> str:
        args = ', '.join(f'{k}={v!r}' for k, v in vars(self).items())
        return f'{type(self).__name__}({args})'


@TRANSFORMS.register_module()
class RandomCropPad(_Transform):
    """Pad every side by ``padding`` with ``fill``, then crop ``size`` at a random place.

    The CIFAR augmentation of DARTS and RelativeNAS (32x32 crop from a 40x40 zero pad).
    """

    def __init__(self, size: Size = 32, padding: int = 4, fill: Fill = 0) -> None:
        self.size, self.padding, self.fill = _pair(size), int(padding), fill

    def transform(self, results: Dict) -> Dict:
        img = _image(results)
        p = self.padding
        padded = np.empty((img.shape[0] + 2 * p, img.shape[1] + 2 * p, img.shape[2]), img.dtype)
        padded[...] = np.asarray(self.fill, img.dtype)
        padded[p:p + img.shape[0], p:p + img.shape[1]] = img
        h, w = self.size
        if h > padded.shape[0] or w > padded.shape[1]:
            raise ValueError(f'{self}: crop {h}x{w} is larger than the padded image '
                             f'{padded.shape[0]}x{padded.shape[1]}')
        top = np.random.randint(0, padded.shape[0] - h + 1)
        left = np.random.randint(0, padded.shape[1] - w + 1)
        return _set_image(results, padded[top:top + h, left:left + w].copy())


@TRANSFORMS.register_module()
class Cutout(_Transform):
    """Fill a ``length`` x ``length`` square at a uniformly random centre (clipped at borders).

    DARTS applies cutout after normalisation, so its patch holds the mean colour:
    ``fill=(125, 123, 114)`` (CIFAR-10's mean in 0..255) reproduces that exactly;
    the default 0 paints it black.
    """

    def __init__(self, length: int = 16, fill: Fill = 0) -> None:
        if length <= 0:
            raise ValueError(f'Cutout: length must be positive, got {length}')
        self.length, self.fill = int(length), fill

    def transform(self, results: Dict) -> Dict:
        img = _image(results).copy()
        cy = np.random.randint(img.shape[0])
        cx = np.random.randint(img.shape[1])
        half = self.length // 2
        y0, y1 = max(cy - half, 0), min(cy + half, img.shape[0])
        x0, x1 = max(cx - half, 0), min(cx + half, img.shape[1])
        img[y0:y1, x0:x1] = np.asarray(self.fill, img.dtype)
        return _set_image(results, img)


@TRANSFORMS.register_module()
class RandomResizedCrop(_Transform):
    """Inception-style crop (random area ``scale`` and aspect ``ratio``) resized to ``size``.

    Ten tries to find a crop inside the image, then a central crop: the ImageNet
    training augmentation the paper's ImageNet setting uses.
    """

    def __init__(
        self, size: Size = 224, scale: Tuple[float, float] = (0.08, 1.0),
        ratio: Tuple[float, float] = (3 / 4, 4 / 3)
    ) -> None:
        self.size, self.scale, self.ratio = _pair(size), tuple(scale), tuple(ratio)

    def _box(self, height: int, width: int) -> Tuple[int, int, int, int]:
        area = height * width
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(10):
            target = area * np.random.uniform(*self.scale)
            aspect = math.exp(np.random.uniform(*log_ratio))
            w = int(round(math.sqrt(target * aspect)))
            h = int(round(math.sqrt(target / aspect)))
            if 0 < w <= width and 0 < h <= height:
                top = np.random.randint(0, height - h + 1)
                left = np.random.randint(0, width - w + 1)
                return top, left, h, w
        aspect = width / height  # fall back to the largest central crop within ``ratio``
        if aspect < self.ratio[0]:
            w, h = width, int(round(width / self.ratio[0]))
        elif aspect > self.ratio[1]:
            h, w = height, int(round(height * self.ratio[1]))
        else:
            h, w = height, width
        return (height - h) // 2, (width - w) // 2, h, w

    def transform(self, results: Dict) -> Dict:
        img = _image(results)
        top, left, h, w = self._box(*img.shape[:2])
        crop = np.ascontiguousarray(img[top:top + h, left:left + w])
        return _set_image(results, _resize(crop, *self.size))


@TRANSFORMS.register_module()
class ResizeCenterCrop(_Transform):
    """Resize the short side to ``resize`` (keeping the aspect), then crop ``crop`` centrally.

    The standard ImageNet evaluation view (256 -> 224).
    """

    def __init__(self, resize: int = 256, crop: Size = 224) -> None:
        self.resize, self.crop = int(resize), _pair(crop)

    def transform(self, results: Dict) -> Dict:
        img = _image(results)
        h, w = img.shape[:2]
        scale = self.resize / min(h, w)
        nh, nw = max(int(round(h * scale)), self.crop[0]), max(int(round(w * scale)), self.crop[1])
        img = _resize(img, nh, nw)
        top, left = (nh - self.crop[0]) // 2, (nw - self.crop[1]) // 2
        return _set_image(results, img[top:top + self.crop[0], left:left + self.crop[1]].copy())


@TRANSFORMS.register_module()
class ColorJitter(_Transform):
    """Random brightness, contrast, saturation and hue, applied in a random order.

    The ImageNet training augmentation of DARTS and RelativeNAS
    (``torchvision``'s ``ColorJitter(0.4, 0.4, 0.4, 0.2)``): each factor is drawn from
    ``[max(0, 1 - x), 1 + x]`` (the hue shift from ``[-hue, hue]``), and 0 switches
    that adjustment off. The pixel operations are torchvision's; the draws come from
    numpy, as in the other transforms.
    """

    def __init__(self, brightness: float = 0.0, contrast: float = 0.0, saturation: float = 0.0,
                 hue: float = 0.0) -> None:
        for name, value, top in (('brightness', brightness, None), ('contrast', contrast, None),
                                 ('saturation', saturation, None), ('hue', hue, 0.5)):
            if value < 0 or (top is not None and value > top):
                raise ValueError(f'ColorJitter: {name} must be in [0, {top or "inf"}], '
                                 f'got {value}')
        self.brightness, self.contrast = float(brightness), float(contrast)
        self.saturation, self.hue = float(saturation), float(hue)

    def transform(self, results: Dict) -> Dict:
        # imported here: only ImageNet training pipelines pay for torchvision's import
        from torchvision.transforms import functional as TF
        img = Image.fromarray(_image(results))
        steps = [(TF.adjust_brightness, self.brightness), (TF.adjust_contrast, self.contrast),
                 (TF.adjust_saturation, self.saturation)]
        steps = [(fn, np.random.uniform(max(0.0, 1 - x), 1 + x)) for fn, x in steps if x > 0]
        if self.hue > 0:
            steps.append((TF.adjust_hue, np.random.uniform(-self.hue, self.hue)))
        for i in np.random.permutation(len(steps)):
            fn, factor = steps[i]
            img = fn(img, factor)
        return _set_image(results, np.asarray(img))


@TRANSFORMS.register_module()
class PackClsInputs(_Transform):
    """Final step: ``dict(inputs=uint8 CHW tensor, data_samples=BaseDataElement)``.

    The data sample carries ``gt_label`` (LongTensor of shape (1,), so that a batch's
    labels are ``torch.cat([s.gt_label for s in data_samples])``) and the metainfo keys
    in ``meta_keys`` found in the results.
    """

    META_KEYS = ('sample_idx', 'img_shape', 'ori_shape', 'flip')

    def __init__(self, meta_keys: Sequence[str] = META_KEYS) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: Dict) -> Dict:
        img = _image(results)
        inputs = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
        sample = BaseDataElement(metainfo={k: results[k] for k in self.meta_keys if k in results})
        if 'gt_label' in results:
            sample.gt_label = torch.as_tensor([results['gt_label']], dtype=torch.long)
        return dict(inputs=inputs, data_samples=sample)
