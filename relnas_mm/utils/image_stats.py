"""Per-channel RGB statistics of the datasets, on the 0..1 scale.

One definition for the search's on-device normalisation (``search.augment``) and the
networks' ``ImgDataPreprocessor`` defaults (``models.classifiers``, 0..255 scale); the
configs repeat the 0..255 values as literals, and a test keeps them equal.
"""
from typing import List, Sequence

# CIFAR-10's training images, as DARTS (and so RelativeNAS) normalise them
CIFAR10_MEAN = (0.49139968, 0.48215827, 0.44653124)
CIFAR10_STD = (0.24703233, 0.24348505, 0.26158768)
# ImageNet's, as torchvision and OpenMMLab normalise them
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# The authors' SSDLite input, (x - 127) / 128 on the 0..255 scale (their detection code
# normalises every backbone so)
SSDLITE_MEAN = (127 / 255, ) * 3
SSDLITE_STD = (128 / 255, ) * 3


def on_255_scale(values: Sequence[float]) -> List[float]:
    """``values`` for uint8 images (as ``ImgDataPreprocessor`` takes them), to 3 decimals."""
    return [round(255 * v, 3) for v in values]
