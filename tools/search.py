"""Run a RelativeNAS search from a config (mmdet tools/train.py conventions).

    python tools/search.py configs/search/relnas_cifar.py [--work-dir DIR]
        [--data-root DIR] [--resume [PATH]] [--cfg-options k=v ...]
        [--launcher none|pytorch|slurm|mpi]

Multi-process: ``torchrun --nproc_per_node=N tools/search.py CONFIG --launcher pytorch``.
"""
import argparse

from mmengine.config import Config

from relnas_mm.apis import (add_common_args, add_resume_arg, build_runner, closing_process_group,
                            config_from_args, parse_tool_args, set_resume, tool_parser)
from relnas_mm.engine import run_search


def parse_args() -> argparse.Namespace:
    parser = tool_parser('Search a cell with RelativeNAS', 'search config file')
    add_common_args(parser, 'where results, logs and checkpoints go',
                    'dataset folder (overrides search.data.data_root)',
                    'search.algorithm.pop_size=10 search.evaluator.batch_size=128')
    add_resume_arg(parser, 'search checkpoint')
    return parse_tool_args(parser)


def make_config(args: argparse.Namespace) -> Config:
    """The config with the command line applied (CLI > config > defaults)."""
    cfg = config_from_args(args)
    if 'search' not in cfg:
        raise KeyError(f'{args.config} has no "search" section: is it a search config?')
    if args.data_root is not None:
        cfg.merge_from_dict({'search.data.data_root': args.data_root})
    set_resume(cfg, args.resume)
    return cfg


def main() -> None:
    with closing_process_group():
        run_search(build_runner(make_config(parse_args())))


if __name__ == '__main__':
    main()
