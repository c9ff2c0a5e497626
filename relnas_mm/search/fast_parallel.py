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

A worker exits within seconds when this process dies, however it dies; a worker that
dies has its candidates run again once on a fresh worker (see ``ParallelEvaluate``).
"""
import ctypes
import importlib
import logging
import math
import os
import signal
import sys
import threading
import time
import traceback
import weakref
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait
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
#: seconds between checks of the workers' pipes while waiting for them
POLL_S = 1.0
#: seconds between a worker's checks that its parent is alive (where prctl is missing)
PARENT_POLL_S = 1.0
_PR_SET_PDEATHSIG = 1


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
    """Sends a worker's 'relnas_mm' log records to the parent through its pipe."""

    def __init__(self, conn: Connection) -> None:
        super().__init__()
        self.conn = conn

    def emit(self, record: logging.LogRecord) -> None:
        self.conn.send(('log', None, None, (record.levelno, record.getMessage())))


def _exit_with_parent(parent_pid: int) -> None:
    """End this worker within seconds of its parent's death, however the parent died.

    A worker busy with a candidate does not read its pipe, so it would not see the
    parent go; left alone it lives on, reparented to init. On Linux the kernel kills
    it (``PR_SET_PDEATHSIG``; it fires when the thread that started the worker ends,
    so ``ParallelEvaluate`` belongs to a thread that outlives it, as the search's main
    thread does); everywhere a thread polls the parent's pid as well.
    """
    if sys.platform.startswith('linux'):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass  # the poll below still works
    if os.getppid() != parent_pid:  # the parent died before prctl
        os._exit(1)

    def poll() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=poll, name='relnas-parent-watch', daemon=True).start()


def _worker(slot: int, spec: EvaluatorSpec, threads: int, conn: Connection,
            parent_pid: int) -> None:
    """A worker process: build the evaluator once, then evaluate chunks until None
    (or until the parent is gone: its end of the pipe closes, or it dies)."""
    _exit_with_parent(parent_pid)
    logger.addHandler(_ToParent(conn))
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        torch.set_num_threads(threads)
        evaluator = spec.build()
        device = getattr(evaluator, 'device', torch.device('cpu'))
    except BaseException:  # report anything, the parent decides
        conn.send(('error', None, None, traceback.format_exc()))
        return
    conn.send(('ready', None, None, None))
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        call, positions, messages = task
        try:
            jobs = [m.job(device) for m in messages]
            out = evaluator.evaluate_many(jobs)
            conn.send(('done', call, positions, [PackedResult.of(r) for r in out]))
        except BaseException:
            conn.send(('error', call, positions, traceback.format_exc()))


@dataclass(eq=False)
class _Worker:
    """One worker process, the parent's end of its pipe, and its chunk in flight
    (``(call, positions)``, None when idle)."""

    slot: int
    process: Any
    conn: Connection
    task: Optional[Tuple[int, List[int]]] = None


def _shutdown(workers: List[_Worker]) -> None:
    for w in workers:
        try:
            w.conn.send(None)
        except OSError:
            pass  # already gone
    for w in workers:
        w.process.join(timeout=10)
        if w.process.is_alive():
            w.process.terminate()
            w.process.join()
        w.conn.close()


