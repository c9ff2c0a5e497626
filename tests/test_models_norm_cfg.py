"""norm_cfg reaches every normalisation layer of the networks built from genotypes."""
import os

import pytest
import torch
from fixtures_tools import REPO
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from relnas_mm.models.supernet import SuperNet
from relnas_mm.space.genotype import GENOTYPES
from relnas_mm.space.operations import build_norm

# a genotype with every operation that has a norm layer, at stride 1 and 2
EVERY_OP = GENOTYPES['PC_DARTS']._replace(
    reduce=list(
        zip(('skip_connect', 'sep_conv_3x3', 'dil_conv_3x3', 'sep_conv_5x5', 'dil_conv_5x5',
             'skip_connect', 'sep_conv_3x3', 'avg_pool_3x3'), (0, 1, 0, 1, 1, 3, 4, 2))))


def _norms(module: nn.Module) -> list:
    return [m for m in module.modules() if isinstance(m, _BatchNorm)]


def _seg_backbone_cfg() -> dict:
    """The RelNASNet of the shipped segmentation config with the option a user gives to
    synchronise its BN too (the authors' recipe keeps it per GPU)."""
    pytest.importorskip('mmengine')
    from mmengine.config import Config
    cfg = Config.fromfile(
        os.path.join(REPO, 'configs/seg/relnas_bisenetv1_cityscapes-1024x1024.py'),
        import_custom_modules=False)
    cfg.merge_from_dict({'model.backbone.backbone_cfg.norm_cfg': dict(type='SyncBN')})
    backbone = dict(cfg.model.backbone.backbone_cfg)
    assert backbone.pop('type') == 'relnas_mm.RelNASNet'
    return backbone


def test_syncbn_set_in_the_seg_config_reaches_every_bn_of_the_cells():
    from relnas_mm.models.backbone import RelNASNet
    backbone = _seg_backbone_cfg()
    assert backbone['norm_cfg']['type'] == 'SyncBN'
    net = RelNASNet(**dict(backbone, genotype=EVERY_OP, base_channels=4, num_cells=5))
    for i, cell in enumerate(net.cells):
        norms = _norms(cell)
        # preprocessings (2) + at least one per sep/dil conv and strided skip
        assert len(norms) > 2, i
        assert all(type(m) is nn.SyncBatchNorm for m in norms), i
    assert all(type(m) is nn.SyncBatchNorm for m in _norms(net))
    assert all(p.requires_grad for p in net.parameters())


def test_default_is_plain_bn_with_the_authors_keys():
    from relnas_mm.models.backbone import RelNASNet
    plain = RelNASNet(base_channels=4, num_cells=5)
    assert {type(m) for m in _norms(plain)} == {nn.BatchNorm2d}
    bn = RelNASNet(base_channels=4, num_cells=5, norm_cfg=dict(type='BN'))
    sync = RelNASNet(base_channels=4, num_cells=5, norm_cfg=dict(type='SyncBN'))
    assert list(plain.state_dict()) == list(bn.state_dict()) == list(sync.state_dict())


def test_search_network_takes_norm_cfg():
    net = SuperNet(4, 3, norm_cfg=dict(type='BN', eps=1e-3, momentum=0.01, requires_grad=False))
    norms = _norms(net)
    assert len(norms) > 3 * 14 * 4 and all(m.eps == 1e-3 and m.momentum == 0.01 for m in norms)
    assert not any(p.requires_grad for m in norms for p in m.parameters())
    assert list(net.state_dict()) == list(SuperNet(4, 3).state_dict())


def test_fast_evaluator_kernels_come_through_norm_cfg():
    """'native' batch norm: every BN of the search network is the kernel's class (no
    patched forward), with the same state keys."""
    from relnas_mm.search.fast_evaluator import KernelBatchNorm2d, batch_norm_cfg
    net = SuperNet(4, 3, norm_cfg=batch_norm_cfg('native'))
    assert all(type(m) is KernelBatchNorm2d and m.impl == 'native' for m in _norms(net))
    assert 'forward' not in vars(_norms(net)[0])
    reference = SuperNet(4, 3)
    assert list(net.state_dict()) == list(reference.state_dict())
    net.load_state_dict(reference.state_dict())
    genotype = GENOTYPES['RelativeNAS']
    for model in (net, reference):
        model.set_genotype(genotype)
        model.train()
    x = torch.randn(2, 3, 8, 8)
    assert torch.allclose(net(x), reference(x), atol=1e-5)
    assert torch.allclose(net.stem[1].running_mean, reference.stem[1].running_mean, atol=1e-6)
    assert batch_norm_cfg('cudnn') is None
    with pytest.raises(ValueError, match='norm must be one of'):
        batch_norm_cfg('layer')


@pytest.mark.parametrize('norm_cfg, error, match', [
    (dict(type='GN'), KeyError, "type 'GN' is not one of"),
    (dict(eps=1e-3), KeyError, 'type None is not one of'),
    (dict(type='BN', size=3), TypeError, "norm_cfg {'type': 'BN', 'size': 3}"),
])
def test_bad_norm_cfg_names_the_key(norm_cfg, error, match):
    with pytest.raises(error, match=match):
        build_norm(norm_cfg, 4)
