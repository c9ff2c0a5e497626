"""Splitting a generation's candidates over processes (torchrun / slurm ranks).

``RelativeNAS.run_generation`` calls ``evaluate(jobs)``; :class:`DistributedEvaluate`
is that function for any number of ranks: rank r evaluates ``jobs[r::world_size]``,
then every rank receives every result (``all_gather_object`` of packed results: each
carries only what its candidate trained, as one host buffer per dtype, and is moved to
the weight set's device with one copy per dtype). Since a job carries its own seed,
its result does not depend on the rank that ran it, and every rank applies the same
results to the same search state.
"""
import hashlib
import time
from dataclasses import dataclass, replace
from typing import Callable, Dict, List, Optional, Sequence, TypeVar, Union

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_dist_info

from ..search.evaluator import CandidateEvaluator, CandidateJob, CandidateResult
from ..search.fast_parallel import InProcessEvaluate, PackedResult, job_device

T = TypeVar('T')


@dataclass
class Evaluated:
    """A result with where and how long it was computed (for logs and records)."""

    result: CandidateResult
    rank: int
    seconds: float


ResultCallback = Callable[[Evaluated], None]


def share_of(items: Sequence[T], rank: int, world_size: int) -> List[T]:
    """Round-robin share of ``rank``: items ``rank, rank + world_size, ...``."""
    if not 0 <= rank < world_size:
        raise ValueError(f'rank {rank} outside 0..{world_size - 1}')
    return list(items[rank::world_size])


class DistributedEvaluate:
    """``evaluate(jobs) -> results`` over all ranks of the default process group.

    Args:
        evaluate: this rank's ``evaluate(jobs) -> results`` (``make_evaluate``), or a
            ``CandidateEvaluator`` run in this process. Its ``parallelism`` (the
            candidates it runs at once) sets how many it is given per call, and so how
            often progress is reported.
        on_result: called once per candidate, as soon as this process knows its
            result (its own jobs at once, other ranks' jobs after the gather).
    """

    def __init__(self, evaluate: Union[CandidateEvaluator, Callable[..., List[CandidateResult]]],
                 on_result: Optional[ResultCallback] = None) -> None:
        self.evaluate = (
            InProcessEvaluate(evaluate) if isinstance(evaluate, CandidateEvaluator) else evaluate)
        self.on_result = on_result
        #: candidate index -> rank that evaluated it, since the last ``reset``.
        self.evaluated_by: Dict[int, int] = {}

    def reset(self) -> None:
        self.evaluated_by = {}

    def __call__(self, jobs: List[CandidateJob]) -> List[CandidateResult]:
        rank, world_size = get_dist_info()
        local = self._run(share_of(jobs, rank, world_size), rank)
        if world_size == 1:
            gathered = local
        else:
            device = job_device(jobs[0])
            shared = [replace(e, result=PackedResult.of(e.result)) for e in local]
            gathered = [
                replace(e, result=e.result.unpack(device)) for part in all_gather_object(shared)
                for e in part
            ]
            for e in gathered:
                if e.rank != rank:
                    self._record(e)
        got = sorted(e.result.index for e in gathered)
        if got != sorted(j.index for j in jobs):
            raise RuntimeError(f'the ranks returned candidates {got} for the jobs '
                               f'{sorted(j.index for j in jobs)}')
        by_index = {e.result.index: e.result for e in gathered}
        return [by_index[j.index] for j in jobs]

    def _run(self, jobs: List[CandidateJob], rank: int) -> List[Evaluated]:
        """This rank's share, ``parallelism`` candidates per call (the times of
        candidates run together are their average)."""
        step = max(1, int(getattr(self.evaluate, 'parallelism', 1)))
        evaluated = []
        for start_at in range(0, len(jobs), step):
            batch = jobs[start_at:start_at + step]
            start = time.perf_counter()
            results = self.evaluate(batch)
            seconds = (time.perf_counter() - start) / len(batch)
            for result in results:
                evaluated.append(Evaluated(result, rank, seconds))
                self._record(evaluated[-1])
        return evaluated

    def close(self) -> None:
        """Stop the evaluation's worker processes, if any."""
        close = getattr(self.evaluate, 'close', None)
        if close is not None:
            close()

    def _record(self, evaluated: Evaluated) -> None:
        self.evaluated_by[evaluated.result.index] = evaluated.rank
        if self.on_result is not None:
            self.on_result(evaluated)


def state_digest(population: np.ndarray, weights: Dict[str, torch.Tensor]) -> str:
    """A hash of a search state's population and weight set, to compare ranks cheaply."""
    h = hashlib.sha256(np.ascontiguousarray(population).tobytes())
    for key in sorted(weights):
        h.update(key.encode())
        flat = weights[key].detach().cpu().contiguous().reshape(-1)
        h.update(flat.view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def check_same_on_all_ranks(digest: Callable[[], str], what: str) -> None:
    """Raise on every rank if the ranks' ``digest()`` values differ (a diverged search).

    ``digest`` is called only with more than one rank: hashing a whole weight set each
    generation is wasted work for a single process.
    """
    rank, world_size = get_dist_info()
    if world_size == 1:
        return
    digests = all_gather_object(digest())
    if len(set(digests)) != 1:
        raise RuntimeError(f'{what} differs between ranks (digests {digests}); the ranks '
                           f'have diverged, which must not happen: check that every rank '
                           f'runs the same code, config and data')
