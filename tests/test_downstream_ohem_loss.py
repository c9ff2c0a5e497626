"""relnas_mm.OHEMCrossEntropyLoss: which pixels are kept, and that the loss is their mean."""
import math

import pytest
import torch
import torch.nn.functional as F

from relnas_mm.downstream.ohem_loss import OHEMCrossEntropyLoss


def _logits_for(probs: torch.Tensor) -> torch.Tensor:
    """Two-class logits whose class-0 probability is ``probs`` (shape (N, H, W))."""
    return torch.stack([torch.log(probs), torch.log(1 - probs)], dim=1)


def test_loss_is_the_mean_over_the_hard_pixels_only():
    probs = torch.full((1, 4, 4), 0.9)  # easy: p(ground truth) = 0.9 > 0.7
    probs[0, 0, :3] = torch.tensor([0.2, 0.4, 0.6])  # hard
    label = torch.zeros(1, 4, 4, dtype=torch.long)
    loss = OHEMCrossEntropyLoss(thresh=0.7, min_kept_ratio=0)(_logits_for(probs), label)
    hard = -torch.log(torch.tensor([0.2, 0.4, 0.6]))
    assert loss.item() == pytest.approx(hard.mean().item(), rel=1e-5)  # / 3, not / 16


def test_at_least_min_kept_ratio_of_each_images_labelled_pixels():
    probs = torch.full((2, 4, 4), 0.95)
    probs[0, 0, 0] = 0.1  # image 0: one hard pixel, 8 must be kept
    probs[1] = torch.linspace(0.75, 0.99, 16).view(4, 4)  # image 1: none hard
    label = torch.zeros(2, 4, 4, dtype=torch.long)
    label[1, 2:] = 255  # image 1: 8 labelled pixels, so 4 are kept
    loss = OHEMCrossEntropyLoss(thresh=0.7, min_kept_ratio=0.5)(_logits_for(probs), label)
    pixel = F.cross_entropy(_logits_for(probs), label, reduction='none', ignore_index=255)
    kept0 = pixel[0].flatten().topk(8).values
    kept1 = pixel[1, :2].flatten().topk(4).values  # the 4 hardest labelled ones
    expected = torch.cat([kept0, kept1]).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_gradient_reaches_kept_pixels_only_and_loss_weight_scales():
    probs = torch.full((1, 2, 2), 0.9)
    probs[0, 1, 1] = 0.3
    logits = _logits_for(probs).requires_grad_()
    label = torch.zeros(1, 2, 2, dtype=torch.long)
    loss = OHEMCrossEntropyLoss(min_kept_ratio=0, loss_weight=2.0)(logits, label)
    assert loss.item() == pytest.approx(-2 * math.log(0.3), rel=1e-5)
    loss.backward()
    moved = logits.grad.abs().sum(dim=1)[0]
    assert moved[1, 1] > 0 and moved.sum() == moved[1, 1]


def test_nothing_labelled_gives_zero_without_nan():
    logits = torch.randn(1, 3, 2, 2, requires_grad=True)
    loss = OHEMCrossEntropyLoss()(logits, torch.full((1, 2, 2), 255, dtype=torch.long))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.isfinite(logits.grad).all()


def test_a_sampler_weight_is_refused_and_bad_arguments_named():
    with pytest.raises(ValueError, match="remove the head's sampler"):
        OHEMCrossEntropyLoss()(torch.zeros(1, 2, 1, 1), torch.zeros(1, 1, 1, dtype=torch.long),
                               weight=torch.ones(1, 1, 1))
    with pytest.raises(ValueError, match=r'thresh must be in \(0, 1\], got 1.5'):
        OHEMCrossEntropyLoss(thresh=1.5)
    with pytest.raises(ValueError, match=r'min_kept_ratio must be in \[0, 1\], got -0.1'):
        OHEMCrossEntropyLoss(min_kept_ratio=-0.1)
