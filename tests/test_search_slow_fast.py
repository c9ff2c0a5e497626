"""Slow-fast learning: pairing, the fast/slow decision and the update rule."""
import math

import numpy as np
import pytest

from relnas_mm.search.slow_fast import (check_pop_size, diversity, draw_coefficients, first_is_fast,
                                        fitness, initial_population, make_pairs, slow_fast_update,
                                        split_fast_slow)
from relnas_mm.space import DIM, GENOTYPES, bounds, decode, decode_population


def test_pop_size_must_be_even():
    assert check_pop_size(4) == 4
    for bad in (3, 0, -2, 2.0, True):
        with pytest.raises(ValueError, match='even integer'):
            check_pop_size(bad)


def test_initial_population_uniform_in_bounds_zero_velocity():
    lower, upper = bounds()
    x, v = initial_population(200, np.random.default_rng(0))
    assert x.shape == v.shape == (200, DIM)
    assert np.all(x >= lower) and np.all(x <= upper) and not v.any()
    # uniform over the whole range: every dimension fills most of its interval
    spread = (x.max(axis=0) - x.min(axis=0)) / (upper - lower)
    assert spread.min() > 0.9
    again, _ = initial_population(200, np.random.default_rng(0))
    assert np.array_equal(x, again)


def test_initial_population_seeded_with_genotypes():
    known = GENOTYPES['RelativeNAS']
    x, _ = initial_population(4, np.random.default_rng(1), [known, GENOTYPES['DARTS_V2']])
    assert decode(x[0]) == known and decode(x[1]) == GENOTYPES['DARTS_V2']
    plain, _ = initial_population(4, np.random.default_rng(1))
    assert np.array_equal(x[2:], plain[2:])
    with pytest.raises(ValueError, match='more than pop_size=2'):
        initial_population(2, np.random.default_rng(1), [known] * 3)


def test_pairs_cover_every_member_once():
    rng = np.random.default_rng(3)
    seen_first = set()
    for _ in range(20):
        pairs = make_pairs(10, rng)
        assert pairs.shape == (5, 2)
        assert sorted(pairs.ravel().tolist()) == list(range(10))
        seen_first.add(tuple(pairs[0]))
    assert len(seen_first) > 1  # pairings change between generations


@pytest.mark.parametrize('a, b, expected', [(0.5, 0.7, True), (0.7, 0.5, False), (0.6, 0.6, True),
                                            (math.nan, 0.9, False), (0.9, math.nan, True),
                                            (math.nan, math.nan, True), (math.inf, 1e9, False),
                                            (-math.inf, 1.0, False), (math.inf, math.nan, True)])
def test_fast_slow_decision(a, b, expected):
    assert first_is_fast(a, b) is expected


def test_fitness_treats_non_finite_as_worst():
    assert fitness(0.25) == 0.25
    assert fitness(math.nan) == fitness(math.inf) == fitness(-math.inf) == math.inf


def test_split_fast_slow_follows_pairs():
    pairs = np.array([[3, 0], [1, 2]])
    losses = [0.4, 0.9, 0.9, math.nan]
    fast, slow = split_fast_slow(pairs, losses)
    assert fast.tolist() == [0, 1] and slow.tolist() == [3, 2]  # NaN loses; tie: first


def _population():
    lower, upper = bounds()
    x = np.tile((lower + upper) / 2, (4, 1))
    return x, np.zeros_like(x)


def test_update_matches_hand_computed_values():
    x, v = _population()
    # pair 0: fast 2, slow 0; pair 1: fast 1, slow 3
    x[0, 0], x[2, 0], v[0, 0] = 1.0, 3.0, 0.5  # dim 0: input of node 0, upper bound 2
    x[0, 1], x[2, 1], v[0, 1] = 6.0, 2.0, -1.0  # dim 1: op, upper bound 7
    x[3, 5], x[1, 5], v[3, 5] = 4.0, 6.5, 0.0
    r1 = np.full((2, DIM), 0.5)
    r2 = np.full((2, DIM), 0.25)
    r2[1, 5] = 0.8
    new_x, new_v = slow_fast_update(x, v, np.array([2, 1]), np.array([0, 3]), r1, r2)
    # v = 0.5*0.5 + 0.25*(3-1) = 0.75; x = 1 + 0.75 = 1.75
    assert new_v[0, 0] == pytest.approx(0.75) and new_x[0, 0] == pytest.approx(1.75)
    # v = 0.5*(-1) + 0.25*(2-6) = -1.5; x = 6 - 1.5 = 4.5
    assert new_v[0, 1] == pytest.approx(-1.5) and new_x[0, 1] == pytest.approx(4.5)
    # v = 0 + 0.8*(6.5-4) = 2.0; x = 6.0
    assert new_v[3, 5] == pytest.approx(2.0) and new_x[3, 5] == pytest.approx(6.0)


def test_update_clips_position_not_velocity_and_leaves_fast_alone():
    x, v = _population()
    lower, upper = bounds()
    x[1, 1], x[0, 1], v[1, 1] = 6.5, 6.9, 10.0  # pushed far beyond the op bound 7
    x[1, 2], x[0, 2], v[1, 2] = 0.2, 0.1, -5.0  # pushed below 0
    before_x, before_v = x.copy(), v.copy()
    r1, r2 = np.ones((1, DIM)), np.ones((1, DIM))
    new_x, new_v = slow_fast_update(x, v, np.array([0]), np.array([1]), r1, r2)
    assert new_x[1, 1] == upper[1] == 7 and new_v[1, 1] == pytest.approx(10.4)
    assert new_x[1, 2] == lower[2] == 0 and new_v[1, 2] == pytest.approx(-5.1)
    for member in (0, 2, 3):  # the fast learner and members outside the pair
        assert np.array_equal(new_x[member], x[member])
        assert np.array_equal(new_v[member], v[member])
    assert np.array_equal(x, before_x) and np.array_equal(v, before_v)  # inputs untouched


def test_update_rejects_wrong_coefficient_shape():
    x, v = _population()
    with pytest.raises(ValueError, match='r1/r2 must have shape'):
        slow_fast_update(x, v, np.array([0]), np.array([1]), np.ones((2, DIM)), np.ones((2, DIM)))


def test_coefficients_are_fresh_uniform_draws():
    r1, r2 = draw_coefficients(np.random.default_rng(5), 3)
    reference = np.random.default_rng(5)
    assert np.array_equal(r1, reference.random((3, DIM)))
    assert np.array_equal(r2, reference.random((3, DIM)))


def test_population_stays_in_bounds_and_decodable():
    rng = np.random.default_rng(7)
    lower, upper = bounds()
    x, v = initial_population(8, rng)
    for _ in range(60):
        pairs = make_pairs(8, rng)
        fast, slow = split_fast_slow(pairs, rng.random(8).tolist())
        r1, r2 = draw_coefficients(rng, 4)
        x, v = slow_fast_update(x, v, fast, slow, r1 * 3, r2 * 3)  # exaggerated steps
        assert np.all(x >= lower) and np.all(x <= upper)
    assert len(decode_population(x)) == 8
    assert np.abs(v).max() > 0


def test_diversity_is_mean_distance_to_centroid():
    x = np.zeros((2, DIM))
    x[1, 0] = 2.0
    assert diversity(x) == pytest.approx(1.0)
    assert diversity(np.ones((3, DIM))) == 0.0
