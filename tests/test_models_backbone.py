"""relnas_mm.models.backbone.RelNASNet: stages, strides, freezing, genotype input, init."""
import importlib

import pytest
import torch
from mmengine.registry import DefaultScope
from torch.nn.modules.batchnorm import _BatchNorm

import relnas_mm  # noqa: F401  (registers RelNASNet)
from relnas_mm.models.backbone import RelNASNet
from relnas_mm.space import GENOTYPES, GenotypeError, format_genotype, save_genotype

TINY = dict(base_channels=8, num_cells=5)
ALL_STAGES = (0, 1, 2, 3)


def tiny(**kwargs) -> RelNASNet:
    return RelNASNet(**dict(TINY, **kwargs))


@pytest.mark.parametrize('registry_module,scope', [('mmdet.registry', 'mmdet'),
                                                   ('mmseg.registry', 'mmseg'),
                                                   ('mmpose.registry', 'mmpose')])
def test_built_from_downstream_registries(registry_module, scope):
    """``type='relnas_mm.RelNASNet'`` works from mmdet, mmseg and mmpose scopes."""
    registry = importlib.import_module(registry_module)
    with DefaultScope.overwrite_default_scope(scope):
        model = registry.MODELS.build(dict(type='relnas_mm.RelNASNet', **TINY))
    assert isinstance(model, RelNASNet)
    feats = model(torch.randn(1, 3, 64, 64))
    assert [f.shape[1] for f in feats] == list(model.out_channels)


