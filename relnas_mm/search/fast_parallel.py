"""Several candidates at once in worker processes, and the one function the search calls.

``make_evaluate(data, kind='fast', workers=N, ...)`` returns the ``evaluate(jobs) ->
results`` callable that ``RelativeNAS.run_generation`` takes: in this process when
``workers`` is 0, else spread over N worker processes (each builds its evaluator once,
from a picklable ``EvaluatorSpec``; the search data reaches them as shared-memory CPU
tensors). Several processes can share one GPU; the eager reference, bound by the host,
gains most from that, the CUDA-graph engine from ``streams`` inside one process.

A job's result depends only on the job (its seed drives every random draw), so the
results equal sequential evaluation whichever worker runs which job.

Weights travel packed: one flat tensor per dtype instead of thousands of small tensors,
and a result carries only what its candidate trained. Log records of the workers (a
failed CUDA graph capture, say) come back with the results and go to this process's
'relnas_mm' logger, and so to the run log.
"""
import importlib
import logging
import math
import os
import queue
import time
import traceback
import weakref
from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Type, Union

import torch
import torch.multiprocessing as mp

from ..space.genotype import Genotype
from .evaluator import CandidateEvaluator, CandidateJob, CandidateResult, EagerEvaluator, SearchData
from .fast_evaluator import FastEvaluator, default_streams
from .numerics import Device

#: evaluator names: short ones for make_evaluate and the benchmark, class names for configs
EVALUATORS: Dict[str, Type[CandidateEvaluator]] = {
    'eager': EagerEvaluator,
    'fast': FastEvaluator,
    'EagerEvaluator': EagerEvaluator,
    'FastEvaluator': FastEvaluator
}
EvaluatorKind = Union[str, Type[CandidateEvaluator]]
logger = logging.getLogger('relnas_mm')
#: seconds between checks that the workers are alive while waiting for them
POLL_S = 1.0


# ----------------------------------------------------------------------------- packing
@dataclass
class PackedState:
    """A state dict as one flat tensor per dtype plus names and shapes (cheap to send)."""

    names: List[str]
    shapes: List[Tuple[int, ...]]
    dtypes: List[torch.dtype]
    flats: Dict[torch.dtype, torch.Tensor]

    @classmethod
    def pack(cls, state: Mapping[str, torch.Tensor]) -> 'PackedState':
        names = list(state)
        groups: Dict[torch.dtype, List[torch.Tensor]] = {}
        for name in names:
            groups.setdefault(state[name].dtype, []).append(state[name].detach().reshape(-1))
        flats = {dtype: torch.cat(parts).cpu() for dtype, parts in groups.items()}  # 1 copy
        return cls(names, [tuple(state[n].shape) for n in names], [state[n].dtype for n in names],
                   flats)

    @property
    def nbytes(self) -> int:
        return sum(f.numel() * f.element_size() for f in self.flats.values())

    def unpack(self, device: Optional[torch.device] = None) -> Dict[str, torch.Tensor]:
        """Views into the flat tensors (moved to ``device`` first, one copy per dtype)."""
        flats = {d: f.to(device) if device is not None else f for d, f in self.flats.items()}
        offsets = dict.fromkeys(flats, 0)
        state = {}
        for name, shape, dtype in zip(self.names, self.shapes, self.dtypes):
            numel = math.prod(shape)
            state[name] = flats[dtype][offsets[dtype]:offsets[dtype] + numel].view(shape)
            offsets[dtype] += numel
        return state


@dataclass
class _JobMessage:
    index: int
    genotype: Genotype
    weights: PackedState
    lr: float
    drop_prob: float
    seed: int

    def job(self, device: torch.device) -> CandidateJob:
        return CandidateJob(index=self.index, genotype=self.genotype,
                            weights=self.weights.unpack(device), lr=self.lr,
                            drop_prob=self.drop_prob, seed=self.seed)


