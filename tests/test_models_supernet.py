"""SuperNet: one module per (cell, edge, op), one active path, drop-path in training only."""
import numpy as np
import pytest
import torch
from torch import nn

from relnas_mm.models.supernet import (NUM_EDGES, NUM_OPS, SearchCell, SuperNet, drop_path,
                                       edge_index, op_module_of, op_slot, supernet_config)
from relnas_mm.space import GENOTYPES, decode, random_population
from relnas_mm.space.genotype import make_genotype
from relnas_mm.space.operations import DilConv, FactorizedReduce, SepConv
from relnas_mm.space.plan import CellPlan

TINY = dict(channels=4, num_cells=5, num_classes=3)


def _random_genotypes(n, seed):
    return [decode(x) for x in random_population(n, np.random.default_rng(seed))]


def test_edge_and_slot_indices():
    assert NUM_EDGES == 14 and NUM_OPS == 7
    assert [
        edge_index(0, 0),
        edge_index(0, 1),
        edge_index(1, 0),
        edge_index(1, 2),
        edge_index(2, 0),
        edge_index(3, 4)
    ] == [0, 1, 2, 4, 5, 13]
    assert op_slot(1, 0, 'sep_conv_3x3') == 2 * 7 + 3
    with pytest.raises(ValueError, match='no edge from input 2 into node 0'):
        edge_index(0, 2)


def test_op_module_of():
    assert op_module_of('cells.3.ops.17.0.dw.weight') == 'cells.3.ops.17'
    assert op_module_of('cells.3.ops.17.bn.num_batches_tracked') == 'cells.3.ops.17'
    assert op_module_of('cells.3.preprocess0.conv.weight') is None
    assert op_module_of('stem.1.running_mean') is None
    assert op_module_of('classifier.weight') is None


def test_structure_modules_and_strides():
    net = SuperNet(**TINY)
    assert net.reduction_cells == (1, 3)
    assert [c.reduction for c in net.cells] == [False, True, False, True, False]
    for cell in net.cells:
        assert len(cell.ops) == NUM_EDGES * NUM_OPS
    normal, reduce = net.cells[0], net.cells[1]
    # skip_connect leaving a cell input: identity in a normal cell, FactorizedReduce in a reduction
    assert isinstance(normal.ops[op_slot(0, 0, 'skip_connect')], nn.Identity)
    assert isinstance(reduce.ops[op_slot(0, 1, 'skip_connect')], FactorizedReduce)
    assert isinstance(reduce.ops[op_slot(1, 2, 'skip_connect')], nn.Identity)
    assert reduce.ops[op_slot(0, 0, 'max_pool_3x3')].stride == 2
    assert reduce.ops[op_slot(2, 3, 'max_pool_3x3')].stride == 1
    assert isinstance(normal.ops[op_slot(3, 4, 'sep_conv_5x5')], SepConv)
    # the cell right after a reduction reduces its c_{k-2} input
    assert isinstance(net.cells[2].preprocess0, FactorizedReduce)
    assert not isinstance(net.cells[1].preprocess0, FactorizedReduce)
    assert net.classifier.in_features == 4 * 4 * TINY['channels']


def test_forward_shape_and_requires_genotype():
    net = SuperNet(**TINY)
    with pytest.raises(RuntimeError, match='set_genotype'):
        net(torch.randn(2, 3, 32, 32))
    for genotype in _random_genotypes(3, 0) + [GENOTYPES['RelativeNAS']]:
        net.set_genotype(genotype)
        assert net(torch.randn(2, 3, 32, 32)).shape == (2, 3)


def test_bad_config_is_refused():
    with pytest.raises(ValueError, match='channels must be even'):
        SuperNet(channels=5)
    with pytest.raises(ValueError, match='num_cells'):
        SuperNet(num_cells=0)


def test_imagenet_stem_downsamples_like_the_backbone():
    net = SuperNet(**TINY, stem='imagenet')
    net.set_genotype(GENOTYPES['RelativeNAS'])
    seen = []
    net.cells[0].register_forward_hook(lambda m, inputs, out: seen.append(inputs[1].shape))
    assert net(torch.randn(2, 3, 64, 64)).shape == (2, 3)
    assert seen == [(2, 4, 8, 8)]  # stride 8 and C channels before the first cell
    assert not any(k.startswith('stem.') for k in net.state_dict())
    backbone = pytest.importorskip('relnas_mm.models.backbone')
    ref = backbone.RelNASNet(base_channels=4, num_cells=3, stem_type='imagenet')
    assert {k: v.shape for k, v in net.state_dict().items() if k.startswith('stem')} == \
        {k: v.shape for k, v in ref.state_dict().items() if k.startswith('stem')}
    with pytest.raises(
            ValueError, match=r"SuperNet: stem must be one of \('imagenet', 'cifar'\), "
            r"got 'resnet'"):
        SuperNet(**TINY, stem='resnet')


