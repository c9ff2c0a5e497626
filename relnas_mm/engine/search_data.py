"""The search's data from its config section: which data set, its classes, its images.

The search holds all its images on the device as one uint8 array, whatever the source:
CIFAR-10 or CIFAR-100 in their python formats, the demo digits, or an image folder
(one sub-folder per class) resized to ``image_size``. The classes are known before
any image is decoded, so a wrong ``supernet.num_classes`` fails at once.
"""
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import numpy as np
from mmengine.dist import barrier, is_main_process

from ..datasets.cifar100_io import load_cifar100, load_cifar100_classes
from ..datasets.cifar_io import load_cifar10, load_cifar10_classes
from ..datasets.demo_digits import prepare_demo_digits
from ..datasets.image_folder_io import image_folder_classes, load_image_folder

DATASETS = ('cifar10', 'cifar100', 'image_folder', 'demo_digits')
DATA_KEYS = ('dataset', 'data_root', 'train_portion', 'split_seed', 'num_images', 'image_size',
             'label_type')
ProgressFn = Callable[[int, int], None]


def _checked(data_cfg: Mapping[str, Any]) -> Tuple[str, str]:
    """(dataset, data_root), with the options that belong to one data set checked."""
    dataset = data_cfg.get('dataset', 'cifar10')
    root = data_cfg.get('data_root')
    if dataset not in DATASETS:
        raise ValueError(f'search.data.dataset: expected one of {DATASETS}, got {dataset!r}')
    if not root:
        raise ValueError('search.data.data_root is not set (use --data-root DIR)')
    for key, owner in (('label_type', 'cifar100'), ('image_size', 'image_folder')):
        if data_cfg.get(key) is not None and dataset != owner:
            raise ValueError(f'search.data.{key} applies to dataset={owner!r} only, '
                             f'not {dataset!r}')
    return dataset, root


def prepare_search_data(data_cfg: Mapping[str, Any]) -> None:
    """Write the demo digits on first use (the main process; the others wait at one
    barrier), once per search, before :func:`search_classes` and
    :func:`load_search_images` read them. The other data sets are the user's files."""
    dataset, root = _checked(data_cfg)
    if dataset == 'demo_digits':
        if is_main_process():
            prepare_demo_digits(root)
        barrier()


def search_classes(data_cfg: Mapping[str, Any]) -> List[str]:
    """The class names of the search data (from the meta file or the class folders)."""
    dataset, root = _checked(data_cfg)
    if dataset == 'cifar100':
        return load_cifar100_classes(root, data_cfg.get('label_type') or 'fine')
    if dataset == 'image_folder':
        return image_folder_classes(root)[0]
    return load_cifar10_classes(root)


def load_search_images(data_cfg: Mapping[str, Any],
                       progress: Optional[ProgressFn] = None) -> Tuple[np.ndarray, np.ndarray]:
    """The images the search splits in two, uint8 (N, H, W, 3) RGB, and their labels.

    The training split of CIFAR-10/100 or the demo digits, or every image of a folder
    (``progress(done, total)`` follows its decoding). ``num_images`` (optional) keeps
    a seeded subset, for demos and smoke tests.
    """
    dataset, root = _checked(data_cfg)
    if dataset == 'cifar100':
        images, labels = load_cifar100(root, 'train', data_cfg.get('label_type') or 'fine')
    elif dataset == 'image_folder':
        images, labels, _ = load_image_folder(root,
                                              data_cfg.get('image_size') or 32, progress=progress)
    else:
        images, labels = load_cifar10(root, 'train')
    num_images = data_cfg.get('num_images')
    if num_images is None:
        return images, labels
    if isinstance(num_images, bool) or not isinstance(num_images, int) \
            or not 2 <= num_images <= len(images):
        raise ValueError(f'search.data.num_images: expected an integer in 2..{len(images)} '
                         f'(the images in {root}) or None, got {num_images!r}')
    keep = np.sort(
        np.random.default_rng(data_cfg.get('split_seed', 0)).permutation(len(images))[:num_images])
    return images[keep], labels[keep]


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