class ParallelEvaluate:
    """``evaluate(jobs)`` over ``workers`` spawned processes, results in job order.

    Each worker has its own pipe and gets one chunk at a time, so the chunk a dead
    worker held is known: it runs again on a fresh worker (once per call, with a
    warning; the job's seed makes the result the same). A second death in the same
    call, or a worker that cannot start, stops with an error. Workers exit within
    seconds when this process dies (``_exit_with_parent``).

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
        start_timeout: seconds a worker may take to build its evaluator.
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
        self._threads = threads or max(1, torch.get_num_threads() // workers)
        self._start_timeout = start_timeout
        self._ctx = mp.get_context('spawn')
        self._specs = []
        for slot in range(workers):
            worker_options = dict(options)
            if devices:
                worker_options['device'] = devices[slot % len(devices)]
            self._specs.append(replace(spec, data=data, options=worker_options))
        self._workers: List[_Worker] = []
        self._finalizer = weakref.finalize(self, _shutdown, self._workers)
        self._calls = 0
        for slot in range(workers):
            self._workers.append(self._spawn(slot))
        deadline = time.monotonic() + start_timeout
        for w in list(self._workers):
            self._wait_ready(w, deadline)

    def _spawn(self, slot: int) -> _Worker:
        conn, child = self._ctx.Pipe()
        process = self._ctx.Process(
            target=_worker, daemon=True, name=f'relnas-eval-{slot}',
            args=(slot, self._specs[slot], self._threads, child, os.getpid()))
        process.start()
        child.close()  # the worker's death then reads as EOF here
        return _Worker(slot, process, conn)

    def _wait_ready(self, w: _Worker, deadline: float) -> None:
        """Wait for ``w`` to build its evaluator; raise (closing all) if it cannot."""
        while True:
            ready = wait([w.conn], timeout=max(0.0, min(POLL_S, deadline - time.monotonic())))
            message = self._recv(w) if ready else None
            if ready and message is None:
                self._fail(f'worker process(es) died: {self._dead([w])} (name, exit code)')
            if message is not None and message[0] == 'error':
                self._fail(f'worker {w.slot} could not build its evaluator:\n{message[3]}')
            if message is not None and message[0] == 'ready':
                return
            if not ready and time.monotonic() > deadline:
                self._fail('workers not ready in time')

    def _recv(self, w: _Worker) -> Optional[tuple]:
        """The next message of ``w`` (a log record is logged here, and comes back as kind
        'log'); None when ``w`` died."""
        try:
            message = w.conn.recv()
        except (EOFError, OSError):
            return None
        if message[0] == 'log':
            level, text = message[3]
            logger.log(level, 'worker %d: %s', w.slot, text)
        return message

    def _dead(self, workers: List[_Worker]) -> List[Tuple[str, Optional[int]]]:
        for w in workers:
            w.process.join(timeout=5)
        return [(w.process.name, w.process.exitcode) for w in workers]

    def _fail(self, problem: str) -> None:
        self.close()
        raise RuntimeError(f'ParallelEvaluate: {problem}') from None

    def _replace(self, w: _Worker, what: str) -> None:
        """Start a fresh worker in ``w``'s slot (its chunk, ``what``, is re-queued by the
        caller)."""
        dead = self._dead([w])
        w.conn.close()
        logger.warning(
            'ParallelEvaluate: worker %s died (exit code %s) while evaluating %s; '
            'starting a fresh worker to run them again', dead[0][0], dead[0][1], what)
        fresh = self._spawn(w.slot)
        self._workers[self._workers.index(w)] = fresh
        self._wait_ready(fresh, time.monotonic() + self._start_timeout)

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
        todo = [
            list(range(start, min(start + self.chunk, len(jobs))))
            for start in range(0, len(jobs), self.chunk)
        ]
        results: List[Optional[CandidateResult]] = [None] * len(jobs)
        remaining, replaced = len(jobs), False
        while remaining:
            for w in self._workers:
                if todo and w.task is None and self._send(w, call, todo[0], messages):
                    todo.pop(0)
            ready = wait([w.conn for w in self._workers], timeout=POLL_S)
            for w in [w for w in self._workers if w.conn in ready]:
                message = self._recv(w)
                if message is None:  # died: its chunk goes first on a fresh worker
                    if replaced:
                        self._fail(f'worker process(es) died: {self._dead([w])} '
                                   f'(name, exit code)')
                    lost = w.task[1] if w.task is not None and w.task[0] == call else []
                    if lost:
                        todo.insert(0, lost)
                    replaced = True
                    self._replace(
                        w,
                        f'candidate(s) {[jobs[i].index for i in lost]}' if lost else 'no candidate')
                    continue
                kind, reply_call, positions, payload = message
                if kind == 'log':
                    continue
                w.task = None
                if reply_call != call:
                    continue  # a reply left over from an interrupted earlier call
                if kind == 'error':
                    indices = [jobs[i].index for i in positions]
                    raise RuntimeError(f'ParallelEvaluate: a worker failed on candidate(s) '
                                       f'{indices}:\n{payload}')
                for pos, result in zip(positions, payload):
                    results[pos] = result.unpack(job_device(jobs[pos]))
                remaining -= len(positions)
        return results

    def _send(self, w: _Worker, call: int, positions: List[int],
              messages: List[_JobMessage]) -> bool:
        """Hand ``w`` a chunk; False when ``w`` is dead (found by the next wait)."""
        try:
            w.conn.send((call, positions, [messages[i] for i in positions]))
        except OSError:
            return False
        w.task = (call, positions)
        return True

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
