"""Worker processes and make_evaluate: the same results as evaluating in turn."""
import logging

import numpy as np
import pytest
import torch

from relnas_mm.models.supernet import SuperNet, candidate_keys
from relnas_mm.search import fast_parallel
from relnas_mm.search.evaluator import CandidateJob, EagerEvaluator, split_search_data
from relnas_mm.search.fast_evaluator import FastEvaluator
from relnas_mm.search.fast_parallel import (EvaluatorSpec, InProcessEvaluate, PackedResult,
                                            PackedState, ParallelEvaluate, auto_workers,
                                            make_evaluate)
from relnas_mm.space.encoding import decode_population, random_population

CFG = dict(channels=4, num_cells=3, num_classes=10)
OPTIONS = dict(model_cfg=CFG, batch_size=8)


@pytest.fixture(scope='module')
def data():
    rng = np.random.default_rng(1)
    labels = np.arange(40) % 10
    images = rng.integers(0, 256, (40, 16, 16, 3)).astype(np.uint8)
    return split_search_data(images, labels, seed=0)  # 20 + 20, batches of 8, 8, 4


@pytest.fixture(scope='module')
def jobs():
    """Four candidates over two weight snapshots (as two pairs of the per-pair mode)."""
    torch.manual_seed(0)
    first = SuperNet(**CFG).state_dict()
    second = {k: v + 0.01 if v.is_floating_point() else v for k, v in first.items()}
    genotypes = decode_population(random_population(4, np.random.default_rng(2)))
    return [
        CandidateJob(index=i, genotype=g, weights=first if i < 2 else second, lr=0.05,
                     drop_prob=0.1 * i, seed=20 + i) for i, g in enumerate(genotypes)
    ]


class LoggingEvaluator(FastEvaluator):
    """A FastEvaluator that logs a line per call, as a failed capture would."""

    def evaluate_many(self, jobs):
        logging.getLogger('relnas_mm').warning('evaluating %s', [j.index for j in jobs])
        return super().evaluate_many(jobs)


def assert_identical(a, b):
    assert (a.index, a.loss, a.acc, a.train_loss, a.finite) == \
        (b.index, b.loss, b.acc, b.train_loss, b.finite)
    assert list(a.state) == list(b.state)
    for key in a.state:
        assert a.state[key].dtype == b.state[key].dtype, key
        assert torch.equal(a.state[key], b.state[key]), key


def test_packed_state_round_trip():
    state = {
        'w': torch.randn(3, 2, 1, 1),
        'n': torch.tensor(7),
        'b': torch.randn(5),
        'i': torch.arange(4).view(2, 2),
        'h': torch.randn(2).half()
    }
    packed = PackedState.pack(state)
    assert sorted(map(str, packed.flats)) == ['torch.float16', 'torch.float32', 'torch.int64']
    assert packed.flats[torch.float32].numel() == 6 + 5
    out = packed.unpack()
    assert list(out) == list(state)
    for key, value in state.items():
        assert out[key].dtype == value.dtype and torch.equal(out[key], value), key


def test_in_process_evaluate_wraps_the_chosen_evaluator(data):
    for kind, cls in (('eager', EagerEvaluator), ('fast', FastEvaluator)):
        evaluate = make_evaluate(data, kind, **OPTIONS)
        assert isinstance(evaluate, InProcessEvaluate) and type(evaluate.evaluator) is cls
        assert evaluate.evaluator.batch_size == 8


@pytest.mark.e2e
def test_two_workers_give_the_sequential_results(data, jobs, caplog):
    sequential = make_evaluate(data, 'fast', **OPTIONS)(jobs)
    with make_evaluate(data, LoggingEvaluator, workers=2, **OPTIONS) as evaluate, \
            caplog.at_level(logging.WARNING, logger='relnas_mm'):
        assert isinstance(evaluate, ParallelEvaluate) and evaluate.parallelism == 2
        parallel = evaluate(list(reversed(jobs)))[::-1]  # any order in, same order out
        again = evaluate(jobs[1:3])
        broken = CandidateJob(
            index=9, genotype=jobs[0].genotype, weights={
                k: v
                for k, v in jobs[0].weights.items() if k != 'classifier.weight'
            }, lr=0.1, drop_prob=0.0, seed=1)
        with pytest.raises(RuntimeError, match=r"(?s)failed on candidate\(s\) \[9\].*"
                           r"classifier\.weight"):
            evaluate([broken])
    for a, b in zip(sequential, parallel):
        assert_identical(a, b)
    for a, b in zip(sequential[1:3], again):
        assert_identical(a, b)
    # a result brings back what its candidate trained, nothing else
    for job, result in zip(jobs, parallel):
        assert list(result.state) == candidate_keys(
            list(job.weights),
            SuperNet(**CFG).used_modules(job.genotype))
    # the workers' log lines reach this process's 'relnas_mm' logger
    logged = [r.getMessage() for r in caplog.records if 'evaluating' in r.getMessage()]
    assert len(logged) == 7 and all(m.startswith('worker ') for m in logged)  # 4 + 2 + 1
    with pytest.raises(RuntimeError, match='already closed'):
        evaluate(jobs[:1])


def test_a_packed_result_is_what_the_candidate_trained(data, jobs):
    """What travels between processes and ranks: one buffer per dtype, the trained keys."""
    result = make_evaluate(data, 'fast', **OPTIONS)(jobs[:1])[0]
    packed = PackedResult.of(result)
    assert sorted(map(str, packed.state.flats)) == ['torch.float32', 'torch.int64']
    whole = sum(v.numel() * v.element_size() for v in jobs[0].weights.values())
    trained = sum(v.numel() * v.element_size() for v in result.state.values())
    assert packed.state.nbytes == trained < whole / 2
    back = packed.unpack()
    assert_identical(result, back)


def test_auto_workers_turn_threads_into_processes_on_the_cpu(monkeypatch):
    monkeypatch.setattr(fast_parallel.os, 'sched_getaffinity', lambda pid: set(range(8)),
                        raising=False)
    monkeypatch.delenv('LOCAL_WORLD_SIZE', raising=False)
    for threads, workers in ((1, 0), (2, 2), (8, 8), (16, 8)):
        monkeypatch.setattr(torch, 'get_num_threads', lambda: threads)
        assert auto_workers('cpu') == workers, threads
    monkeypatch.setenv('LOCAL_WORLD_SIZE', '4')  # four ranks share the 8 cores
    assert auto_workers('cpu') == 2
    assert auto_workers('cuda') == 0


@pytest.mark.e2e
def test_a_worker_that_cannot_build_reports_why(data):
    spec = EvaluatorSpec('fast', data, dict(OPTIONS, sgd='adam'))
    with pytest.raises(RuntimeError, match=r"(?s)worker 0 could not build.*sgd must be one of"):
        ParallelEvaluate(spec, workers=1)


def test_bad_arguments_are_refused(data):
    with pytest.raises(
            ValueError, match=r"kind must be one of \[.*'fast'\] or a "
            r"CandidateEvaluator class, got 'slow'"):
        make_evaluate(data, 'slow')
    with pytest.raises(ValueError, match="workers must be an integer >= 0 or 'auto'"):
        make_evaluate(data, 'fast', workers=-1)
    with pytest.raises(ValueError, match='must not contain "data"'):
        EvaluatorSpec('fast', data, dict(data=data))
