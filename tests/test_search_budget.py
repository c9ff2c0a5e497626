"""A search under a budget: Deb's rule, costs in the history, the cache, the Pareto front.

The evaluator is a cheap deterministic stand-in (losses from the job seeds), so these
tests check the search logic alone; tests/test_tools_search_budget.py runs real searches.
"""
import json
import math
import os

import numpy as np
import pytest
import torch

from relnas_mm.search.algorithm import RelativeNAS
from relnas_mm.search.budget import Budget, candidates, pareto_front
from relnas_mm.search.evaluator import CandidateResult
from relnas_mm.search.slow_fast import constrained_first_is_fast, split_fast_slow, violation
from relnas_mm.space.cost import NETWORKS, network_cost

CFG = dict(channels=4, num_cells=3, num_classes=2)
GOLDEN = os.path.join(os.path.dirname(__file__), 'golden', 'unconstrained_search_history.json')


def evaluate(jobs):
    """Losses from the job seeds; candidate 1 always 1.0, candidate 2 always NaN."""
    out = []
    for job in jobs:
        loss = 1.0 if job.index == 1 else (job.seed % 997) / 997
        if job.index == 2:
            loss = math.nan
        state = {k: v + (job.index + 1) for k, v in job.weights.items()}
        out.append(
            CandidateResult(job.index, loss, (job.seed % 89) / 89, 1.0, state,
                            finite=math.isfinite(loss)))
    return out


def _run(budget=None, **kwargs):
    search = RelativeNAS(**{
        **dict(pop_size=6, generations=4, model_cfg=CFG, seed=3),
        **kwargs
    }, budget=budget)
    while not search.finished:
        search.run_generation(evaluate)
    return search


def flops_budget(limit, calls=None):
    spec = NETWORKS['imagenet_mobile']

    def measure(genotypes):
        if calls is not None:
            calls.append(len(genotypes))
        return [network_cost(g, spec).flops for g in genotypes]

    return Budget('flops', limit, measure, dict(network='imagenet_mobile'))


# ----------------------------------------------------------------------------- the rule
def test_deb_rule():
    assert violation(5.0, 10.0) == 0.0 and violation(12.5, 10.0) == 2.5
    # feasible beats infeasible, whatever the losses (a NaN loss included)
    assert constrained_first_is_fast(9.0, 0.0, 0.1, 1.0)
    assert not constrained_first_is_fast(0.1, 1.0, 9.0, 0.0)
    assert constrained_first_is_fast(math.nan, 0.0, 0.1, 0.5)
    # two infeasible: the smaller excess wins, the loss does not matter
    assert constrained_first_is_fast(9.0, 0.5, 0.1, 2.0)
    assert not constrained_first_is_fast(0.1, 2.0, 9.0, 0.5)
    # two feasible: the lower loss; a tie goes to the first member
    assert constrained_first_is_fast(0.2, 0.0, 0.3, 0.0)
    assert not constrained_first_is_fast(0.3, 0.0, 0.2, 0.0)
    assert constrained_first_is_fast(0.3, 0.0, 0.3, 0.0)
    assert constrained_first_is_fast(math.nan, 0.0, math.inf, 0.0)
    fast, slow = split_fast_slow(
        np.array([[0, 1], [2, 3]]), [0.1, 0.9, 0.1, 0.9], [3.0, 0.0, 0.0, 0.0])
    assert fast.tolist() == [1, 2] and slow.tolist() == [0, 3]


# ----------------------------------------------------------------------------- no budget
@pytest.mark.parametrize('writeback', ['pair', 'generation'])
def test_without_budget_the_history_is_the_one_before_budgets_existed(writeback):
    """tests/golden/unconstrained_search_history.json: this run (``_run``) by commit e0afcf8,
    before budgets existed."""
    with open(GOLDEN) as f:
        golden = json.load(f)[writeback]
    search = _run(writeback=writeback)
    history = json.loads(json.dumps([r.to_dict() for r in search.history]))
    assert history == golden['history']
    assert search.population.tolist() == golden['population']
    assert search.velocity.tolist() == golden['velocity']
    assert 'budget' not in search.config() and 'budget' not in search.state_dict()


def test_a_budget_every_candidate_meets_decides_as_no_budget():
    free, loose = _run(), _run(flops_budget(1e12))
    assert np.array_equal(free.population, loose.population)
    assert all(torch.equal(free.weight_set[k], loose.weight_set[k]) for k in free.weight_set)
    for a, b in zip(free.history, loose.history):
        record = b.to_dict()
        assert all(record.pop('feasible')) and record.pop('costs') and record.pop('best_cost')
        assert json.dumps(a.to_dict()) == json.dumps(record)


