"""Slow-fast learning: pair the population, let each pair's slow learner move toward the fast one.

Pure numpy. The random numbers come from the caller's ``np.random.Generator`` (or are
passed in) so that a search is exactly reproducible and resumable.
"""
import math
from typing import Optional, Sequence, Tuple

import numpy as np

from ..space.encoding import DIM, bounds, check_vectors, encode_population, random_population
from ..space.genotype import Genotype


def check_pop_size(pop_size: int) -> int:
    """Slow-fast learning pairs every member, so the population must be even."""
    if isinstance(pop_size, bool) or not isinstance(pop_size, int) or pop_size < 2 \
            or pop_size % 2:
        raise ValueError(f'pop_size must be an even integer >= 2, got {pop_size!r}')
    return pop_size


def initial_population(pop_size: int, rng: np.random.Generator,
                       seeds: Optional[Sequence] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Positions uniform within the bounds and zero velocities, shape ``(N, 32)`` each.

    ``seeds`` (an ``(k, 32)`` array or a list of k Genotypes, k <= N) replaces the first
    k members, e.g. to start from a known cell. The uniform draw happens either way,
    so the random stream does not depend on k.
    """
    check_pop_size(pop_size)
    x = random_population(pop_size, rng)
    if seeds is not None and len(seeds) > 0:
        if all(isinstance(g, Genotype) for g in seeds):
            given = encode_population(list(seeds))
        else:
            given = check_vectors(np.atleast_2d(np.asarray(seeds, dtype=np.float64)))
        if len(given) > pop_size:
            raise ValueError(f'the initial population seeds have {len(given)} members, more than '
                             f'pop_size={pop_size}')
        x[:len(given)] = given
    return x, np.zeros_like(x)


def make_pairs(pop_size: int, rng: np.random.Generator) -> np.ndarray:
    """A random permutation cut into ``N/2`` disjoint pairs, shape ``(N/2, 2)``."""
    check_pop_size(pop_size)
    return rng.permutation(pop_size).reshape(-1, 2)


def fitness(loss: float) -> float:
    """Ranking value of a loss: lower is better, a non-finite loss is the worst (+inf)."""
    loss = float(loss)
    return loss if math.isfinite(loss) else math.inf


def first_is_fast(loss_a: float, loss_b: float) -> bool:
    """True if the first member of a pair is the fast learner.

    Lower validation loss wins; an exact tie (two non-finite losses included) goes
    to the first member, for the update and the write-back alike.
    """
    return fitness(loss_a) <= fitness(loss_b)


def violation(cost: float, low: Optional[float], high: Optional[float]) -> float:
    """How far ``cost`` lies outside ``[low, high]`` relative to the bound it crosses; 0 inside.

    Relative, so that violations of metrics with different units (FLOPs, parameters,
    milliseconds) can be summed: 10% over a FLOPs budget weighs as 10% over a
    parameter budget.
    """
    cost = float(cost)
    if high is not None and cost > high:
        return (cost - high) / high
    if low is not None and cost < low:
        return (low - cost) / low
    return 0.0


def constrained_first_is_fast(loss_a: float, violation_a: float, loss_b: float,
                              violation_b: float) -> bool:
    """True if the first member of a pair is the fast learner under a budget.

    Deb's constraint-domination rule: a feasible member (violation 0) beats an
    infeasible one; of two infeasible members the one with the smaller violation (the
    sum over the budget's metrics of :func:`violation`) wins;
    of two feasible ones the lower validation loss wins (:func:`first_is_fast`, ties
    included). With every violation 0 it is exactly :func:`first_is_fast`, so a search
    without a budget decides as before.
    """
    return (float(violation_a), fitness(loss_a)) <= (float(violation_b), fitness(loss_b))


def split_fast_slow(pairs: np.ndarray, losses: Sequence[float],
                    violations: Optional[Sequence[float]] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Fast and slow member indices, one of each per pair, in pair order.

    ``violations`` (per member, see :func:`violation`) applies the budget's rule.
    """
    if violations is None:
        violations = [0.0] * len(losses)
    fast, slow = [], []
    for a, b in np.asarray(pairs).tolist():
        a_fast = constrained_first_is_fast(losses[a], violations[a], losses[b], violations[b])
        f, s = (a, b) if a_fast else (b, a)
        fast.append(f)
        slow.append(s)
    return np.asarray(fast, dtype=np.int64), np.asarray(slow, dtype=np.int64)


def draw_coefficients(rng: np.random.Generator, num_pairs: int,
                      dim: int = DIM) -> Tuple[np.ndarray, np.ndarray]:
    """Fresh r1 then r2, U(0, 1), one per pair and dimension, each ``(num_pairs, dim)``."""
    r1 = rng.random((num_pairs, dim))
    r2 = rng.random((num_pairs, dim))
    return r1, r2


def slow_fast_update(x: np.ndarray, v: np.ndarray, fast: np.ndarray, slow: np.ndarray,
                     r1: np.ndarray, r2: np.ndarray, lower: Optional[np.ndarray] = None,
                     upper: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Move each slow learner toward its fast partner; return new ``(x, v)`` copies.

    ``v_s <- r1 * v_s + r2 * (x_f - x_s)``, ``x_s <- clip(x_s + v_s, lower, upper)``.
    All pairs use the positions of the start of the generation; the velocity is
    neither clipped nor reset; fast learners keep position and velocity.
    """
    if lower is None or upper is None:
        lower, upper = bounds()
    fast, slow = np.asarray(fast, dtype=np.int64), np.asarray(slow, dtype=np.int64)
    if r1.shape != (len(slow), x.shape[1]) or r2.shape != r1.shape:
        raise ValueError(f'r1/r2 must have shape ({len(slow)}, {x.shape[1]}), '
                         f'got {r1.shape} and {r2.shape}')
    new_x, new_v = x.copy(), v.copy()
    v_s = r1 * v[slow] + r2 * (x[fast] - x[slow])
    new_v[slow] = v_s
    new_x[slow] = np.clip(x[slow] + v_s, lower, upper)
    return new_x, new_v


def diversity(x: np.ndarray) -> float:
    """Mean Euclidean distance of the members to the population centroid (logged only)."""
    x = np.asarray(x, dtype=np.float64)
    return float(np.linalg.norm(x - x.mean(axis=0), axis=1).mean())
