"""What a search writes to its work_dir, the lock that makes the work_dir its own, and
the checkpoint it resumes from.

Per generation (rank 0): a search-state checkpoint, ``search_history.json`` (every
generation's record and which rank evaluated each candidate) and
``best_genotype.json`` (which says whether the search finished). At the end: the same
files, the cell pictures, the loss curves and, under a budget, the Pareto front
(``search_budget.save_pareto``). Every file is written atomically, so an interrupted
search leaves the last complete version; a write that fails (a full disk) stops the
search with one message saying what to do. ``search.lock`` names the search that owns
the work_dir while it runs, so two searches never mix their files.
"""
import contextlib
import json
import math
import os
import os.path as osp
import shutil
import socket
import time
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import torch

from ..search import RelativeNAS
from ..search.checkpoint import (SearchStateError, check_fingerprint, latest_search_state,
                                 list_search_states, load_search_state, make_search_state,
                                 restore_rng, save_search_state, state_file)
from ..space.genotype import save_genotype
from ..utils.fileio import atomic_write
from ..visualization import plot_genotype, plot_search_curves
from .search_budget import best_fields, save_pareto

HISTORY_FILE = 'search_history.json'
BEST_FILE = 'best_genotype.json'
CURVES_FILE = 'search_curves.png'
CELLS_DIR = 'cells'
LOCK_FILE = 'search.lock'


class WorkDirBusyError(RuntimeError):
    """Another search holds the work_dir's lock."""


class SearchSaveError(RuntimeError):
    """A search file could not be written (a full disk, say); says how to go on."""


def _size(n: float) -> str:
    for unit in ('B', 'KB', 'MB', 'GB'):
        if n < 1000 or unit == 'GB':
            return f'{n:.0f} {unit}' if unit == 'B' else f'{n:.1f} {unit}'
        n /= 1000
    raise AssertionError('unreachable')


class _Counter:
    """A file that only counts what is written to it (the size of a state)."""

    def __init__(self) -> None:
        self.bytes = 0

    def write(self, data: bytes) -> int:
        self.bytes += len(data)
        return len(data)

    def flush(self) -> None:
        """Nothing is buffered."""


def state_size(state: Mapping[str, Any]) -> int:
    """Bytes ``torch.save`` writes for ``state``, without writing it anywhere."""
    counter = _Counter()
    torch.save(dict(state), counter)
    return counter.bytes


