"""A search under a budget: Deb's rule, costs in the history, the cache, the Pareto front.

The evaluator is a cheap deterministic stand-in (losses from the job seeds), so these
tests check the search logic alone; tests/test_tools_search_budget.py runs real searches.
"""
import json
import logging
import math
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from relnas_mm.models.supernet import SuperNet
from relnas_mm.search.algorithm import REPAIR_HALVINGS, RelativeNAS
from relnas_mm.search.augment import normalize
from relnas_mm.search.budget import METRICS, Budget, candidates, pareto_front
from relnas_mm.search.evaluator import CandidateResult, EagerEvaluator, split_search_data
from relnas_mm.search.slow_fast import constrained_first_is_fast, split_fast_slow, violation
from relnas_mm.space.cost import NETWORKS, Cost, network_cost
from relnas_mm.space.encoding import decode, encode
from relnas_mm.space.genotype import GENOTYPES, Genotype, format_genotype
from relnas_mm.space.operations import PRIMITIVES

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


def flops_budget(limit, calls=None, low=None):
    spec = NETWORKS['imagenet_mobile']

    def measure(genotypes):
        if calls is not None:
            calls.append(len(genotypes))
        return [network_cost(g, spec).flops for g in genotypes]

    return Budget(dict(flops=(low, limit)), dict(flops=measure), dict(network='imagenet_mobile'))


def op_sum_budget(limit):
    """Cost: the sum of the normal cell's operation indices (0..6 each, 8 operations)."""
    measure = lambda gs: [sum(PRIMITIVES.index(op) for op, _ in g.normal) for g in gs]  # noqa
    return Budget(dict(flops=(None, limit)), dict(flops=measure))


# ----------------------------------------------------------------------------- the rule
def test_violation_is_relative_to_the_bound_it_crosses_and_summed():
    assert violation(5.0, None, 10.0) == 0.0 and violation(12.5, None, 10.0) == 0.25
    assert violation(2.0, 4.0, None) == 0.5 and violation(4.0, 4.0, 10.0) == 0.0
    assert violation(10.0, 4.0, 10.0) == 0.0 and violation(11.0, 4.0, 10.0) == pytest.approx(0.1)
    budget = Budget(
        dict(flops=(None, 100.0), params=(2.0, 10.0)),
        dict(flops=lambda gs: [150.0, 50.0, 110.0][:len(gs)],
             params=lambda gs: [15.0, 1.0, 5.0][:len(gs)]))
    cells = [GENOTYPES['RelativeNAS'], GENOTYPES['DARTS_V2'], GENOTYPES['PC_DARTS']]
    costs = budget.costs(cells)
    assert costs == dict(flops=[150.0, 50.0, 110.0], params=[15.0, 1.0, 5.0])
    # 50% over the FLOPs bound + 50% over the params bound; 50% under the params minimum
    assert budget.violations(costs) == pytest.approx([1.0, 0.5, 0.1])


def test_deb_rule():
    # feasible beats infeasible, whatever the losses (a NaN loss included)
    assert constrained_first_is_fast(9.0, 0.0, 0.1, 1.0)
    assert not constrained_first_is_fast(0.1, 1.0, 9.0, 0.0)
    assert constrained_first_is_fast(math.nan, 0.0, 0.1, 0.5)
    # two infeasible: the smaller violation wins, the loss does not matter
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
        assert record.pop('violations') == [0.0] * 6
        assert record.pop('repairs') == 0 and record.pop('redrawn') == 0
        assert json.dumps(a.to_dict()) == json.dumps(record)


# ----------------------------------------------------------------------------- with a budget
def _tight_limit(pop_size=10, seed=3, quantile=25):
    start = RelativeNAS(pop_size=pop_size, generations=1, model_cfg=CFG, seed=seed).genotypes()
    return float(
        np.percentile([network_cost(g, NETWORKS['imagenet_mobile']).flops for g in start],
                      quantile))


def test_tight_budget_keeps_the_population_feasible():
    limit = _tight_limit()  # tighter than the median random cell
    search = _run(flops_budget(limit), generations=12, pop_size=10)
    history = search.history
    unredrawn = RelativeNAS(pop_size=10, generations=1, model_cfg=CFG, seed=3).genotypes()
    assert sum(network_cost(g, NETWORKS['imagenet_mobile']).flops <= limit for g in unredrawn) < 10
    assert history[0].redrawn > 0 and all(r.redrawn == 0 for r in history[1:])
    assert all(history[0].feasible)  # redrawn until every member fits
    assert sum(r.repairs for r in history) > 0  # moves out of the budget happened...
    for before, after in zip(history, history[1:]):  # ...and none left it
        for s in before.slow:
            if before.feasible[s]:
                assert after.feasible[s], (before.generation, s)
        for f in before.fast:  # fast learners keep their cell
            assert after.genotypes[f] == before.genotypes[f]
    assert all(all(r.feasible) for r in history)
    last = history[-1]
    assert last.feasible[last.best_index] and last.best_cost['flops'] <= limit
    assert last.best_cost == {'flops': last.costs['flops'][last.best_index]}
    # the best is the lowest loss among the feasible members of the last generation
    feasible = [i for i in range(10) if last.feasible[i] and math.isfinite(last.losses[i])]
    assert last.best_index == min(feasible, key=lambda i: last.losses[i])
    # every fast learner is first under the rule in its pair
    for record in history:
        for f, s in zip(record.fast, record.slow):
            vf, vs = (max(0.0, record.costs['flops'][i] - limit) / limit for i in (f, s))
            assert record.violations[f] == pytest.approx(vf)
            assert (vf, record.losses[f] if math.isfinite(record.losses[f]) else math.inf) <= \
                (vs, record.losses[s] if math.isfinite(record.losses[s]) else math.inf)


