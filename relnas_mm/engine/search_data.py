"""The search's data from its config section: which data set, its classes, its images.

The search holds all its images on the device as one uint8 array, whatever the source:
CIFAR-10 or CIFAR-100 in their python formats, the demo digits, an image folder
(one sub-folder per class) resized to ``image_size``, or pieces of annotated images:
object crops from a COCO instances file or a VOCdevkit, patches of segmentation
label maps. The classes are known before any image is decoded (for pieces: from the
annotations alone), so a wrong ``supernet.num_classes`` fails at once.

Pieces are cut once: rank 0 writes them, uint8, to ``<work_dir>/search_data_cache/``
under a key made of the annotation files' contents and every setting that changes
them, so a resumed or repeated search reads them back instead. Each piece keeps the
index of its source image: the search splits by source image, never by piece.
"""
import hashlib
import json
import os
from dataclasses import asdict, fields
from functools import partial
from typing import Any, Callable, Dict, List, Mapping, NamedTuple, Optional, Tuple

import numpy as np
from mmengine.dist import barrier, is_main_process
from mmengine.logging import print_log

from ..datasets.cifar100_io import load_cifar100, load_cifar100_classes
from ..datasets.cifar_io import load_cifar10, load_cifar10_classes
from ..datasets.crop_io import PiecePlan, cut_pieces, files_digest
from ..datasets.demo_digits import prepare_demo_digits
from ..datasets.image_folder_io import image_folder_classes, load_image_folder
from ..datasets.object_crops_io import (CropSettings, Objects, coco_annotation_files,
                                        plan_object_crops, read_coco, read_voc,
                                        voc_annotation_files)
from ..datasets.seg_patches_io import (CITYSCAPES_CLASSES, LAYOUTS, PairLayout, PatchSettings,
                                       plan_patches, scan_pairs)
from ..utils.fileio import atomic_write

DATASETS = ('cifar10', 'cifar100', 'image_folder', 'demo_digits', 'coco', 'voc', 'seg_patches')
PIECES = ('coco', 'voc', 'seg_patches')
CROP_KEYS = ('ann_file', 'context', 'min_size', 'skip_crowd_difficult')
PATCH_KEYS = ('layout', 'ann_dir', 'img_suffix', 'seg_map_suffix', 'reduce_zero_label',
              'patch_size', 'stride', 'min_share', 'ignore_index')
#: the data sets each optional key applies to
KEY_OWNERS = {
    'label_type': ('cifar100', ),
    'image_size': ('image_folder', ) + PIECES,
    'img_dir': ('coco', 'seg_patches'),
    'classes': PIECES,
    'max_per_class': PIECES,
    **dict.fromkeys(CROP_KEYS, ('coco', 'voc')),
    **dict.fromkeys(PATCH_KEYS, ('seg_patches', )),
}
DATA_KEYS = ('dataset', 'data_root', 'train_portion', 'split_seed', 'num_images', *KEY_OWNERS)
CACHE_DIR = 'search_data_cache'
CACHE_VERSION = 1
ProgressFn = Callable[[int, int], None]


class SearchImages(NamedTuple):
    """The search's images (uint8 (N, H, W, 3) RGB), labels and, for pieces of annotated
    images, the source image of each (None: every image is its own source)."""

    images: np.ndarray
    labels: np.ndarray
    groups: Optional[np.ndarray]


def _checked(data_cfg: Mapping[str, Any]) -> Tuple[str, str]:
    """(dataset, data_root), with the options that belong to one data set checked."""
    dataset = data_cfg.get('dataset', 'cifar10')
    root = data_cfg.get('data_root')
    if dataset not in DATASETS:
        raise ValueError(f'search.data.dataset: expected one of {DATASETS}, got {dataset!r}')
    if not root:
        raise ValueError('search.data.data_root is not set (use --data-root DIR)')
    for key, owners in KEY_OWNERS.items():
        if data_cfg.get(key) is not None and dataset not in owners:
            names = ', '.join(repr(o) for o in owners)
            raise ValueError(f'search.data.{key} applies to dataset={names} only, '
                             f'not {dataset!r}')
    return dataset, root


# ----------------------------------------------------------------------------- pieces
def _given(data_cfg: Mapping[str, Any], cls: type) -> Dict[str, Any]:
    """The keys of ``data_cfg`` set for the settings dataclass ``cls`` (None: its default)."""
    return {f.name: data_cfg[f.name] for f in fields(cls) if data_cfg.get(f.name) is not None}


def _settings(cls: type, **kwargs: Any) -> Any:
    try:
        return cls(**kwargs)
    except ValueError as exc:
        raise ValueError(f'search.data: {exc}') from None


