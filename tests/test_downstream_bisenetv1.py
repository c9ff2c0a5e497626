"""relnas_mm.BiSeNetV1: BiSeNet V1 as RelativeNAS's authors build it, any backbone."""
import pytest
import torch
from torch import nn

pytest.importorskip('mmcv')
from mmengine.model import revert_sync_batchnorm

from relnas_mm.downstream.bisenetv1 import BiSeNetV1, SEFeatureFusion
from relnas_mm.registry import MODELS

# C=8, 5 cells: stages of 8, 32, 64, 128 channels at strides 4, 8, 16, 32
CONTEXT = dict(type='relnas_mm.RelNASNet', base_channels=8, num_cells=5, stem_type='imagenet',
               out_indices=(2, 3))
ARGS = dict(backbone_cfg=CONTEXT, context_channels=(16, 64, 128), spatial_channels=(8, 8, 8, 16),
            out_channels=32)


def _blocks(model: BiSeNetV1):
    """The BiSeNet modules around the backbone (name, module)."""
    return [(n, m) for n, m in model.named_modules()
            if not n.startswith('context_path.backbone') and n]


def test_outputs_for_the_decode_and_auxiliary_heads():
    model = revert_sync_batchnorm(BiSeNetV1(**ARGS)).eval()
    with torch.no_grad():
        fused, context8, context16 = model(torch.randn(2, 3, 64, 96))
    assert fused.shape == (2, 32, 8, 12)  # FFM output at stride 8
    assert context8.shape == (2, 16, 8, 12)  # context path at stride 8 (aux head 1)
    assert context16.shape == (2, 16, 4, 6)  # and at stride 16 (aux head 2)
    assert model.ffm.conv.conv.in_channels == 16 + 16  # spatial + context


def test_norm_and_activation_reach_every_block():
    """SyncBN and LeakyReLU(0.01) in the spatial path, the context path and the FFM
    (mmseg's BiSeNetV1 builds those with BN and ReLU whatever its norm_cfg)."""
    model = BiSeNetV1(**ARGS)
    blocks = _blocks(model)
    norms = [m for _, m in blocks if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    acts = [m for _, m in blocks if isinstance(m, (nn.ReLU, nn.LeakyReLU, nn.ReLU6))]
    assert len(norms) == 4 + 2 * 2 + 2 + 1 + 1  # spatial, 2 ARMs, 2 heads, gap, FFM
    assert all(isinstance(m, nn.SyncBatchNorm) for m in norms)
    assert len(acts) == 4 + 2 + 2 + 1 + 1  # no activation on the ARMs' attention
    assert all(isinstance(m, nn.LeakyReLU) and m.negative_slope == 0.01 for m in acts)
    for name in ('spatial_path', 'context_path.arm16', 'context_path.arm32', 'ffm'):
        module = model.get_submodule(name)
        assert any(isinstance(m, nn.SyncBatchNorm) for m in module.modules()), name


def test_the_fusion_attention_is_squeeze_and_excitation():
    ffm = SEFeatureFusion(32, 64, dict(type='BN'), dict(type='LeakyReLU', negative_slope=0.01))
    assert (ffm.squeeze.in_channels, ffm.squeeze.out_channels) == (64, 16)
    assert (ffm.excite.in_channels, ffm.excite.out_channels) == (16, 64)
    assert ffm.squeeze.bias is None and ffm.excite.bias is None
    ffm.eval()
    with torch.no_grad():  # out = x * sigmoid(SE(x)) + x, x the conv block's output
        spatial, context = torch.randn(1, 16, 4, 4), torch.randn(1, 16, 4, 4)
        x = ffm.conv(torch.cat([spatial, context], 1))
        pooled = x.mean((2, 3), keepdim=True)
        weight = torch.sigmoid(ffm.excite(torch.relu(ffm.squeeze(pooled))))
        assert torch.allclose(ffm(spatial, context), x * weight + x, atol=1e-6)


def test_backbone_bn_affine_is_frozen_but_its_statistics_update():
    """The authors leave the backbone's BN weight and bias out of every optimiser group:
    they never change, while the running statistics do."""
    model = revert_sync_batchnorm(BiSeNetV1(**ARGS)).train()
    frozen = model.frozen_backbone_norm_params()
    assert frozen and not any(p.requires_grad for p in frozen)
    assert all(p.requires_grad for n, p in model.named_parameters()
               if not any(p is f for f in frozen))
    bn = next(m for m in model.context_path.backbone.modules() if isinstance(m, nn.BatchNorm2d))
    before = bn.running_mean.clone()
    weights = [p.detach().clone() for p in frozen]
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    sum(o.sum() for o in model(torch.randn(2, 3, 64, 64))).backward()
    optimizer.step()
    assert all(torch.equal(w, p) for w, p in zip(weights, frozen))
    assert not torch.equal(before, bn.running_mean)
    trainable = BiSeNetV1(**ARGS, backbone_norm_trainable=True)
    assert all(p.requires_grad for p in trainable.parameters())


def test_blocks_start_with_the_authors_he_init():
    torch.manual_seed(0)
    model = BiSeNetV1(**dict(ARGS, spatial_channels=(64, 64, 64, 64)))
    model.init_weights()
    conv = model.spatial_path.layers[1].conv  # 64 -> 64, 3x3: fan in 576, gain 1
    assert conv.weight.std().item() == pytest.approx(576**-0.5, rel=0.05)


def test_mobilenet_like_backbone_with_other_widths():
    """Any backbone whose last two outputs are at strides 16 and 32."""
    pytest.importorskip('mmpose')
    cfg = dict(type='mmpose.MobileNetV2', out_indices=(4, 7), widen_factor=0.5)
    model = revert_sync_batchnorm(
        BiSeNetV1(backbone_cfg=cfg, context_channels=(16, 48, 1280), spatial_channels=(8, 8, 8, 16),
                  out_channels=32)).eval()
    with torch.no_grad():
        fused, _, context16 = model(torch.randn(1, 3, 64, 64))
    assert fused.shape == (1, 32, 8, 8) and context16.shape == (1, 16, 4, 4)


def test_registered_in_relnas_mm():
    assert MODELS.get('BiSeNetV1') is BiSeNetV1
