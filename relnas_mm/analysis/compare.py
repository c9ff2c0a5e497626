"""Searched cells against random cells at equal budget: cells, sampling, size matching, statistics.

A searched cell means little until it beats cells drawn at random from the same
space and trained the same way (Lindauer & Hutter's NAS checklist). Random cells
come from the search's own initial distribution (uniform in the 32-number
encoding); ``--match-size`` keeps only those whose parameter count is close to a
reference, because bigger cells tend to win. Plain numpy: the parameter counter is
passed in, so everything here is testable without building networks.
"""
import math
import os
import re
from typing import Callable, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from ..space.encoding import decode, random_population
from ..space.genotype import GENOTYPES, Genotype, GenotypeError, format_genotype, get_genotype

#: ``--match-size`` keeps random cells within this relative distance of the reference size.
SIZE_TOLERANCE = 0.1
#: Mixed into the sampling seed: a search seeded with the same number draws its first
#: population from ``default_rng(seed)``, and its searched cell may be one of those
#: members, so random cells must come from another stream.
_SAMPLING_STREAM = 0x636f6d70
RANDOM_PREFIX = 'random_'
_LABEL = re.compile(r'^([A-Za-z0-9_.-]+)=(.+)$', re.S)


class Cell(NamedTuple):
    """A cell of the comparison: ``kind`` is ``'named'`` (from ``--cells``) or ``'random'``."""

    name: str
    kind: str
    genotype: Genotype
    spec: str


def _default_name(spec: str, index: int) -> str:
    """A readable label: a shipped name as is, a search's ``best_genotype.json`` by its
    work dir, another file by its stem, DARTS text by its position."""
    if spec in GENOTYPES:
        return spec
    if spec.lstrip().startswith('Genotype('):
        return f'cell{index}'
    path = os.path.abspath(spec)
    stem = os.path.splitext(os.path.basename(path))[0]
    if stem == 'best_genotype':
        return os.path.basename(os.path.dirname(path)) or stem
    return stem


def named_cells(specs: Sequence[str]) -> List[Cell]:
    """Resolve ``--cells`` entries: ``SPEC`` or ``LABEL=SPEC``, where SPEC is anything
    ``genotype=`` accepts in a config. Labels must be unique and must not look like
    the random cells' names."""
    cells: List[Cell] = []
    for i, entry in enumerate(specs):
        match = _LABEL.match(entry)
        if match and not os.path.exists(entry) and entry not in GENOTYPES:
            name, spec = match.groups()
        else:
            name, spec = _default_name(entry, i), entry
        try:
            genotype = get_genotype(spec)
        except GenotypeError as exc:
            raise GenotypeError(f'--cells {entry!r}: {exc}') from None
        if name.startswith(RANDOM_PREFIX):
            raise ValueError(f'--cells {entry!r}: the label {name!r} is reserved for random '
                             f'cells; name it LABEL=SPEC with another label')
        if any(c.name == name for c in cells):
            raise ValueError(f'--cells: two cells are labelled {name!r}; name them '
                             f'LABEL=SPEC to tell them apart')
        cells.append(Cell(name, 'named', genotype, spec))
    return cells


def within_size(params: int, reference: int, tolerance: float = SIZE_TOLERANCE) -> bool:
    """True if ``params`` is within ``±tolerance`` (relative) of ``reference``."""
    return abs(params - reference) <= tolerance * reference


def sampling_rng(seed: int) -> np.random.Generator:
    """The random cells' generator for ``--sample-seed``, independent of any search's."""
    return np.random.default_rng([seed, _SAMPLING_STREAM])


def draw_random_cells(count: int, rng: np.random.Generator,
                      count_params: Optional[Callable[[Genotype], int]] = None,
                      reference_params: Optional[int] = None, tolerance: float = SIZE_TOLERANCE,
                      max_draws: int = 2000, exclude: Sequence[Genotype] = ()) -> List[Cell]:
    """``count`` distinct random cells, drawn one at a time from the search's initial
    distribution; a draw equal to a cell in ``exclude`` (the named cells) is skipped.

    With ``reference_params``, a draw is kept only if ``count_params(genotype)`` is within
    ``±tolerance`` of it. The draws depend on ``rng`` alone, so the same seed gives the
    same cells (a resumed comparison finds the cells it started with), and the first k
    of ``count`` cells are those of a call with ``count=k``.
    """
    if count < 0:
        raise ValueError(f'--random must be >= 0, got {count}')
    if reference_params is not None and count_params is None:
        raise ValueError('size matching needs count_params')
    cells: List[Cell] = []
    sizes: List[int] = []
    for _ in range(max_draws):
        if len(cells) == count:
            break
        genotype = decode(random_population(1, rng)[0])
        if genotype in exclude or any(c.genotype == genotype for c in cells):
            continue
        if reference_params is not None:
            sizes.append(int(count_params(genotype)))
            if not within_size(sizes[-1], reference_params, tolerance):
                continue
        cells.append(
            Cell(f'{RANDOM_PREFIX}{len(cells):02d}', 'random', genotype, format_genotype(genotype)))
    if len(cells) < count and reference_params is None:
        raise RuntimeError(f'{len(cells)} of {count} random cells after {max_draws} draws: '
                           '--max-draws must be at least --random')
    if len(cells) < count:
        drawn = f' (drawn sizes {min(sizes):,}..{max(sizes):,})' if sizes else ''
        raise RuntimeError(
            f'--match-size: {len(cells)} of {count} random cells lie within ±{tolerance:.0%} of '
            f'the reference ({reference_params:,} parameters) after {max_draws} draws{drawn}; '
            'the reference is far from a typical random cell: raise --max-draws or drop '
            '--match-size')
    return cells


