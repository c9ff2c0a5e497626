"""What a search writes to its work_dir, and the checkpoint it resumes from.

Per generation (rank 0): ``search_history.json`` (every generation's record and which
rank evaluated each candidate), ``best_genotype.json`` and a search-state checkpoint.
At the end: the same two files, the cell pictures, the loss curves and, under a
budget, the Pareto front (``search_budget.save_pareto``). Every file is written
atomically, so an interrupted search leaves the last complete version.
"""
import json
import math
import os.path as osp
from typing import Any, Dict, List, Mapping, Optional, Sequence

from ..search import RelativeNAS
from ..search.checkpoint import (check_fingerprint, latest_search_state, load_search_state,
                                 make_search_state, restore_rng, save_search_state)
from ..space.genotype import save_genotype
from ..utils.fileio import atomic_write
from ..visualization import plot_genotype, plot_search_curves
from .search_budget import best_fields, save_pareto

HISTORY_FILE = 'search_history.json'
BEST_FILE = 'best_genotype.json'
CURVES_FILE = 'search_curves.png'
CELLS_DIR = 'cells'


class SearchFiles:
    """The files of one search in ``work_dir``.

    Args:
        work_dir: the run's work_dir.
        fingerprint: the search config's fingerprint (``search_fingerprint``), saved in
            the history and every checkpoint and checked on resume.
        keep_checkpoints: how many per-generation search states to keep.
        plot: draw the cells and the curves (and the Pareto front) at the end.
    """

    def __init__(self, work_dir: str, fingerprint: Mapping[str, Any], keep_checkpoints: int = 3,
                 plot: bool = True) -> None:
        self.work_dir = work_dir
        self.fingerprint = dict(fingerprint)
        self.keep_checkpoints = keep_checkpoints
        self.plot = plot

    # ------------------------------------------------------------------ resume
    def checkpoint_to_resume(self, resume: bool, load_from: Optional[str]) -> Optional[str]:
        """The checkpoint ``cfg.resume``/``cfg.load_from`` ask for: ``load_from``, else the
        latest in work_dir; None when not resuming or when work_dir has none."""
        if not resume:
            if load_from:
                raise ValueError(f'load_from={load_from!r} without resume: the search only '
                                 f'resumes its own checkpoints (tools/search.py --resume PATH)')
            return None
        return load_from or latest_search_state(self.work_dir)

    def resume(self, path: str, algorithm: RelativeNAS) -> List[List[int]]:
        """Restore ``algorithm`` and the RNGs from ``path`` (refused if it was made by
        another search config); returns the ranks that evaluated each candidate so far."""
        state = load_search_state(path)
        check_fingerprint(state['fingerprint'], self.fingerprint, path)
        algorithm.load_state_dict(state['algorithm'])
        restore_rng(state['rng'])
        return [list(r) for r in state['extra'].get('evaluated_by', [])]

    # ------------------------------------------------------------------ writing
    def save_generation(self, algorithm: RelativeNAS, evaluated_by: List[List[int]]) -> str:
        """History, best genotype and a checkpoint after a generation; returns the
        checkpoint's path."""
        self.save_history(algorithm, evaluated_by)
        self.save_best(algorithm)
        return save_search_state(
            make_search_state(algorithm.state_dict(), algorithm.generation, self.fingerprint,
                              dict(evaluated_by=evaluated_by)), self.work_dir,
            keep=self.keep_checkpoints)

    def save_results(self, algorithm: RelativeNAS, evaluated_by: List[List[int]],
                     reevaluated: Optional[Sequence[Dict[str, Any]]] = None) -> List[str]:
        """The final history and best genotype, and the pictures; returns the paths.

        ``reevaluated``: every cell validated again with the final weight set
        (``search_budget.reevaluate_archive``), for the Pareto front over them all.
        """
        history = history_entries(algorithm, evaluated_by)
        outputs = [self.save_history(algorithm, evaluated_by), self.save_best(algorithm)]
        if self.plot:
            outputs += plot_genotype(algorithm.best_genotype(), osp.join(self.work_dir, CELLS_DIR))
            outputs += plot_search_curves(history, osp.join(self.work_dir, CURVES_FILE))
        if algorithm.budget is not None:
            outputs += save_pareto(history, algorithm.budget, self.work_dir, self.plot, reevaluated)
        return outputs

    def save_history(self, algorithm: RelativeNAS, evaluated_by: List[List[int]]) -> str:
        path = osp.join(self.work_dir, HISTORY_FILE)
        with atomic_write(path) as f:
            json.dump(
                dict(search=self.fingerprint, generations=history_entries(algorithm, evaluated_by)),
                f, indent=1)
        return path

    def save_best(self, algorithm: RelativeNAS) -> str:
        record = algorithm.history[-1]
        path = osp.join(self.work_dir, BEST_FILE)
        extra = ({}
                 if algorithm.budget is None else best_fields(record.to_dict(), algorithm.budget))
        save_genotype(algorithm.best_genotype(), path, generation=record.generation,
                      val_loss=_finite(record.best_loss), val_acc=_finite(record.best_acc), **extra)
        return path


def history_entries(algorithm: RelativeNAS, evaluated_by: List[List[int]]) -> List[Dict[str, Any]]:
    """Every generation's record, with the rank that evaluated each candidate."""
    history = [r.to_dict() for r in algorithm.history]
    for entry, ranks in zip(history, evaluated_by):
        entry['evaluated_by'] = ranks
    return history


def _finite(value: float) -> Optional[float]:
    return float(value) if math.isfinite(value) else None