def _seg_classes(layout: str, data_cfg: Mapping[str, Any]) -> List[str]:
    """The names of the label values: ``classes``, else the layout's (ADE's from mmseg)."""
    if data_cfg.get('classes') is not None:
        return list(data_cfg['classes'])
    if layout == 'cityscapes':
        return list(CITYSCAPES_CLASSES)
    if layout == 'ade':
        try:
            from mmseg.datasets import ADE20KDataset
        except ImportError:
            raise ValueError('search.data.layout="ade" names its 150 classes from mmseg\'s '
                             'ADE20KDataset (mmseg is not installed); set search.data.classes '
                             'to the 150 names') from None
        return list(ADE20KDataset.METAINFO['classes'])
    raise ValueError('search.data.classes: layout="pairs" needs the names of the label values '
                     '0..K-1 (a list of K names)')


def _object_plan(reader: Callable[..., Objects], args: Tuple[Any, ...],
                 settings: CropSettings) -> PiecePlan:
    return plan_object_crops(reader(*args), settings)


def _pieces(dataset: str, root: str,
            data_cfg: Mapping[str, Any]) -> Tuple[str, int, Callable[[], PiecePlan]]:
    """(cache key, image size, how to plan) of a data set of pieces.

    The key covers the data root, the annotation files' contents, the image names of
    label maps and every setting that changes the pieces; the plan is made only when
    needed.
    """
    if dataset in ('coco', 'voc'):
        settings = _settings(CropSettings, **_given(data_cfg, CropSettings))
        ann_file = data_cfg.get('ann_file')
        if not ann_file:
            example = ('annotations/instances_train2017.json'
                       if dataset == 'coco' else "['VOC2007/ImageSets/Main/trainval.txt']")
            raise ValueError(f'search.data.ann_file is not set: the {dataset} annotations '
                             f'relative to data_root, e.g. {example}')
        source: Dict[str, Any] = dict(ann_file=ann_file, img_dir=data_cfg.get('img_dir'))
        if dataset == 'coco':
            img_dir = os.path.join(root, data_cfg.get('img_dir') or '')
            files = coco_annotation_files(os.path.join(root, ann_file))
            plan = partial(_object_plan, read_coco, (files[0], img_dir), settings)
        else:
            files = voc_annotation_files(root, ann_file)
            plan = partial(_object_plan, read_voc, (root, ann_file), settings)
    else:
        layout_name = data_cfg.get('layout') or 'pairs'
        if layout_name not in (*LAYOUTS, 'pairs'):
            raise ValueError(f'search.data.layout: expected one of {(*LAYOUTS, "pairs")}, '
                             f'got {layout_name!r}')
        base = asdict(LAYOUTS[layout_name]) if layout_name in LAYOUTS else {}
        layout_args = dict(base, **_given(data_cfg, PairLayout))
        if 'ann_dir' not in layout_args or 'img_dir' not in layout_args:
            raise ValueError('search.data: layout="pairs" needs img_dir and ann_dir (the '
                             'folders of the images and of their label maps, under data_root)')
        layout = PairLayout(**layout_args)
        settings = _settings(
            PatchSettings,
            **dict(_given(data_cfg, PatchSettings), classes=_seg_classes(layout_name, data_cfg)))
        images, files = scan_pairs(root, layout)
        source = dict(asdict(layout), images=[os.path.relpath(p, root) for p in images])
        plan = partial(plan_patches, images, files, settings, layout.reduce_zero_label)
    described = json.dumps(
        dict(version=CACHE_VERSION, dataset=dataset, data_root=os.path.abspath(root),
             settings=asdict(settings), source=source, annotations=files_digest(files)),
        sort_keys=True)
    return hashlib.sha1(described.encode()).hexdigest()[:16], settings.image_size, plan


_PLANS: Dict[str, PiecePlan] = {}


def _plan(key: str, make: Callable[[], PiecePlan]) -> PiecePlan:
    """The plan of ``key``, made once per process (the classes, then the pieces, need it)."""
    if key not in _PLANS:
        _PLANS.clear()
        _PLANS[key] = make()
    return _PLANS[key]


def _cache_file(dataset: str, key: str, work_dir: Optional[str]) -> Optional[str]:
    return None if work_dir is None else os.path.join(work_dir, CACHE_DIR, f'{dataset}_{key}.npz')


def _write_cache(path: str, pieces: Tuple[np.ndarray, np.ndarray, np.ndarray],
                 classes: List[str]) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    images, labels, groups = pieces
    with atomic_write(path, 'wb') as f:
        np.savez(f, images=images, labels=labels, groups=groups, classes=np.asarray(classes))


