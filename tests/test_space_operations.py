"""relnas_mm.space.operations: the seven DARTS operations."""
import pytest
import torch
from torch import nn

from relnas_mm.space import OPS, PRIMITIVES, build_op
from relnas_mm.space.operations import DilConv, FactorizedReduce, ReLUConvBN, SepConv

C = 4


def test_primitives_in_encoding_order():
    assert PRIMITIVES == ('max_pool_3x3', 'avg_pool_3x3', 'skip_connect', 'sep_conv_3x3',
                          'sep_conv_5x5', 'dil_conv_3x3', 'dil_conv_5x5')
    assert tuple(OPS) == PRIMITIVES


@pytest.mark.parametrize('name', PRIMITIVES)
@pytest.mark.parametrize('size', [7, 8])
@pytest.mark.parametrize('stride', [1, 2])
def test_output_shape(name, size, stride):
    op = build_op(name, C, stride).eval()
    out = op(torch.randn(2, C, size, size + 3))
    expected = (size, size + 3) if stride == 1 else ((size + 1) // 2, (size + 4) // 2)
    assert out.shape == (2, C) + expected


def _n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize(
    'name,expected',
    [
        ('max_pool_3x3', 0),
        ('avg_pool_3x3', 0),
        ('skip_connect', 0),
        ('sep_conv_3x3', 2 * (9 * C + C * C + 2 * C)),  # two dw+pw+BN blocks
        ('sep_conv_5x5', 2 * (25 * C + C * C + 2 * C)),
        ('dil_conv_3x3', 9 * C + C * C + 2 * C),  # one dw+pw+BN block
        ('dil_conv_5x5', 25 * C + C * C + 2 * C),
    ])
def test_parameter_counts_are_the_darts_ones(name, expected):
    assert _n_params(build_op(name, C, 1)) == expected


def test_skip_connect_is_identity_or_factorized_reduce():
    x = torch.randn(1, C, 6, 6)
    assert build_op('skip_connect', C, 1)(x) is x
    assert isinstance(build_op('skip_connect', C, 2), FactorizedReduce)


def test_conv_structure():
    sep = build_op('sep_conv_5x5', C, 2)
    assert isinstance(sep, SepConv) and len(sep) == 2
    assert sep[0].dw.stride == (2, 2) and sep[1].dw.stride == (1, 1)  # only the first strides
    assert sep[0].dw.groups == C and sep[0].dw.dilation == (1, 1)
    dil = build_op('dil_conv_3x3', C, 1)
    assert isinstance(dil, DilConv) and dil.dw.dilation == (2, 2) and dil.dw.padding == (2, 2)
    assert build_op('dil_conv_5x5', C, 1).dw.padding == (4, 4)


def test_ops_start_with_a_relu():
    # DARTS ops (and preprocessing) apply ReLU first: a negative input equals a zero one.
    neg, zero = -torch.rand(1, C, 6, 6), torch.zeros(1, C, 6, 6)
    for name in ('sep_conv_3x3', 'dil_conv_5x5'):
        op = build_op(name, C, 1).eval()
        assert torch.equal(op(neg), op(zero))
    prep = ReLUConvBN(C, 2 * C, 1, 1, 0).eval()
    assert torch.equal(prep(neg), prep(zero))


def test_avg_pool_does_not_count_padding():
    out = build_op('avg_pool_3x3', C, 1)(torch.ones(1, C, 5, 5))
    assert torch.allclose(out, torch.ones_like(out))  # corners too


def test_factorized_reduce_matches_darts_on_even_inputs():
    torch.manual_seed(0)
    fr = FactorizedReduce(C, 6).eval()
    x = torch.randn(2, C, 8, 8)
    r = torch.relu(x)
    darts = fr.bn(torch.cat([fr.conv_1(r), fr.conv_2(r[:, :, 1:, 1:])], dim=1))
    assert torch.allclose(fr(x), darts)
    with pytest.raises(ValueError, match='even c_out'):
        FactorizedReduce(C, 5)


def test_bad_names_and_strides():
    with pytest.raises(KeyError, match="unknown operation 'conv_3x3'.*max_pool_3x3"):
        build_op('conv_3x3', C, 1)
    with pytest.raises(ValueError, match='stride must be 1 or 2, got 3'):
        build_op('sep_conv_3x3', C, 3)
