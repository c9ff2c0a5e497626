"""A search under a budget: the candidates' costs, their feasibility, the Pareto front.

``Budget`` gives the search the costs of each candidate (FLOPs, multiply-adds,
parameters or latency of the network the cell will be used in) and a ``(min, max)``
range per metric; the fast/slow decision then follows Deb's constraint-domination rule
over the sum of the violations, each relative to its bound
(``slow_fast.constrained_first_is_fast``). Costs are cached per genotype and the cache
is part of the search state, so a measured cost (latency) never changes within a
search, across a resume included; a latency cached on another device, thread count or
precision regime is not reused. Plain Python.
"""
import logging
import math
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ..space.cost import Cost
from ..space.genotype import Genotype, format_genotype
from .slow_fast import violation

#: the metrics a budget can bound: those ``space.cost`` counts, and measured latency (ms)
METRICS = tuple(Cost._fields) + ('latency', )
MeasureFn = Callable[[List[Genotype]], List[float]]
#: where a measured cost was taken ('NVIDIA H200, 1 thread(s), tf32'); None: anywhere
ContextFn = Callable[[], str]
Bounds = Tuple[Optional[float], Optional[float]]
logger = logging.getLogger('relnas_mm')


def check_bounds(metric: str, bounds: Any) -> Bounds:
    """``bounds`` as a ``(min, max)`` pair of non-negative numbers or None, min <= max."""
    if metric not in METRICS:
        raise ValueError(f'unknown budget metric {metric!r}; expected one of {METRICS}')
    if not isinstance(bounds, (list, tuple)) or len(bounds) != 2:
        raise ValueError(f'{metric}: expected a (min, max) pair, either end None, got {bounds!r}')
    for value in bounds:
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not math.isfinite(value)):
            raise ValueError(f'{metric}: bounds must be finite numbers or None, got {bounds!r}')
        if value is not None and value < 0:
            raise ValueError(f'{metric}: bound {value!r} is negative')
    low, high = (None if v is None else float(v) for v in bounds)
    if low is None and high is None:
        raise ValueError(f'{metric}: (None, None) bounds nothing; give a min or a max')
    if high == 0:
        raise ValueError(f'{metric}: max 0 leaves no feasible cell')
    if low is not None and high is not None and low > high:
        raise ValueError(f'{metric}: min {low:g} > max {high:g}')
    return low, high


