"""Evaluate a checkpoint with any config of this repository.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--data-root DIR]
                         [--out FILE.pkl] [--cfg-options KEY=VALUE ...] [--launcher pytorch]

The metrics are logged and written to ``WORK_DIR/TIMESTAMP/TIMESTAMP.json``;
``--out`` also dumps the raw predictions (a pickle, mmengine's DumpResults).
"""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction

from relnas_mm.downstream.checkpoint_compat import allow_mmengine_checkpoints
from relnas_mm.downstream.launch import build_runner, register_scope_modules
from relnas_mm.downstream.preflight import check_checkpoint, preflight, set_data_root


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (evaluate) a checkpoint')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save logs and metrics')
    parser.add_argument('--data-root',
                        help='dataset root replacing the data_root of every dataset of '
                        'the train/val/test dataloaders')
    parser.add_argument('--out', help='dump the predictions to this pickle file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. test_dataloader.batch_size=1')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def make_config(args: argparse.Namespace) -> Config:
    """The config with the command line applied (pure: builds nothing)."""
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.data_root is not None:
        set_data_root(cfg, args.data_root)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--out must be a .pkl or .pickle file, got {args.out!r}')
        dump = dict(type='DumpResults', out_file_path=args.out)
        evaluator = cfg.test_evaluator
        cfg.test_evaluator = ([*evaluator, dump] if isinstance(evaluator, (list, tuple))
                              else [evaluator, dump])
    return cfg


def main() -> None:
    args = parse_args()
    cfg = make_config(args)
    check_checkpoint(args.checkpoint, 'CHECKPOINT')
    preflight(cfg, ('test', ))
    register_scope_modules(cfg)
    allow_mmengine_checkpoints()
    runner = build_runner(cfg)
    runner.test()


if __name__ == '__main__':
    main()