def test_imagenet_stem_strides_and_channels():
    model = tiny(out_indices=ALL_STAGES).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        feats = model(x)
    assert [64 // f.shape[-1] for f in feats] == [4, 8, 16, 32]
    assert model.stage_channels == (8, 32, 64, 128)  # C, 4C, 8C, 16C
    assert [f.shape[1] for f in feats] == list(model.out_channels) == [8, 32, 64, 128]


def test_cifar_stem_strides_and_channels():
    model = tiny(stem_type='cifar', out_indices=ALL_STAGES).eval()
    with torch.no_grad():
        feats = model(torch.randn(2, 3, 32, 32))
    assert [32 // f.shape[-1] for f in feats] == [1, 1, 2, 4]
    assert model.stage_channels == (24, 32, 64, 128)  # 3C, 4C, 8C, 16C
    assert [f.shape[1] for f in feats] == list(model.out_channels)


def test_out_indices_select_stages_in_order():
    model = tiny(out_indices=(2, 3))
    assert model.out_channels == (64, 128)
    feats = model.eval()(torch.randn(1, 3, 64, 64))
    assert len(feats) == 2 and [f.shape[-1] for f in feats] == [4, 2]


def test_input_size_not_a_multiple_of_32():
    feats = tiny(out_indices=ALL_STAGES).eval()(torch.randn(1, 3, 100, 150))
    assert [tuple(f.shape[-2:]) for f in feats] == [(25, 38), (13, 19), (7, 10), (4, 5)]


def test_same_number_of_outputs_in_train_and_eval():
    model = tiny(drop_path_rate=0.2)
    x = torch.randn(2, 3, 64, 64)
    n_train = len(model.train()(x))
    n_eval = len(model.eval()(x))
    assert n_train == n_eval == 3


def test_forward_with_cells_taps_cell_outputs():
    model = tiny().eval()
    with torch.no_grad():
        stages, tapped = model.forward_with_cells(torch.randn(1, 3, 64, 64), (3, 4))
    assert sorted(tapped) == [3, 4]
    assert torch.equal(tapped[4], stages[-1])  # the last cell is the last stage's output
    assert tapped[3].shape == (1, 128, 2, 2)  # second reduction cell (2 * 5 // 3 = 3)
    with pytest.raises(IndexError, match='cell index 5'):
        model.forward_with_cells(torch.randn(1, 3, 64, 64), (5, ))


def _frozen_and_free(model: RelNASNet, frozen_stages: int):
    frozen = [m for s in range(frozen_stages + 1) for m in model.stage_modules(s)]
    free = [m for s in range(frozen_stages + 1, 4) for m in model.stage_modules(s)]
    return frozen, free


@pytest.mark.parametrize('stem_type', ['imagenet', 'cifar'])
def test_frozen_stages_are_really_frozen(stem_type):
    # DARTS_V2: every cell uses both inputs, so every free parameter gets a gradient
    # (the published reduction cell never reads input 0: its preprocess0 gets none).
    model = tiny(stem_type=stem_type, frozen_stages=1, genotype='DARTS_V2')
    frozen, free = _frozen_and_free(model, 1)
    model.train()
    frozen_bns = [m for f in frozen for m in f.modules() if isinstance(m, _BatchNorm)]
    free_bns = [m for f in free for m in f.modules() if isinstance(m, _BatchNorm)]
    assert frozen_bns and all(not m.training for m in frozen_bns)
    assert all(m.training for m in free_bns)
    before = [m.running_mean.clone() for m in frozen_bns]
    before_free = [m.running_mean.clone() for m in free_bns]
    size = 64 if stem_type == 'imagenet' else 16
    sum(f.sum() for f in model(torch.randn(2, 3, size, size))).backward()
    assert all(torch.equal(b, m.running_mean) for b, m in zip(before, frozen_bns))
    assert any(not torch.equal(b, m.running_mean) for b, m in zip(before_free, free_bns))
    for module in frozen:
        for p in module.parameters():
            assert not p.requires_grad and p.grad is None
    assert all(p.grad is not None for m in free for p in m.parameters())
    if stem_type == 'imagenet':
        assert model.stem1 in frozen  # stem1 belongs to stage 1


def test_frozen_stages_survive_eval_then_train():
    model = tiny(frozen_stages=0)
    model.eval()
    model.train()
    assert not model.stem0.training and model.stem1.training
    assert all(not p.requires_grad for p in model.stem0.parameters())
    assert all(p.requires_grad for p in model.stem1.parameters())


def test_norm_eval_keeps_bn_statistics():
    model = tiny(norm_eval=True).train()
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    assert all(not m.training for m in bns)
    assert model.cells[0].training  # only the norms are in eval mode
    before = [m.running_var.clone() for m in bns]
    model(torch.randn(2, 3, 64, 64))
    assert all(torch.equal(b, m.running_var) for b, m in zip(before, bns))
    assert all(p.requires_grad for p in model.parameters())


def test_drop_path_probability_is_read_at_forward_time():
    model = tiny(stem_type='cifar', drop_path_rate=0.3)
    assert model.drop_path_prob == 0.3
    x = torch.randn(4, 3, 16, 16)
    model.train()
    model.drop_path_prob = 0.0
    torch.manual_seed(0)
    a = model(x)[-1]
    torch.manual_seed(0)
    assert torch.equal(model(x)[-1], a)  # deterministic without drop path
    model.drop_path_prob = 0.5
    torch.manual_seed(0)
    assert not torch.allclose(model(x)[-1], a)


@pytest.mark.parametrize('out_indices', [(4, ), (-1, ), (), (1, 1), 'abc', (1.0, )])
def test_bad_out_indices(out_indices):
    with pytest.raises(ValueError, match='out_indices'):
        tiny(out_indices=out_indices)


@pytest.mark.parametrize('kwargs,match', [
    (dict(frozen_stages=4), 'frozen_stages'),
    (dict(frozen_stages=-2), 'frozen_stages'),
    (dict(stem_type='resnet'), 'stem_type'),
    (dict(num_cells=2), 'num_cells'),
    (dict(base_channels=7), 'even base_channels'),
    (dict(drop_path_rate=1.0), 'drop_path_rate'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tiny(**kwargs)


def _normal_ops(model: RelNASNet):
    return model.cells[0].op_names


def test_genotype_by_name_text_and_json(tmp_path):
    darts = GENOTYPES['DARTS_V2']
    by_name = tiny(genotype='DARTS_V2')
    by_text = tiny(genotype=format_genotype(darts))
    path = tmp_path / 'cell.json'
    save_genotype(darts, str(path))
    by_json = tiny(genotype=str(path))
    expected = [op for op, _ in darts.normal]
    assert _normal_ops(by_name) == _normal_ops(by_text) == _normal_ops(by_json) == expected
    assert _normal_ops(tiny()) == [op for op, _ in GENOTYPES['RelativeNAS'].normal]


@pytest.mark.parametrize('genotype,match', [
    ('NoSuchCell', 'NoSuchCell'),
    ("Genotype(normal=[('conv_7x7', 0)], normal_concat=[2], reduce=[], reduce_concat=[])",
     'conv_7x7|pairs'),
    ('/nonexistent/cell.json', 'cell.json'),
])
def test_bad_genotype_is_a_clear_error(genotype, match):
    with pytest.raises(GenotypeError, match=match):
        tiny(genotype=genotype)


def test_pretrained_init_cfg_loads_a_checkpoint(tmp_path):
    source = tiny(stem_type='cifar')
    for p in source.parameters():
        p.data.normal_()
    path = tmp_path / 'backbone.pth'
    torch.save({'state_dict': source.state_dict()}, path)
    model = tiny(stem_type='cifar', init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    assert not torch.equal(model.stem[0].weight, source.stem[0].weight)
    model.init_weights()
    for key, value in source.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key


@pytest.mark.parametrize('init_cfg', [
    dict(type='Pretrained', checkpoint=None, prefix='backbone.'),
    [dict(type='Pretrained', checkpoint=None)],
])
def test_pretrained_init_cfg_without_a_checkpoint_loads_nothing(init_cfg):
    """The det/seg/pose configs' default (pretrained = None): the layers keep their own
    initialisation, and the init_cfg is left as it was (the upstream tools set
    ...init_cfg.checkpoint=PATH alone)."""
    torch.manual_seed(0)
    model = tiny(stem_type='cifar', init_cfg=init_cfg)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.init_weights()  # mmengine's own init would try to load a checkpoint named None
    assert model.is_init
    assert model.init_cfg == init_cfg
    for key, value in before.items():
        assert torch.equal(model.state_dict()[key], value), key


def test_other_init_cfgs_still_apply_next_to_a_pretrained_one_without_checkpoint():
    model = tiny(
        stem_type='cifar', init_cfg=[
            dict(type='Constant', val=0.5, layer='Conv2d'),
            dict(type='Pretrained', checkpoint=None)
        ])
    model.init_weights()
    assert torch.all(model.stem[0].weight == 0.5)
