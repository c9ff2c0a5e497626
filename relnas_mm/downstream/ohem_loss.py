"""``relnas_mm.OHEMCrossEntropyLoss``: BiSeNet's online hard example mining loss.

Why not mmseg's ``OHEMPixelSampler`` + ``CrossEntropyLoss``: the sampler gives the
kept pixels weight 1 and the others 0, and the loss then divides by *all* pixels, so
the loss and its gradient shrink with the fraction kept (often a few percent).
BiSeNet's authors average over the kept pixels only. Plain PyTorch; registered in
relnas_mm's MODELS so that mmseg heads build it as ``loss_decode``.
"""
import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from relnas_mm.registry import MODELS


@MODELS.register_module()
class OHEMCrossEntropyLoss(nn.Module):
    """Cross-entropy averaged over the hard pixels of each image.

    Per image, the labelled pixels whose ground-truth probability is below ``thresh``
    (loss above ``-log(thresh)``) are kept, and at least ``min_kept_ratio`` of the
    image's labelled pixels (the hardest ones). The loss is the mean over all pixels
    kept in the batch, times ``loss_weight``.
    """

    def __init__(self, thresh: float = 0.7, min_kept_ratio: float = 1 / 16,
                 loss_weight: float = 1.0, loss_name: str = 'loss_ce') -> None:
        super().__init__()
        if not 0 < thresh <= 1:
            raise ValueError(f'OHEMCrossEntropyLoss: thresh must be in (0, 1], got {thresh}')
        if not 0 <= min_kept_ratio <= 1:
            raise ValueError('OHEMCrossEntropyLoss: min_kept_ratio must be in [0, 1], got '
                             f'{min_kept_ratio}')
        self.thresh, self.min_kept_ratio = thresh, min_kept_ratio
        self.loss_weight, self._loss_name = loss_weight, loss_name

    @property
    def loss_name(self) -> str:
        """The key of this loss in the losses dict (mmseg's convention)."""
        return self._loss_name

    def forward(self, cls_score: torch.Tensor, label: torch.Tensor,
                weight: Optional[torch.Tensor] = None, ignore_index: int = 255,
                **kwargs) -> torch.Tensor:
        """``cls_score`` (N, C, H, W) logits, ``label`` (N, H, W) class ids."""
        if weight is not None:
            raise ValueError('OHEMCrossEntropyLoss selects the pixels itself: remove the '
                             "head's sampler (e.g. OHEMPixelSampler)")
        pixel_loss = F.cross_entropy(cls_score, label, reduction='none', ignore_index=ignore_index)
        hard_loss = -math.log(self.thresh)
        kept = []
        for losses, valid in zip(pixel_loss, label != ignore_index):
            losses = losses[valid]
            min_kept = int(losses.numel() * self.min_kept_ratio)
            hard = losses[losses > hard_loss]
            if hard.numel() < min_kept:
                hard = losses.topk(min_kept).values
            kept.append(hard)
        kept = torch.cat(kept)
        if kept.numel() == 0:  # nothing labelled or nothing hard: no gradient, no NaN
            return pixel_loss.sum() * 0.0
        return self.loss_weight * kept.mean()