@dataclass
class PackedResult:
    """A ``CandidateResult`` as it travels between processes or ranks: its numbers and
    its trained state packed (one host buffer per dtype)."""

    index: int
    loss: float
    acc: float
    train_loss: float
    finite: bool
    state: PackedState
    capture_failures: int = 0
    cuda_graphs: bool = False

    @classmethod
    def of(cls, result: CandidateResult) -> 'PackedResult':
        return cls(result.index, result.loss, result.acc, result.train_loss, result.finite,
                   PackedState.pack(result.state), result.capture_failures, result.cuda_graphs)

    def unpack(self, device: Optional[torch.device] = None) -> CandidateResult:
        return CandidateResult(index=self.index, loss=self.loss, acc=self.acc,
                               train_loss=self.train_loss, state=self.state.unpack(device),
                               finite=self.finite, capture_failures=self.capture_failures,
                               cuda_graphs=self.cuda_graphs)


# ----------------------------------------------------------------------------- building
def evaluator_class(kind: EvaluatorKind) -> Type[CandidateEvaluator]:
    """The evaluator class that ``kind`` names: a name of ``EVALUATORS``, the dotted path
    of a class elsewhere (``'package.module.ClassName'``), or the class itself.

    The one lookup of evaluator names: ``make_evaluate``, the benchmark and the search
    config's ``search.evaluator.type`` all go through it.
    """
    cls: Any = kind
    if isinstance(kind, str):
        if kind in EVALUATORS:
            return EVALUATORS[kind]
        cls = None
        if '.' in kind:
            module, _, attr = kind.rpartition('.')
            try:
                cls = getattr(importlib.import_module(module), attr, None)
            except ImportError as exc:
                raise ValueError(f'cannot import {kind!r}: {exc}') from exc
    if not (isinstance(cls, type) and issubclass(cls, CandidateEvaluator)):
        raise ValueError(f'{kind!r} is not a known evaluator (evaluator kind must be one of '
                         f'{sorted(EVALUATORS)} or a CandidateEvaluator class, got {kind!r}; '
                         f'name a class elsewhere by its dotted path, '
                         f'"package.module.ClassName")')
    return cls


@dataclass
class EvaluatorSpec:
    """How to build an evaluator in any process.

    Args:
        kind: a name of ``EVALUATORS`` ('eager' / 'EagerEvaluator' is the reference,
            'fast' / 'FastEvaluator'), a dotted path or a ``CandidateEvaluator`` subclass
            (see ``evaluator_class``).
        data: the search halves.
        options: the evaluator's other keyword arguments (model_cfg, batch_size,
            device, cuda_graph, ...).
    """

    kind: EvaluatorKind
    data: SearchData
    options: Dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        evaluator_class(self.kind)  # fail here, not in a worker
        if 'data' in self.options:
            raise ValueError('EvaluatorSpec.options must not contain "data"; pass it as data')

    def build(self) -> CandidateEvaluator:
        return evaluator_class(self.kind)(self.data, **self.options)


class InProcessEvaluate:
    """``evaluate(jobs)`` over one evaluator in this process."""

    def __init__(self, evaluator: CandidateEvaluator) -> None:
        self.evaluator = evaluator
        #: candidates it runs at once (a FastEvaluator's streams)
        self.parallelism = int(getattr(evaluator, 'streams', 1))

    def __call__(self, jobs: List[CandidateJob]) -> List[CandidateResult]:
        return self.evaluator.evaluate_many(jobs)

    def close(self) -> None:
        """Nothing to release (for symmetry with ``ParallelEvaluate``)."""

    def __enter__(self) -> 'InProcessEvaluate':
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ----------------------------------------------------------------------------- workers
class _ToParent(logging.Handler):
    """Sends a worker's 'relnas_mm' log records to the parent with the replies."""

    def __init__(self, rank: int, replies: Any) -> None:
        super().__init__()
        self.rank, self.replies = rank, replies

    def emit(self, record: logging.LogRecord) -> None:
        self.replies.put(('log', self.rank, None, (record.levelno, record.getMessage())))


