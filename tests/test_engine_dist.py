"""Splitting candidates over ranks: round-robin shares, gathering, rank agreement.

The real multi-process run (torchrun, gloo) is in tests/test_tools_search.py; here
the gather runs in two spawned gloo processes without mmengine's Runner.
"""
import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

pytest.importorskip('mmengine')

from relnas_mm.engine.dist import (DistributedEvaluate, check_same_on_all_ranks, share_of,
                                   state_digest)
from relnas_mm.search import CandidateEvaluator, CandidateJob, CandidateResult
from relnas_mm.space.genotype import RELATIVENAS


class SeededEvaluator(CandidateEvaluator):
    """Result depends on the job only (its seed), like the real evaluator."""

    def __init__(self, rank: int = 0):
        self.rank = rank
        self.calls = []

    def evaluate(self, job: CandidateJob) -> CandidateResult:
        self.calls.append(job.index)
        g = torch.Generator().manual_seed(job.seed)
        value = torch.rand(3, generator=g)
        return CandidateResult(index=job.index, loss=float(value[0]), acc=float(value[1]),
                               train_loss=0.0, state={'w': value}, finite=True)


def _jobs(indices):
    return [
        CandidateJob(index=i, genotype=RELATIVENAS, weights={}, lr=0.1, drop_prob=0.0, seed=100 + i)
        for i in indices
    ]


def test_share_of_is_round_robin_and_covers_everything():
    items = list(range(7))
    shares = [share_of(items, r, 3) for r in range(3)]
    assert shares == [[0, 3, 6], [1, 4], [2, 5]]
    assert sorted(sum(shares, [])) == items
    with pytest.raises(ValueError, match='rank 3'):
        share_of(items, 3, 3)


def test_single_process_evaluates_in_job_order_and_reports_each_once():
    seen = []
    evaluator = SeededEvaluator()
    evaluate = DistributedEvaluate(evaluator, on_result=lambda e: seen.append(e.result.index))
    results = evaluate(_jobs([3, 0, 2, 1]))
    assert [r.index for r in results] == [3, 0, 2, 1]
    assert seen == [3, 0, 2, 1] and evaluator.calls == [3, 0, 2, 1]
    assert evaluate.evaluated_by == {0: 0, 1: 0, 2: 0, 3: 0}
    evaluate.reset()
    assert evaluate.evaluated_by == {}


class BatchEvaluator(SeededEvaluator):
    """An evaluator that runs two candidates at once (like FastEvaluator with 2 streams)."""

    streams = 2

    def __init__(self):
        super().__init__()
        self.batches = []

    def evaluate_many(self, jobs):
        self.batches.append([j.index for j in jobs])
        return [self.evaluate(j) for j in jobs]


def test_evaluate_many_gets_as_many_as_it_runs_at_once():
    evaluator = BatchEvaluator()
    seen = []
    results = DistributedEvaluate(evaluator, on_result=lambda e: seen.append(e.result.index))(
        _jobs([2, 1, 3]))
    assert evaluator.batches == [[2, 1], [3]]
    assert [r.index for r in results] == seen == [2, 1, 3]
    single = DistributedEvaluate(SeededEvaluator())(_jobs([2, 1, 3]))
    assert [r.loss for r in results] == [r.loss for r in single]


def test_state_digest_sees_any_change():
    import numpy as np
    pop = np.zeros((2, 32))
    weights = {'a': torch.zeros(3), 'n': torch.tensor(5)}
    d = state_digest(pop, weights)
    assert d == state_digest(pop.copy(), {k: v.clone() for k, v in weights.items()})
    assert d != state_digest(pop + 1e-12, weights)
    assert d != state_digest(pop, {'a': torch.zeros(3), 'n': torch.tensor(6)})


def test_one_process_does_not_compute_the_digest():

    def digest():
        raise AssertionError('the digest must not be computed with one process')

    check_same_on_all_ranks(digest, 'probe')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _worker(rank: int, world_size: int, port: int, out: dict) -> None:
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world_size)
    try:
        evaluator = SeededEvaluator(rank)
        evaluate = DistributedEvaluate(evaluator)
        results = evaluate(_jobs([5, 2, 7, 0, 1]))
        out[rank] = dict(calls=evaluator.calls, by=dict(evaluate.evaluated_by),
                         results=[(r.index, r.loss, r.state['w'].tolist()) for r in results])
        check_same_on_all_ranks(lambda: 'same', 'probe')
        try:
            check_same_on_all_ranks(lambda: f'rank{rank}', 'probe')
        except RuntimeError as exc:
            out[f'error{rank}'] = str(exc)
    finally:
        dist.destroy_process_group()


def test_two_gloo_ranks_split_and_gather():
    with mp.Manager() as manager:
        out = manager.dict()
        # fork: the children need not re-import torch and mmengine (seconds each)
        mp.start_processes(_worker, args=(2, _free_port(), out), nprocs=2, join=True,
                           start_method='fork')
        out = dict(out)
    # rank r evaluated jobs r, r + 2, ... of the list, and nothing twice
    assert out[0]['calls'] == [5, 7, 1] and out[1]['calls'] == [2, 0]
    assert out[0]['by'] == out[1]['by'] == {5: 0, 7: 0, 1: 0, 2: 1, 0: 1}
    # both ranks hold the same results, in job order, equal to a single-process run
    single = DistributedEvaluate(SeededEvaluator())(_jobs([5, 2, 7, 0, 1]))
    expected = [(r.index, r.loss, r.state['w'].tolist()) for r in single]
    assert out[0]['results'] == out[1]['results'] == expected
    assert 'differs between ranks' in out['error0'] and 'differs between ranks' in out['error1']
