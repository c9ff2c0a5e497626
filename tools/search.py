"""Run a RelativeNAS search from a config (mmdet tools/train.py conventions).

    python tools/search.py configs/search/relnas_cifar.py [--work-dir DIR]
        [--data-root DIR] [--resume [PATH]] [--cfg-options k=v ...]
        [--launcher none|pytorch|slurm|mpi]

Multi-process: ``torchrun --nproc_per_node=N tools/search.py CONFIG --launcher pytorch``.
"""
import argparse
import os
import os.path as osp

import torch
import torch.distributed as torch_dist
from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import relnas_mm  # noqa: F401  (registers the hook, the loop and the runner model)
from relnas_mm.engine import run_search


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Search a cell with RelativeNAS')
    parser.add_argument('config', help='search config file')
    parser.add_argument('--work-dir', help='where results, logs and checkpoints go '
                        '(default: ./work_dirs/<config name>)')
    parser.add_argument('--data-root', help='dataset folder (overrides search.data.data_root)')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from the given search checkpoint, or without a path from the latest '
        'one in the work dir')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, e.g. search.algorithm.pop_size=10 '
        'search.evaluator.batch_size=128')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def build_config(args: argparse.Namespace) -> Config:
    """The config with the command line applied (CLI > config > defaults)."""
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if 'search' not in cfg:
        raise KeyError(f'{args.config} has no "search" section: is it a search config?')
    if args.data_root is not None:
        cfg.merge_from_dict({'search.data.data_root': args.data_root})
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    return cfg


def init_cpu_process_group(cfg: Config) -> None:
    """Create the process group of a CPU-only multi-process run before the Runner does.

    mmengine 0.10.7's ``init_dist`` calls ``torch.cuda.set_device`` for every launcher,
    which fails without CUDA; the Runner skips its own init when a group exists.
    """
    if cfg.launcher == 'none' or torch.cuda.is_available() or torch_dist.is_initialized():
        return
    backend = cfg.get('env_cfg', {}).get('dist_cfg', {}).get('backend', 'nccl')
    if cfg.launcher != 'pytorch' or backend != 'gloo':
        raise RuntimeError(
            f'no CUDA device: a CPU-only multi-process search needs --launcher pytorch '
            f'(torchrun) and --cfg-options env_cfg.dist_cfg.backend=gloo, got '
            f'--launcher {cfg.launcher} and backend {backend!r}')
    torch_dist.init_process_group(backend='gloo')


def main() -> None:
    args = parse_args()
    cfg = build_config(args)
    init_cpu_process_group(cfg)
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    run_search(runner)


if __name__ == '__main__':
    main()
