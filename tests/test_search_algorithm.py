"""RelativeNAS: generations, write-back modes, non-finite candidates, exact resume."""
import json
import math

import numpy as np
import pytest
import torch

from relnas_mm.models.supernet import op_module_of, used_modules
from relnas_mm.search.algorithm import GenerationRecord, RelativeNAS, drop_prob_at, job_seed, lr_at
from relnas_mm.search.evaluator import CandidateResult, EagerEvaluator, split_search_data
from relnas_mm.space import GENOTYPES, bounds, decode, decode_population, parse_genotype

CFG = dict(channels=4, num_cells=3, num_classes=2)


class FakeEvaluate:
    """A cheap, deterministic stand-in: loss from the job seed, state = start + (index + 1)."""

    def __init__(self, nan=()):
        self.nan = set(nan)
        self.calls = []

    def __call__(self, jobs):
        self.calls.append(jobs)
        results = []
        for job in jobs:
            loss = math.nan if job.index in self.nan else (job.seed % 997) / 997
            state = {k: v + (job.index + 1) for k, v in job.weights.items()}
            results.append(
                CandidateResult(job.index, loss, 0.5, 1.0, state, finite=math.isfinite(loss)))
        return results


def _search(**kwargs):
    return RelativeNAS(**{**dict(pop_size=4, generations=2, model_cfg=CFG, seed=3), **kwargs})


def _weights(search):
    return {k: search.weight_set[k].clone() for k in search.weight_set}


def test_schedules():
    assert lr_at(0, 50, 0.1, 0.001) == pytest.approx(0.1)
    assert lr_at(25, 50, 0.1, 0.001) == pytest.approx(0.0505)
    assert lr_at(50, 50, 0.1, 0.001) == pytest.approx(0.001)
    assert drop_prob_at(0, 50, 0.3) == 0.0 and drop_prob_at(25, 50, 0.3) == pytest.approx(0.15)


def test_job_seeds_are_stable_and_distinct():
    seeds = {job_seed(0, g, i) for g in range(5) for i in range(20)}
    assert len(seeds) == 100 and all(0 <= s < 2**63 for s in seeds)
    assert job_seed(7, 3, 2) == job_seed(7, 3, 2) != job_seed(8, 3, 2)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match='pop_size'):
        _search(pop_size=5)
    with pytest.raises(ValueError, match='writeback'):
        _search(writeback='async')
    with pytest.raises(ValueError, match='generations'):
        _search(generations=0)
    with pytest.raises(ValueError, match='seed'):
        _search(seed=-1)


def test_initial_population_can_be_seeded():
    search = _search(init_population=[GENOTYPES['RelativeNAS']])
    assert search.genotypes()[0] == GENOTYPES['RelativeNAS']
    assert not np.array_equal(search.population[1], search.population[0])


def test_pair_mode_runs_pairs_in_sequence_on_the_updated_set():
    search = _search()
    start = _weights(search)
    population = search.population.copy()
    fake = FakeEvaluate()
    done = []
    record = search.run_generation(fake, progress=lambda d, t: done.append((d, t)))
    assert done == [(2, 4), (4, 4)]
    assert [len(jobs) for jobs in fake.calls] == [2, 2]
    first, second = fake.calls
    assert [[j.index for j in jobs] for jobs in fake.calls] == record.pairs
    for jobs in fake.calls:
        assert jobs[0].weights is jobs[1].weights  # both members start from one snapshot
        for job in jobs:
            assert job.genotype == decode(population[job.index])
            assert job.seed == job_seed(3, 0, job.index)
            assert job.lr == pytest.approx(0.1) and job.drop_prob == 0.0
    assert all(torch.equal(first[0].weights[k], start[k]) for k in start)
    # the second pair starts where the first pair's write-back left the set
    fast1 = record.fast[0]
    assert torch.equal(second[0].weights['classifier.weight'],
                       start['classifier.weight'] + (fast1 + 1))
    fast2 = record.fast[1]
    assert torch.equal(search.weight_set['classifier.weight'],
                       start['classifier.weight'] + (fast1 + 1) + (fast2 + 1))


def test_generation_mode_starts_every_candidate_from_one_snapshot():
    search = _search(writeback='generation')
    start = _weights(search)
    fake = FakeEvaluate()
    record = search.run_generation(fake)
    assert len(fake.calls) == 1 and len(fake.calls[0]) == 4
    assert sorted(j.index for j in fake.calls[0]) == [0, 1, 2, 3]
    assert all(torch.equal(j.weights[k], start[k]) for j in fake.calls[0] for k in start)
    # write-backs applied pair by pair: the shared classifier ends with the last pair's fast
    assert torch.equal(search.weight_set['classifier.weight'],
                       start['classifier.weight'] + (record.fast[1] + 1))


def test_fast_learners_stay_slow_learners_move_and_record_agrees():
    search = _search()
    before = search.population.copy()
    record = search.run_generation(FakeEvaluate())
    losses = record.losses
    for (a, b), fast, slow in zip(record.pairs, record.fast, record.slow):
        assert (fast, slow) == ((a, b) if losses[a] <= losses[b] else (b, a))
        assert np.array_equal(search.population[fast], before[fast])
        assert not np.array_equal(search.population[slow], before[slow])
        assert np.array_equal(search.velocity[fast], np.zeros(32))
    lower, upper = bounds()
    assert np.all(search.population >= lower) and np.all(search.population <= upper)
    assert record.best_index == int(np.argmin(losses))
    assert record.best_loss == min(losses) and record.mean_loss == pytest.approx(np.mean(losses))
    assert [parse_genotype(t) for t in record.genotypes] == decode_population(before)
    assert search.best_genotype() == decode(before[record.best_index])
    assert search.generation == 1 and not search.finished
    search.run_generation(FakeEvaluate())
    assert search.finished and len(search.history) == 2
    assert search.history[1].lr == pytest.approx(0.0505)
    assert search.history[1].drop_prob == pytest.approx(0.15)
    with pytest.raises(RuntimeError, match='finished'):
        search.run_generation(FakeEvaluate())


