"""The command line that tools/search.py, tools/train.py and tools/test.py share.

OpenMMLab's tools all take a config, ``--work-dir``, ``--cfg-options``,
``--launcher`` and ``--local-rank`` and merge them into the config the same way
(command line > config > defaults); here that is written once, and each tool adds
only its own options.
"""
import argparse
import os
import os.path as osp
from typing import Any, Optional, Sequence

from mmengine.config import Config, DictAction

from .preflight import set_data_root, set_num_classes
from .pretrained import bind_top_level


def tool_parser(description: str, config_help: str) -> argparse.ArgumentParser:
    """A parser with the config file as its first positional argument."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('config', help=config_help)
    return parser


def add_common_args(parser: argparse.ArgumentParser, work_dir_help: str, data_root_help: str,
                    cfg_options_example: str) -> None:
    """``--work-dir``, ``--data-root``, ``--cfg-options``, ``--launcher`` and
    ``--local-rank`` (torch.distributed.launch passes the last one; torchrun sets
    ``LOCAL_RANK`` instead)."""
    parser.add_argument('--work-dir', help=work_dir_help + ' (default: ./work_dirs/<config name>)')
    parser.add_argument('--data-root', help=data_root_help)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help=f'override config settings, e.g. {cfg_options_example}')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def add_resume_arg(parser: argparse.ArgumentParser, what: str) -> None:
    """``--resume [PATH]``: a given checkpoint, or without a path the work dir's latest."""
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help=f'resume from the given {what}, or without a path from the '
        'latest one in the work dir')


def parse_tool_args(parser: argparse.ArgumentParser,
                    argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse, and export ``--local-rank`` as ``LOCAL_RANK`` where no launcher set it."""
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def config_from_args(args: argparse.Namespace) -> Config:
    """The config with ``--cfg-options``, ``--launcher`` and ``--work-dir`` applied."""
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    return cfg


def runner_config_from_args(args: argparse.Namespace) -> Config:
    """What tools/train.py and tools/test.py make of the shared options:
    :func:`config_from_args`, the config's top-level ``pretrained``/``genotype`` bound
    to the model, ``--data-root`` applied to every dataset of the dataloaders, and
    ``model.num_classes=None`` taken from an image folder's class folders."""
    cfg = config_from_args(args)
    bind_top_level(cfg, args.cfg_options)
    if args.data_root is not None:
        set_data_root(cfg, args.data_root)
    set_num_classes(cfg)
    return cfg


def set_resume(cfg: Any, resume: Optional[str]) -> None:
    """Apply ``--resume``: ``'auto'`` resumes from the work dir's latest checkpoint."""
    if resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif resume is not None:
        cfg.resume, cfg.load_from = True, resume
