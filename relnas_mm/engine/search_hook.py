"""The runner hook that carries a RelativeNAS search (all search logic is in relnas_mm.search).

It reads the config's ``search`` section::

    search = dict(
        data=dict(dataset='cifar10', data_root='data/cifar10', train_portion=0.5,
                  split_seed=0, num_images=None),
        supernet=dict(channels=16, num_cells=8, num_classes=10, stem_multiplier=3),
        evaluator=dict(type='FastEvaluator', batch_size=256, momentum=0.9,
                       weight_decay=3e-4, grad_clip=5.0, augment_valid=False,
                       workers='auto', deterministic=False),
        algorithm=dict(pop_size=20, generations=50, lr_max=0.1, lr_min=0.001,
                       drop_path_max=0.3, writeback='pair', seed=0),
        budget=dict(metric='flops', network='imagenet_mobile', max=600e6))  # optional

(data sets: ``search_data``; the budget and its outputs: ``search_budget``.)
On ``before_run`` it builds the algorithm, loads the data and the evaluator, and
resumes if asked (``cfg.resume``, ``cfg.load_from``); :class:`SearchLoop` calls
:meth:`run_generation` once per generation; after each generation it logs, saves the
history and a checkpoint; after the search it writes the results and pictures.
"""
import importlib
import json
import math
import os.path as osp
import time
import warnings
from typing import Any, Dict, List, Mapping, Optional

import torch
from mmengine.device import get_device
from mmengine.dist import barrier, get_dist_info, is_main_process
from mmengine.hooks import Hook

from .. import search as search_core
from ..registry import HOOKS
from ..search import (CandidateEvaluator, GenerationRecord, RelativeNAS, make_evaluate,
                      split_search_data)
from ..search.checkpoint import (check_fingerprint, latest_search_state, load_search_state,
                                 make_search_state, restore_rng, save_search_state,
                                 search_fingerprint)
from ..search.numerics import set_numerics
from ..space.genotype import get_genotype, save_genotype
from ..utils.fileio import atomic_write
from ..visualization import plot_genotype, plot_search_curves
from .dist import DistributedEvaluate, Evaluated, check_same_on_all_ranks, state_digest
from .log_bridge import CoreLogBridge
from .search_budget import (best_fields, build_budget, cost_summary, final_cost_message,
                            save_pareto)
from .search_data import DATA_KEYS, load_search_images, search_classes, with_num_classes

SECTIONS = ('data', 'supernet', 'evaluator', 'algorithm', 'budget')
HISTORY_FILE = 'search_history.json'
BEST_FILE = 'best_genotype.json'
CURVES_FILE = 'search_curves.png'
CELLS_DIR = 'cells'


def read_search_config(cfg: Mapping[str, Any]) -> Dict[str, Dict[str, Any]]:
    """The ``search`` section of a config as plain dicts, its keys checked."""
    search_cfg = cfg.get('search')
    if not isinstance(search_cfg, Mapping):
        raise KeyError(f'{getattr(cfg, "filename", "the config")}: the search needs a "search" '
                       f'section, a dict with {list(SECTIONS)}')
    unknown = sorted(set(search_cfg) - set(SECTIONS))
    if unknown:
        raise KeyError(f'search: unknown key(s) {unknown}; expected {list(SECTIONS)}')
    sections = {}
    for name in SECTIONS:
        value = search_cfg.get(name, {})
        if not isinstance(value, Mapping):
            raise TypeError(f'search.{name}: expected a dict, got {type(value).__name__}')
        sections[name] = _plain_dict(value)
    unknown = sorted(set(sections['data']) - set(DATA_KEYS))
    if unknown:
        raise KeyError(f'search.data: unknown key(s) {unknown}; expected {list(DATA_KEYS)}')
    return sections


def _plain_dict(value: Mapping[str, Any]) -> Dict[str, Any]:
    return value.to_dict() if hasattr(value, 'to_dict') else dict(value)


