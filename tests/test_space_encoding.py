"""relnas_mm.space.encoding: bounds, the ceil(x)-1 decode rule, encode, errors."""
import numpy as np
import pytest

from relnas_mm.space import (DIM, GENOTYPES, PRIMITIVES, EncodingError, bounds, decode,
                             decode_indices, decode_population, encode, encode_population,
                             random_population, validate)


def test_bounds_layout():
    lower, upper = bounds()
    assert DIM == 32 and lower.shape == upper.shape == (32, )
    assert not lower.any()
    cell = [2, 7, 2, 7, 3, 7, 3, 7, 4, 7, 4, 7, 5, 7, 5, 7]  # (in_a, op_a, in_b, op_b) per node
    assert upper.tolist() == cell + cell


def _vector_with(**positions) -> np.ndarray:
    x = np.zeros(DIM)
    for pos, value in positions.items():
        x[int(pos[1:])] = value
    return x


@pytest.mark.parametrize('value,expected', [(0.0, 0), (0.5, 0), (1.0, 0), (1.0000001, 1), (1.5, 1),
                                            (6.0, 5), (6.5, 6), (7.0, 6)])
def test_decode_rule_on_an_op_position(value, expected):
    # position 1 is op_a of node 0 (bound 7)
    assert decode_indices(_vector_with(p1=value))[1] == expected


@pytest.mark.parametrize('value,expected', [(0.0, 0), (1.0, 0), (1.0000001, 1), (2.0, 1)])
def test_decode_rule_on_an_input_position(value, expected):
    # position 0 is input_a of node 0 (bound 2): 2.0 is the largest value and means input 1
    assert decode_indices(_vector_with(p0=value))[0] == expected


def test_decode_places_fields_where_the_layout_says():
    # reduce cell, node 3 (positions 28..31): input_a=4, op_a=sep_conv_5x5, in_b=0, op_b=max_pool
    x = _vector_with(p28=4.5, p29=4.2, p30=0.3, p31=1.0)
    g = decode(x)
    assert g.reduce[6] == ('sep_conv_5x5', 4)
    assert g.reduce[7] == ('max_pool_3x3', 0)
    assert g.normal == [('max_pool_3x3', 0)] * 8
    assert g.normal_concat == g.reduce_concat == [2, 3, 4, 5]


def test_decoding_the_upper_bounds_gives_the_largest_valid_indices():
    _, upper = bounds()
    g = validate(decode(upper))
    assert g.normal[0] == ('dil_conv_5x5', 1)
    assert g.normal[7] == (PRIMITIVES[-1], 4)


def test_random_population_decodes_to_valid_genotypes_covering_all_choices():
    rng = np.random.default_rng(0)
    pop = random_population(300, rng)
    lower, upper = bounds()
    assert pop.shape == (300, DIM) and (pop >= lower).all() and (pop <= upper).all()
    genotypes = decode_population(pop)
    assert len(genotypes) == 300
    for g in genotypes:
        validate(g)
    ops = {op for g in genotypes for op, _ in g.normal + g.reduce}
    assert ops == set(PRIMITIVES)
    node3_inputs = {g.normal[6][1] for g in genotypes}
    assert node3_inputs == {0, 1, 2, 3, 4}
    assert np.array_equal(
        random_population(5, np.random.default_rng(0)),
        random_population(5, np.random.default_rng(0)))


@pytest.mark.parametrize('name', sorted(GENOTYPES))
def test_encode_decode_round_trip(name):
    g = GENOTYPES[name]
    x = encode(g)
    assert x.shape == (DIM, ) and np.all(x % 1 == 0.5)
    assert decode(x) == g
    # any point of the decoding interval (k, k+1] decodes the same
    assert decode(np.minimum(x + 0.5, bounds()[1])) == g
    assert decode(x - 0.4999) == g


def test_population_round_trip():
    gs = [GENOTYPES[n] for n in sorted(GENOTYPES)]
    pop = encode_population(gs)
    assert pop.shape == (3, DIM)
    assert decode_population(pop) == gs
    assert encode_population([]).shape == (0, DIM)
    assert np.array_equal(decode_indices(pop)[1], decode_indices(pop[1]))


@pytest.mark.parametrize('x,match', [
    (np.zeros(31), r'shape \(32,\)'),
    (np.zeros((2, 33)), 'shape'),
    (np.zeros((1, 2, 32)), 'shape'),
    (_vector_with(p5=np.nan), 'non-finite'),
    (_vector_with(p5=np.inf), 'non-finite'),
    (_vector_with(p3=-0.01), r'index \[3\]'),
    (_vector_with(p1=7.01), r'outside \[0.0, 7.0\]'),
    (_vector_with(p0=2.01), r'outside \[0.0, 2.0\]'),
    (_vector_with(p28=5.5), r'index \[28\]'),
])
def test_bad_vectors_are_errors(x, match):
    with pytest.raises(EncodingError, match=match):
        decode_indices(x)


def test_decode_takes_one_vector_only():
    with pytest.raises(EncodingError, match='decode_population'):
        decode(np.zeros((2, DIM)))
    with pytest.raises(EncodingError, match='non-finite'):
        decode_population(np.full((2, DIM), np.nan))
