"""``relnas_mm.SSDLiteNeck``: the authors' SSDLite extra layers, inverted residuals.

Why not mmdet's ``SSDNeck`` (``use_depthwise=True``): each of its extra layers is a
1x1 conv to half the output width followed by a depthwise-separable 3x3, both with
activation. RelativeNAS's authors (EMI-Group/TransferLearning-Tasks,
``SSDLite/vision/ssd/ssd_mobile.py`` and ``ops.py``) use MobileNetV2 inverted
residuals: a 1x1 expansion to ``round(in * ratio)`` channels (ratios 0.2, 0.25, 0.5,
0.25), a stride-2 depthwise 3x3, both with BN and ReLU6, and a *linear* 1x1
projection with BN; their convs start Xavier-uniform.
"""
from typing import Dict, Optional, Sequence, Tuple

import torch
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import nn

from relnas_mm.registry import MODELS


def xavier_uniform_convs(module: nn.Module) -> None:
    """The authors' init of SSDLite's extra layers and heads: Xavier-uniform conv
    weights, biases left at PyTorch's default."""
    for conv in module.modules():
        if isinstance(conv, nn.Conv2d):
            nn.init.xavier_uniform_(conv.weight)


class InvertedResidualDown(nn.Sequential):
    """Expand (1x1), depthwise 3x3 at stride 2, project linearly (1x1); no shortcut
    (the resolution changes)."""

    def __init__(self, in_channels: int, out_channels: int, expand_ratio: float, norm_cfg: Dict,
                 act_cfg: Dict) -> None:
        hidden = int(round(in_channels * expand_ratio))
        super().__init__(
            ConvModule(in_channels, hidden, 1, norm_cfg=norm_cfg, act_cfg=act_cfg),
            ConvModule(hidden, hidden, 3, stride=2, padding=1, groups=hidden, norm_cfg=norm_cfg,
                       act_cfg=act_cfg),
            ConvModule(hidden, out_channels, 1, norm_cfg=norm_cfg, act_cfg=None))


@MODELS.register_module()
class SSDLiteNeck(BaseModule):
    """Passes the backbone's features through and appends ``len(out_channels)``
    stride-2 inverted residuals, each reading the previous last feature map."""

    def __init__(self, in_channels: int, out_channels: Sequence[int] = (512, 256, 256, 64),
                 expand_ratios: Sequence[float] = (0.2, 0.25, 0.5, 0.25),
                 norm_cfg: Optional[Dict] = None, act_cfg: Optional[Dict] = None,
                 init_cfg: Optional[Dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if len(out_channels) != len(expand_ratios):
            raise ValueError(f'SSDLiteNeck: {len(out_channels)} out_channels but '
                             f'{len(expand_ratios)} expand_ratios')
        norm_cfg = dict(type='BN') if norm_cfg is None else norm_cfg
        act_cfg = dict(type='ReLU6') if act_cfg is None else act_cfg
        widths = (in_channels, *out_channels)
        self.extra_layers = nn.ModuleList(
            InvertedResidualDown(widths[i], widths[i + 1], ratio, norm_cfg, act_cfg)
            for i, ratio in enumerate(expand_ratios))

    def init_weights(self) -> None:
        """ConvModule's default init, then the authors' Xavier-uniform conv weights."""
        super().init_weights()
        xavier_uniform_convs(self.extra_layers)

    def forward(self, feats: Tuple[torch.Tensor, ...]) -> Tuple[torch.Tensor, ...]:
        outs = list(feats)
        for layer in self.extra_layers:
            outs.append(layer(outs[-1]))
        return tuple(outs)
