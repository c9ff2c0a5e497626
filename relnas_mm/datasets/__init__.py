"""Datasets: CIFAR-10's python format, the demo digits, an image-folder dataset, transforms.

``cifar_io`` and ``demo_digits`` need numpy alone (the search reads CIFAR-10 straight
into one array); the mmengine datasets and transforms are imported, and so
registered, only where mmengine is installed.
"""
import importlib.util

from .cifar_io import (CIFAR10_CLASSES, CIFARDataError, download_cifar10, find_cifar10_dir,
                       is_cifar10_complete, load_cifar10, load_cifar10_classes, write_cifar10)
from .demo_digits import DIGIT_CLASSES, load_demo_digits, prepare_demo_digits

__all__ = [
    'CIFAR10_CLASSES', 'CIFARDataError', 'download_cifar10', 'find_cifar10_dir',
    'is_cifar10_complete', 'load_cifar10', 'load_cifar10_classes', 'write_cifar10',
    'DIGIT_CLASSES', 'load_demo_digits', 'prepare_demo_digits'
]

if importlib.util.find_spec('mmengine') is not None:
    from .cifar import CIFAR10Dataset, DemoDigitsDataset
    from .image_folder import ImageFolderDataset, ImageFolderError
    from .transforms import (ColorJitter, Cutout, PackClsInputs, RandomCropPad, RandomFlip,
                             RandomResizedCrop, ResizeCenterCrop)
    __all__ += [
        'CIFAR10Dataset', 'DemoDigitsDataset', 'ImageFolderDataset', 'ImageFolderError',
        'ColorJitter', 'Cutout', 'PackClsInputs', 'RandomCropPad', 'RandomFlip',
        'RandomResizedCrop', 'ResizeCenterCrop'
    ]