def _worker(rank: int, spec: EvaluatorSpec, threads: int, tasks: Any, replies: Any) -> None:
    """A worker process: build the evaluator once, then evaluate chunks until None."""
    logger.addHandler(_ToParent(rank, replies))
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        torch.set_num_threads(threads)
        evaluator = spec.build()
        device = getattr(evaluator, 'device', torch.device('cpu'))
    except BaseException:  # report anything, the parent decides
        replies.put(('error', rank, None, traceback.format_exc()))
        return
    replies.put(('ready', rank, None, None))
    while True:
        task = tasks.get()
        if task is None:
            return
        call, positions, messages = task
        try:
            jobs = [m.job(device) for m in messages]
            out = evaluator.evaluate_many(jobs)
            replies.put(('done', call, positions, [PackedResult.of(r) for r in out]))
        except BaseException:
            replies.put(('error', call, positions, traceback.format_exc()))


def _shutdown(processes: List[Any], tasks: Any) -> None:
    for _ in processes:
        tasks.put(None)
    for p in processes:
        p.join(timeout=10)
        if p.is_alive():
            p.terminate()
            p.join()


class ParallelEvaluate:
    """``evaluate(jobs)`` over ``workers`` spawned processes, results in job order.

    Args:
        spec: how each worker builds its evaluator. Data on a GPU is sent as CPU
            shared memory and moved back to the device in each worker.
        workers: number of processes.
        threads: intra-op threads per worker (default: this process's threads divided
            among the workers, at least 1).
        devices: optional per-worker devices (worker w uses ``devices[w % len]``),
            e.g. several GPUs; default: the spec's device.
        chunk: jobs handed to a worker at a time (default: the spec's ``streams``,
            so that a FastEvaluator runs that many at once).
    """

    def __init__(self, spec: EvaluatorSpec, workers: int, threads: Optional[int] = None,
                 devices: Optional[Sequence[str]] = None, chunk: Optional[int] = None,
                 start_timeout: float = 600.0) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f'ParallelEvaluate: workers must be a positive integer, '
                             f'got {workers!r}')
        data = spec.data
        options = dict(spec.options)
        options.setdefault('device', str(data.device))
        if data.device.type != 'cpu':
            data = data.to('cpu')
        for tensor in (data.train_images, data.train_labels, data.valid_images, data.valid_labels):
            tensor.share_memory_()
        fast = issubclass(evaluator_class(spec.kind), FastEvaluator)
        streams = options.get('streams') or (default_streams(options['device']) if fast else 1)
        self.chunk = chunk or int(streams)
        #: candidates it runs at once
        self.parallelism = workers * self.chunk
        threads = threads or max(1, torch.get_num_threads() // workers)
        ctx = mp.get_context('spawn')
        self._tasks, self._replies = ctx.Queue(), ctx.Queue()
        self._processes = []
        for rank in range(workers):
            worker_options = dict(options)
            if devices:
                worker_options['device'] = devices[rank % len(devices)]
            worker_spec = replace(spec, data=data, options=worker_options)
            process = ctx.Process(target=_worker, daemon=True, name=f'relnas-eval-{rank}',
                                  args=(rank, worker_spec, threads, self._tasks, self._replies))
            process.start()
            self._processes.append(process)
        self._finalizer = weakref.finalize(self, _shutdown, self._processes, self._tasks)
        self._calls = 0
        self._wait_ready(start_timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for _ in self._processes:
            kind, rank, _, text = self._get(deadline)
            if kind == 'error':
                self.close()
                raise RuntimeError(f'ParallelEvaluate: worker {rank} could not build its '
                                   f'evaluator:\n{text}')

    def _get(self, deadline: Optional[float] = None) -> tuple:
        """The next reply (workers' log records are logged here on the way); raises if
        a worker died meanwhile or ``deadline`` passed."""
        while True:
            try:
                reply = self._replies.get(timeout=POLL_S)
                if reply[0] != 'log':
                    return reply
                level, message = reply[3]
                logger.log(level, 'worker %d: %s', reply[1], message)
            except queue.Empty:
                dead = [(p.name, p.exitcode) for p in self._processes if not p.is_alive()]
                late = deadline is not None and time.monotonic() > deadline
                if dead or late:
                    self.close()
                    problem = (f'worker process(es) died: {dead} (name, exit code)'
                               if dead else 'workers not ready in time')
                    raise RuntimeError(f'ParallelEvaluate: {problem}') from None

    def __call__(self, jobs: List[CandidateJob]) -> List[CandidateResult]:
        if self._finalizer.alive is False:
            raise RuntimeError('ParallelEvaluate: already closed')
        self._calls += 1
        call = self._calls
        packed: Dict[int, PackedState] = {}  # snapshots shared by several jobs go once
        messages = []
        for job in jobs:
            if id(job.weights) not in packed:
                packed[id(job.weights)] = PackedState.pack(job.weights)
            weights = packed[id(job.weights)]
            messages.append(
                _JobMessage(job.index, job.genotype, weights, float(job.lr), float(job.drop_prob),
                            int(job.seed)))
        for start in range(0, len(jobs), self.chunk):
            positions = list(range(start, min(start + self.chunk, len(jobs))))
            self._tasks.put((call, positions, [messages[i] for i in positions]))
        results: List[Optional[CandidateResult]] = [None] * len(jobs)
        remaining = len(jobs)
        while remaining:
            kind, reply_call, positions, payload = self._get()
            if kind == 'error':
                indices = [jobs[i].index for i in positions]
                raise RuntimeError(f'ParallelEvaluate: a worker failed on candidate(s) '
                                   f'{indices}:\n{payload}')
            if reply_call != call:
                continue  # a reply left over from an interrupted earlier call
            for pos, message in zip(positions, payload):
                results[pos] = message.unpack(job_device(jobs[pos]))
            remaining -= len(positions)
        return results

    def close(self) -> None:
        """Stop the workers (also done when the object is garbage collected)."""
        self._finalizer()

    def __enter__(self) -> 'ParallelEvaluate':
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def job_device(job: CandidateJob) -> Optional[torch.device]:
    """Where a job's weights live (its results are unpacked there)."""
    return next(iter(job.weights.values())).device if job.weights else None


def auto_workers(device: Device) -> int:
    """Worker processes that make evaluation fastest on ``device``.

    On the CPU the search network is too small for intra-op threads to pay: the
    threads this process was given (``torch.get_num_threads()``, shared with the other
    local ranks) work faster as that many single-threaded processes, each evaluating
    its own candidates. On CUDA one process feeds the GPU through streams: 0.
    """
    if device is not None and torch.device(device).type != 'cpu':
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()
    local_ranks = int(os.environ.get('LOCAL_WORLD_SIZE', '1'))
    workers = min(torch.get_num_threads(), max(1, (cores or 1) // local_ranks))
    return workers if workers > 1 else 0


def make_evaluate(data: SearchData, kind: EvaluatorKind = 'fast', workers: Union[int, str] = 'auto',
                  threads: Optional[int] = None, devices: Optional[Sequence[str]] = None,
                  **options: Any) -> Any:
    """The search's ``evaluate(jobs) -> results`` callable (with ``close()`` and
    ``parallelism``, the candidates it runs at once).

    Args:
        data: the search halves.
        kind: 'eager' (the reference), 'fast', or see ``evaluator_class``.
        workers: 0 evaluates in this process; N > 0 in N worker processes (one math
            thread each unless ``threads``); 'auto' (default): ``auto_workers``.
        threads, devices: worker settings, see ``ParallelEvaluate``.
        **options: the evaluator's keyword arguments (model_cfg, batch_size, device,
            cuda_graph, channels_last, streams, ...).

    Example::

        evaluate = make_evaluate(data, 'fast', model_cfg=dict(channels=16, num_cells=8),
                                 device='cuda', streams=2)
        record = search.run_generation(evaluate)
    """
    spec = EvaluatorSpec(kind, data, dict(options))
    if workers == 'auto':
        workers = auto_workers(options.get('device', data.device))
        threads = threads or 1
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise ValueError(f"make_evaluate: workers must be an integer >= 0 or 'auto', "
                         f'got {workers!r}')
    if workers == 0:
        return InProcessEvaluate(spec.build())
    return ParallelEvaluate(spec, workers, threads=threads, devices=devices)
