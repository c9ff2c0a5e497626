"""A search under a budget: the candidates' costs, their feasibility, the Pareto front.

``Budget`` gives the search a cost per candidate (FLOPs, parameters or latency of the
network the cell will be used in) and a limit; the fast/slow decision then follows
Deb's constraint-domination rule (``slow_fast.constrained_first_is_fast``). Costs are
cached per genotype and the cache is part of the search state, so a measured cost
(latency) never changes within a search, across a resume included. Plain Python.
"""
import math
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from ..space.genotype import Genotype, format_genotype
from .slow_fast import violation

METRICS = ('flops', 'params', 'latency')
MeasureFn = Callable[[List[Genotype]], List[float]]


class Budget:
    """The cost metric, its limit and the function that measures candidates.

    Args:
        metric: ``'flops'``, ``'params'`` or ``'latency'`` (milliseconds).
        limit: the largest feasible cost (the config's ``max``).
        measure: costs of a list of genotypes (called with the uncached ones only;
            in a multi-process search every rank calls it with the same list).
        description: what the cost is of (the network, the device), stored in the
            search's config fingerprint so a checkpoint resumes only the same budget.
    """

    def __init__(self, metric: str, limit: float, measure: MeasureFn,
                 description: Optional[Mapping[str, Any]] = None) -> None:
        if metric not in METRICS:
            raise ValueError(f'budget metric must be one of {METRICS}, got {metric!r}')
        if isinstance(limit, bool) or not isinstance(limit, (int, float)) \
                or not math.isfinite(limit) or limit <= 0:
            raise ValueError(f'budget max must be a positive number, got {limit!r}')
        self.metric = metric
        self.limit = float(limit)
        self.measure = measure
        self.description = dict(description or {})
        self.cache: Dict[str, float] = {}

    def costs(self, genotypes: Sequence[Genotype]) -> List[float]:
        """The cost of each genotype, measuring each distinct uncached genotype once."""
        keys = [format_genotype(g) for g in genotypes]
        missing = {}
        for key, genotype in zip(keys, genotypes):
            if key not in self.cache:
                missing.setdefault(key, genotype)
        if missing:
            measured = list(self.measure(list(missing.values())))
            if len(measured) != len(missing):
                raise RuntimeError(f'budget: the {self.metric} measure returned '
                                   f'{len(measured)} costs for {len(missing)} genotypes')
            for key, cost in zip(missing, measured):
                if not math.isfinite(cost) or cost < 0:
                    raise RuntimeError(f'budget: {self.metric} of {key} is {cost!r}, '
                                       f'expected a finite non-negative number')
                self.cache[key] = float(cost)
        return [self.cache[k] for k in keys]

    def violation(self, cost: float) -> float:
        return violation(cost, self.limit)

    def config(self) -> Dict[str, Any]:
        return dict(metric=self.metric, max=self.limit, **self.description)

    def state_dict(self) -> Dict[str, Any]:
        return dict(cache=dict(self.cache))

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.cache = {str(k): float(v) for k, v in state['cache'].items()}


# ----------------------------------------------------------------------------- results
def candidates(history: Sequence[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """Every evaluated candidate of a budgeted search's history (``to_dict`` records).

    One entry per (generation, member): genotype, validation loss (None if
    non-finite) and accuracy, cost, feasibility.
    """
    out = []
    for record in history:
        if record.get('costs') is None:
            raise ValueError(f'generation {record.get("generation")} of the history has no '
                             f'costs: it is not from a search under a budget')
        for i, genotype in enumerate(record['genotypes']):
            out.append(
                dict(generation=record['generation'], index=i, genotype=genotype,
                     val_loss=record['losses'][i], val_acc=record['accs'][i],
                     cost=record['costs'][i], feasible=record['feasible'][i]))
    return out


def pareto_front(points: Sequence[Tuple[Optional[float], float]]) -> List[int]:
    """Indices of the non-dominated (loss, cost) points, both minimised, by rising cost.

    A point with a missing or non-finite loss is never on the front; of exact
    duplicates only the first is kept.
    """
    usable = [i for i, (loss, _) in enumerate(points) if loss is not None and math.isfinite(loss)]
    order = sorted(usable, key=lambda i: (points[i][1], points[i][0], i))
    front, best_loss = [], math.inf
    for i in order:
        if points[i][0] < best_loss:
            front.append(i)
            best_loss = points[i][0]
    return front
