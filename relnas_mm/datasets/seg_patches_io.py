"""Patches from segmentation label maps, labelled by their majority class (no mmengine).

A segmentation data set is images with a class per pixel. Square patches at a
stride become search images: a patch is kept when its majority class covers at
least ``min_share`` of the patch's pixels, and labelled by that class;
``ignore_index`` pixels never vote (but count in the patch's area, so a patch that
is mostly unlabelled is skipped). The pairs are read in mmseg's layouts
(Cityscapes, ADE20K) or from any folder of images and label maps that share names.
"""
import os
from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np
from PIL import Image

from .crop_io import (AnnotationError, PiecePlan, check_max_per_class, finish_plan, is_count,
                      is_names, is_number, require_files)
from .image_folder_io import check_image_size

CITYSCAPES_CLASSES = ('road', 'sidewalk', 'building', 'wall', 'fence', 'pole', 'traffic light',
                      'traffic sign', 'vegetation', 'terrain', 'sky', 'person', 'rider', 'car',
                      'truck', 'bus', 'train', 'motorcycle', 'bicycle')


@dataclass(frozen=True)
class PairLayout:
    """Where the images and label maps are, relative to the data root (mmseg's keys).

    ``img_dir/<name><img_suffix>`` pairs with ``ann_dir/<name><seg_map_suffix>`` (in
    sub-folders too); ``reduce_zero_label`` makes 0 the ignored value and shifts the
    rest down by one (ADE20K's 0 is "other")."""

    img_dir: str
    ann_dir: str
    img_suffix: str = '.jpg'
    seg_map_suffix: str = '.png'
    reduce_zero_label: bool = False


#: mmseg's layouts of the training splits (``search.data.layout``)
LAYOUTS = {
    'cityscapes':
    PairLayout('leftImg8bit/train', 'gtFine/train', '_leftImg8bit.png',
               '_gtFine_labelTrainIds.png'),
    'ade':
    PairLayout('images/training', 'annotations/training', '.jpg', '.png', reduce_zero_label=True),
}


@dataclass(frozen=True)
class PatchSettings:
    """How label maps become search images (every field is a ``search.data`` key).

    Args:
        classes: the names of the label values 0..K-1.
        image_size: side of the search images.
        patch_size: side of a patch in source pixels.
        stride: step between patches (None: ``patch_size``, no overlap).
        min_share: the share of a patch's pixels its majority class must cover.
        ignore_index: the label value of unlabelled pixels.
        max_per_class: keep at most this many patches per class (None: all).
    """

    classes: Tuple[str, ...]
    image_size: int = 32
    patch_size: int = 64
    stride: Optional[int] = None
    min_share: float = 0.5
    ignore_index: int = 255
    max_per_class: Optional[int] = None

    def __post_init__(self) -> None:
        check_image_size(self.image_size)
        check_max_per_class(self.max_per_class)
        if not is_names(self.classes):
            raise ValueError(f'classes must be a non-empty list of the names of the label values '
                             f'0..K-1, got {self.classes!r}')
        object.__setattr__(self, 'classes', tuple(self.classes))
        if not is_count(self.patch_size):
            raise ValueError(f'patch_size must be a positive integer, got {self.patch_size!r}')
        if self.stride is not None and not is_count(self.stride):
            raise ValueError(f'stride must be None or a positive integer, got {self.stride!r}')
        if not is_number(self.min_share) or not 0 < self.min_share <= 1:
            raise ValueError(f'min_share must be a number in (0, 1], got {self.min_share!r}')


