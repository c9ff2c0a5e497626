"""DARTS auxiliary classification heads (plain PyTorch).

The layout (``features`` Sequential + ``classifier`` Linear) matches the authors'
modules index for index, so their ``auxiliary_head.*`` weights load unchanged.
Both heads end in a 1x1 map only at the resolution DARTS trains at: 8x8 input for
the CIFAR head (32x32 images), 7x7 for the ImageNet head (224x224 images).
"""
import torch
from torch import nn


class _AuxiliaryHead(nn.Module):
    """Shared forward: the features must shrink to 1x1 before the linear layer."""

    expected_input = ''

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.features(x)
        if out.shape[-2:] != (1, 1):
            raise ValueError(
                f'{type(self).__name__}: a {tuple(x.shape[-2:])} input gives a '
                f'{tuple(out.shape[-2:])} map, expected 1x1; this head needs '
                f'{self.expected_input} (disable it with auxiliary_weight=0 for other sizes)')
        return self.classifier(out.flatten(1))


class AuxiliaryHeadCIFAR(_AuxiliaryHead):
    """The CIFAR auxiliary head: avg-pool 5/3, 1x1 conv to 128, 2x2 conv to 768."""

    expected_input = 'an 8x8 input (32x32 images)'

    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.AvgPool2d(5, stride=3, padding=0, count_include_pad=False),
            nn.Conv2d(in_channels, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(inplace=False),
            nn.Conv2d(128, 768, 2, bias=False),
            nn.BatchNorm2d(768),
            nn.ReLU(inplace=False),
        )
        self.classifier = nn.Linear(768, num_classes)


class AuxiliaryHeadImageNet(_AuxiliaryHead):
    """The ImageNet auxiliary head: as CIFAR's but pool stride 2 and no BN after
    the 768-channel conv (the authors' ImageNet head omits it)."""

    expected_input = 'a 7x7 input (224x224 images)'

    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.AvgPool2d(5, stride=2, padding=0, count_include_pad=False),
            nn.Conv2d(in_channels, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(inplace=False),
            nn.Conv2d(128, 768, 2, bias=False),
            nn.ReLU(inplace=False),
        )
        self.classifier = nn.Linear(768, num_classes)
