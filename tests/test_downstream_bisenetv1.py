"""relnas_mm.BiSeNetV1AnyContext: mmseg's BiSeNetV1 with RelNASNet as context path."""
import pytest
import torch

pytest.importorskip('mmseg')
from mmseg.models.backbones import BiSeNetV1

from relnas_mm.downstream.bisenetv1 import BiSeNetV1AnyContext
from relnas_mm.registry import MODELS

# C=8, 5 cells: stages of 8, 32, 64, 128 channels at strides 4, 8, 16, 32
CONTEXT = dict(type='relnas_mm.RelNASNet', base_channels=8, num_cells=5, stem_type='imagenet',
               out_indices=(0, 1, 2, 3))
ARGS = dict(backbone_cfg=CONTEXT, context_channels=(16, 64, 128), spatial_channels=(8, 8, 8, 16),
            out_channels=32)


def test_outputs_for_the_decode_and_auxiliary_heads():
    model = BiSeNetV1AnyContext(**ARGS).eval()
    with torch.no_grad():
        fused, context8, context16 = model(torch.randn(2, 3, 64, 96))
    assert fused.shape == (2, 32, 8, 12)  # FFM output at stride 8
    assert context8.shape == (2, 16, 8, 12)  # context path at stride 8 (aux head 1)
    assert context16.shape == (2, 16, 4, 6)  # and at stride 16 (aux head 2)
    assert model.ffm.conv1.conv.in_channels == 16 + 16  # spatial + context, not 64


def test_mmseg_bisenet_mis_sizes_the_fusion_for_this_backbone():
    """Why the subclass exists: mmseg's module expects context_channels[1] = 64 inputs."""
    model = BiSeNetV1(**ARGS).eval()
    with pytest.raises(RuntimeError, match='channels'):
        with torch.no_grad():
            model(torch.randn(1, 3, 64, 96))


def test_registered_in_relnas_mm():
    assert MODELS.get('BiSeNetV1AnyContext') is BiSeNetV1AnyContext
