"""Small datasets in the real on-disk formats, for tests (``from fixtures_data import ...``).

The images are class-dependent (a hue per class plus a stripe pattern, with noise),
so a tiny network learns them within a few steps and tests can check that training
actually lowers the loss. Everything is seeded.
"""
import colorsys
import os
from typing import Optional, Sequence

import numpy as np
from PIL import Image

from relnas_mm.datasets.cifar_io import write_cifar10


def class_patterns(labels: np.ndarray, num_classes: int, rng: np.random.Generator,
                   size: int = 32) -> np.ndarray:
    """uint8 RGB images (N, size, size, 3): class k has hue k/num_classes and its own stripes."""
    yy, xx = np.mgrid[0:size, 0:size]
    coords = (yy, xx, yy + xx, yy - xx + size)  # four stripe orientations
    images = np.empty((len(labels), size, size, 3), np.float64)
    for k in range(num_classes):
        colour = np.array(colorsys.hsv_to_rgb(k / num_classes, 0.85, 0.9)) * 255
        period = 4 + 2 * (k // 4 % 3)
        stripes = (coords[k % 4] // (period // 2)) % 2
        shade = 0.55 + 0.45 * stripes[..., None]
        images[labels == k] = colour * shade
    images += rng.normal(0.0, 12.0, images.shape)
    return np.clip(np.rint(images), 0, 255).astype(np.uint8)


def _labels(n: int, num_classes: int, rng: np.random.Generator) -> np.ndarray:
    """Balanced labels (every class as often as possible), shuffled."""
    return rng.permutation(np.arange(n) % num_classes).astype(np.int64)


def make_cifar_like(root: str, n_train: int = 64, n_test: int = 32, num_classes: int = 10,
                    seed: int = 0, learnable: bool = True,
                    classes: Optional[Sequence[str]] = None) -> str:
    """Write a tiny CIFAR-10 python-format dataset under ``root``; return ``root``.

    ``root/cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}`` in the
    official pickle layout; ``load_cifar10(root, split)`` and the CIFAR10Dataset read it.
    ``learnable=False`` gives uniform noise (valid format, nothing to learn).
    """
    rng = np.random.default_rng(seed)
    names = list(classes) if classes is not None else [f'class_{k}' for k in range(num_classes)]
    if len(names) != num_classes:
        raise ValueError(f'{len(names)} class names for num_classes={num_classes}')
    splits = []
    for n in (n_train, n_test):
        labels = _labels(n, num_classes, rng)
        images = (
            class_patterns(labels, num_classes, rng) if learnable else rng.integers(
                0, 256, (n, 32, 32, 3), dtype=np.uint8))
        splits.append((images, labels))
    write_cifar10(root, splits[0], splits[1], classes=names)
    return root


def make_image_folder(root: str, classes: Sequence[str] = ('cat', 'dog'), per_class: int = 3,
                      size: Sequence[int] = (40, 48), ext: str = '.JPEG', seed: int = 0) -> str:
    """Write ``root/<class>/<class>_<i><ext>`` images (ImageNet layout); return ``root``.

    ``size`` is (height, width); the images follow :func:`class_patterns`.
    """
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(classes)), per_class)
    side = max(size)
    images = class_patterns(labels, len(classes), rng, size=side)[:, :size[0], :size[1]]
    for i, (img, label) in enumerate(zip(images, labels)):
        folder = os.path.join(root, classes[label])
        os.makedirs(folder, exist_ok=True)
        Image.fromarray(img).save(os.path.join(folder, f'{classes[label]}_{i}{ext}'), quality=95)
    return root


def make_cifar100_like(root: str, n_train: int = 64, n_test: int = 16, num_fine: int = 8,
                       num_coarse: int = 2, seed: int = 0) -> str:
    """Write a tiny CIFAR-100 python-format dataset under ``root``; return ``root``.

    ``root/cifar-100-python/{train, test, meta}``; fine class k belongs to coarse class
    ``k % num_coarse``; the images follow :func:`class_patterns` of the fine labels.
    """
    from relnas_mm.datasets.cifar100_io import write_cifar100
    rng = np.random.default_rng(seed)
    splits = []
    for n in (n_train, n_test):
        fine = _labels(n, num_fine, rng)
        splits.append((class_patterns(fine, num_fine, rng), fine, fine % num_coarse))
    write_cifar100(root, splits[0], splits[1], [f'fine_{k}' for k in range(num_fine)],
                   [f'coarse_{k}' for k in range(num_coarse)])
    return root