# ----------------------------------------------------------------------------- statistics
def percentile_among(value: float, others: Sequence[float]) -> float:
    """Percentage of ``others`` below ``value``, ties counted half (mid-rank)."""
    others = np.asarray(others, dtype=np.float64)
    if others.size == 0:
        return math.nan
    return float(100.0 * ((others < value).sum() + 0.5 * (others == value).sum()) / others.size)


def bootstrap_difference(named: Sequence[float], random_means: Sequence[float],
                         rng: np.random.Generator, samples: int = 10000,
                         level: float = 0.95) -> Tuple[float, float]:
    """Bootstrap interval of (named cell's mean over seeds) - (median of random cells' means).

    Both sources of noise are resampled: the named cell's seeds, and which random cells
    were drawn (each random cell counts once, by its mean over seeds).
    """
    named, random_means = np.asarray(named, float), np.asarray(random_means, float)
    if named.size == 0 or random_means.size == 0:
        return math.nan, math.nan
    a = rng.choice(named, size=(samples, named.size)).mean(axis=1)
    r = np.median(rng.choice(random_means, size=(samples, random_means.size)), axis=1)
    tail = 100.0 * (1.0 - level) / 2.0
    low, high = np.percentile(a - r, [tail, 100.0 - tail])
    return float(low), float(high)


def cell_accuracies(runs: Sequence[Mapping], metric: str = 'top1') -> Dict[str, List[float]]:
    """Per cell, its runs' accuracies in seed order."""
    per_cell: Dict[str, List[Tuple[int, float]]] = {}
    for run in runs:
        per_cell.setdefault(run['cell'], []).append((int(run['seed']), float(run[metric])))
    return {cell: [acc for _, acc in sorted(values)] for cell, values in per_cell.items()}


def summarize(cells: Sequence[Mapping], runs: Sequence[Mapping], bootstrap: int = 10000,
              seed: int = 0) -> Dict[str, object]:
    """The numbers of compare.md from compare.json's ``cells`` and ``runs``.

    ``cells`` are dicts with ``name``, ``kind``, ``params``, ``flops``; cells without a
    finished run are left out. Each named cell's bootstrap uses its own stream
    (``seed``, its position), so adding a cell does not change the others' intervals.
    """
    accs = cell_accuracies(runs)
    rows = []
    for cell in cells:
        values = accs.get(cell['name'])
        if not values:
            continue
        rows.append(
            dict(name=cell['name'], kind=cell['kind'], params=cell['params'], flops=cell['flops'],
                 seeds=len(values), mean=float(np.mean(values)),
                 std=float(np.std(values, ddof=1)) if len(values) > 1 else math.nan,
                 min=float(np.min(values)), max=float(np.max(values))))
    random_means = [r['mean'] for r in rows if r['kind'] == 'random']
    summary: Dict[str, object] = dict(
        cells=rows, random=dict(
            count=len(random_means),
            median=float(np.median(random_means)) if random_means else math.nan,
            min=float(np.min(random_means)) if random_means else math.nan,
            max=float(np.max(random_means)) if random_means else math.nan))
    named = []
    for i, row in enumerate(r for r in rows if r['kind'] == 'named'):
        rng = np.random.default_rng([seed, i])
        low, high = bootstrap_difference(accs[row['name']], random_means, rng, bootstrap)
        named.append(
            dict(name=row['name'], mean=row['mean'],
                 percentile=percentile_among(row['mean'], random_means),
                 difference=row['mean'] - summary['random']['median'], ci_low=low, ci_high=high))
    summary['named'] = named
    return summary


def _num(value: float, digits: int = 2) -> str:
    return 'n/a' if value is None or not math.isfinite(value) else f'{value:.{digits}f}'


def format_report(summary: Mapping, header: Sequence[str] = ()) -> str:
    """compare.md: per cell mean ± std over seeds, params, FLOPs; the random cells' median
    and range; each named cell's percentile and bootstrap interval."""
    lines = ['# Searched cells vs random cells', '']
    lines += [f'- {line}' for line in header]
    lines += [
        '', '| cell | kind | top-1 mean ± std (%) | seeds | min..max | params (M) '
        '| FLOPs (M) |', '|---|---|---|---|---|---|---|'
    ]
    for r in summary['cells']:
        lines.append(f"| {r['name']} | {r['kind']} | {_num(r['mean'])} ± {_num(r['std'])} "
                     f"| {r['seeds']} | {_num(r['min'])}..{_num(r['max'])} "
                     f"| {_num(r['params'] / 1e6, 3)} | {_num(r['flops'] / 1e6, 1)} |")
    rnd = summary['random']
    lines += [
        '', f"Random cells: {rnd['count']}, median top-1 {_num(rnd['median'])} %, "
        f"range {_num(rnd['min'])}..{_num(rnd['max'])} % (each cell by its mean over "
        'seeds).', ''
    ]
    if summary['named']:
        lines += [
            '| cell | top-1 mean (%) | percentile among random | difference to random '
            'median | bootstrap 95% interval |', '|---|---|---|---|---|'
        ]
        for r in summary['named']:
            lines.append(f"| {r['name']} | {_num(r['mean'])} | {_num(r['percentile'], 1)} "
                         f"| {_num(r['difference'])} | [{_num(r['ci_low'])}, "
                         f"{_num(r['ci_high'])}] |")
    return '\n'.join(lines) + '\n'
