"""Image folders (``<root>/<class>/<image>``) without mmengine: scan, decode, load at once.

The mmengine dataset (:mod:`.image_folder`) reads one image per item; the search
instead holds its whole data set on the device as one uint8 array, like CIFAR, so
:func:`load_image_folder` decodes every image once, resized to a square. Any format
PIL reads, in any size; a bad folder or image is an error naming it before any
training starts.
"""
import os
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image, UnidentifiedImageError

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff')
ProgressFn = Callable[[int, int], None]
Samples = List[Tuple[str, int]]


class ImageFolderError(RuntimeError):
    """An image folder or annotation file that is missing or malformed."""


def scan_image_folder(folder: str,
                      extensions: Sequence[str] = IMG_EXTENSIONS) -> Tuple[List[str], Samples]:
    """Return (sorted class names, [(relative path, label), ...]) for ``folder/<class>/*``."""
    if not os.path.isdir(folder):
        raise ImageFolderError(f'image folder {folder!r} does not exist; expected '
                               f'{folder}/<class name>/<image>')
    classes = sorted(e.name for e in os.scandir(folder) if e.is_dir())
    samples = []
    for label, name in enumerate(classes):
        for base, _, files in sorted(os.walk(os.path.join(folder, name))):
            samples += [(os.path.relpath(os.path.join(base, f), folder), label)
                        for f in sorted(files) if f.lower().endswith(tuple(extensions))]
    if not samples:
        raise ImageFolderError(f'no images ({", ".join(extensions)}) found in class folders '
                               f'of {folder!r}; expected {folder}/<class name>/<image>')
    return classes, samples


def read_rgb(path: str, size: Optional[int] = None) -> np.ndarray:
    """Decode an image file as RGB ``uint8`` (H, W, 3), or (size, size, 3) resized.

    The resize is bilinear to a square, ignoring the aspect ratio (a JPEG is first
    decoded at a reduced scale when it is much larger: far faster, same result size).
    """
    try:
        with Image.open(path) as img:
            if size is not None:
                img.draft('RGB', (size, size))
                return np.asarray(img.convert('RGB').resize((size, size), Image.BILINEAR))
            return np.asarray(img.convert('RGB'))
    except (OSError, SyntaxError, ValueError, UnidentifiedImageError) as exc:
        raise ImageFolderError(f'cannot read image {path}: {exc}') from None


def check_image_size(image_size: int) -> int:
    """The side of the search's square images: an integer >= 8."""
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 8:
        raise ValueError(f'image_size must be an integer >= 8, got {image_size!r}')
    return image_size


def image_folder_classes(folder: str,
                         extensions: Sequence[str] = IMG_EXTENSIONS) -> Tuple[List[str], Samples]:
    """:func:`scan_image_folder` with the checks a classification search needs.

    Every class folder must hold an image and there must be two classes at least.
    """
    classes, samples = scan_image_folder(folder, extensions)
    counts = np.bincount([label for _, label in samples], minlength=len(classes))
    empty = [os.path.join(folder, classes[k]) for k in np.flatnonzero(counts == 0)]
    if empty:
        raise ImageFolderError(f'class folder(s) without images ({", ".join(extensions)}): '
                               f'{", ".join(empty)}; remove them or add images')
    if len(classes) < 2:
        raise ImageFolderError(f'image folder {folder!r} has {len(classes)} class folder '
                               f'({classes[0]!r}); a classification search needs two at least')
    return classes, samples


def load_image_folder(
        folder: str, image_size: int = 32, extensions: Sequence[str] = IMG_EXTENSIONS,
        progress: Optional[ProgressFn] = None) -> Tuple[np.ndarray, np.ndarray, List[str]]:
    """All images of ``folder`` as ``(uint8 (N, S, S, 3) RGB, int64 labels (N,), classes)``.

    ``S = image_size``; ``progress(done, total)`` is called every 1% of the images.
    """
    check_image_size(image_size)
    classes, samples = image_folder_classes(folder, extensions)
    images = np.empty((len(samples), image_size, image_size, 3), np.uint8)
    step = max(1, len(samples) // 100)
    for i, (rel, _) in enumerate(samples):
        images[i] = read_rgb(os.path.join(folder, rel), image_size)
        if progress is not None and ((i + 1) % step == 0 or i + 1 == len(samples)):
            progress(i + 1, len(samples))
    labels = np.asarray([label for _, label in samples], dtype=np.int64)
    return images, labels, classes


__all__ = [
    'IMG_EXTENSIONS', 'ImageFolderError', 'scan_image_folder', 'read_rgb', 'check_image_size',
    'image_folder_classes', 'load_image_folder'
]
