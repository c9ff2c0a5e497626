"""One architecture plan: RelNASNet, the search network, the cost model and the converter
are all built from ``network_plan``, held here to it on random configurations."""
import random
from dataclasses import replace

import numpy as np
import pytest
import torch

from relnas_mm.models.cell import PrunedCell
from relnas_mm.models.supernet import SuperNet
from relnas_mm.space.cost import NetworkSpec, network_cost
from relnas_mm.space.encoding import decode_population, random_population
from relnas_mm.space.genotype import GENOTYPES, NUM_NODES, make_genotype
from relnas_mm.space.operations import FactorizedReduce
from relnas_mm.space.plan import CellPlan, network_plan


def _random_configs(n: int, seed: int):
    """(stem_type, channels, num_cells, stem_multiplier, genotype, out_indices), random."""
    rng = random.Random(seed)
    genotypes = decode_population(random_population(n, np.random.default_rng(seed)))
    for genotype in genotypes:
        out = sorted(rng.sample(range(4), rng.randint(1, 4)))
        yield (rng.choice(('cifar', 'imagenet')), 2 * rng.randint(1, 3), rng.randint(3, 8),
               rng.randint(1, 3), genotype, tuple(out))


def _check_cell(cell, plan: CellPlan) -> None:
    """A built cell (Cell or SearchCell) has the plan's inputs, channels and strides."""
    assert cell.reduction == plan.reduction
    for layer, read, c_in in ((cell.preprocess0, plan.reads[0], plan.c_prev_prev),
                              (cell.preprocess1, plan.reads[1], plan.c_prev)):
        assert (layer is not None) == read
        if layer is not None:
            convs = [m for m in layer.modules() if isinstance(m, torch.nn.Conv2d)]
            stride = 2 if layer is cell.preprocess0 and plan.reduction_prev else 1
            assert {(m.in_channels, m.stride) for m in convs} == {(c_in, (stride, stride))}
            assert sum(m.out_channels for m in convs) == plan.channels
    assert isinstance(cell.preprocess0, FactorizedReduce) == (plan.reads[0] and plan.reduction_prev)
    convs = [m for m in cell.ops.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(m.in_channels == plan.channels for m in convs)
    strided = {m.stride for m in cell.ops.modules() if hasattr(m, 'stride')}
    assert ((2, 2) in strided or 2 in strided) == plan.reduction


def test_relnasnet_is_built_from_the_plan():
    pytest.importorskip('mmengine')
    from relnas_mm.models.backbone import RelNASNet
    for stem, c, cells, mult, genotype, out in _random_configs(40, 0):
        for prune in (False, True):
            net = RelNASNet(genotype, c, cells, stem, mult, out_indices=out, prune_unused=prune)
            plan = network_plan(stem, c, cells, mult, genotype, out, prune)
            assert net.plan == plan
            stem_out = net.stem[-1] if stem == 'cifar' else net.stem0[-1]
            assert stem_out.num_features == plan.stem_channels
            assert (stem == 'cifar' or net.stem1 is not None) == plan.stem1_live
            for cell, cell_plan in zip(net.cells, plan.cells):
                assert isinstance(cell, PrunedCell) != cell_plan.live
                if cell_plan.live:
                    _check_cell(cell, cell_plan)
            assert net.stage_channels == plan.stage_channels
            assert net.out_channels == tuple(plan.stage_channels[i] for i in out)


def test_search_network_is_built_from_the_plan():
    for _, c, cells, mult, genotype, _ in _random_configs(6, 1):
        net = SuperNet(c, cells, 3, mult, prune_unused=True)
        assert net.plan == network_plan('cifar', c, cells, mult)
        for cell, cell_plan in zip(net.cells, net.plan.cells):
            _check_cell(cell, cell_plan)
        net.set_genotype(genotype)
        assert net.live == network_plan('cifar', c, cells, mult, genotype, (3, ), True)


def test_cost_model_counts_the_plan():
    """Moving a reduction in the plan moves the cost: the cost model reads the plan, not a
    schedule of its own."""
    spec = NetworkSpec('imagenet', 4, 6, (32, 32), num_classes=5)
    genotype = GENOTYPES['DARTS_V2']
    import relnas_mm.space.cost as cost_module
    original = cost_module.network_plan

    def without_reductions(*args, **kwargs):
        plan = original(*args, **kwargs)
        cells = tuple(replace(c, reduction=False, reduction_prev=c.index == 0) for c in plan.cells)
        return replace(plan, cells=cells)

    try:
        before = network_cost(genotype, spec)
        cost_module.network_plan = without_reductions
        assert network_cost(genotype, spec).flops > before.flops
    finally:
        cost_module.network_plan = original


@pytest.mark.parametrize('imagenet', [False, True])
def test_converter_places_keys_by_the_plan(imagenet, tmp_path):
    """The authors' layout (an independent DARTS re-statement) of random configurations
    converts into RelNASNet's keys exactly."""
    pytest.importorskip('mmengine')
    from test_tools_convert_official import DartsNet

    from relnas_mm.models.backbone import RelNASNet
    from relnas_mm.models.converters import convert_state_dict, infer_network, strip_to_backbone
    for _, c, cells, _, genotype, _ in _random_configs(4, 2 + imagenet):
        authors = DartsNet(genotype, c, cells, 3, imagenet).state_dict()
        info = infer_network(authors)
        backbone = strip_to_backbone(convert_state_dict(authors, genotype, info))
        net = RelNASNet(genotype, c, cells, 'imagenet' if imagenet else 'cifar', out_indices=(3, ))
        net.load_state_dict(backbone, strict=True)  # every key and shape, or an error


def test_pruning_follows_what_is_read():
    # every cell reads input 1 only: cell k-2's output is read by nobody but cell k-1
    reads_1 = [(op, 1 if k < 2 else k // 2 + 1) for k, op in enumerate(['sep_conv_3x3'] * 8)]
    genotype = make_genotype(reads_1, reads_1)
    plan = network_plan('imagenet', 4, 6, genotype=genotype, prune_unused=True)
    assert all(c.reads == (False, True) and c.live for c in plan.cells)
    # a backbone read at stage 1 only: the cells after it are not built
    plan = network_plan('imagenet', 4, 6, genotype=genotype, out_indices=(1, ), prune_unused=True)
    assert [c.live for c in plan.cells] == [True, True, False, False, False, False]
    # reading only input 0: every other cell is dead, and stem1 with them
    reads_0 = [(op, 0 if k < 2 else k // 2 + 1) for k, op in enumerate(['sep_conv_3x3'] * 8)]
    plan = network_plan('imagenet', 4, 7, genotype=make_genotype(reads_0, reads_0),
                        prune_unused=True)
    assert [c.live for c in plan.cells] == [i % 2 == 0 for i in range(7)]
    assert not plan.stem1_live
    assert plan.cells[0].out_channels == NUM_NODES * 4


@pytest.mark.parametrize('kwargs, match', [
    (dict(stem_type='resnet'), 'stem_type must be one of'),
    (dict(num_cells=2), 'num_cells must be an integer >= 3'),
    (dict(prune_unused=True), 'prune_unused needs the genotype'),
    (dict(prune_unused=True, genotype=GENOTYPES['RelativeNAS'],
          out_indices=(4, )), 'out_indices must be stage indices'),
])
def test_bad_plan_is_refused(kwargs, match):
    args = {**dict(stem_type='cifar', channels=4, num_cells=3), **kwargs}
    with pytest.raises(ValueError, match=match):
        network_plan(**args)


def test_pruning_changes_no_output():
    """What prune_unused leaves out is read by nothing: same weights, same outputs."""
    pytest.importorskip('mmengine')
    from relnas_mm.models.backbone import RelNASNet
    x = torch.randn(2, 3, 24, 24)
    for stem, c, cells, mult, genotype, out in _random_configs(8, 4):
        full = RelNASNet(genotype, c, cells, stem, mult, out_indices=out).eval()
        pruned = RelNASNet(genotype, c, cells, stem, mult, out_indices=out,
                           prune_unused=True).eval()
        kept = {k: v for k, v in full.state_dict().items() if k in pruned.state_dict()}
        pruned.load_state_dict(kept, strict=True)
        assert all(torch.equal(a, b) for a, b in zip(full(x), pruned(x)))
    net = SuperNet(4, 5, 3)
    lean = SuperNet(4, 5, 3, prune_unused=True)
    lean.load_state_dict(net.state_dict())
    for genotype in decode_population(random_population(6, np.random.default_rng(5))):
        for model in (net, lean):
            model.set_genotype(genotype)
        assert torch.equal(net.eval()(x), lean.eval()(x))


def test_a_pruned_cell_cannot_be_tapped():
    pytest.importorskip('mmengine')
    from relnas_mm.models.backbone import RelNASNet
    net = RelNASNet('RelativeNAS', 4, 6, out_indices=(1, ), prune_unused=True)
    assert isinstance(net.cells[5], PrunedCell)
    with pytest.raises(ValueError, match='cell 5 is not built'):
        net.forward_with_cells(torch.randn(1, 3, 32, 32), (5, ))