def test_seed_cells_are_not_redrawn():
    published = GENOTYPES['RelativeNAS']  # 545M FLOPs, over the budget
    limit = _tight_limit(pop_size=6)
    assert network_cost(published, NETWORKS['imagenet_mobile']).flops > limit
    search = _run(flops_budget(limit), generations=1, init_population=[published])
    assert search.history[0].genotypes[0] == format_genotype(published)
    assert not search.history[0].feasible[0] and search.history[0].redrawn > 0


def _mover(search, steps):
    """Member 0 at the all-max_pool normal cell (cost 0), moving by ``steps`` on its 8
    normal-cell operation coordinates."""
    start = encode(
        Genotype([('max_pool_3x3', 0)] * 8, [2, 3, 4, 5], [('max_pool_3x3', 0)] * 8, [2, 3, 4, 5]))
    search.population[0] = start
    v = np.zeros_like(search.velocity)
    v[0, [1, 3, 5, 7, 9, 11, 13, 15]] = steps
    return start, np.clip(search.population + v, search.lower, search.upper), v


def test_a_move_out_of_the_budget_halves_its_step():
    search = RelativeNAS(pop_size=2, generations=1, model_cfg=CFG, budget=op_sum_budget(8))
    start, x, v = _mover(search, 2.0)  # full step: operation 2 everywhere, cost 16 > 8
    assert search._repair_moves(x, v, [0]) == 1
    assert np.array_equal(x[0], start + v[0]) and v[0, 1] == 1.0  # half: operation 1, cost 8
    assert [PRIMITIVES.index(op) for op, _ in decode(x[0]).normal] == [1] * 8


def test_a_move_still_out_after_the_halvings_stays():
    search = RelativeNAS(pop_size=2, generations=1, model_cfg=CFG, budget=op_sum_budget(8))
    steps = 2.0 * 2**REPAIR_HALVINGS  # 1/8 of it still gives operation 2 everywhere
    start, x, v = _mover(search, steps)
    assert search._repair_moves(x, v, [0]) == 1
    assert np.array_equal(x[0], start) and not v[0].any()
    _, x, v = _mover(search, 1.0)  # a move within the budget is left alone
    moved = x.copy()
    assert search._repair_moves(x, v, [0]) == 0 and np.array_equal(x, moved)


def test_costs_are_measured_once_per_genotype_and_resume_exactly():
    calls = []
    whole = _run(flops_budget(4e8, calls), generations=4)
    measured = sum(calls)
    cache = whole.budget.cache['flops']
    assert measured == len(cache)
    # every evaluated cell, plus rejected first draws and moves
    assert set(cache) >= set().union(*[r.genotypes for r in whole.history])
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
    assert sum(calls) == measured - len(state['budget']['cache']['flops'])


def test_a_value_measured_elsewhere_is_measured_again_and_said(caplog):
    where, calls = ['GPU A, 1 thread(s), tf32'], []

    def latency_budget():
        return Budget(
            dict(latency=(None, 5.0)),
            dict(latency=lambda gs: calls.append(len(gs)) or [1.0] * len(gs)),
            contexts=dict(latency=lambda: where[0]))

    cells = [GENOTYPES['RelativeNAS'], GENOTYPES['DARTS_V2']]
    first = latency_budget()
    first.costs(cells)
    assert list(first.cache) == ['latency on GPU A, 1 thread(s), tf32'] and calls == [2]
    same = latency_budget()
    same.load_state_dict(first.state_dict())
    same.costs(cells)
    assert calls == [2]  # same device, threads and precision: cached
    for other in ('GPU B, 1 thread(s), tf32', 'GPU A, 4 thread(s), tf32',
                  'GPU A, 1 thread(s), ieee'):
        where[0], calls[:] = other, []
        moved = latency_budget()
        with caplog.at_level(logging.WARNING, logger='relnas_mm'):
            moved.load_state_dict(first.state_dict())
        assert f'"GPU A, 1 thread(s), tf32"; this run is "{other}"' in caplog.text
        moved.costs(cells)
        assert calls == [2]
        caplog.clear()
        where[0] = 'GPU A, 1 thread(s), tf32'