class WorkDirLock:
    """``work_dir/search.lock``: the host, pid and start time of the search that owns
    the work_dir. Created exclusively (``O_EXCL``), so of two searches only one gets it.

    A lock whose process is dead on this host is stale: :meth:`acquire` takes it over
    and returns a warning. A live one, or one from another host (whose processes
    cannot be seen from here), stops the second search with a message naming it.
    """

    def __init__(self, work_dir: str) -> None:
        self.path = osp.join(work_dir, LOCK_FILE)
        self.owner = dict(host=socket.gethostname(), pid=os.getpid(),
                          started=time.strftime('%Y-%m-%d %H:%M:%S %Z'))
        self.held = False

    def acquire(self) -> Optional[str]:
        """Take the lock; returns the warning to log when a stale one was taken over."""
        os.makedirs(osp.dirname(self.path), exist_ok=True)
        warning = None
        while True:
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                if not self._stale(holder):
                    raise WorkDirBusyError(self._busy(holder)) from None
                if not self._take_over(holder):
                    continue  # it changed meanwhile: look again
                warning = (f'{self.path}: took over the lock of search pid {holder["pid"]} '
                           f'(started {holder["started"]}), which is no longer running on '
                           f'{holder["host"]}; the work_dir\'s files are those it left')
                continue
            with os.fdopen(fd, 'w') as f:
                json.dump(self.owner, f)
            self.held = True
            return warning

    def release(self) -> None:
        """Remove the lock if this object holds it."""
        if self.held and self._holder() == self.owner:
            os.remove(self.path)
        self.held = False

    def _holder(self, path: Optional[str] = None) -> Optional[Dict[str, Any]]:
        """The lock's fields (of ``path``, default the lock), None if unreadable."""
        try:
            with open(path or self.path) as f:
                holder = json.load(f)
        except (OSError, ValueError):
            return None  # being written, or damaged
        return holder if isinstance(holder, dict) and {'host', 'pid', 'started'} <= set(holder) \
            else None

    def _stale(self, holder: Optional[Mapping[str, Any]]) -> bool:
        if holder is None or holder['host'] != self.owner['host']:
            return False
        try:
            os.kill(int(holder['pid']), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False  # alive, another user's
        return False

    def _take_over(self, holder: Mapping[str, Any]) -> bool:
        """Move the stale lock aside, if it is still the one read (another search may
        have taken it over first)."""
        aside = f'{self.path}.stale{os.getpid()}'
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return False
        if self._holder(aside) != holder:  # another search's fresh lock: put it back
            os.rename(aside, self.path)
            return False
        os.remove(aside)
        return True

    def _busy(self, holder: Optional[Mapping[str, Any]]) -> str:
        if holder is None:
            return (f'{self.path} exists but cannot be read: another search may be starting '
                    f'in this work_dir. If none is, delete the file and start again')
        return (f'another search is running in {osp.dirname(self.path)}: pid {holder["pid"]} '
                f'on {holder["host"]}, started {holder["started"]} ({self.path}). Two searches '
                f'in one work_dir would mix their checkpoints and results: wait for it, or '
                f'use another --work-dir. If it is no longer running (another host\'s '
                f'processes cannot be checked from here), delete {self.path}')


class SearchFiles:
    """The files of one search in ``work_dir``.

    Args:
        work_dir: the run's work_dir.
        fingerprint: the search config's fingerprint (``search_fingerprint``), saved in
            the history and every checkpoint and checked on resume.
        keep_checkpoints: how many per-generation search states to keep.
        plot: draw the cells and the curves (and the Pareto front) at the end.
        resume_command: the command that continues this search (named when a write fails).
    """

    def __init__(self, work_dir: str, fingerprint: Mapping[str, Any], keep_checkpoints: int = 3,
                 plot: bool = True,
                 resume_command: str = 'tools/search.py CONFIG --resume') -> None:
        self.work_dir = work_dir
        self.resume_command = resume_command
        self.fingerprint = dict(fingerprint)
        self.keep_checkpoints = keep_checkpoints
        self.plot = plot

    # ------------------------------------------------------------------ resume
    def state_to_resume(
            self, resume: bool,
            load_from: Optional[str]) -> Tuple[Optional[str], Optional[Dict[str, Any]], List[str]]:
        """The checkpoint that ``cfg.resume``/``cfg.load_from`` ask for, loaded and
        checked: ``(path, state, skipped)``; ``(None, None, [])`` when not resuming or
        when work_dir has none.

        ``load_from`` (``--resume PATH``) is that file or an error. Otherwise the
        latest checkpoint, or if it cannot be read or is another search's, the newest
        one that can and is this search's: ``skipped`` then says which files were
        passed over and why. Raises ``SearchStateError`` when none is usable.
        """
        if not resume:
            if load_from:
                raise ValueError(f'load_from={load_from!r} without resume: the search only '
                                 f'resumes its own checkpoints (tools/search.py --resume PATH)')
            return None, None, []
        if load_from:
            return load_from, self._load(load_from), []
        skipped: List[str] = []
        try:
            latest = latest_search_state(self.work_dir)
        except SearchStateError as exc:
            latest = None
            skipped.append(str(exc))
        newest_first = list(reversed(list_search_states(self.work_dir)))
        for path in ([latest] if latest else []) + [p for p in newest_first if p != latest]:
            try:
                return path, self._load(path), skipped
            except SearchStateError as exc:
                skipped.append(str(exc))
        if skipped:
            raise SearchStateError(f'--resume: no checkpoint in {self.work_dir} can be '
                                   f'resumed:\n  ' + '\n  '.join(skipped))
        return None, None, []

    def _load(self, path: str) -> Dict[str, Any]:
        state = load_search_state(path)
        check_fingerprint(state['fingerprint'], self.fingerprint, path)
        return state

    @staticmethod
    def resume(state: Mapping[str, Any], algorithm: RelativeNAS) -> List[List[int]]:
        """Restore ``algorithm`` and the RNGs from a checked ``state``; returns the ranks
        that evaluated each candidate so far."""
        algorithm.load_state_dict(state['algorithm'])
        restore_rng(state['rng'])
        return [list(r) for r in state['extra'].get('evaluated_by', [])]

    # ------------------------------------------------------------------ writing
    def save_generation(self, algorithm: RelativeNAS, evaluated_by: List[List[int]]) -> str:
        """A checkpoint, then the history and best genotype, after a generation; returns
        the checkpoint's path."""
        state = make_search_state(algorithm.state_dict(), algorithm.generation, self.fingerprint,
                                  dict(evaluated_by=evaluated_by))
        with self._writing(state_file(self.work_dir, algorithm.generation), state):
            path = save_search_state(state, self.work_dir, keep=self.keep_checkpoints)
        self.save_history(algorithm, evaluated_by)
        self.save_best(algorithm)
        return path

    def save_results(self, algorithm: RelativeNAS, evaluated_by: List[List[int]],
                     reevaluated: Optional[Sequence[Dict[str, Any]]] = None) -> List[str]:
        """The final history and best genotype, and the pictures; returns the paths.

        ``reevaluated``: every cell validated again with the final weight set
        (``search_budget.reevaluate_archive``), for the Pareto front over them all.
        """
        history = history_entries(algorithm, evaluated_by)
        outputs = [self.save_history(algorithm, evaluated_by), self.save_best(algorithm)]
        with self._writing(self.work_dir):  # the error names its file
            if self.plot:
                outputs += plot_genotype(algorithm.best_genotype(),
                                         osp.join(self.work_dir, CELLS_DIR))
                outputs += plot_search_curves(history, osp.join(self.work_dir, CURVES_FILE))
            if algorithm.budget is not None:
                outputs += save_pareto(history, algorithm.budget, self.work_dir, self.plot,
                                       reevaluated)
        return outputs

    def save_history(self, algorithm: RelativeNAS, evaluated_by: List[List[int]]) -> str:
        path = osp.join(self.work_dir, HISTORY_FILE)
        with self._writing(path), atomic_write(path) as f:
            json.dump(
                dict(search=self.fingerprint, generations=history_entries(algorithm, evaluated_by)),
                f, indent=1)
        return path

    def save_best(self, algorithm: RelativeNAS) -> str:
        """``best_genotype.json``: the genotype, where it comes from (``generation``, of
        ``generations``) and whether the search ``finished`` (tools/train.py warns
        about an unfinished one)."""
        record = algorithm.history[-1]
        path = osp.join(self.work_dir, BEST_FILE)
        extra = ({}
                 if algorithm.budget is None else best_fields(record.to_dict(), algorithm.budget))
        with self._writing(path):
            save_genotype(algorithm.best_genotype(), path, generation=record.generation,
                          generations=algorithm.generations, finished=algorithm.finished,
                          val_loss=_finite(record.best_loss), val_acc=_finite(record.best_acc),
                          **extra)
        return path

    @contextlib.contextmanager
    def _writing(self, path: str, state: Optional[Mapping[str, Any]] = None) -> Iterator[None]:
        """Turn an OSError while writing ``path`` into one message: the file, the free
        space, the size of ``state``, that the last checkpoint is intact, how to resume."""
        try:
            yield
        except OSError as exc:
            free = shutil.disk_usage(self.work_dir).free
            size = f'; the search state is {_size(state_size(state))}' if state else ''
            try:
                latest = latest_search_state(self.work_dir)
            except SearchStateError:
                latest = None
            kept = (f'The last complete checkpoint, {latest}, is intact (files are written '
                    f'atomically)' if latest else 'No checkpoint was written yet')
            raise SearchSaveError(
                f'could not write {path if path != self.work_dir else exc.filename or path}: '
                f'{exc.strerror or exc} ({_size(free)} free on the file system of '
                f'{self.work_dir}{size}). {kept}. Free some '
                f'space (or move the work_dir to a larger disk), then continue with:\n  '
                f'{self.resume_command}') from None


def history_entries(algorithm: RelativeNAS, evaluated_by: List[List[int]]) -> List[Dict[str, Any]]:
    """Every generation's record, with the rank that evaluated each candidate."""
    history = [r.to_dict() for r in algorithm.history]
    for entry, ranks in zip(history, evaluated_by):
        entry['evaluated_by'] = ranks
    return history


def _finite(value: float) -> Optional[float]:
    return float(value) if math.isfinite(value) else None


def unfinished_search(path: str) -> Optional[str]:
    """Why the genotype file ``path`` is not a search's final result (a
    ``best_genotype.json`` written before its search finished), else None."""
    try:
        with open(path) as f:
            fields = json.load(f)
    except (OSError, ValueError):
        return None  # not a JSON file: not a search's
    if not isinstance(fields, dict) or fields.get('finished', True) is not False:
        return None
    return (f'{path} is the best genotype of an unfinished search (generation '
            f'{fields.get("generation", -1) + 1} of {fields.get("generations", "?")}): resume '
            f'the search (tools/search.py CONFIG --resume) for its final result')
