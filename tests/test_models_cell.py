"""relnas_mm.models.cell: drop path and the discrete cell (plain PyTorch)."""
import pytest
import torch
from torch import nn

from relnas_mm.models.cell import Cell, drop_path
from relnas_mm.space import GENOTYPES, Genotype
from relnas_mm.space.operations import DilConv, FactorizedReduce, ReLUConvBN, SepConv
from relnas_mm.space.plan import CellPlan

RELNAS = GENOTYPES['RelativeNAS']
CONCAT = [2, 3, 4, 5]


def plan(c_prev_prev, c_prev, c, reduction, reduction_prev):
    """A cell's place in a network, as the architecture plan gives it."""
    return CellPlan(0, reduction, reduction_prev, c_prev_prev, c_prev, c, 1)


def test_drop_path_zeroes_whole_samples_and_rescales_the_rest():
    x = torch.rand(64, 3, 4, 4) + 0.1
    gen = torch.Generator().manual_seed(0)
    y = drop_path(x, 0.25, generator=gen)
    dropped = (y == 0).flatten(1).all(dim=1)
    kept = ~dropped
    assert 0 < int(dropped.sum()) < 64
    assert torch.allclose(y[kept], x[kept] / 0.75)
    # Same generator seed -> same mask; p = 0 is the identity.
    assert torch.equal(drop_path(x, 0.25, torch.Generator().manual_seed(0)), y)
    assert drop_path(x, 0.0) is x


def test_drop_path_keeps_the_expected_value():
    x = torch.ones(20000, 1, 1, 1)
    y = drop_path(x, 0.3, generator=torch.Generator().manual_seed(1))
    assert abs(y.mean().item() - 1.0) < 0.03


@pytest.mark.parametrize('p', [-0.1, 1.0, 1.5])
def test_drop_path_rejects_bad_probabilities(p):
    with pytest.raises(ValueError, match='drop path probability'):
        drop_path(torch.ones(2, 1), p)


def test_cell_builds_one_module_per_pair_in_genotype_order():
    normal = Cell(RELNAS, plan(12, 16, 8, reduction=False, reduction_prev=False))
    assert isinstance(normal.preprocess0, ReLUConvBN)
    assert len(normal.ops) == 8 and normal.multiplier == 4 and normal.out_channels == 32
    kinds = [type(op) for op in normal.ops]
    assert kinds == [SepConv, DilConv, SepConv, SepConv, SepConv, SepConv, nn.Identity, SepConv]
    # The two identical (sep_conv_3x3, 1) pairs of node 1 are separate modules.
    assert normal.ops[2] is not normal.ops[3]

    reduce = Cell(RELNAS, plan(32, 32, 16, reduction=True, reduction_prev=False))
    # Edges from the cell inputs (index < 2) stride; edges from nodes do not.
    assert reduce.ops[0].stride == 2  # avg_pool_3x3 from input 1
    assert reduce.ops[4].stride == 1  # avg_pool_3x3 from node 3
    assert isinstance(reduce.ops[5], FactorizedReduce)  # skip_connect from input 1
    assert reduce.ops[6].dw.stride == (1, 1)  # dil_conv_5x5 from node 3
    assert reduce.ops[7][0].dw.stride == (2, 2)  # sep_conv_3x3 from input 1

    after_reduce = Cell(RELNAS, plan(32, 64, 16, reduction=False, reduction_prev=True))
    assert isinstance(after_reduce.preprocess0, FactorizedReduce)


@pytest.mark.parametrize('size', [8, 9])
def test_cell_output_shapes(size):
    s = torch.randn(2, 12, size, size)
    normal = Cell(RELNAS, plan(12, 12, 8, reduction=False, reduction_prev=False))
    assert normal(s, s).shape == (2, 32, size, size)
    reduce = Cell(RELNAS, plan(12, 12, 8, reduction=True, reduction_prev=False))
    half = (size + 1) // 2
    assert reduce(s, s).shape == (2, 32, half, half)
    # After a reduction, input 0 has twice the resolution of input 1.
    after = Cell(RELNAS, plan(12, 32, 8, reduction=False, reduction_prev=True))
    assert after(s, torch.randn(2, 32, half, half)).shape == (2, 32, half, half)


def test_cell_wiring_matches_the_genotype():
    torch.manual_seed(0)
    cell = Cell(RELNAS, plan(6, 10, 4, reduction=False, reduction_prev=False)).eval()
    s0, s1 = torch.randn(2, 6, 7, 7), torch.randn(2, 10, 7, 7)
    with torch.no_grad():
        out = cell(s0, s1)
        states = [cell.preprocess0(s0), cell.preprocess1(s1)]
        for node in range(4):
            (_, a), (_, b) = RELNAS.normal[2 * node], RELNAS.normal[2 * node + 1]
            states.append(cell.ops[2 * node](states[a]) + cell.ops[2 * node + 1](states[b]))
    for node in range(4):
        assert torch.allclose(out[:, 4 * node:4 * node + 4], states[2 + node], atol=1e-6)


def _pool_and_skip_cell() -> Cell:
    # node 0: identities only; node 1: two max-pools (non-identity, no weights).
    g = Genotype([('skip_connect', 0), ('skip_connect', 1), ('max_pool_3x3', 0),
                  ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 3),
                  ('skip_connect', 0), ('skip_connect', 1)], CONCAT, RELNAS.reduce, CONCAT)
    return Cell(g, plan(3, 3, 3, reduction=False, reduction_prev=False))


def test_drop_path_applies_in_training_except_to_identities():
    torch.manual_seed(0)
    cell = _pool_and_skip_cell().train()
    s0, s1 = torch.randn(32, 3, 5, 5), torch.randn(32, 3, 5, 5)
    out = cell(s0, s1, drop_prob=0.5)
    with torch.no_grad():
        pre0, pre1 = cell.preprocess0(s0), cell.preprocess1(s1)
        pooled = cell.ops[2](pre0)
    assert torch.allclose(out[:, 0:3], pre0 + pre1, atol=1e-6)  # identities never dropped
    # Each sample of node 1 is 0, one rescaled pool (x2) or both (x4).
    node1 = out[:, 3:6]
    seen = set()
    for i in range(32):
        matches = [k for k in (0, 2, 4) if torch.allclose(node1[i], k * pooled[i], atol=1e-5)]
        assert len(matches) == 1
        seen.add(matches[0])
    assert seen == {0, 2, 4}


def test_no_drop_path_in_eval_mode():
    cell = _pool_and_skip_cell().eval()
    s0, s1 = torch.randn(4, 3, 5, 5), torch.randn(4, 3, 5, 5)
    with torch.no_grad():
        out = cell(s0, s1, drop_prob=0.5)
        pooled = cell.ops[2](cell.preprocess0(s0))
    assert torch.allclose(out[:, 3:6], 2 * pooled, atol=1e-6)
