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
        budget=dict(network='imagenet_mobile', flops=(None, 600e6)))  # optional

and delegates: ``search_build`` reads the section and builds the algorithm, the data
(``search_data``), the budget (``search_budget``) and the evaluation; ``search_files``
writes the history, the best genotype, checkpoints and the final results, and resumes
(``cfg.resume``, ``cfg.load_from``). The hook itself ties them to the runner: on
``before_run`` it builds the search and attaches itself to the :class:`SearchLoop`,
which calls :meth:`run_generation` once per generation; it logs every candidate and
generation, and saves after each generation and at the end.
"""
import shlex
import sys
import time
import warnings
from typing import Any, Callable, List, Optional

import torch
from mmengine.device import get_device
from mmengine.dist import barrier, broadcast_object_list, get_dist_info, is_main_process
from mmengine.hooks import Hook

from ..registry import HOOKS
from ..search import GenerationRecord, RelativeNAS
from .dist import DistributedEvaluate, Evaluated, check_same_on_all_ranks, state_digest
from .log_bridge import CoreLogBridge, FallbackLog
from .search_budget import cost_summary, final_cost_message, make_validate, reevaluate_archive
from .search_build import build_search
from .search_files import SearchFiles, WorkDirBusyError, WorkDirLock
from .search_loop import SearchLoop


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
        self.files: Optional[SearchFiles] = None
        self.evaluated_by: List[List[int]] = []
        self._record: Optional[GenerationRecord] = None
        self._started = 0.0
        self._log_bridge: Optional[CoreLogBridge] = None
        self._lock: Optional[WorkDirLock] = None
        self._validate_with: Optional[Callable[[RelativeNAS], Any]] = None
        self._fallbacks: Optional[FallbackLog] = None

    # ------------------------------------------------------------------ setup
    def before_run(self, runner) -> None:
        loop = runner.train_loop
        if not isinstance(loop, SearchLoop):
            raise RuntimeError(f'RelativeNASSearchHook runs under relnas_mm.SearchLoop '
                               f'(tools/search.py, relnas_mm.engine.run_search), got '
                               f'{type(loop).__name__}')
        self._log_bridge = CoreLogBridge(runner.logger)
        self._log_bridge.attach()
        self._fallbacks = FallbackLog(runner.logger)
        try:
            self._set_up(runner)
        except BaseException:
            self.after_run(runner)  # a failed set-up leaves no bridge or worker behind
            raise
        loop.attach(self)

    def _set_up(self, runner) -> None:
        self._take_work_dir(runner)
        device = torch.device(get_device())
        setup = build_search(runner.cfg, device, progress=_loading(runner),
                             work_dir=runner.work_dir)
        runner.logger.info(setup.numerics)
        self.algorithm = setup.algorithm
        if setup.config['budget'].get('reevaluate', False):
            self._validate_with = make_validate(setup.config, setup.data, device)
        self.files = SearchFiles(runner.work_dir, setup.fingerprint, self.keep_checkpoints,
                                 self.plot, resume_command=_resume_command())
        self.evaluate = DistributedEvaluate(setup.evaluate,
                                            on_result=lambda e: self._log_candidate(runner, e))
        self._log_setup(runner, setup.config['data'], setup.data, device)
        self._maybe_resume(runner)

    def _take_work_dir(self, runner) -> None:
        """Rank 0 takes the work_dir's lock; every rank stops if another search has it."""
        problem = None
        if is_main_process():
            self._lock = WorkDirLock(runner.work_dir)
            try:
                warning = self._lock.acquire()
                if warning:
                    runner.logger.warning(warning)
            except WorkDirBusyError as exc:
                problem = str(exc)
        shared = [problem]
        broadcast_object_list(shared)
        if shared[0] is not None:
            raise WorkDirBusyError(shared[0])

    def _log_setup(self, runner, data_cfg: dict, data: Any, device: torch.device) -> None:
        world_size = get_dist_info()[1]
        runner.logger.info(
            f'RelativeNAS search: {data_cfg.get("dataset", "cifar10")} from '
            f'{data_cfg.get("data_root")}, {data.train_images.shape[0]} training / '
            f'{data.valid_images.shape[0]} validation images on {device}, '
            f'{world_size} rank(s), {self.evaluate.evaluate.parallelism} candidate(s) at '
            f'once per rank, writeback={self.algorithm.writeback!r}')

    def _maybe_resume(self, runner) -> None:
        resume = runner.cfg.get('resume', False)
        path, state, skipped = self.files.state_to_resume(resume, runner.cfg.get('load_from'))
        if path is None:
            if resume:
                runner.logger.warning(f'--resume: no search checkpoint in {runner.work_dir}; '
                                      f'starting a new search')
            return
        if skipped:
            runner.logger.warning(f'--resume: resuming from {path}, the newest checkpoint that '
                                  f'can be resumed; skipped:\n  ' + '\n  '.join(skipped))
        self.evaluated_by = self.files.resume(state, self.algorithm)
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
        self._fallbacks.record(e.rank, r)

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
            path = self.files.save_generation(self.algorithm, self.evaluated_by)
            runner.logger.info(f'Saved the search state to {path}')
        barrier()

    # ------------------------------------------------------------------ results
    def after_train(self, runner) -> None:
        if not self.algorithm.history:
            return
        reevaluated = None
        if self._validate_with is not None:
            runner.logger.info('search.budget.reevaluate: validating every cell of the search '
                               'once more with the final weight set')
            reevaluated = reevaluate_archive(self.algorithm.history,
                                             self._validate_with(self.algorithm))
        if is_main_process():
            self._fallbacks.log_totals()
            outputs = self.files.save_results(self.algorithm, self.evaluated_by, reevaluated)
            budget = self.algorithm.budget
            which = 'lowest validation loss in the last generation'
            if budget is not None:
                runner.logger.log(*final_cost_message(self.algorithm.history, budget))
                which = 'lowest validation loss within the budget, last generation'
            runner.logger.info(f'Search finished. Best genotype ({which}): '
                               f'{self.algorithm.history[-1].best_genotype}\n'
                               f'Results: ' + ', '.join(outputs))
        barrier()

    def after_run(self, runner) -> None:
        if self.evaluate is not None:
            self.evaluate.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None
        if self._log_bridge is not None:
            self._log_bridge.detach()
            self._log_bridge = None


def _loading(runner):
    """Progress of loading an image folder or cutting pieces, in the log every 10%."""

    def progress(done: int, total: int) -> None:
        if done == total or done * 10 // total != (done - 1) * 10 // total:
            runner.logger.info(f'Loading the search images: {done}/{total}')

    return progress


def _resume_command() -> str:
    """This process's command line with ``--resume`` (the work dir's latest checkpoint)."""
    argv, i = list(sys.argv), 0
    while i < len(argv):  # an explicit --resume PATH: the latest may be newer now
        if argv[i] == '--resume':
            del argv[i:i + (2 if i + 1 < len(argv) and not argv[i + 1].startswith('-') else 1)]
        elif argv[i].startswith('--resume='):
            del argv[i]
        else:
            i += 1
    return shlex.join(['python', *argv, '--resume'])


def _hms(seconds: float) -> str:
    seconds = int(round(seconds))
    return f'{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}'
