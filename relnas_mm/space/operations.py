"""The seven candidate operations of the RelativeNAS search space (DARTS semantics).

Plain PyTorch, no mmengine: the search core and the final networks share this one
table, so an op means the same thing during search and after it. Every normalisation
layer comes from a ``norm_cfg`` (``build_norm``), so a config's SyncBN or a
fast kernel reaches every layer of every cell.
"""
from typing import Any, Callable, Dict, Mapping, Optional

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

#: ``norm_cfg`` types by name (mmcv's names); a callable ``type`` is used as the class.
NORM_TYPES: Dict[str, Callable[..., nn.Module]] = {
    'BN': nn.BatchNorm2d,
    'BN2d': nn.BatchNorm2d,
    'SyncBN': nn.SyncBatchNorm,
}
NormCfg = Optional[Mapping[str, Any]]


def build_norm(norm_cfg: NormCfg, channels: int, affine: bool = True) -> nn.Module:
    """The normalisation layer of ``norm_cfg`` (None: plain BatchNorm2d) for ``channels``.

    An OpenMMLab-style dict: ``type`` ('BN', 'BN2d', 'SyncBN' or a callable taking
    ``(num_features, affine=..., **rest)``), optional ``requires_grad``, the rest
    (``eps``, ``momentum``...) passed to the layer. A local builder, not mmcv's, so that
    the search core stays plain PyTorch.
    """
    cfg = dict(type='BN') if norm_cfg is None else dict(norm_cfg)
    kind = cfg.pop('type', None)
    layer_type = NORM_TYPES.get(kind) if isinstance(kind, str) else kind
    if not callable(layer_type):
        raise KeyError(f'norm_cfg: type {kind!r} is not one of {sorted(NORM_TYPES)} nor a '
                       f'callable (norm_cfg={dict(norm_cfg)!r})')
    requires_grad = cfg.pop('requires_grad', True)
    try:
        layer = layer_type(channels, affine=affine, **cfg)
    except TypeError as exc:
        raise TypeError(f'norm_cfg {dict(norm_cfg)!r}: {exc}') from None
    for param in layer.parameters():
        param.requires_grad = bool(requires_grad)
    return layer


class ReLUConvBN(nn.Module):
    """ReLU -> conv -> BN; the cells' input preprocessing."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, stride: int, padding: int,
                 affine: bool = True, norm_cfg: NormCfg = None) -> None:
        super().__init__()
        self.relu = nn.ReLU(inplace=False)
        self.conv = nn.Conv2d(c_in, c_out, kernel_size, stride, padding, bias=False)
        self.bn = build_norm(norm_cfg, c_out, affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(self.relu(x)))


class DilConv(nn.Module):
    """ReLU -> depthwise (dilated) conv -> pointwise conv -> BN."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, stride: int, padding: int,
                 dilation: int, affine: bool = True, norm_cfg: NormCfg = None) -> None:
        super().__init__()
        self.relu = nn.ReLU(inplace=False)
        self.dw = nn.Conv2d(c_in, c_in, kernel_size, stride, padding, dilation=dilation,
                            groups=c_in, bias=False)
        self.pw = nn.Conv2d(c_in, c_out, 1, bias=False)
        self.bn = build_norm(norm_cfg, c_out, affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.pw(self.dw(self.relu(x))))


class SepConv(nn.Sequential):
    """Two stacked depthwise-separable blocks; only the first one strides."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, stride: int, padding: int,
                 affine: bool = True, norm_cfg: NormCfg = None) -> None:
        super().__init__(
            DilConv(c_in, c_in, kernel_size, stride, padding, 1, affine, norm_cfg),
            DilConv(c_in, c_out, kernel_size, 1, padding, 1, affine, norm_cfg))


class FactorizedReduce(nn.Module):
    """Halve the resolution with two offset 1x1 stride-2 convs, concatenated.

    Odd inputs are padded at the bottom/right so that the result has ceil(H/2) rows,
    the same as every other stride-2 op (for even inputs this equals DARTS exactly).
    """

    def __init__(self, c_in: int, c_out: int, affine: bool = True,
                 norm_cfg: NormCfg = None) -> None:
        super().__init__()
        if c_out % 2:
            raise ValueError(f'FactorizedReduce needs an even c_out, got {c_out}')
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.bn = build_norm(norm_cfg, c_out, affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        shifted = F.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(shifted)], dim=1))


OpFactory = Callable[[int, int, bool, NormCfg], nn.Module]

#: name -> constructor(channels, stride, affine, norm_cfg). Channels are preserved by every op.
OPS: Dict[str, OpFactory] = {
    'max_pool_3x3':
    lambda c, stride, affine, norm: nn.MaxPool2d(3, stride=stride, padding=1),
    'avg_pool_3x3':
    lambda c, stride, affine, norm: nn.AvgPool2d(3, stride, 1, count_include_pad=False),
    'skip_connect':
    lambda c, stride, affine, norm: (nn.Identity()
                                     if stride == 1 else FactorizedReduce(c, c, affine, norm)),
    'sep_conv_3x3':
    lambda c, stride, affine, norm: SepConv(c, c, 3, stride, 1, affine, norm),
    'sep_conv_5x5':
    lambda c, stride, affine, norm: SepConv(c, c, 5, stride, 2, affine, norm),
    'dil_conv_3x3':
    lambda c, stride, affine, norm: DilConv(c, c, 3, stride, 2, 2, affine, norm),
    'dil_conv_5x5':
    lambda c, stride, affine, norm: DilConv(c, c, 5, stride, 4, 2, affine, norm),
}
assert tuple(OPS) == PRIMITIVES


def build_op(name: str, channels: int, stride: int, affine: bool = True,
             norm_cfg: NormCfg = None) -> nn.Module:
    """Build the operation ``name``; an unknown name is an error listing the valid ones."""
    if name not in OPS:
        raise KeyError(f'unknown operation {name!r}; expected one of {list(PRIMITIVES)}')
    if stride not in (1, 2):
        raise ValueError(f'stride must be 1 or 2, got {stride}')
    return OPS[name](channels, stride, affine, norm_cfg)