class Budget:
    """The bounded metrics, their ranges and the functions that measure candidates.

    Args:
        bounds: ``{metric: (min, max)}``, either end None, e.g.
            ``dict(flops=(None, 600e6), params=(None, 5.5e6))``.
        measures: ``{metric: costs of a list of genotypes}`` for every bounded metric
            (called with uncached genotypes only; in a multi-process search every rank
            calls it with the same list).
        description: what the costs are of (the network...), stored in the search's
            config fingerprint so a checkpoint resumes only the same budget.
        contexts: ``{metric: context()}`` for measured metrics: where the value is
            taken (device, threads, precision). It is part of the cache key, so a
            resume elsewhere measures again.
    """

    def __init__(self, bounds: Mapping[str, Any], measures: Mapping[str, MeasureFn],
                 description: Optional[Mapping[str, Any]] = None,
                 contexts: Optional[Mapping[str, ContextFn]] = None) -> None:
        if not bounds:
            raise ValueError(f'a budget bounds at least one metric of {METRICS}')
        self.bounds = {m: check_bounds(m, b) for m, b in bounds.items()}
        missing = sorted(set(self.bounds) - set(measures))
        if missing:
            raise ValueError(f'budget: no measure for {missing}')
        self.measures = dict(measures)
        self.description = dict(description or {})
        self.contexts = dict(contexts or {})
        #: cache key (metric, or 'metric on context') -> genotype text -> cost
        self.cache: Dict[str, Dict[str, float]] = {}

    @property
    def metrics(self) -> List[str]:
        return list(self.bounds)

    def cache_key(self, metric: str) -> str:
        context = self.contexts.get(metric)
        return metric if context is None else f'{metric} on {context()}'

    def costs(self, genotypes: Sequence[Genotype]) -> Dict[str, List[float]]:
        """``{metric: cost of each genotype}``, measuring each distinct uncached one once."""
        keys = [format_genotype(g) for g in genotypes]
        out = {}
        for metric in self.bounds:
            cache = self.cache.setdefault(self.cache_key(metric), {})
            missing = {}
            for key, genotype in zip(keys, genotypes):
                if key not in cache:
                    missing.setdefault(key, genotype)
            if missing:
                measured = list(self.measures[metric](list(missing.values())))
                if len(measured) != len(missing):
                    raise RuntimeError(f'budget: the {metric} measure returned '
                                       f'{len(measured)} costs for {len(missing)} genotypes')
                for key, cost in zip(missing, measured):
                    if not math.isfinite(cost) or cost < 0:
                        raise RuntimeError(f'budget: {metric} of {key} is {cost!r}, '
                                           f'expected a finite non-negative number')
                    cache[key] = float(cost)
            out[metric] = [cache[k] for k in keys]
        return out

    def violations(self, costs: Mapping[str, Sequence[float]]) -> List[float]:
        """Per candidate, the sum over metrics of the violation relative to its bound."""
        n = len(next(iter(costs.values())))
        return [sum(violation(costs[m][i], *self.bounds[m]) for m in self.bounds) for i in range(n)]

    def config(self) -> Dict[str, Any]:
        return dict(bounds={m: list(b) for m, b in self.bounds.items()}, **self.description)

    def state_dict(self) -> Dict[str, Any]:
        return dict(cache={k: dict(v) for k, v in self.cache.items()})

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the cache; a measured metric cached elsewhere is measured again (logged)."""
        self.cache = {}
        for key, values in state['cache'].items():
            self.cache[str(key)] = {str(g): float(c) for g, c in values.items()}
        for metric in self.contexts:
            key = self.cache_key(metric)
            elsewhere = [k for k in self.cache if k.startswith(f'{metric} on ') and k != key]
            if elsewhere and not self.cache.get(key):
                logger.warning(
                    'budget: the checkpoint\'s %s values were measured as "%s"; this run '
                    'is "%s", so every candidate\'s %s is measured again here', metric,
                    '", "'.join(k[len(metric) + 4:] for k in elsewhere), key[len(metric) + 4:],
                    metric)


# ----------------------------------------------------------------------------- results
def candidates(history: Sequence[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """Every evaluated candidate of a budgeted search's history (``to_dict`` records).

    One entry per (generation, member): genotype, validation loss (None if
    non-finite) and accuracy, costs (``{metric: cost}``), feasibility.
    """
    out = []
    for record in history:
        if record.get('costs') is None:
            raise ValueError(f'generation {record.get("generation")} of the history has no '
                             f'costs: it is not from a search under a budget')
        for i, genotype in enumerate(record['genotypes']):
            out.append(
                dict(generation=record['generation'], index=i, genotype=genotype,
                     val_loss=record['losses'][i], val_acc=record['accs'][i], costs={
                         m: c[i]
                         for m, c in record['costs'].items()
                     }, feasible=record['feasible'][i]))
    return out


Point = Tuple[Optional[float], Union[float, Sequence[float]]]


def pareto_front(points: Sequence[Point]) -> List[int]:
    """Indices of the non-dominated (loss, cost) points, all minimised, by rising cost.

    ``cost`` is a number or a tuple of costs (several metrics: a point is dominated if
    another is no worse in the loss and every cost). A point with a missing or
    non-finite loss is never on the front; of exact duplicates only the first is kept.
    """

    def costs(i: int) -> Tuple[float, ...]:
        cost = points[i][1]
        return tuple(cost) if isinstance(cost, (list, tuple)) else (cost, )

    usable = [i for i, (loss, _) in enumerate(points) if loss is not None and math.isfinite(loss)]
    # whatever dominates a point comes before it in this order
    order = sorted(usable, key=lambda i: (costs(i), points[i][0], i))
    front: List[int] = []
    for i in order:
        if not any(points[j][0] <= points[i][0] and all(a <= b for a, b in zip(costs(j), costs(i)))
                   for j in front):
            front.append(i)
    return front
