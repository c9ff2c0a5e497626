"""``relnas_mm.BiSeNetV1AnyContext``: mmseg's BiSeNetV1 for any context-path backbone.

mmseg 1.2.2's ``BiSeNetV1`` sizes its feature fusion module for
``context_channels[1]`` input channels, which is also the width the context path
expects of the backbone's stride-16 features. The module really receives the
spatial path's output (``spatial_channels[-1]``) concatenated with the context
path's (``context_channels[0]``): the two agree only for backbones made to fit,
such as ResNet-18 (128 + 128 = 256). RelNASNet's stride-16 stage has 8C = 368
channels and MobileNetV2's 96, so this subclass rebuilds the fusion module for the
channels it receives, as in the BiSeNet paper. Everything else is mmseg's.
"""
from mmseg.models.backbones import BiSeNetV1
from mmseg.models.backbones.bisenetv1 import FeatureFusionModule

from relnas_mm.registry import MODELS


@MODELS.register_module()
class BiSeNetV1AnyContext(BiSeNetV1):
    """mmseg's ``BiSeNetV1`` (same arguments); the fusion module takes
    ``spatial_channels[-1] + context_channels[0]`` channels."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        spatial_out = getattr(self.spatial_path, self.spatial_path.layers[-1]).conv
        context_out = self.context_path.arm16.conv_layer.conv
        fused = self.ffm.conv1.conv.out_channels
        # same construction as mmseg's (default norm/act), only the input width differs
        self.ffm = FeatureFusionModule(spatial_out.out_channels + context_out.out_channels, fused)
