"""The generation loop of a search, and how tools/search.py drives a Runner with it.

A search has no optimizer, dataloader or iterations of its own (each candidate is
trained inside the evaluator), so it does not go through ``Runner.train()``, which
requires all three. :func:`run_search` takes a Runner built from the config (env,
distributed init, seeds, logger, visualizer, work_dir, hooks) and runs the loop in
``cfg.search_loop`` between the ``before_run`` and ``after_run`` hooks; the loop is
the runner's ``train_loop`` (so ``runner.epoch`` counts generations), and the search
hook attaches itself to it in ``before_run``. The loop calls the epoch-level hooks
once per generation, and the search hook's ``run_generation`` in between.
"""
from typing import Any, Dict, Optional

from mmengine.model import BaseModel
from mmengine.runner import BaseLoop

from ..registry import LOOPS, MODELS


@MODELS.register_module()
class SearchRunnerModel(BaseModel):
    """The model a Runner must hold during a search: it has no parameters.

    The search's networks belong to RelativeNAS (the weight set) and to the
    evaluator. Without parameters, it also needs no data-parallel wrapper:
    configure ``model_wrapper_cfg=dict(type='MMSeparateDistributedDataParallel')``,
    which wraps only submodules that have parameters (none).
    """

    def forward(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError('SearchRunnerModel is a placeholder: candidates are trained by '
                           'the search evaluator, run the search with tools/search.py')


@LOOPS.register_module()
class SearchLoop(BaseLoop):
    """One "epoch" per generation: before_train_epoch, the generation, after_train_epoch.

    ``runner.call_hook('before_train')`` / ``('after_train')`` frame the generations,
    as in a training loop. The loop stops when the algorithm says it is finished,
    so a resumed search runs only the generations left. ``search`` is the
    ``RelativeNASSearchHook``, which attaches itself in ``before_run``.
    """

    def __init__(self, runner, dataloader: Optional[Dict] = None) -> None:
        super().__init__(runner, dataloader)
        self.search: Optional[Any] = None

    def attach(self, search: Any) -> None:
        """Take ``search`` (the hook that carries the search) as the one to run."""
        if self.search is not None and self.search is not search:
            raise RuntimeError('SearchLoop runs one search: a second RelativeNASSearchHook '
                               'attached itself; keep one in custom_hooks')
        self.search = search

    @property
    def epoch(self) -> int:
        """Generations finished so far."""
        return self.search.algorithm.generation if self.search is not None else 0

    @property
    def max_epochs(self) -> int:
        return self.search.algorithm.generations if self.search is not None else 0

    def run(self) -> Any:
        if self.search is None:
            raise RuntimeError('SearchLoop has no search to run: add '
                               'dict(type="relnas_mm.RelativeNASSearchHook") to custom_hooks')
        runner = self.runner
        runner.call_hook('before_train')
        while not self.search.finished:
            runner.call_hook('before_train_epoch')
            self.search.run_generation(runner)
            runner.call_hook('after_train_epoch')
        runner.call_hook('after_train')
        return self.search.algorithm


def run_search(runner) -> Any:
    """Run the search configured in ``runner.cfg`` (see the module docstring)."""
    loop_cfg = dict(runner.cfg.get('search_loop', dict(type='relnas_mm.SearchLoop')))
    loop = LOOPS.build(loop_cfg, default_args=dict(runner=runner, dataloader=None))
    runner._train_loop = loop  # as Runner.train() does: runner.train_loop, runner.epoch
    runner.call_hook('before_run')
    try:
        return loop.run()
    finally:  # also after a failure: the workers stop, the work_dir's lock goes
        runner.call_hook('after_run')
