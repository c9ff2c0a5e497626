"""``relnas_mm.BiSeNetV1``: BiSeNet V1 as RelativeNAS's authors build it, for any backbone.

Why not mmseg 1.2.2's ``BiSeNetV1``: its spatial path, context path and feature
fusion module are built without the ``norm_cfg``/``act_cfg`` the class receives, so
they always run per-GPU BN with ReLU (a config's SyncBN is silently ignored there);
its fusion attention is one 1x1 conv with BN and ReLU, where the authors' is
squeeze-and-excitation (C -> C/4 -> C, ReLU between); and it sizes the fusion input
by the backbone's stride-16 width. The authors' (EMI-Group/TransferLearning-Tasks,
``BiSeNet/BiSeNet.py``) use synchronised BN fused with LeakyReLU(0.01) in every
conv-BN block, an SE fusion, and never train the backbone's BN affine parameters
(they are in no optimiser group). Here every block takes ``norm_cfg``/``act_cfg``,
and ``backbone_norm_trainable=False`` freezes those parameters.

The outputs are mmseg's (fused features at stride 8, context features at strides 8
and 16, selected by ``out_indices``), so mmseg's decode and auxiliary heads fit; the
module names (``spatial_path``, ``context_path.backbone``, ``ffm``) are mmseg's too.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from relnas_mm.registry import MODELS

ConfigType = Dict


def _kaiming_fan_in(module: nn.Module) -> None:
    """The authors' init of every conv of the BiSeNet blocks: He normal with a=1
    (fan in, unit gain), zero bias."""
    for conv in module.modules():
        if isinstance(conv, nn.Conv2d):
            nn.init.kaiming_normal_(conv.weight, a=1)
            if conv.bias is not None:
                nn.init.zeros_(conv.bias)


class AttentionRefinement(nn.Module):
    """3x3 conv-norm-act, then channel attention: global pool, 1x1 conv, norm, sigmoid."""

    def __init__(self, in_channels: int, out_channels: int, norm_cfg: ConfigType,
                 act_cfg: ConfigType) -> None:
        super().__init__()
        self.conv = ConvModule(in_channels, out_channels, 3, padding=1, norm_cfg=norm_cfg,
                               act_cfg=act_cfg)
        self.attention = ConvModule(out_channels, out_channels, 1, norm_cfg=norm_cfg, act_cfg=None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        return x * torch.sigmoid(self.attention(F.adaptive_avg_pool2d(x, 1)))


class SEFeatureFusion(nn.Module):
    """The authors' fusion: 1x1 conv-norm-act of the concatenated paths, reweighted by
    squeeze-and-excitation (pool, 1x1 to C/``reduction``, ReLU, 1x1 back, sigmoid;
    no norm, no bias) and added to itself."""

    def __init__(self, in_channels: int, out_channels: int, norm_cfg: ConfigType,
                 act_cfg: ConfigType, reduction: int = 4) -> None:
        super().__init__()
        self.conv = ConvModule(in_channels, out_channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.squeeze = nn.Conv2d(out_channels, out_channels // reduction, 1, bias=False)
        self.excite = nn.Conv2d(out_channels // reduction, out_channels, 1, bias=False)

    def forward(self, spatial: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        x = self.conv(torch.cat([spatial, context], dim=1))
        weight = self.excite(F.relu(self.squeeze(F.adaptive_avg_pool2d(x, 1))))
        return x * torch.sigmoid(weight) + x


class SpatialPath(nn.Module):
    """Stride-8 detail path: 7x7/2, 3x3/2, 3x3/2 and 1x1 conv-norm-act blocks."""

    def __init__(self, in_channels: int, channels: Sequence[int], norm_cfg: ConfigType,
                 act_cfg: ConfigType) -> None:
        super().__init__()
        if len(channels) != 4:
            raise ValueError(f'spatial_channels must have 4 entries, got {channels!r}')
        shapes = ((7, 2, 3), (3, 2, 1), (3, 2, 1), (1, 1, 0))  # kernel, stride, padding
        widths = (in_channels, *channels)
        self.layers = nn.Sequential(*[
            ConvModule(widths[i], widths[i + 1], k, stride=s, padding=p, norm_cfg=norm_cfg,
                       act_cfg=act_cfg) for i, (k, s, p) in enumerate(shapes)
        ])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class ContextPath(BaseModule):
    """The backbone's last two outputs (strides 16 and 32), refined by attention, the
    stride-32 one plus its global context, each upsampled (nearest) and convolved.
    A ``BaseModule``, so that mmengine's init reaches the backbone's ``Pretrained``."""

    def __init__(self, backbone_cfg: ConfigType, context_channels: Sequence[int],
                 norm_cfg: ConfigType, act_cfg: ConfigType) -> None:
        super().__init__()
        if len(context_channels) != 3:
            raise ValueError('context_channels must be (output width, backbone stride-16 '
                             f'width, backbone stride-32 width), got {context_channels!r}')
        width, channels16, channels32 = context_channels
        self.backbone = MODELS.build(backbone_cfg)
        self.arm16 = AttentionRefinement(channels16, width, norm_cfg, act_cfg)
        self.arm32 = AttentionRefinement(channels32, width, norm_cfg, act_cfg)
        self.conv_head32 = ConvModule(width, width, 3, padding=1, norm_cfg=norm_cfg,
                                      act_cfg=act_cfg)
        self.conv_head16 = ConvModule(width, width, 3, padding=1, norm_cfg=norm_cfg,
                                      act_cfg=act_cfg)
        self.gap_conv = ConvModule(channels32, width, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)

    def forward(self, x: torch.Tensor, size8: Tuple[int, int]) -> Tuple[torch.Tensor, torch.Tensor]:
        """Context features at stride 8 (``size8``) and at stride 16."""
        feat16, feat32 = self.backbone(x)[-2:]
        global_context = self.gap_conv(F.adaptive_avg_pool2d(feat32, 1))
        up32 = F.interpolate(self.arm32(feat32) + global_context, feat16.shape[2:], mode='nearest')
        context16 = self.conv_head32(up32)
        up16 = F.interpolate(self.arm16(feat16) + context16, size8, mode='nearest')
        return self.conv_head16(up16), context16


@MODELS.register_module()
class BiSeNetV1(BaseModule):
    """BiSeNet V1 with norm and activation in every block, an SE fusion module and,
    by default, a backbone whose BN affine parameters are not trained.

    ``backbone_cfg`` must return its stride-16 and stride-32 features last, with
    ``context_channels[1:]`` channels. The fusion module takes
    ``spatial_channels[-1] + context_channels[0]`` channels and gives
    ``out_channels``. ``out_indices`` selects among (fused, context stride 8,
    context stride 16).
    """

    def __init__(self, backbone_cfg: ConfigType, in_channels: int = 3,
                 spatial_channels: Sequence[int] = (64, 64, 64, 128),
                 context_channels: Sequence[int] = (128, 256,
                                                    512), out_indices: Sequence[int] = (0, 1, 2),
                 out_channels: int = 256, norm_cfg: Optional[ConfigType] = None,
                 act_cfg: Optional[ConfigType] = None, backbone_norm_trainable: bool = False,
                 init_cfg: Optional[ConfigType] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        norm_cfg = dict(type='SyncBN', requires_grad=True) if norm_cfg is None else norm_cfg
        act_cfg = dict(type='LeakyReLU', negative_slope=0.01) if act_cfg is None else act_cfg
        self.out_indices = tuple(out_indices)
        self.spatial_path = SpatialPath(in_channels, spatial_channels, norm_cfg, act_cfg)
        self.context_path = ContextPath(backbone_cfg, context_channels, norm_cfg, act_cfg)
        self.ffm = SEFeatureFusion(spatial_channels[-1] + context_channels[0], out_channels,
                                   norm_cfg, act_cfg)
        self.backbone_norm_trainable = backbone_norm_trainable
        if not backbone_norm_trainable:
            for param in self.frozen_backbone_norm_params():
                param.requires_grad_(False)

    def frozen_backbone_norm_params(self) -> List[nn.Parameter]:
        """The backbone's BN affine parameters (left out of training unless
        ``backbone_norm_trainable``); their running statistics still update."""
        return [
            p for m in self.context_path.backbone.modules() if isinstance(m, _BatchNorm)
            for p in m.parameters(recurse=False)
        ]

    def init_weights(self) -> None:
        """mmengine's init (the backbone's ``Pretrained`` weights), then the authors'
        He init (a=1) of the BiSeNet blocks' convs, which ConvModule's own would
        otherwise replace."""
        super().init_weights()
        for module in (self.spatial_path, self.ffm, self.context_path.arm16,
                       self.context_path.arm32, self.context_path.conv_head16,
                       self.context_path.conv_head32, self.context_path.gap_conv):
            _kaiming_fan_in(module)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        spatial = self.spatial_path(x)
        context8, context16 = self.context_path(x, spatial.shape[2:])
        outs = (self.ffm(spatial, context8), context8, context16)
        return tuple(outs[i] for i in self.out_indices)
