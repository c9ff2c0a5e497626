"""CIFAR-100 in its official python format (``cifar-100-python/{train,test,meta}``).

The same pickles as CIFAR-10 (:mod:`.cifar_io`), one file per split, with two label
sets: ``fine_labels`` (100 classes) and ``coarse_labels`` (20 superclasses), named in
``meta``. No mmengine: the search reads a whole split into one array. The writer lets
tests and users make small datasets in exactly this format.
"""
import os
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

from .cifar_io import (Arrays, _check_split, _dump, _filenames, _find_dir, _load_batch, _load_names,
                       _rows)

BASE_FOLDER = 'cifar-100-python'
SPLITS = ('train', 'test')
META_FILE = 'meta'
LABEL_TYPES = ('fine', 'coarse')
CIFAR100_URL = 'https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz'
NAME = 'CIFAR-100'
HOW_TO_GET = (f'Get CIFAR-100 from {CIFAR100_URL} and extract it there '
              f'(tar -xzf cifar-100-python.tar.gz -C <data root>).')


def _check_label_type(label_type: str) -> str:
    if label_type not in LABEL_TYPES:
        raise ValueError(f'CIFAR-100 label_type must be one of {LABEL_TYPES}, '
                         f'got {label_type!r}')
    return label_type


def find_cifar100_dir(root: str) -> str:
    """The folder holding ``train``, ``test``, ``meta``: ``root/cifar-100-python`` or ``root``."""
    return _find_dir(root, BASE_FOLDER, META_FILE, NAME, HOW_TO_GET)


def load_cifar100_classes(root: str, label_type: str = 'fine') -> List[str]:
    """Class names from ``meta`` (index = label): 100 fine ones or 20 coarse ones."""
    return _load_names(
        os.path.join(find_cifar100_dir(root), META_FILE),
        f'{_check_label_type(label_type)}_label_names', NAME, HOW_TO_GET)


def load_cifar100(root: str, split: str = 'train', label_type: str = 'fine') -> Arrays:
    """Load a split as ``(images uint8 (N, 32, 32, 3) RGB, labels int64 (N,))``.

    ``label_type`` picks the fine (default) or the coarse labels.
    """
    if split not in SPLITS:
        raise ValueError(f'split must be "train" or "test", got {split!r}')
    folder = find_cifar100_dir(root)
    num_classes = len(load_cifar100_classes(folder, label_type))
    images, labels = _load_batch(
        os.path.join(folder, split), num_classes, f'{label_type}_labels', NAME, HOW_TO_GET,
        META_FILE)
    return np.ascontiguousarray(images), labels


def _split_file(images: np.ndarray, fine: np.ndarray, coarse: np.ndarray, title: str,
                classes: Sequence[str]) -> Dict[str, Any]:
    return {
        'filenames': _filenames(fine, classes),
        'batch_label': title,
        'fine_labels': [int(v) for v in fine],
        'coarse_labels': [int(v) for v in coarse],
        'data': _rows(images),
    }


def write_cifar100(root: str, train: Tuple[np.ndarray, np.ndarray, np.ndarray],
                   test: Tuple[np.ndarray, np.ndarray, np.ndarray], fine_classes: Sequence[str],
                   coarse_classes: Sequence[str]) -> str:
    """Write images in CIFAR-100's python format; return the ``cifar-100-python`` folder.

    ``train`` and ``test`` are ``(uint8 (N, 32, 32, 3) RGB, fine labels, coarse labels)``.
    Each file is written atomically.
    """
    fine_classes, coarse_classes = list(map(str, fine_classes)), list(map(str, coarse_classes))
    folder = (
        root if os.path.basename(os.path.normpath(root)) == BASE_FOLDER else os.path.join(
            root, BASE_FOLDER))
    os.makedirs(folder, exist_ok=True)
    for split, (images, fine, coarse) in (('train', train), ('test', test)):
        images, fine = _check_split(f'{split} (fine)', (images, fine), len(fine_classes))
        _, coarse = _check_split(f'{split} (coarse)', (images, coarse), len(coarse_classes))
        title = 'training batch 1 of 1' if split == 'train' else 'testing batch 1 of 1'
        _dump(_split_file(images, fine, coarse, title, fine_classes), os.path.join(folder, split))
    _dump({
        'fine_label_names': fine_classes,
        'coarse_label_names': coarse_classes
    }, os.path.join(folder, META_FILE))
    return folder


__all__ = [
    'LABEL_TYPES', 'find_cifar100_dir', 'load_cifar100', 'load_cifar100_classes', 'write_cifar100'
]
