"""A real dataset that needs no download: scikit-learn's 8x8 digits in CIFAR-10's format.

The demo search (``configs/search/relnas_demo.py``) must run right after the install
with nothing to fetch. scikit-learn ships 1,797 handwritten digits; upscaled to
32x32 RGB and written as ``cifar-10-batches-py`` they go through exactly the same
reader, network and search as CIFAR-10 itself. No mmengine here.
"""
import os
import shutil

import numpy as np

from .cifar_io import Arrays, CIFARDataError, is_cifar10_complete, load_cifar10, write_cifar10

DIGIT_CLASSES = ('zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine')
NUM_TRAIN = 1500  # of 1797; the remaining 297 are the test split


def _bilinear_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) weights of 1-D linear interpolation with pixel centres aligned."""
    centres = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
    centres = np.clip(centres, 0, n_in - 1)
    low = np.floor(centres).astype(int)
    high = np.minimum(low + 1, n_in - 1)
    frac = centres - low
    weights = np.zeros((n_out, n_in))
    weights[np.arange(n_out), low] += 1 - frac
    weights[np.arange(n_out), high] += frac
    return weights


def upscale_digits(images: np.ndarray, size: int = 32) -> np.ndarray:
    """sklearn digits (N, 8, 8) with values 0..16 -> uint8 RGB (N, size, size, 3), bilinear."""
    w = _bilinear_matrix(images.shape[1], size)
    big = np.einsum('ij,njk,lk->nil', w, images.astype(np.float64), w) * (255.0 / 16.0)
    grey = np.clip(np.rint(big), 0, 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=3)


def prepare_demo_digits(root: str, num_train: int = NUM_TRAIN, seed: int = 0) -> str:
    """Write the digits under ``root/cifar-10-batches-py`` once; return ``root``.

    Later calls reuse the files. The train/test split is a permutation seeded by
    ``seed``. The files appear atomically (written aside, then renamed), so
    concurrent callers (several ranks) never see a half-written dataset.
    """
    if is_cifar10_complete(root):
        return root
    target = os.path.join(root, 'cifar-10-batches-py')
    if os.path.exists(target):
        raise CIFARDataError(
            f'{target} exists but is incomplete; it was not written by prepare_demo_digits '
            f'(which writes atomically). Remove it to let the demo data be written.')
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ImportError('the demo dataset needs scikit-learn (it ships the 8x8 digits): '
                          'pip install scikit-learn') from None
    digits = load_digits()
    images, labels = upscale_digits(digits.images), digits.target.astype(np.int64)
    if not 0 < num_train < len(images):
        raise ValueError(f'num_train must lie in 1..{len(images) - 1}, got {num_train}')
    order = np.random.default_rng(seed).permutation(len(images))
    train, test = order[:num_train], order[num_train:]
    staging = os.path.join(root, f'.demo_digits.tmp{os.getpid()}')
    write_cifar10(staging, (images[train], labels[train]), (images[test], labels[test]),
                  classes=DIGIT_CLASSES)
    try:
        os.replace(os.path.join(staging, 'cifar-10-batches-py'), target)
    except OSError:
        if not is_cifar10_complete(root):  # not another process that won the race
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return root


def load_demo_digits(root: str, split: str = 'train') -> Arrays:
    """``prepare_demo_digits`` then :func:`load_cifar10` (same arrays and shapes)."""
    return load_cifar10(prepare_demo_digits(root), split)


__all__ = ['DIGIT_CLASSES', 'prepare_demo_digits', 'load_demo_digits', 'upscale_digits']