def scan_pairs(root: str, layout: PairLayout) -> Tuple[List[str], List[str]]:
    """Sorted image paths and their label maps; the first image without one is named."""
    img_dir, ann_dir = (os.path.join(root, d) for d in (layout.img_dir, layout.ann_dir))
    if not os.path.isdir(img_dir):
        raise AnnotationError(f'image folder {img_dir} does not exist; expected '
                              f'<data_root>/<img_dir> holding *{layout.img_suffix}')
    names = sorted(
        os.path.relpath(os.path.join(base, f), img_dir)[:-len(layout.img_suffix)]
        for base, _, files in os.walk(img_dir) for f in files if f.endswith(layout.img_suffix))
    if not names:
        raise AnnotationError(f'the split is empty: no *{layout.img_suffix} image in {img_dir}')
    maps = [os.path.join(ann_dir, n + layout.seg_map_suffix) for n in names]
    hint = f'every {img_dir}/<name>{layout.img_suffix} needs its ' \
        f'{ann_dir}/<name>{layout.seg_map_suffix}'
    require_files(maps, f'label-map folder {ann_dir}', hint)
    return [os.path.join(img_dir, n + layout.img_suffix) for n in names], maps


def read_label_map(path: str, image: str, reduce_zero_label: bool, ignore_index: int,
                   num_classes: int) -> np.ndarray:
    """A label map as (H, W) integers, checked against its image's size and the classes."""
    try:
        with Image.open(path) as img:
            labels = np.asarray(img).astype(np.int64)
        with Image.open(image) as img:
            width, height = img.size
    except (OSError, SyntaxError, ValueError) as exc:
        raise AnnotationError(f'cannot read {path} or {image}: {exc}') from None
    if labels.ndim != 2:
        raise AnnotationError(f'label map {path} has shape {labels.shape}; expected one class '
                              f'index per pixel (a single-channel or palette PNG)')
    if labels.shape != (height, width):
        raise AnnotationError(f'label map {path} is {labels.shape[1]}x{labels.shape[0]} (WxH) '
                              f'but its image {image} is {width}x{height}')
    if reduce_zero_label:
        labels = np.where(labels == 0, ignore_index, labels - 1)
        labels[labels == ignore_index - 1] = ignore_index  # mmseg's reduce_zero_label
    bad = (labels != ignore_index) & ((labels < 0) | (labels >= num_classes))
    if bad.any():
        raise AnnotationError(f'label map {path} holds the value {int(labels[bad][0])}, outside '
                              f'0..{num_classes - 1} ({num_classes} classes) and not '
                              f'ignore_index={ignore_index}')
    return labels


def patch_votes(labels: np.ndarray, settings: PatchSettings) -> np.ndarray:
    """``(top, left, label)`` of the kept patches of one label map (see the module docstring)."""
    size, stride = settings.patch_size, settings.stride or settings.patch_size
    height, width = labels.shape
    kept = []
    for top in range(0, height - size + 1, stride):
        for left in range(0, width - size + 1, stride):
            window = labels[top:top + size, left:left + size].ravel()
            counts = np.bincount(window[window != settings.ignore_index],
                                 minlength=len(settings.classes))
            label = int(counts.argmax())
            if counts[label] >= settings.min_share * size * size:
                kept.append((top, left, label))
    return np.asarray(kept, np.int64).reshape(-1, 3)


def plan_patches(images: List[str], label_maps: List[str], settings: PatchSettings,
                 reduce_zero_label: bool = False) -> PiecePlan:
    """Every kept patch of every label map (images and label maps pair by position)."""
    rows = []
    for g, (image, path) in enumerate(zip(images, label_maps)):
        votes = patch_votes(
            read_label_map(path, image, reduce_zero_label, settings.ignore_index,
                           len(settings.classes)), settings)
        rows.append(np.column_stack([votes, np.full(len(votes), g)]))
    table = np.concatenate(rows)
    squares = np.column_stack([table[:, 1], table[:, 0], np.full(len(table), settings.patch_size)])
    filters = (f'patch_size={settings.patch_size}, stride={settings.stride}, '
               f'min_share={settings.min_share}, max_per_class={settings.max_per_class}')
    source = os.path.dirname(label_maps[0]) if len(label_maps) == 1 else \
        os.path.commonpath(label_maps)
    return finish_plan(images, squares, table[:, 2], table[:, 3], list(settings.classes),
                       settings.max_per_class, f'label maps in {source}', filters)


__all__ = [
    'CITYSCAPES_CLASSES', 'PairLayout', 'LAYOUTS', 'PatchSettings', 'scan_pairs', 'read_label_map',
    'patch_votes', 'plan_patches'
]
