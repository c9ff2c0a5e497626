"""Independent training runs: where each keeps its files, and spreading them over processes.

Every (cell, seed) of a comparison is one training run in its own directory
(``runs/<cell>/seed<k>/``: the config it trains, its log, checkpoints and, once
finished, ``result.json``). Runs share nothing, so they go to separate worker
processes: on CPUs each with a fixed number of math threads, on GPUs each pinned to
one device (``CUDA_VISIBLE_DEVICES``), several per device when they are small. A
run whose ``result.json`` exists is finished and is never started again, which is
what makes a killed comparison resumable. Plain Python (no torch, no mmengine).
"""
import json
import os
import subprocess
import time
from collections import deque
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence

from ..utils.fileio import atomic_write

RESULT_FILE = 'result.json'
LOG_FILE = 'run.log'


class Job(NamedTuple):
    """One training run: ``cell`` trained with ``seed`` in ``run_dir``."""

    cell: str
    seed: int
    run_dir: str


class Slot(NamedTuple):
    """Where a run may execute: a label and the environment its process gets."""

    name: str
    env: Dict[str, str]


def run_dir(work_dir: str, cell: str, seed: int) -> str:
    """``WORK_DIR/runs/<cell>/seed<seed>``."""
    return os.path.join(work_dir, 'runs', cell, f'seed{seed}')


def write_json(path: str, data: Any) -> None:
    """Write JSON atomically: a kill never leaves half a file."""
    with atomic_write(path) as f:
        json.dump(data, f, indent=2)


def read_result(directory: str) -> Optional[Dict[str, Any]]:
    """A finished run's ``result.json``, or None if the run has not finished."""
    path = os.path.join(directory, RESULT_FILE)
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as exc:
            raise ValueError(f'{path} is not valid JSON ({exc}); delete it to train the run '
                             'again') from None


def cpu_slots(workers: int, threads: int) -> List[Slot]:
    """``workers`` CPU processes with ``threads`` math threads each (and no GPU)."""
    if workers < 1 or threads < 1:
        raise ValueError(f'--workers and --threads must be >= 1, got {workers} and {threads}')
    env = {
        'CUDA_VISIBLE_DEVICES': '',
        'OMP_NUM_THREADS': str(threads),
        'MKL_NUM_THREADS': str(threads)
    }
    return [Slot(f'cpu{i}', dict(env)) for i in range(workers)]


def gpu_slots(gpus: Sequence[int], runs_per_gpu: int, threads: int = 1) -> List[Slot]:
    """``runs_per_gpu`` processes per GPU, each seeing only its own device."""
    if runs_per_gpu < 1:
        raise ValueError(f'--runs-per-gpu must be >= 1, got {runs_per_gpu}')
    return [
        Slot(f'gpu{g}.{k}', {
            'CUDA_VISIBLE_DEVICES': str(g),
            'OMP_NUM_THREADS': str(threads)
        }) for k in range(runs_per_gpu) for g in gpus
    ]


def run_jobs(jobs: Sequence[Job], slots: Sequence[Slot], command: Callable[[Job], List[str]],
             on_done: Callable[[Job, int], None], poll_s: float = 0.5) -> None:
    """Run ``command(job)`` for every job, at most one process per slot at a time.

    Each process writes its output to ``<run_dir>/run.log``; ``on_done(job, returncode)``
    is called as each one ends. On an interrupt the running processes are terminated
    (their runs stay unfinished and run again next time).
    """
    if not slots:
        raise ValueError('no slot to run on')
    pending, free = deque(jobs), list(slots)
    running: Dict[subprocess.Popen, tuple] = {}
    try:
        while pending or running:
            while pending and free:
                job, slot = pending.popleft(), free.pop(0)
                os.makedirs(job.run_dir, exist_ok=True)
                log = open(os.path.join(job.run_dir, LOG_FILE), 'a')
                proc = subprocess.Popen(
                    command(job), env={
                        **os.environ,
                        **slot.env
                    }, stdout=log, stderr=subprocess.STDOUT)
                running[proc] = (job, slot, log)
            time.sleep(poll_s)
            for proc in [p for p in running if p.poll() is not None]:
                job, slot, log = running.pop(proc)
                log.close()
                free.append(slot)
                on_done(job, proc.returncode)
    finally:
        for proc, (_, _, log) in running.items():
            proc.terminate()
            proc.wait()
            log.close()


class Progress:
    """One line per finished run, with an estimate of the time left."""

    def __init__(self, total: int) -> None:
        self.total, self.done, self.start = total, 0, time.monotonic()

    def line(self, job: Job, text: str) -> str:
        """Record one finished run and say what is left."""
        self.done += 1
        left = self.total - self.done
        elapsed = time.monotonic() - self.start
        # wall time per finished run so far (parallel runs included), times the runs left
        eta = elapsed / self.done * left
        return (f'[{self.done}/{self.total}] {job.cell} seed {job.seed}: {text}; '
                f'{left} left, about {_duration(eta)} to go')


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 120:
        return f'{seconds} s'
    if seconds < 7200:
        return f'{seconds // 60} min'
    return f'{seconds / 3600:.1f} h'
