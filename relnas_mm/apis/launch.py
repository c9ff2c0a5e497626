"""How tools/search.py, tools/train.py and tools/test.py start a runner, for every scope.

A config names its library through ``default_scope`` (``mmdet``, ``mmseg``,
``mmpose``; ``relnas_mm`` or ``mmengine`` for the classification and search
configs). Every library's runner is mmengine's ``Runner``, so the tools only have to
register that library's modules before building it; a CPU-only multi-process run
needs its process group made here (:func:`prepare_cpu_distributed`), and every
tool's process group is destroyed when its work ends (:func:`closing_process_group`).
"""
import importlib
import importlib.util
from contextlib import contextmanager
from typing import Any, Iterator

import torch
import torch.distributed as torch_dist

#: Scopes whose modules live in mmengine itself or in relnas_mm.
_NATIVE_SCOPES = (None, 'mmengine', 'relnas_mm')
#: relnas_mm's subclasses of a library's modules, registered with that library.
_GLUE = {'mmdet': 'relnas_mm.downstream.ssd_head', 'mmseg': 'relnas_mm.downstream.bisenetv1'}


def register_scope_modules(cfg: Any) -> str:
    """Import relnas_mm and register all modules of the config's ``default_scope``
    (and relnas_mm's glue for that library).

    Returns the scope. Raises ImportError naming the scope when its package is not
    installed, instead of a later "X is not in the registry" error.
    """
    import relnas_mm  # noqa: F401  (registers relnas_mm's modules, allows its checkpoints)
    scope = cfg.get('default_scope')
    if scope in _NATIVE_SCOPES:
        return scope or 'mmengine'
    if importlib.util.find_spec(scope) is None:
        raise ImportError(f"the config's default_scope is '{scope}', but the package "
                          f"'{scope}' is not installed (see README.md, Installation)")
    utils = importlib.import_module(f'{scope}.utils')
    register_all_modules = getattr(utils, 'register_all_modules', None)
    if register_all_modules is not None:
        register_all_modules(init_default_scope=False)
    if scope in _GLUE:
        importlib.import_module(_GLUE[scope])
    return scope


def check_amp_device() -> None:
    """mmengine's AmpOptimWrapper runs on CUDA, NPU, MLU or MUSA devices only: say so
    up front instead of failing inside the runner."""
    from mmengine.device import (is_cuda_available, is_mlu_available, is_musa_available,
                                 is_npu_available)
    if not (is_cuda_available() or is_npu_available() or is_mlu_available() or is_musa_available()):
        raise RuntimeError('--amp needs a CUDA (or NPU/MLU/MUSA) device: mmengine\'s '
                           'AmpOptimWrapper does not run on the CPU')


def prepare_cpu_distributed(cfg: Any) -> None:
    """Make a CPU-only multi-process run (torchrun, gloo) work with mmengine 0.10.7.

    Its ``init_dist`` calls ``torch.cuda.set_device`` for every launcher, and its DDP
    wrapper gets ``device_ids=[LOCAL_RANK]``; both fail without CUDA. So the process
    group is created here (the Runner skips its own init when one exists) and DDP is
    told that CPU modules have no device ids. With CUDA, or without a launcher, this
    does nothing.
    """
    if cfg.get('launcher', 'none') == 'none' or torch.cuda.is_available() \
            or torch_dist.is_initialized():
        return
    backend = cfg.get('env_cfg', {}).get('dist_cfg', {}).get('backend', 'nccl')
    if cfg.launcher != 'pytorch' or backend != 'gloo':
        raise RuntimeError('no CUDA device: a CPU-only multi-process run needs --launcher pytorch '
                           '(torchrun) and --cfg-options env_cfg.dist_cfg.backend=gloo, got '
                           f'--launcher {cfg.launcher} and backend {backend!r}')
    torch_dist.init_process_group(backend='gloo')
    wrapper = cfg.get('model_wrapper_cfg') or dict(type='MMDistributedDataParallel')
    if wrapper.get('type', 'MMDistributedDataParallel') == 'MMDistributedDataParallel':
        cfg.model_wrapper_cfg = dict(wrapper, device_ids=None)


def build_runner(cfg: Any) -> Any:
    """The runner of every tool: the config's scope registered
    (:func:`register_scope_modules`), a CPU-only process group made
    (:func:`prepare_cpu_distributed`), then mmengine's Runner or the config's
    ``runner_type``."""
    register_scope_modules(cfg)
    prepare_cpu_distributed(cfg)
    if 'runner_type' in cfg:
        from mmengine.registry import RUNNERS
        return RUNNERS.build(cfg)
    from mmengine.runner import Runner
    return Runner.from_cfg(cfg)


@contextmanager
def closing_process_group() -> Iterator[None]:
    """Destroy the default process group when the block ends, however it ends.

    mmengine's Runner never destroys the group it makes. Left alive, gloo's worker
    threads meet interpreter shutdown and a rank can abort after its work is done
    ("terminate called without an active exception", SIGABRT), failing the whole
    torchrun job. It is a race: rare, and the run's results are already written.
    """
    try:
        yield
    finally:
        if torch_dist.is_available() and torch_dist.is_initialized():
            torch_dist.destroy_process_group()