def test_non_finite_candidate_is_worst_warned_and_not_written_back():
    search = _search(pop_size=2)
    start = _weights(search)
    genotypes = search.genotypes()
    with pytest.warns(RuntimeWarning, match='candidate 0 .*non-finite'):
        record = search.run_generation(FakeEvaluate(nan=[0]))
    assert record.nonfinite == [0] and record.fast == [1] and record.slow == [0]
    assert record.best_index == 1
    used0 = set(used_modules(genotypes[0], CFG['num_cells']))
    used1 = set(used_modules(genotypes[1], CFG['num_cells']))
    assert used0 - used1
    for key, value in search.weight_set.state_dict().items():
        module = op_module_of(key)
        if module is not None and module not in used1:
            assert torch.equal(value, start[key]), key  # candidate 0's ops keep the snapshot
        else:
            assert torch.equal(value, start[key] + 2), key  # candidate 1's (index + 1)
    as_json = json.dumps(record.to_dict(), allow_nan=False)
    back = GenerationRecord.from_dict(json.loads(as_json))
    assert math.isnan(back.losses[0]) and back.losses[1] == record.losses[1]


def test_all_non_finite_writes_nothing():
    search = _search(pop_size=2)
    start = _weights(search)
    with pytest.warns(RuntimeWarning):
        record = search.run_generation(FakeEvaluate(nan=[0, 1]))
    pair = record.pairs[0]
    assert record.fast == [pair[0]] and record.slow == [pair[1]]  # tie: first is fast
    assert all(torch.equal(search.weight_set[k], start[k]) for k in start)
    assert math.isnan(record.mean_loss) and math.isnan(record.best_loss)


def test_failed_generation_leaves_the_state_unchanged():
    search = _search()
    before = search.state_dict()

    def wrong(jobs):
        return FakeEvaluate()(jobs)[:1]

    with pytest.raises(RuntimeError, match='expected exactly'):
        search.run_generation(wrong)
    after = search.state_dict()
    assert after['rng'] == before['rng'] and after['generation'] == 0
    assert torch.equal(after['population'], before['population'])
    assert all(torch.equal(after['weight_set'][k], v) for k, v in before['weight_set'].items())
    assert search.history == []


def test_mismatching_checkpoint_is_refused():
    state = _search().state_dict()
    with pytest.raises(ValueError, match="'pop_size'.*checkpoint has 4.*this search has 6"):
        _search(pop_size=6).load_state_dict(state)
    with pytest.raises(ValueError, match="'model.channels'"):
        _search(model_cfg=dict(CFG, channels=6)).load_state_dict(state)
    with pytest.raises(ValueError, match="'generations'"):
        _search(generations=3).load_state_dict(state)
    tampered = dict(state, config=json.loads(json.dumps(state['config'])))
    tampered['config']['space']['upper'][0] = 3.0
    with pytest.raises(ValueError, match="'space.upper'"):
        _search().load_state_dict(tampered)
    incomplete = dict(state)
    del incomplete['rng']
    with pytest.raises(KeyError, match='rng'):
        _search().load_state_dict(incomplete)


# ---------------------------------------------------------------- real evaluation, tiny data
def _evaluate_fn():
    rng = np.random.default_rng(0)
    labels = np.arange(32) % 2
    images = rng.integers(0, 90, (32, 32, 32, 3))
    images[labels == 1, :, :, 0] += 150
    data = split_search_data(images.astype(np.uint8), labels, seed=0)
    evaluator = EagerEvaluator(data, CFG, batch_size=8)
    return lambda jobs: [evaluator.evaluate(job) for job in jobs]


@pytest.fixture(scope='module')
def evaluate():
    return _evaluate_fn()


@pytest.fixture(scope='module')
def uninterrupted(evaluate):
    search = _search()
    while not search.finished:
        search.run_generation(evaluate)
    return search


def test_two_generation_search_with_real_evaluation(uninterrupted):
    history = uninterrupted.history
    assert [r.generation for r in history] == [0, 1]
    for record in history:
        assert all(math.isfinite(v) for v in record.losses) and record.nonfinite == []
        assert sorted(sum(record.pairs, [])) == [0, 1, 2, 3]
        json.dumps(record.to_dict(), allow_nan=False)
    assert uninterrupted.best_genotype() == parse_genotype(history[-1].best_genotype)


def test_interrupted_and_resumed_equals_uninterrupted(tmp_path, evaluate, uninterrupted):
    first = _search()
    first.run_generation(evaluate)
    torch.save(first.state_dict(), tmp_path / 'search.pth')
    del first
    # a new process: fresh objects, a fresh evaluator, the checkpoint read with weights_only
    resumed = _search(seed=3)
    resumed.load_state_dict(torch.load(tmp_path / 'search.pth', weights_only=True))
    assert resumed.generation == 1
    fresh_evaluate = _evaluate_fn()
    while not resumed.finished:
        resumed.run_generation(fresh_evaluate)
    assert np.array_equal(resumed.population, uninterrupted.population)
    assert np.array_equal(resumed.velocity, uninterrupted.velocity)
    assert all(
        torch.equal(resumed.weight_set[k], uninterrupted.weight_set[k])
        for k in uninterrupted.weight_set)
    assert [r.to_dict() for r in resumed.history] == [r.to_dict() for r in uninterrupted.history]
    assert resumed.best_genotype() == uninterrupted.best_genotype()