def _built(what: str, factory: Any, **kwargs: Any) -> Any:
    """Call ``factory``; a bad argument becomes an error that names the config section."""
    try:
        return factory(**kwargs)
    except (TypeError, ValueError) as exc:
        raise (TypeError if isinstance(exc, TypeError) else ValueError)(
            f'{what}: {exc}') from exc


def evaluator_class(name: str) -> type:
    """An evaluator named in relnas_mm.search (``'EagerEvaluator'``) or by a dotted path."""
    if '.' in name:
        module, _, attr = name.rpartition('.')
        try:
            cls = getattr(importlib.import_module(module), attr, None)
        except ImportError as exc:
            raise ValueError(f'search.evaluator.type: cannot import {name!r}: {exc}') from exc
    else:
        cls = getattr(search_core, name, None)
    if not (isinstance(cls, type) and issubclass(cls, CandidateEvaluator)):
        raise ValueError(f'search.evaluator.type: {name!r} is not a CandidateEvaluator '
                         f'(e.g. "EagerEvaluator" or "package.module.ClassName")')
    return cls


@HOOKS.register_module()
class RelativeNASSearchHook(Hook):
    """Runs RelativeNAS generation by generation inside an mmengine Runner.

    Args:
        keep_checkpoints: how many per-generation search states to keep in work_dir.
        plot: draw the cells and the loss curves at the end of the search.
    """

    priority = 'NORMAL'

    def __init__(self, keep_checkpoints: int = 3, plot: bool = True) -> None:
        if keep_checkpoints < 1:
            raise ValueError(f'keep_checkpoints must be >= 1, got {keep_checkpoints}')
        self.keep_checkpoints = keep_checkpoints
        self.plot = plot
        self.algorithm: Optional[RelativeNAS] = None
        self.evaluate: Optional[DistributedEvaluate] = None
        self.fingerprint: Dict[str, Any] = {}
        self.evaluated_by: List[List[int]] = []
        self._record: Optional[GenerationRecord] = None
        self._started = 0.0
        self._log_bridge: Optional[CoreLogBridge] = None

    # ------------------------------------------------------------------ setup
    def before_run(self, runner) -> None:
        self._log_bridge = CoreLogBridge(runner.logger)
        self._log_bridge.attach()
        cfg = read_search_config(runner.cfg)
        self.fingerprint = search_fingerprint(cfg)
        device = torch.device(get_device())
        cfg['supernet'] = with_num_classes(cfg['supernet'], search_classes(cfg['data']),
                                           cfg['data'])
        budget = build_budget(cfg['budget'], cfg['supernet']['num_classes'], device)
        self.algorithm = self._build_algorithm(cfg, device, budget)  # fail before the data
        images, labels = load_search_images(cfg['data'], progress=_loading(runner))
        data = _built('search.data', split_search_data, images=images, labels=labels,
                      seed=cfg['data'].get('split_seed', 0),
                      train_portion=cfg['data'].get('train_portion', 0.5), device=device)
        evaluator_cfg = dict(cfg['evaluator'])
        cls = evaluator_class(evaluator_cfg.pop('type', 'FastEvaluator'))
        runner.logger.info(set_numerics(device, evaluator_cfg.get('deterministic', False)))
        evaluate = _built('search.evaluator', make_evaluate, data=data, kind=cls,
                          model_cfg=cfg['supernet'], device=device, **evaluator_cfg)
        self.evaluate = DistributedEvaluate(
            evaluate, on_result=lambda e: self._log_candidate(runner, e))
        self._log_setup(runner, cfg['data'], data, device)
        self._maybe_resume(runner)

    def _log_setup(self, runner, data_cfg: Mapping[str, Any], data: Any,
                   device: torch.device) -> None:
        world_size = get_dist_info()[1]
        runner.logger.info(
            f'RelativeNAS search: {data_cfg.get("dataset", "cifar10")} from '
            f'{data_cfg.get("data_root")}, {data.train_images.shape[0]} training / '
            f'{data.valid_images.shape[0]} validation images on {device}, '
            f'{world_size} rank(s), {self.evaluate.evaluate.parallelism} candidate(s) at '
            f'once per rank, writeback={self.algorithm.writeback!r}')
        if self.algorithm.writeback == 'pair' and world_size > 2:
            runner.logger.warning(
                f'writeback="pair" evaluates one pair at a time: only 2 of the {world_size} '
                f'ranks have work; search.algorithm.writeback="generation" uses them all')

    @staticmethod
    def _build_algorithm(cfg: Mapping[str, Dict[str, Any]], device: torch.device,
                         budget: Optional[search_core.Budget] = None) -> RelativeNAS:
        kwargs = dict(cfg['algorithm'])
        seeds = kwargs.pop('init_population', None)
        if seeds:
            kwargs['init_population'] = [get_genotype(s) if isinstance(s, (str, dict)) else s
                                         for s in seeds]
        return _built('search.algorithm', RelativeNAS, model_cfg=cfg['supernet'],
                      device=device, budget=budget, **kwargs)

    def _maybe_resume(self, runner) -> None:
        resume, load_from = runner.cfg.get('resume', False), runner.cfg.get('load_from')
        if not resume:
            if load_from:
                raise ValueError(f'load_from={load_from!r} without resume: the search only '
                                 f'resumes its own checkpoints (tools/search.py --resume PATH)')
            return
        path = load_from or latest_search_state(runner.work_dir)
        if path is None:
            runner.logger.warning(f'--resume: no search checkpoint in {runner.work_dir}; '
                                  f'starting a new search')
            return
        state = load_search_state(path)
        check_fingerprint(state['fingerprint'], self.fingerprint, path)
        self.algorithm.load_state_dict(state['algorithm'])
        restore_rng(state['rng'])
        self.evaluated_by = [list(r) for r in state['extra'].get('evaluated_by', [])]
        runner.logger.info(f'Resumed the search from {path}: {self.algorithm.generation} of '
                           f'{self.algorithm.generations} generations done')

    # ------------------------------------------------------------------ one generation
    @property
    def finished(self) -> bool:
        return self.algorithm.finished

    def run_generation(self, runner) -> GenerationRecord:
        """Evaluate every candidate once (split over ranks) and apply the slow-fast update."""
        self.evaluate.reset()
        self._started = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            record = self.algorithm.run_generation(self.evaluate)
        for w in caught:  # e.g. the core's non-finite-loss warning: it belongs in the log
            runner.logger.warning(f'{w.category.__name__}: {w.message}')
        by = self.evaluate.evaluated_by
        self.evaluated_by.append([by[i] for i in range(self.algorithm.pop_size)])
        check_same_on_all_ranks(
            lambda: state_digest(self.algorithm.population, self.algorithm.weight_set.snapshot()),
            f'the search state after generation {record.generation + 1}')
        self._record = record
        return record

    def _log_candidate(self, runner, e: Evaluated) -> None:
        done, total = len(self.evaluate.evaluated_by), self.algorithm.pop_size
        elapsed = time.perf_counter() - self._started
        eta = elapsed / done * (total - done)
        r = e.result
        runner.logger.info(
            f'Generation [{self.algorithm.generation + 1}/{self.algorithm.generations}]'
            f'[{done:>{len(str(total))}}/{total}]  candidate {r.index:>2} (rank {e.rank}): '
            f'val loss {r.loss:.4f}  val acc {r.acc:.4f}  train loss {r.train_loss:.4f}  '
            f'time {e.seconds:.1f}s  eta {_hms(eta)}')

    def after_train_epoch(self, runner) -> None:
        record = self._record
        g = record.generation + 1
        cost, cost_scalars = cost_summary(record, self.algorithm.budget)
        runner.logger.info(
            f'Generation [{g}/{self.algorithm.generations}] lr {record.lr:.5f}  '
            f'drop_prob {record.drop_prob:.3f}  best val loss {record.best_loss:.4f} '
            f'(candidate {record.best_index})  mean val loss {record.mean_loss:.4f}  '
            f'best val acc {record.best_acc:.4f}  diversity {record.diversity:.4f}  '
            f'non-finite {len(record.nonfinite)}{cost}  '
            f'time {time.perf_counter() - self._started:.1f}s'
            f'  best genotype {record.best_genotype}')
        runner.visualizer.add_scalars(
            dict(lr=record.lr, drop_prob=record.drop_prob, best_val_loss=record.best_loss,
                 mean_val_loss=record.mean_loss, best_val_acc=record.best_acc,
                 diversity=record.diversity, nonfinite=len(record.nonfinite), **cost_scalars),
            step=g)
        if is_main_process():
            self._save_history(runner.work_dir)
            self._save_best(runner.work_dir)
            path = save_search_state(
                make_search_state(self.algorithm.state_dict(), self.algorithm.generation,
                                  self.fingerprint, dict(evaluated_by=self.evaluated_by)),
                runner.work_dir, keep=self.keep_checkpoints)
            runner.logger.info(f'Saved the search state to {path}')
        barrier()

    # ------------------------------------------------------------------ results
    def after_train(self, runner) -> None:
        if not self.algorithm.history:
            return
        if is_main_process():
            work_dir = runner.work_dir
            self._save_history(work_dir)
            best = self._save_best(work_dir)
            outputs = [osp.join(work_dir, HISTORY_FILE), best]
            if self.plot:
                outputs += plot_genotype(self.algorithm.best_genotype(),
                                         osp.join(work_dir, CELLS_DIR))
                outputs += plot_search_curves(self._history(), osp.join(work_dir, CURVES_FILE))
            budget = self.algorithm.budget
            which = 'lowest validation loss in the last generation'
            if budget is not None:
                outputs += save_pareto(self._history(), budget, work_dir, self.plot)
                level, message = final_cost_message(self.algorithm.history, budget)
                runner.logger.log(level, message)
                which = f'lowest validation loss within the {budget.metric} budget, last generation'
            runner.logger.info(
                f'Search finished. Best genotype ({which}): '
                f'{self.algorithm.history[-1].best_genotype}\n'
                f'Results: ' + ', '.join(outputs))
        barrier()

    def after_run(self, runner) -> None:
        if self.evaluate is not None:
            self.evaluate.close()
        if self._log_bridge is not None:
            self._log_bridge.detach()

    def _history(self) -> List[Dict[str, Any]]:
        history = [r.to_dict() for r in self.algorithm.history]
        for entry, ranks in zip(history, self.evaluated_by):
            entry['evaluated_by'] = ranks
        return history

    def _save_history(self, work_dir: str) -> None:
        path = osp.join(work_dir, HISTORY_FILE)
        with atomic_write(path) as f:
            json.dump(dict(search=self.fingerprint, generations=self._history()), f, indent=1)

    def _save_best(self, work_dir: str) -> str:
        record = self.algorithm.history[-1]
        path = osp.join(work_dir, BEST_FILE)
        extra = ({} if self.algorithm.budget is None else
                 best_fields(record.to_dict(), self.algorithm.budget))
        save_genotype(self.algorithm.best_genotype(), path, generation=record.generation,
                      val_loss=_finite(record.best_loss), val_acc=_finite(record.best_acc),
                      **extra)
        return path


def _loading(runner):
    """Progress of loading an image folder, in the log every 10%."""
    def progress(done: int, total: int) -> None:
        if done == total or done * 10 // total != (done - 1) * 10 // total:
            runner.logger.info(f'Loading the search images: {done}/{total}')
    return progress


def _finite(value: float) -> Optional[float]:
    return float(value) if math.isfinite(value) else None


def _hms(seconds: float) -> str:
    seconds = int(round(seconds))
    return f'{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}'