# ----------------------------------------------------------------------------- with a budget
def test_tight_budget_drives_the_population_below_it():
    start = RelativeNAS(pop_size=10, generations=1, model_cfg=CFG, seed=3).genotypes()
    initial = [network_cost(g, NETWORKS['imagenet_mobile']).flops for g in start]
    limit = float(np.percentile(initial, 25))  # tighter than the median random cell
    search = _run(flops_budget(limit), generations=30, pop_size=10)
    first, last = search.history[0], search.history[-1]
    assert np.mean(first.costs) > limit
    assert np.mean(last.costs) < limit
    assert last.feasible[last.best_index] and last.best_cost <= limit
    assert last.best_cost == last.costs[last.best_index]
    # the best is the lowest loss among the feasible members of the last generation
    feasible = [i for i in range(10) if last.feasible[i] and math.isfinite(last.losses[i])]
    assert last.best_index == min(feasible, key=lambda i: last.losses[i])
    # every fast learner is first under the rule in its pair
    for record in search.history:
        for f, s in zip(record.fast, record.slow):
            vf, vs = (max(0.0, record.costs[i] - limit) for i in (f, s))
            assert (vf, record.losses[f] if math.isfinite(record.losses[f]) else math.inf) <= \
                (vs, record.losses[s] if math.isfinite(record.losses[s]) else math.inf)


def test_no_feasible_member_gives_the_least_violating():
    search = _run(flops_budget(1.0), generations=1)
    record = search.history[0]
    assert not any(record.feasible)
    assert record.best_index == int(np.argmin(record.costs))


def test_costs_are_measured_once_per_genotype_and_resume_exactly():
    calls = []
    whole = _run(flops_budget(4e8, calls), generations=4)
    measured = sum(calls)
    assert measured == len(whole.budget.cache) < 4 * 6  # fast learners keep their cell
    assert sorted(whole.budget.cache) == sorted(set().union(*[r.genotypes for r in whole.history]))
    part = RelativeNAS(pop_size=6, generations=4, model_cfg=CFG, seed=3, budget=flops_budget(4e8))
    for _ in range(2):
        part.run_generation(evaluate)
    state = part.state_dict()  # a checkpoint after 2 generations
    calls = []
    resumed = RelativeNAS(pop_size=6, generations=4, model_cfg=CFG, seed=3,
                          budget=flops_budget(4e8, calls))
    resumed.load_state_dict(state)
    assert resumed.budget.cache == part.budget.cache
    while not resumed.finished:
        resumed.run_generation(evaluate)
    assert [r.to_dict() for r in resumed.history] == [r.to_dict() for r in whole.history]
    assert np.array_equal(resumed.population, whole.population)
    assert sum(calls) == measured - len(state['budget']['cache'])


def test_a_checkpoint_of_another_budget_is_refused():
    state = _run(flops_budget(4e8), generations=1).state_dict()
    with pytest.raises(ValueError, match=r"budget\.max"):
        RelativeNAS(pop_size=6, generations=1, model_cfg=CFG, seed=3,
                    budget=flops_budget(5e8)).load_state_dict(state)
    with pytest.raises(ValueError, match='budget'):
        RelativeNAS(pop_size=6, generations=1, model_cfg=CFG, seed=3).load_state_dict(state)


@pytest.mark.parametrize('kwargs, message', [
    (dict(metric='energy'), 'metric must be one of'),
    (dict(limit=0), 'max must be a positive number'),
    (dict(limit=float('nan')), 'max must be a positive number'),
])
def test_bad_budget_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Budget(**{**dict(metric='flops', limit=1.0, measure=lambda g: [0.0] * len(g)), **kwargs})


def test_a_bad_measurement_is_an_error():
    budget = Budget('latency', 1.0, lambda g: [math.nan] * len(g))
    with pytest.raises(RuntimeError, match='latency of Genotype.* is nan'):
        _run(budget, generations=1)


# ----------------------------------------------------------------------------- results
def test_pareto_front():
    points = [(1.0, 5.0), (0.5, 9.0), (0.8, 5.0), (0.5, 9.0), (None, 1.0), (0.9, 10.0),
              (math.nan, 0.5), (2.0, 1.0), (0.4, 12.0)]
    assert pareto_front(points) == [7, 2, 1, 8]
    assert pareto_front([]) == []


def test_candidates_lists_every_evaluation():
    search = _run(flops_budget(4e8), generations=2)
    history = [r.to_dict() for r in search.history]
    entries = candidates(history)
    assert len(entries) == 2 * 6
    assert entries[7] == dict(generation=1, index=1, genotype=history[1]['genotypes'][1],
                              val_loss=1.0, val_acc=history[1]['accs'][1],
                              cost=history[1]['costs'][1], feasible=history[1]['feasible'][1])
    assert entries[2]['val_loss'] is None  # the NaN candidate
    with pytest.raises(ValueError, match='no costs'):
        candidates([r.to_dict() for r in _run(generations=1).history])
