"""The seven candidate operations of the RelativeNAS search space (DARTS semantics).

Plain PyTorch, no mmengine: the search core and the final networks share this one
table, so an op means the same thing during search and after it.
"""
from typing import Callable, Dict

import torch
import torch.nn.functional as F
from torch import nn

#: Operation names in encoding order: a decoded op index ``k`` means ``PRIMITIVES[k]``.
PRIMITIVES = (
    'max_pool_3x3',
    'avg_pool_3x3',
    'skip_connect',
    'sep_conv_3x3',
    'sep_conv_5x5',
    'dil_conv_3x3',
    'dil_conv_5x5',
)


class ReLUConvBN(nn.Module):
    """ReLU -> conv -> BN; the cells' input preprocessing."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, stride: int, padding: int,
                 affine: bool = True) -> None:
        super().__init__()
        self.relu = nn.ReLU(inplace=False)
        self.conv = nn.Conv2d(c_in, c_out, kernel_size, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(self.relu(x)))


class DilConv(nn.Module):
    """ReLU -> depthwise (dilated) conv -> pointwise conv -> BN."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, stride: int, padding: int,
                 dilation: int, affine: bool = True) -> None:
        super().__init__()
        self.relu = nn.ReLU(inplace=False)
        self.dw = nn.Conv2d(c_in, c_in, kernel_size, stride, padding, dilation=dilation,
                            groups=c_in, bias=False)
        self.pw = nn.Conv2d(c_in, c_out, 1, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.pw(self.dw(self.relu(x))))


class SepConv(nn.Sequential):
    """Two stacked depthwise-separable blocks; only the first one strides."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, stride: int, padding: int,
                 affine: bool = True) -> None:
        super().__init__(
            DilConv(c_in, c_in, kernel_size, stride, padding, 1, affine),
            DilConv(c_in, c_out, kernel_size, 1, padding, 1, affine))


class FactorizedReduce(nn.Module):
    """Halve the resolution with two offset 1x1 stride-2 convs, concatenated.

    Odd inputs are padded at the bottom/right so that the result has ceil(H/2) rows,
    the same as every other stride-2 op (for even inputs this equals DARTS exactly).
    """

    def __init__(self, c_in: int, c_out: int, affine: bool = True) -> None:
        super().__init__()
        if c_out % 2:
            raise ValueError(f'FactorizedReduce needs an even c_out, got {c_out}')
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        shifted = F.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(shifted)], dim=1))


OpFactory = Callable[[int, int, bool], nn.Module]

#: name -> constructor(channels, stride, affine). Channels are preserved by every op.
OPS: Dict[str, OpFactory] = {
    'max_pool_3x3':
    lambda c, stride, affine: nn.MaxPool2d(3, stride=stride, padding=1),
    'avg_pool_3x3':
    lambda c, stride, affine: nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False),
    'skip_connect':
    lambda c, stride, affine: (nn.Identity() if stride == 1 else FactorizedReduce(c, c, affine)),
    'sep_conv_3x3':
    lambda c, stride, affine: SepConv(c, c, 3, stride, 1, affine),
    'sep_conv_5x5':
    lambda c, stride, affine: SepConv(c, c, 5, stride, 2, affine),
    'dil_conv_3x3':
    lambda c, stride, affine: DilConv(c, c, 3, stride, 2, 2, affine),
    'dil_conv_5x5':
    lambda c, stride, affine: DilConv(c, c, 5, stride, 4, 2, affine),
}
assert tuple(OPS) == PRIMITIVES


def build_op(name: str, channels: int, stride: int, affine: bool = True) -> nn.Module:
    """Build the operation ``name``; an unknown name is an error listing the valid ones."""
    if name not in OPS:
        raise KeyError(f'unknown operation {name!r}; expected one of {list(PRIMITIVES)}')
    if stride not in (1, 2):
        raise ValueError(f'stride must be 1 or 2, got {stride}')
    return OPS[name](channels, stride, affine)
