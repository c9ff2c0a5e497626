"""RelativeNAS: slow-fast learning over a population, candidates estimated from a weight set.

``RelativeNAS`` owns the whole search state (population, velocities, weight set,
numpy RNG, generation counter, history) and runs one generation at a time through
a caller-supplied ``evaluate(jobs) -> results`` function. It knows nothing of
processes or devices: a distributed engine may split the jobs across ranks as long
as every rank receives the same results, and the search stays identical everywhere
because everything else is derived from the seeded state.
"""
import math
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import numpy as np
import torch

from ..models.supernet import SuperNet, supernet_config, used_modules
from ..space.encoding import DIM, bounds, decode_population, random_population
from ..space.genotype import Genotype, format_genotype, parse_genotype
from ..space.operations import PRIMITIVES
from .budget import Budget
from .checkpoint import check_same_config
from .evaluator import CandidateJob, CandidateResult
from .numerics import Device
from .slow_fast import (check_pop_size, constrained_first_is_fast, diversity, draw_coefficients,
                        fitness, initial_population, make_pairs, slow_fast_update, split_fast_slow)
from .weight_set import Contribution, WeightSet

EvaluateFn = Callable[[List[CandidateJob]], List[CandidateResult]]
ProgressFn = Callable[[int, int], None]
WRITEBACK_MODES = ('pair', 'generation')
#: under a budget: how often a slow learner that would leave the feasible region halves
#: its step before it stays where it is
REPAIR_HALVINGS = 3
#: under a budget: how often an infeasible member of the first population is redrawn
REDRAW_ROUNDS = 30
BUDGET_FIELDS = ('costs', 'violations', 'feasible', 'best_cost', 'repairs', 'redrawn')


def _finite_or_none(values: Sequence[float]) -> List[Optional[float]]:
    return [float(v) if math.isfinite(v) else None for v in values]


@dataclass
class GenerationRecord:
    """What happened in one generation (the population as evaluated, before the update).

    In ``to_dict`` a non-finite loss or accuracy becomes None (JSON has no NaN).
    Under a budget it also holds each member's costs (``{metric: [cost per member]}``),
    violation (see ``Budget.violations``) and feasibility, the best member's costs (the
    best is then the first under the budget's rule), the number of slow learners whose
    move was repaired to keep them feasible, and the number of members of the first
    population that were redrawn (generation 0 only); without a budget these fields are
    None and left out of ``to_dict``.
    """

    generation: int
    lr: float
    drop_prob: float
    pairs: List[List[int]]
    losses: List[float]
    accs: List[float]
    train_losses: List[float]
    fast: List[int]
    slow: List[int]
    best_index: int
    best_loss: float
    best_acc: float
    mean_loss: float
    diversity: float
    best_genotype: str
    genotypes: List[str]
    nonfinite: List[int] = field(default_factory=list)
    costs: Optional[Dict[str, List[float]]] = None
    violations: Optional[List[float]] = None
    feasible: Optional[List[bool]] = None
    best_cost: Optional[Dict[str, float]] = None
    repairs: Optional[int] = None
    redrawn: Optional[int] = None

    def to_dict(self) -> Dict[str, Any]:
        out = asdict(self)
        if self.costs is None:
            for key in BUDGET_FIELDS:
                del out[key]
        for key in ('losses', 'accs', 'train_losses'):
            out[key] = _finite_or_none(out[key])
        for key in ('best_loss', 'best_acc', 'mean_loss'):
            out[key] = _finite_or_none([out[key]])[0]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> 'GenerationRecord':
        data = dict(data)
        nan = float('nan')
        for key in ('losses', 'accs', 'train_losses'):
            data[key] = [nan if v is None else v for v in data[key]]
        for key in ('best_loss', 'best_acc', 'mean_loss'):
            data[key] = nan if data[key] is None else data[key]
        return cls(**data)


def _at(costs: Mapping[str, List[float]], index: int) -> Dict[str, float]:
    """One member's costs, ``{metric: cost}``."""
    return {metric: values[index] for metric, values in costs.items()}