def test_parameter_names_do_not_depend_on_genotype():
    net = SuperNet(**TINY)
    keys = list(net.state_dict())
    for genotype in _random_genotypes(2, 1):
        net.set_genotype(genotype)
        net(torch.randn(2, 3, 32, 32))
        assert list(net.state_dict()) == keys
    other = SuperNet(**TINY)
    assert list(other.state_dict()) == keys


def test_used_modules_name_the_ops_of_the_genotype():
    net = SuperNet(**TINY)
    genotype = GENOTYPES['RelativeNAS']
    used = net.used_modules(genotype)
    modules = dict(net.named_modules())
    # normal cell, node 0: (sep_conv_3x3, 0) -> edge 0, op 3; (dil_conv_5x5, 1) -> edge 1, op 6
    assert 'cells.0.ops.3' in used and 'cells.0.ops.13' in used
    assert isinstance(modules['cells.0.ops.3'], SepConv)
    assert isinstance(modules['cells.0.ops.13'], DilConv)
    # node 1 uses (sep_conv_3x3, 1) twice: one module, listed once
    assert used.count(f'cells.0.ops.{op_slot(1, 1, "sep_conv_3x3")}') == 1
    # reduction cell (index 1), node 0: (avg_pool_3x3, 1) -> edge 1, op 1
    assert f'cells.1.ops.{7 + 1}' in used
    per_cell = {i: sum(p.startswith(f'cells.{i}.') for p in used) for i in range(5)}
    assert per_cell == {0: 7, 1: 8, 2: 7, 3: 8, 4: 7}


def test_only_active_ops_get_gradients():
    net = SuperNet(**TINY)
    genotype = _random_genotypes(1, 2)[0]
    net.set_genotype(genotype)
    net(torch.randn(4, 3, 32, 32)).sum().backward()
    used = set(net.used_modules(genotype))
    for name, param in net.named_parameters():
        module = op_module_of(name)
        active = module is None or module in used
        assert (param.grad is not None) == active, name


def test_same_input_and_op_twice_shares_one_module():
    pairs = [('sep_conv_3x3', 0), ('sep_conv_3x3', 0), ('skip_connect', 0), ('max_pool_3x3', 1),
             ('avg_pool_3x3', 2), ('skip_connect', 3), ('dil_conv_3x3', 1), ('skip_connect', 4)]
    genotype = make_genotype(pairs, pairs)
    net = SuperNet(**TINY)
    net.set_genotype(genotype)
    shared = net.cells[0].ops[op_slot(0, 0, 'sep_conv_3x3')]
    calls = []
    shared.register_forward_hook(lambda *args: calls.append(1))
    net(torch.randn(2, 3, 32, 32))
    assert len(calls) == 2


def test_drop_path_masks_whole_samples_and_rescales():
    x = torch.ones(200, 2, 3, 3)
    out = drop_path(x, 0.25, torch.Generator().manual_seed(0))
    per_sample = out.flatten(1)
    kept = per_sample[:, 0] != 0
    assert torch.allclose(per_sample[kept], torch.full_like(per_sample[kept], 1 / 0.75))
    assert torch.all(per_sample[~kept] == 0)
    assert 0.6 < kept.float().mean() < 0.9
    again = drop_path(x, 0.25, torch.Generator().manual_seed(0))
    assert torch.equal(out, again)


def test_drop_path_only_in_training():
    net = SuperNet(**TINY)
    net.set_genotype(_random_genotypes(1, 3)[0])
    x = torch.randn(6, 3, 32, 32)
    net.eval()
    plain = net(x)
    net.drop_prob = 0.5
    net.generator = torch.Generator().manual_seed(0)
    assert torch.equal(net(x), plain)
    net.train()
    with_drop = net(x)
    net.drop_prob = 0.0
    assert not torch.allclose(net(x), with_drop)


def test_identity_is_never_dropped():
    cell = SearchCell(CellPlan(0, False, False, 8, 8, 4, 1)).train()
    pairs = [('skip_connect', 0), ('skip_connect', 1)] * 4
    s0, s1 = torch.randn(5, 8, 8, 8), torch.randn(5, 8, 8, 8)
    no_drop = cell(s0, s1, pairs, 0.0, None)
    assert torch.equal(cell(s0, s1, pairs, 0.9, torch.Generator().manual_seed(0)), no_drop)


def test_prune_unused_reaches_the_search_network_through_its_config():
    """Set in a search config's ``supernet``, it reaches the SuperNet; unset, the config
    (a checkpoint's fingerprint) is what it was before the option existed."""
    assert supernet_config(**TINY) == dict(TINY, stem_multiplier=3)
    cfg = supernet_config(**TINY, prune_unused=True)
    assert cfg['prune_unused'] is True and SuperNet(**cfg).prune_unused
    net = SuperNet(**cfg)
    net.set_genotype(GENOTYPES['RelativeNAS'])  # its reduction cells never read input 0
    assert [c.reads[0] for c in net.live.cells] == [True, False, True, False, True]
