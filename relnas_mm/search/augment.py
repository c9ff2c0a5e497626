"""CIFAR augmentation as batched tensor ops on the device, driven by a torch.Generator.

The same transform as DARTS's training pipeline: random crop 32 with zero padding 4,
horizontal flip, normalisation with the CIFAR-10 mean/std, then cutout (a square of
side 16 around a uniform centre, clipped at the border, zeroed after normalisation).
Working on whole uint8 batches already on the device avoids a data loader and any
host round trip; taking all randomness from a generator keeps runs reproducible.
"""
import functools
from typing import Optional, Tuple

import torch

from ..utils.image_stats import CIFAR10_MEAN, CIFAR10_STD


@functools.lru_cache(maxsize=None)
def _scale_shift(device: torch.device) -> Tuple[torch.Tensor, torch.Tensor]:
    """Per-channel constants, made once per device (no host-to-device copy per batch)."""
    std = torch.tensor(CIFAR10_STD, dtype=torch.float64)
    scale = 1.0 / (255.0 * std)
    shift = -torch.tensor(CIFAR10_MEAN, dtype=torch.float64) / std
    return (scale.float().view(1, 3, 1, 1).to(device), shift.float().view(1, 3, 1, 1).to(device))


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 (or [0, 255] float) NCHW images -> float32, ``(x / 255 - mean) / std``."""
    scale, shift = _scale_shift(images.device)
    return images.float() * scale + shift


def crop_flip(images: torch.Tensor, padding: int,
              generator: Optional[torch.Generator]) -> torch.Tensor:
    """Random crop of the original size from the zero-padded batch, then random h-flip."""
    n, _, h, w = images.shape
    device = images.device
    padded = torch.nn.functional.pad(images, (padding, ) * 4)
    top = torch.randint(0, 2 * padding + 1, (n, 1), generator=generator, device=device)
    left = torch.randint(0, 2 * padding + 1, (n, 1), generator=generator, device=device)
    flip = torch.rand((n, 1), generator=generator, device=device) < 0.5
    rows = top + torch.arange(h, device=device)
    cols = torch.arange(w, device=device).expand(n, w)
    cols = left + torch.where(flip, w - 1 - cols, cols)
    c = images.shape[1]
    out = padded.gather(2, rows.view(n, 1, h, 1).expand(n, c, h, w + 2 * padding))
    return out.gather(3, cols.view(n, 1, 1, w).expand(n, c, h, w))


def cutout(images: torch.Tensor, length: int, generator: Optional[torch.Generator]) -> torch.Tensor:
    """Zero a ``length`` square centred uniformly in the image (clipped), per sample."""
    n, _, h, w = images.shape
    device = images.device
    cy = torch.randint(0, h, (n, 1, 1), generator=generator, device=device)
    cx = torch.randint(0, w, (n, 1, 1), generator=generator, device=device)
    ys = torch.arange(h, device=device).view(1, h, 1)
    xs = torch.arange(w, device=device).view(1, 1, w)
    inside = ((ys >= cy - length // 2) & (ys < cy + length // 2)
              & (xs >= cx - length // 2) & (xs < cx + length // 2))
    return images * (~inside).unsqueeze(1).to(images.dtype)


def augment_batch(images: torch.Tensor, generator: Optional[torch.Generator], padding: int = 4,
                  cutout_length: int = 16) -> torch.Tensor:
    """The training transform for a uint8 NCHW batch; returns normalised float32."""
    out = normalize(crop_flip(images, padding, generator))
    if cutout_length > 0:
        out = cutout(out, cutout_length, generator)
    return out