def test_a_checkpoint_of_another_budget_is_refused():
    state = _run(flops_budget(4e8), generations=1).state_dict()
    with pytest.raises(ValueError, match=r"budget\.bounds\.flops"):
        RelativeNAS(pop_size=6, generations=1, model_cfg=CFG, seed=3,
                    budget=flops_budget(5e8)).load_state_dict(state)
    with pytest.raises(ValueError, match='budget'):
        RelativeNAS(pop_size=6, generations=1, model_cfg=CFG, seed=3).load_state_dict(state)


@pytest.mark.parametrize('bounds, message', [
    (dict(energy=(None, 1.0)), "unknown budget metric 'energy'"),
    (dict(flops=(2.0, 1.0)), 'flops: min 2 > max 1'),
    (dict(params=(-1.0, None)), 'params: bound -1.0 is negative'),
    (dict(flops=(None, float('nan'))), 'flops: bounds must be finite numbers'),
    (dict(flops=(None, None)), r'flops: \(None, None\) bounds nothing'),
    (dict(flops=(None, 0)), 'flops: max 0 leaves no feasible cell'),
    (dict(flops=600e6), r'flops: expected a \(min, max\) pair'),
    ({}, 'at least one metric'),
])
def test_bad_budget_is_refused(bounds, message):
    with pytest.raises(ValueError, match=message):
        Budget(bounds, {m: (lambda g: [0.0] * len(g)) for m in bounds})


def test_a_bad_measurement_is_an_error():
    budget = Budget(dict(latency=(None, 1.0)), dict(latency=lambda g: [math.nan] * len(g)))
    with pytest.raises(RuntimeError, match='latency of Genotype.* is nan'):
        _run(budget, generations=1)


def test_the_cost_metrics_are_those_cost_py_counts():
    assert METRICS == tuple(Cost._fields) + ('latency', )
    budget = Budget(
        dict(multadds=(None, 6e8)),
        dict(multadds=lambda gs:
             [network_cost(g, NETWORKS['imagenet_mobile']).multadds for g in gs]))
    assert budget.costs([GENOTYPES['RelativeNAS']])['multadds'][0] < 6e8


# ----------------------------------------------------------------------------- results
def test_pareto_front():
    points = [(1.0, 5.0), (0.5, 9.0), (0.8, 5.0), (0.5, 9.0), (None, 1.0), (0.9, 10.0),
              (math.nan, 0.5), (2.0, 1.0), (0.4, 12.0)]
    assert pareto_front(points) == [7, 2, 1, 8]
    assert pareto_front([]) == []
    # two costs: (0.5, (9, 1)) is dominated in the first cost alone, not in both
    points = [(1.0, (5.0, 5.0)), (0.5, (9.0, 1.0)), (0.5, (9.0, 6.0)), (0.4, (5.0, 5.0)),
              (0.45, (9.0, 1.0))]
    assert pareto_front(points) == [3, 4]
    assert pareto_front([(0.5, (1.0, 1.0)), (0.5, (1.0, 1.0))]) == [0]


def test_candidates_lists_every_evaluation():
    search = _run(flops_budget(4e8), generations=2)
    history = [r.to_dict() for r in search.history]
    entries = candidates(history)
    assert len(entries) == 2 * 6
    assert entries[7] == dict(generation=1, index=1, genotype=history[1]['genotypes'][1],
                              val_loss=1.0, val_acc=history[1]['accs'][1],
                              costs=dict(flops=history[1]['costs']['flops'][1]),
                              feasible=history[1]['feasible'][1])
    assert entries[2]['val_loss'] is None  # the NaN candidate
    with pytest.raises(ValueError, match='no costs'):
        candidates([r.to_dict() for r in _run(generations=1).history])


def test_validate_scores_a_cell_on_the_weights_as_given():
    """EagerEvaluator.validate (search.budget.reevaluate): the mean cross-entropy of the
    eval-mode network on the validation half, the weights untouched."""
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (20, 3, 8, 8), dtype=torch.uint8, generator=g)
    data = split_search_data(images, torch.arange(20) % 2, seed=0)
    evaluator = EagerEvaluator(data, CFG, batch_size=4)
    weights = {k: v.clone() for k, v in _run(generations=1).weight_set.snapshot().items()}
    before = {k: v.clone() for k, v in weights.items()}
    genotype = GENOTYPES['DARTS_V2']
    loss, acc = evaluator.validate(genotype, weights)
    net = SuperNet(**CFG)
    net.load_state_dict(before)
    net.set_genotype(genotype)
    with torch.no_grad():
        logits = net.eval()(normalize(data.valid_images))
    assert loss == pytest.approx(F.cross_entropy(logits, data.valid_labels).item(), rel=1e-5)
    assert acc == pytest.approx((logits.argmax(1) == data.valid_labels).float().mean().item())
    assert all(torch.equal(weights[k], before[k]) for k in before)
