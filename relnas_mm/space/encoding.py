"""The continuous encoding of a cell pair: 32 real numbers, decoded by ceil(x) - 1.

Layout: ``[normal 16 | reduce 16]``; intermediate node ``j`` of a cell occupies
positions ``4j .. 4j+3`` as ``(input_a, op_a, input_b, op_b)``. Every lower bound
is 0, an input's upper bound is ``2 + j`` and an op's is ``len(PRIMITIVES)``.
All functions take one vector ``(32,)`` or a population ``(N, 32)``.
"""
from typing import List, Tuple

import numpy as np

from .genotype import NUM_NODES, Genotype, validate
from .operations import PRIMITIVES

CELL_DIM = 4 * NUM_NODES
DIM = 2 * CELL_DIM


class EncodingError(ValueError):
    """A vector that is not a valid point of the encoding space."""


def bounds() -> Tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds, each of shape ``(32,)``."""
    cell_upper = np.empty(CELL_DIM)
    for j in range(NUM_NODES):
        cell_upper[4 * j:4 * j + 4] = (2 + j, len(PRIMITIVES), 2 + j, len(PRIMITIVES))
    return np.zeros(DIM), np.concatenate([cell_upper, cell_upper])


def check_vectors(x: np.ndarray) -> np.ndarray:
    """Return ``x`` as a float array, or raise EncodingError naming what is wrong."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim not in (1, 2) or x.shape[-1] != DIM:
        raise EncodingError(f'expected shape ({DIM},) or (N, {DIM}), got {x.shape}')
    bad = ~np.isfinite(x)
    if bad.any():
        idx = np.argwhere(bad)[0].tolist()
        raise EncodingError(f'non-finite value {x[tuple(idx)]} at index {idx}')
    lower, upper = bounds()
    out = (x < lower) | (x > upper)
    if out.any():
        idx = tuple(np.argwhere(out)[0].tolist())
        pos = idx[-1]
        raise EncodingError(f'value {x[idx]} at index {list(idx)} is outside '
                            f'[{lower[pos]}, {upper[pos]}]')
    return x


def decode_indices(x: np.ndarray) -> np.ndarray:
    """Integer indices, k = ceil(x) - 1 clamped at 0 (so 0 -> 0, 1.0 -> 0, 1.2 -> 1)."""
    x = check_vectors(x)
    return np.maximum(np.ceil(x) - 1, 0).astype(np.int64)


def _cell_pairs(ints: np.ndarray) -> List[Tuple[str, int]]:
    pairs = []
    for j in range(NUM_NODES):
        in_a, op_a, in_b, op_b = ints[4 * j:4 * j + 4].tolist()
        pairs += [(PRIMITIVES[op_a], in_a), (PRIMITIVES[op_b], in_b)]
    return pairs


def decode(x: np.ndarray) -> Genotype:
    """One vector ``(32,)`` to its Genotype."""
    ints = decode_indices(x)
    if ints.ndim != 1:
        raise EncodingError(f'decode takes one vector of shape ({DIM},); use '
                            f'decode_population for {ints.shape}')
    concat = list(range(2, 2 + NUM_NODES))
    return Genotype(_cell_pairs(ints[:CELL_DIM]), concat, _cell_pairs(ints[CELL_DIM:]), concat)


def decode_population(x: np.ndarray) -> List[Genotype]:
    """A population ``(N, 32)`` to N genotypes."""
    ints = decode_indices(np.atleast_2d(x))
    concat = list(range(2, 2 + NUM_NODES))
    return [
        Genotype(_cell_pairs(row[:CELL_DIM]), concat, _cell_pairs(row[CELL_DIM:]), concat)
        for row in ints
    ]


def encode(genotype: Genotype) -> np.ndarray:
    """A Genotype to the centre of its decoding interval: index k -> k + 0.5."""
    g = validate(genotype)
    ints = []
    for cell in (g.normal, g.reduce):
        for j in range(NUM_NODES):
            (op_a, in_a), (op_b, in_b) = cell[2 * j], cell[2 * j + 1]
            ints += [in_a, PRIMITIVES.index(op_a), in_b, PRIMITIVES.index(op_b)]
    return np.asarray(ints, dtype=np.float64) + 0.5


def encode_population(genotypes: List[Genotype]) -> np.ndarray:
    """Genotypes to an ``(N, 32)`` population (for seeding a search with known cells)."""
    return np.stack([encode(g) for g in genotypes]) if genotypes else np.zeros((0, DIM))


def random_population(n: int, rng: np.random.Generator) -> np.ndarray:
    """N vectors uniform within the bounds."""
    lower, upper = bounds()
    return lower + (upper - lower) * rng.random((n, DIM))