def _load_pieces(dataset: str, root: str, data_cfg: Mapping[str, Any], work_dir: Optional[str],
                 progress: Optional[ProgressFn]) -> SearchImages:
    """Read the pieces from the cache, or cut them (rank 0 writes the cache, then all read)."""
    key, image_size, make = _pieces(dataset, root, data_cfg)
    path = _cache_file(dataset, key, work_dir)
    if path is None or (is_main_process() and not os.path.isfile(path)):
        plan = _plan(key, make)
        pieces = cut_pieces(plan, image_size, progress)
        if path is None:
            return SearchImages(*pieces)
        _write_cache(path, pieces, plan.classes)
        message = (f'Cut {len(pieces[0])} {dataset} pieces of {image_size}x{image_size} '
                   f'from {len(plan.images)} images; cached in {path}')
    else:
        message = f'Reading the {dataset} pieces from the cache {path} (delete it to cut again)'
    print_log(message, logger='current')
    barrier()
    with np.load(path) as cached:
        return SearchImages(cached['images'], cached['labels'], cached['groups'])


# ----------------------------------------------------------------------------- entry points
def prepare_search_data(data_cfg: Mapping[str, Any]) -> None:
    """Write the demo digits on first use (the main process; the others wait at one
    barrier), once per search, before :func:`search_classes` and
    :func:`load_search_images` read them. The other data sets are the user's files."""
    dataset, root = _checked(data_cfg)
    if dataset == 'demo_digits':
        if is_main_process():
            prepare_demo_digits(root)
        barrier()


def search_classes(data_cfg: Mapping[str, Any], work_dir: Optional[str] = None) -> List[str]:
    """The class names of the search data (from the meta file, the class folders, the
    annotations, or the cache of pieces in ``work_dir``)."""
    dataset, root = _checked(data_cfg)
    if dataset == 'cifar100':
        return load_cifar100_classes(root, data_cfg.get('label_type') or 'fine')
    if dataset == 'image_folder':
        return image_folder_classes(root)[0]
    if dataset in PIECES:
        key, _, make = _pieces(dataset, root, data_cfg)
        path = _cache_file(dataset, key, work_dir)
        if path is not None and os.path.isfile(path):
            with np.load(path) as cached:
                return [str(c) for c in cached['classes']]
        return _plan(key, make).classes
    return load_cifar10_classes(root)


def load_search_images(data_cfg: Mapping[str, Any], progress: Optional[ProgressFn] = None,
                       work_dir: Optional[str] = None) -> SearchImages:
    """The images the search splits in two, uint8 (N, H, W, 3) RGB, their labels and
    their source images (see :class:`SearchImages`).

    The training split of CIFAR-10/100 or the demo digits, every image of a folder,
    or the pieces of annotated images (cached in ``work_dir`` when given).
    ``progress(done, total)`` follows the decoding of a folder or of the source
    images of pieces. ``num_images`` (optional) keeps a seeded subset, for demos and
    smoke tests.
    """
    dataset, root = _checked(data_cfg)
    groups = None
    if dataset == 'cifar100':
        images, labels = load_cifar100(root, 'train', data_cfg.get('label_type') or 'fine')
    elif dataset == 'image_folder':
        images, labels, _ = load_image_folder(root,
                                              data_cfg.get('image_size') or 32, progress=progress)
    elif dataset in PIECES:
        images, labels, groups = _load_pieces(dataset, root, data_cfg, work_dir, progress)
    else:
        images, labels = load_cifar10(root, 'train')
    num_images = data_cfg.get('num_images')
    if num_images is None:
        return SearchImages(images, labels, groups)
    if isinstance(num_images, bool) or not isinstance(num_images, int) \
            or not 2 <= num_images <= len(images):
        raise ValueError(f'search.data.num_images: expected an integer in 2..{len(images)} '
                         f'(the images in {root}) or None, got {num_images!r}')
    keep = np.sort(
        np.random.default_rng(data_cfg.get('split_seed', 0)).permutation(len(images))[:num_images])
    return SearchImages(images[keep], labels[keep], None if groups is None else groups[keep])


def with_num_classes(supernet_cfg: Mapping[str, Any], classes: List[str],
                     data_cfg: Mapping[str, Any]) -> Dict[str, Any]:
    """``search.supernet`` with ``num_classes`` from the data (None: take the data's)."""
    cfg = dict(supernet_cfg)
    given = cfg.get('num_classes')
    if given is not None and given != len(classes):
        raise ValueError(
            f'search.supernet.num_classes is {given} but the search data '
            f'({data_cfg.get("dataset", "cifar10")} in {data_cfg.get("data_root")}) has '
            f'{len(classes)} classes; set it to {len(classes)} or to None (take the data\'s)')
    cfg['num_classes'] = len(classes)
    return cfg
