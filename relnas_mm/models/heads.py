"""DARTS auxiliary classification heads (plain PyTorch).

The layout (``features`` Sequential + ``classifier`` Linear) matches the authors'
modules index for index, so their ``auxiliary_head.*`` weights load unchanged.
Both heads end in a 1x1 map only at the resolution DARTS trains at: 8x8 input for
the CIFAR head (32x32 images), 7x7 for the ImageNet head (224x224 images).
"""
import torch
from torch import nn


class _AuxiliaryHead(nn.Module):
    """avg-pool 5 (stride ``pool_stride``), 1x1 conv to 128, 2x2 conv to 768, linear.

    The features must shrink to 1x1 before the linear layer; ``bn_768`` says whether
    a BatchNorm follows the 768-channel conv (the authors' heads differ there).
    """

    expected_input = ''
    pool_stride = 3
    bn_768 = True

    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        layers = [
            nn.ReLU(inplace=False),
            nn.AvgPool2d(5, stride=self.pool_stride, padding=0, count_include_pad=False),
            nn.Conv2d(in_channels, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(inplace=False),
            nn.Conv2d(128, 768, 2, bias=False),
        ]
        if self.bn_768:
            layers.append(nn.BatchNorm2d(768))
        self.features = nn.Sequential(*layers, nn.ReLU(inplace=False))
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.features(x)
        if out.shape[-2:] != (1, 1):
            raise ValueError(
                f'{type(self).__name__}: a {tuple(x.shape[-2:])} input gives a '
                f'{tuple(out.shape[-2:])} map, expected 1x1; this head needs '
                f'{self.expected_input} (disable it with auxiliary_weight=0 for other sizes)')
        return self.classifier(out.flatten(1))


class AuxiliaryHeadCIFAR(_AuxiliaryHead):
    """The CIFAR auxiliary head: pool stride 3, BN after the 768-channel conv."""

    expected_input = 'an 8x8 input (32x32 images)'


class AuxiliaryHeadImageNet(_AuxiliaryHead):
    """The ImageNet auxiliary head: pool stride 2 and no BN after the 768-channel conv
    (the authors' ImageNet head omits it)."""

    expected_input = 'a 7x7 input (224x224 images)'
    pool_stride = 2
    bn_768 = False