def _ranking_loss(result: CandidateResult) -> float:
    """The loss used to rank: +inf for a candidate flagged non-finite or with a bad loss."""
    return fitness(result.loss) if result.finite else math.inf


def job_seed(seed: int, generation: int, index: int) -> int:
    """A 63-bit seed for one candidate, a pure function of (search seed, generation, index)."""
    state = np.random.SeedSequence([seed, generation, index]).generate_state(1, np.uint64)
    return int(state[0] >> np.uint64(1))


def lr_at(generation: int, generations: int, lr_max: float, lr_min: float) -> float:
    """Cosine annealing from lr_max (generation 0) toward lr_min over ``generations``."""
    return lr_min + (lr_max - lr_min) * (1 + math.cos(math.pi * generation / generations)) / 2


def drop_prob_at(generation: int, generations: int, drop_path_max: float) -> float:
    """Drop-path rate ramped linearly from 0: ``drop_path_max * g / G``."""
    return drop_path_max * generation / generations


class RelativeNAS:
    """The search state and one-generation step.

    Args:
        pop_size: population size N (even).
        generations: number of generations G.
        lr_max, lr_min: the per-generation cosine learning-rate range.
        drop_path_max: drop-path rate reached at the end of the ramp.
        writeback: 'pair' (faithful: pairs run in sequence, each from the set as
            updated by earlier pairs) or 'generation' (all candidates of a generation
            start from the set at generation start; write-backs then in pair order).
        seed: seeds the population, the pairings, r1/r2, the job seeds and the
            initial weight set.
        init_population: optional ``(k, 32)`` array or list of Genotypes placed
            first in the initial population.
        model_cfg: SuperNet keyword arguments (channels, num_cells, num_classes,
            stem_multiplier).
        device: where the weight set lives.
        budget: optional cost ranges; the fast learner of a pair is then chosen by
            Deb's constraint-domination rule (see ``slow_fast``), infeasible members of
            the first population are redrawn (up to ``REDRAW_ROUNDS`` times each, seed
            cells excepted) and a feasible slow learner whose move would make it
            infeasible halves its step (up to ``REPAIR_HALVINGS`` times) or else stays.
            Without it the search is exactly the unconstrained one.
    """

    def __init__(self, pop_size: int = 20, generations: int = 50, lr_max: float = 0.1,
                 lr_min: float = 0.001, drop_path_max: float = 0.3, writeback: str = 'pair',
                 seed: int = 0, init_population: Optional[Sequence] = None,
                 model_cfg: Optional[Mapping[str, Any]] = None, device: Device = 'cpu',
                 budget: Optional[Budget] = None) -> None:
        check_pop_size(pop_size)
        if isinstance(generations, bool) or not isinstance(generations, int) or generations < 1:
            raise ValueError(f'generations must be a positive integer, got {generations!r}')
        if writeback not in WRITEBACK_MODES:
            raise ValueError(f'writeback must be one of {WRITEBACK_MODES}, got {writeback!r}')
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f'seed must be a non-negative integer, got {seed!r}')
        self.pop_size = pop_size
        self.generations = generations
        self.lr_max, self.lr_min = float(lr_max), float(lr_min)
        self.drop_path_max = float(drop_path_max)
        self.writeback = writeback
        self.seed = seed
        self.budget = budget
        self.model_cfg = supernet_config(**(model_cfg or {}))
        self.lower, self.upper = bounds()
        self.rng = np.random.default_rng(seed)
        self.population, self.velocity = initial_population(pop_size, self.rng, init_population)
        self.num_seeds = len(init_population) if init_population is not None else 0
        self.generation = 0
        self.history: List[GenerationRecord] = []
        self.weight_set = WeightSet(self._initial_weights(seed), device=device)

    def _initial_weights(self, seed: int) -> Dict[str, torch.Tensor]:
        """A SuperNet's initial state from ``seed``, without touching the global RNG."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return SuperNet(**self.model_cfg).state_dict()

    @property
    def finished(self) -> bool:
        return self.generation >= self.generations

    def genotypes(self) -> List[Genotype]:
        """The current population decoded."""
        return decode_population(self.population)

    def best_genotype(self) -> Genotype:
        """The member with the lowest validation loss in the last evaluated generation."""
        if not self.history:
            raise RuntimeError('best_genotype: no generation has been evaluated yet')
        return parse_genotype(self.history[-1].best_genotype)

    def current_lr(self) -> float:
        return lr_at(self.generation, self.generations, self.lr_max, self.lr_min)

    def current_drop_prob(self) -> float:
        return drop_prob_at(self.generation, self.generations, self.drop_path_max)

    # ----------------------------------------------------------------- one generation
    def run_generation(self, evaluate: EvaluateFn,
                       progress: Optional[ProgressFn] = None) -> GenerationRecord:
        """Evaluate every member once, write back pair by pair, move the slow learners.

        ``evaluate`` is called once per pair ('pair' mode) or once with all N jobs
        ('generation' mode); ``progress(done, total)`` counts evaluated candidates.
        The state changes only when the whole generation succeeded.
        """
        if self.finished:
            raise RuntimeError(f'the search is finished ({self.generations} generations)')
        rng_state = self.rng.bit_generator.state
        population = self.population
        try:
            return self._run_generation(evaluate, progress)
        except BaseException:
            self.rng.bit_generator.state = rng_state
            self.population = population
            raise

    def _run_generation(self, evaluate: EvaluateFn,
                        progress: Optional[ProgressFn]) -> GenerationRecord:
        g, n = self.generation, self.pop_size
        lr, drop_prob = self.current_lr(), self.current_drop_prob()
        redrawn = self._redraw_infeasible() if g == 0 and self.budget is not None else 0
        genotypes = decode_population(self.population)
        pairs = make_pairs(n, self.rng)
        weights = self.weight_set.copy()  # committed only if the generation completes
        results: Dict[int, CandidateResult] = {}
        costs = self.budget.costs(genotypes) if self.budget is not None else None
        violations = self.budget.violations(costs) if costs is not None else [0.0] * n

        def job(index: int, snapshot: Mapping[str, torch.Tensor]) -> CandidateJob:
            return CandidateJob(index=index, genotype=genotypes[index], weights=snapshot, lr=lr,
                                drop_prob=drop_prob, seed=job_seed(self.seed, g, index))

        def run(jobs: List[CandidateJob]) -> None:
            results.update(self._checked(evaluate(jobs), jobs))
            if progress is not None:
                progress(len(results), n)

        if self.writeback == 'pair':
            for a, b in pairs.tolist():
                snapshot = weights.snapshot()
                run([job(a, snapshot), job(b, snapshot)])
                self._write_back(weights, results, a, b, genotypes, violations)
        else:
            snapshot = weights.snapshot()
            run([job(i, snapshot) for i in pairs.reshape(-1).tolist()])
            for a, b in pairs.tolist():
                self._write_back(weights, results, a, b, genotypes, violations)

        nonfinite = self._warn_nonfinite(results, genotypes)
        fast, slow = split_fast_slow(pairs, [_ranking_loss(results[i]) for i in range(n)],
                                     violations)
        r1, r2 = draw_coefficients(self.rng, len(pairs))
        x, v = slow_fast_update(self.population, self.velocity, fast, slow, r1, r2, self.lower,
                                self.upper)
        repairs = None
        if self.budget is not None:  # the slow learners that were feasible stay feasible
            repairs = self._repair_moves(x, v, [s for s in slow.tolist() if violations[s] == 0])
        record = self._record(g, lr, drop_prob, pairs, results, fast, slow, genotypes, nonfinite,
                              costs, violations)
        if costs is not None:
            record.repairs, record.redrawn = repairs, redrawn
        self.population, self.velocity = x, v
        self.weight_set = weights
        self.history.append(record)
        self.generation += 1
        return record

    # ----------------------------------------------------------------- feasibility kept
    def _violations(self, x: np.ndarray) -> List[float]:
        """The budget violation of each position's genotype (costs cached)."""
        return self.budget.violations(self.budget.costs(decode_population(x)))

    def _feasible(self, x: np.ndarray) -> List[bool]:
        """Whether each position's genotype meets the budget."""
        return [v == 0 for v in self._violations(x)]

    def _redraw_infeasible(self) -> int:
        """Redraw the infeasible uniform members of the first population, round by round,
        each keeping its least-violating draw; returns how many were replaced.

        Seed cells (``init_population``) are kept as given. No random number is drawn
        when every member fits, so a budget every cell meets changes nothing.
        """
        x = self.population.copy()
        violations = self._violations(x)
        todo = [i for i in range(self.num_seeds, self.pop_size) if violations[i] > 0]
        replaced = set()
        for _ in range(REDRAW_ROUNDS):
            if not todo:
                break
            draws = random_population(len(todo), self.rng)
            drawn = self._violations(draws)
            for i, draw, v in zip(todo, draws, drawn):
                if v < violations[i]:
                    x[i], violations[i] = draw, v
                    replaced.add(i)
            todo = [i for i in todo if violations[i] > 0]
        self.population = x
        return len(replaced)

    def _repair_moves(self, x: np.ndarray, v: np.ndarray, movers: List[int]) -> int:
        """Keep feasible slow learners feasible, in place: a mover whose new position is
        infeasible halves its step (the velocity it applies), up to ``REPAIR_HALVINGS``
        times, else stays where it was with zero velocity; returns how many were repaired.

        **Decision**: the velocity kept is the step actually taken, so a repaired
        learner does not push on toward the infeasible region next generation.
        """
        start = self.population
        todo = [i for i, ok in zip(movers, self._feasible(x[movers])) if not ok] if movers else []
        repaired = len(todo)
        for _ in range(REPAIR_HALVINGS):
            if not todo:
                break
            v[todo] = v[todo] / 2
            x[todo] = np.clip(start[todo] + v[todo], self.lower, self.upper)
            todo = [i for i, ok in zip(todo, self._feasible(x[todo])) if not ok]
        x[todo], v[todo] = start[todo], 0.0
        return repaired

    @staticmethod
    def _checked(results: List[CandidateResult],
                 jobs: List[CandidateJob]) -> Dict[int, CandidateResult]:
        expected = sorted(j.index for j in jobs)
        got = sorted(r.index for r in results)
        if got != expected:
            raise RuntimeError(f'evaluate returned results for candidates {got}, '
                               f'expected exactly {expected}')
        return {r.index: r for r in results}

    def _write_back(self, weights: WeightSet, results: Mapping[int, CandidateResult], a: int,
                    b: int, genotypes: List[Genotype], violations: Sequence[float]) -> None:
        a_fast = constrained_first_is_fast(
            _ranking_loss(results[a]), violations[a], _ranking_loss(results[b]), violations[b])
        fast, slow = (a, b) if a_fast else (b, a)

        def contribution(i: int) -> Contribution:
            usable = math.isfinite(_ranking_loss(results[i]))
            return Contribution(
                used_modules(genotypes[i], self.model_cfg['num_cells']),
                results[i].state if usable else None)

        weights.write_back(contribution(fast), contribution(slow))

    def _warn_nonfinite(self, results: Mapping[int, CandidateResult],
                        genotypes: List[Genotype]) -> List[int]:
        bad = [i for i in sorted(results) if not math.isfinite(_ranking_loss(results[i]))]
        for i in bad:
            warnings.warn(
                f'RelativeNAS generation {self.generation}: candidate {i} '
                f'({format_genotype(genotypes[i])}) has a non-finite loss '
                f'(validation {results[i].loss}, training {results[i].train_loss}); '
                f'it gets the worst fitness and its weights are not written back', RuntimeWarning)
        return bad

    def _record(self, g: int, lr: float, drop_prob: float, pairs: np.ndarray,
                results: Mapping[int, CandidateResult], fast: np.ndarray, slow: np.ndarray,
                genotypes: List[Genotype], nonfinite: List[int], costs: Optional[List[float]],
                violations: Sequence[float]) -> GenerationRecord:
        n = self.pop_size
        losses = [float(results[i].loss) for i in range(n)]
        # the first member under the rule of the fast/slow decision
        best = min(range(n), key=lambda i: (violations[i], _ranking_loss(results[i])))
        finite = [v for i, v in enumerate(losses) if i not in nonfinite]
        return GenerationRecord(
            generation=g, lr=lr, drop_prob=drop_prob, pairs=pairs.tolist(), losses=losses,
            accs=[float(results[i].acc)
                  for i in range(n)], train_losses=[float(results[i].train_loss) for i in range(n)
                                                    ], fast=fast.tolist(), slow=slow.tolist(),
            best_index=best, best_loss=losses[best], best_acc=float(results[best].acc),
            mean_loss=float(np.mean(finite)) if finite else math.nan,
            diversity=diversity(self.population), best_genotype=format_genotype(genotypes[best]),
            genotypes=[format_genotype(x) for x in genotypes], nonfinite=nonfinite, costs=costs,
            violations=None if costs is None else list(violations),
            feasible=None if costs is None else [v == 0 for v in violations],
            best_cost=None if costs is None else _at(costs, best))

    # ----------------------------------------------------------------- checkpointing
    def config(self) -> Dict[str, Any]:
        """The fingerprint a checkpoint must match to be resumed by this search."""
        budget = {} if self.budget is None else dict(budget=self.budget.config())
        return dict(
            pop_size=self.pop_size, generations=self.generations, lr_max=self.lr_max,
            lr_min=self.lr_min, drop_path_max=self.drop_path_max, writeback=self.writeback,
            seed=self.seed, space=dict(dim=DIM, primitives=list(PRIMITIVES),
                                       lower=self.lower.tolist(), upper=self.upper.tolist()),
            model=dict(self.model_cfg), **budget)

    def state_dict(self) -> Dict[str, Any]:
        """Everything an exact resume needs, as tensors and plain Python values.

        (No numpy objects, so ``torch.load(..., weights_only=True)`` can read it.)
        """
        budget = {} if self.budget is None else dict(budget=self.budget.state_dict())
        return dict(config=self.config(), generation=self.generation,
                    population=torch.from_numpy(self.population.copy()),
                    velocity=torch.from_numpy(self.velocity.copy()),
                    rng=self.rng.bit_generator.state, weight_set=self.weight_set.state_dict(),
                    history=[r.to_dict() for r in self.history], **budget)

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a state from ``state_dict``; a different config or space is refused."""
        missing = [
            k for k in ('config', 'generation', 'population', 'velocity', 'rng', 'weight_set',
                        'history') if k not in state
        ]
        if missing:
            raise KeyError(f'RelativeNAS state lacks key(s) {missing}')
        check_same_config(
            state['config'], self.config(),
            'checkpoint search config differs at {key!r}: checkpoint has {old!r}, this '
            'search has {new!r}; it was made by a different search (config or search '
            'space) and cannot be resumed here')
        shape = (self.pop_size, DIM)
        for key in ('population', 'velocity'):
            if tuple(state[key].shape) != shape:
                raise ValueError(f'RelativeNAS state {key!r}: shape {tuple(state[key].shape)}, '
                                 f'expected {shape}')
        self.weight_set.load_state_dict(state['weight_set'])
        self.population = torch.as_tensor(state['population']).double().numpy().copy()
        self.velocity = torch.as_tensor(state['velocity']).double().numpy().copy()
        self.rng.bit_generator.state = state['rng']
        self.generation = int(state['generation'])
        self.history = [GenerationRecord.from_dict(r) for r in state['history']]
        if self.budget is not None:
            self.budget.load_state_dict(state['budget'])
