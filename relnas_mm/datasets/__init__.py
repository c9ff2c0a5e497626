"""Datasets: CIFAR-10/100's python formats, the demo digits, image folders, object crops
and segmentation patches for the search, transforms.

``cifar_io``, ``cifar100_io``, ``image_folder_io``, ``demo_digits``, ``crop_io``,
``object_crops_io`` and ``seg_patches_io`` need numpy (and PIL) alone (the search reads
its data straight into one array); the mmengine datasets and transforms are imported,
and so registered, only where mmengine is installed.
"""
import importlib.util

from .cifar100_io import load_cifar100, load_cifar100_classes, write_cifar100
from .cifar_io import (CIFAR10_CLASSES, CIFARDataError, download_cifar10, find_cifar10_dir,
                       is_cifar10_complete, load_cifar10, load_cifar10_classes, write_cifar10)
from .crop_io import AnnotationError, cut_pieces
from .demo_digits import DIGIT_CLASSES, load_demo_digits, prepare_demo_digits
from .image_folder_io import ImageFolderError, image_folder_classes, load_image_folder
from .object_crops_io import CropSettings, plan_object_crops, read_coco, read_voc
from .seg_patches_io import LAYOUTS, PairLayout, PatchSettings, plan_patches, scan_pairs

__all__ = [
    'CIFAR10_CLASSES', 'CIFARDataError', 'download_cifar10', 'find_cifar10_dir',
    'is_cifar10_complete', 'load_cifar10', 'load_cifar10_classes', 'write_cifar10', 'load_cifar100',
    'load_cifar100_classes', 'write_cifar100', 'DIGIT_CLASSES', 'load_demo_digits',
    'prepare_demo_digits', 'ImageFolderError', 'image_folder_classes', 'load_image_folder',
    'AnnotationError', 'cut_pieces', 'CropSettings', 'plan_object_crops', 'read_coco', 'read_voc',
    'LAYOUTS', 'PairLayout', 'PatchSettings', 'plan_patches', 'scan_pairs'
]

if importlib.util.find_spec('mmengine') is not None:
    from .cifar import CIFAR10Dataset, CIFAR100Dataset, DemoDigitsDataset
    from .image_folder import ImageFolderDataset
    from .transforms import (ColorJitter, Cutout, PackClsInputs, RandomCropPad, RandomResizedCrop,
                             ResizeCenterCrop)
    __all__ += [
        'CIFAR10Dataset', 'CIFAR100Dataset', 'DemoDigitsDataset', 'ImageFolderDataset',
        'ColorJitter', 'Cutout', 'PackClsInputs', 'RandomCropPad', 'RandomResizedCrop',
        'ResizeCenterCrop'
    ]
