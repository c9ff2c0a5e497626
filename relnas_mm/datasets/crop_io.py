"""What the object-crop and the segmentation-patch readers share (no mmengine).

Both turn annotated images into a classification set for the search: square pieces
of source images, each labelled by a class, resized to one size. Both plan first
(from the annotations alone, so the classes are known before any image is decoded),
then cut; both keep, for each piece, the index of its source image, so that the
search splits by image and no object lands in both halves.
"""
import hashlib
import os
import warnings
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

from .image_folder_io import ProgressFn, read_rgb


class AnnotationError(RuntimeError):
    """Annotations that are missing, malformed or do not match their images."""


@dataclass
class PiecePlan:
    """What to cut, decided from the annotations: per piece, its source image
    (index into ``images``), its square ``(left, top, side)`` in that image's pixels
    and its label (index into ``classes``). ``dropped`` names the classes left
    without pieces by the filters."""

    images: List[str]
    squares: np.ndarray  # int64 (N, 3)
    labels: np.ndarray  # int64 (N,)
    groups: np.ndarray  # int64 (N,)
    classes: List[str]
    dropped: List[str]


def is_number(value: object) -> bool:
    """An int or a float, not a bool (a config's ``True`` is no size)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_count(value: object) -> bool:
    """An integer >= 1, not a bool."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def is_names(value: object) -> bool:
    """A non-empty list or tuple of strings (a lone string is not a list of names)."""
    if not isinstance(value, (list, tuple)) or not value:
        return False
    return all(isinstance(v, str) for v in value)


def check_max_per_class(max_per_class: Optional[int]) -> Optional[int]:
    """The cap of pieces per class: None (no cap) or an integer >= 1."""
    if max_per_class is not None and not is_count(max_per_class):
        raise ValueError(f'max_per_class must be None or an integer >= 1, got {max_per_class!r}')
    return max_per_class


def files_digest(paths: Sequence[str]) -> str:
    """SHA-1 of the files' contents, in order: the cache key of what was read."""
    digest = hashlib.sha1()
    for path in paths:
        digest.update(os.path.basename(path).encode() + b'\0')
        with open(path, 'rb') as f:
            for block in iter(lambda: f.read(1 << 20), b''):
                digest.update(block)
    return digest.hexdigest()


def require_files(paths: Sequence[str], source: str, hint: str) -> None:
    """Refuse annotations that name files which do not exist, naming the first one."""
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise AnnotationError(
            f'{source} does not match its images: {missing[0]} does not exist (the first of '
            f'{len(missing)} missing of {len(paths)}); {hint}')


def finish_plan(images: List[str], squares: np.ndarray, labels: np.ndarray, groups: np.ndarray,
                classes: Sequence[str], max_per_class: Optional[int], source: str,
                filters: str) -> PiecePlan:
    """Cap each class, drop the classes without pieces (one warning naming them), keep
    only the source images that still have pieces, and relabel ``0..K-1``.

    A class over the cap keeps evenly spaced pieces of its list (spread over its
    images, no seed needed). Fewer than two classes left is an error naming
    ``source`` and the ``filters`` that were applied.
    """
    keep = np.ones(len(labels), bool)
    if max_per_class is not None:
        for k in range(len(classes)):
            idx = np.flatnonzero(labels == k)
            if len(idx) > max_per_class:
                keep[idx] = False
                keep[idx[np.round(np.linspace(0, len(idx) - 1, max_per_class)).astype(int)]] = True
    squares, labels, groups = squares[keep], labels[keep], groups[keep]
    counts = np.bincount(labels, minlength=len(classes))
    kept = [k for k in range(len(classes)) if counts[k]]
    dropped = [classes[k] for k in range(len(classes)) if not counts[k]]
    if len(kept) < 2:
        found = ', '.join(f'{classes[k]!r}: {counts[k]}' for k in kept) or 'none'
        raise AnnotationError(
            f'{source}: {len(kept)} class(es) with pieces after filtering ({filters}), '
            f'found {found}; a classification search needs two at least')
    if dropped:
        warnings.warn(f'{source}: {len(dropped)} class(es) without any piece after filtering '
                      f'({filters}) are left out of the search: {", ".join(dropped)}')
    relabel = np.full(len(classes), -1, np.int64)
    relabel[kept] = np.arange(len(kept))
    used = np.unique(groups)
    regroup = np.full(len(images), -1, np.int64)
    regroup[used] = np.arange(len(used))
    return PiecePlan([images[i] for i in used], squares.astype(np.int64), relabel[labels],
                     regroup[groups], [classes[k] for k in kept], dropped)


def cut_square(image: np.ndarray, left: int, top: int, side: int, size: int,
               fill: np.ndarray) -> np.ndarray:
    """The ``side`` x ``side`` square at (left, top) of an RGB image, resized to ``size``
    (bilinear); what lies outside the image is ``fill`` (the image's mean colour, so the
    border adds no strong edge)."""
    height, width = image.shape[:2]
    out = np.empty((side, side, 3), np.uint8)
    out[...] = fill
    x0, y0, x1, y1 = max(left, 0), max(top, 0), min(left + side, width), min(top + side, height)
    if x0 < x1 and y0 < y1:
        out[y0 - top:y1 - top, x0 - left:x1 - left] = image[y0:y1, x0:x1]
    if side == size:
        return out
    return np.asarray(Image.fromarray(out).resize((size, size), Image.BILINEAR))


def cut_pieces(plan: PiecePlan, image_size: int,
               progress: Optional[ProgressFn] = None) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(uint8 (N, S, S, 3) RGB, int64 labels, int64 source-image groups)`` of a plan.

    Each source image is decoded once; ``progress(done, total)`` counts source images
    (every 1%).
    """
    out = np.empty((len(plan.labels), image_size, image_size, 3), np.uint8)
    order = np.argsort(plan.groups, kind='stable')
    bounds = np.searchsorted(plan.groups[order], np.arange(len(plan.images) + 1))
    step = max(1, len(plan.images) // 100)
    for g, path in enumerate(plan.images):
        image = read_rgb(path)
        fill = image.reshape(-1, 3).mean(0).round().astype(np.uint8)
        for i in order[bounds[g]:bounds[g + 1]]:
            out[i] = cut_square(image, *(int(v) for v in plan.squares[i]), image_size, fill)
        if progress is not None and ((g + 1) % step == 0 or g + 1 == len(plan.images)):
            progress(g + 1, len(plan.images))
    return out, plan.labels, plan.groups


__all__ = [
    'AnnotationError', 'PiecePlan', 'is_number', 'is_count', 'is_names', 'check_max_per_class',
    'files_digest', 'require_files', 'finish_plan', 'cut_square', 'cut_pieces'
]
