"""Evaluate a checkpoint with any config of this repository.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--data-root DIR] [--tta]
                         [--out FILE.pkl] [--cfg-options KEY=VALUE ...] [--launcher pytorch]

``--tta``: test-time augmentation as in mmseg's tool: the test pipeline becomes the
config's ``tta_pipeline`` and the model is wrapped in its ``tta_model``; keys of
``tta_model.module`` override the model's under augmentation (e.g. sliding-window
inference for the Cityscapes multi-scale + flip protocol).

The metrics are logged and written to ``WORK_DIR/TIMESTAMP/TIMESTAMP.json``;
``--out`` also dumps the raw predictions (a pickle, mmengine's DumpResults).
"""
import argparse
import copy
import os
import os.path as osp

from mmengine.config import Config, DictAction

from relnas_mm.downstream.checkpoint_compat import allow_mmengine_checkpoints
from relnas_mm.downstream.launch import build_runner, register_scope_modules
from relnas_mm.downstream.preflight import check_checkpoint, preflight, set_data_root
from relnas_mm.downstream.pretrained import bind_top_level


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (evaluate) a checkpoint')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save logs and metrics')
    parser.add_argument('--data-root',
                        help='dataset root replacing the data_root of every dataset of '
                        'the train/val/test dataloaders')
    parser.add_argument('--tta', action='store_true',
                        help="test-time augmentation: the config's tta_pipeline and tta_model")
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
    bind_top_level(cfg, args.cfg_options)
    if args.data_root is not None:
        set_data_root(cfg, args.data_root)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    if getattr(args, 'tta', False):
        use_tta(cfg, args.config)
    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--out must be a .pkl or .pickle file, got {args.out!r}')
        dump = dict(type='DumpResults', out_file_path=args.out)
        evaluator = cfg.test_evaluator
        cfg.test_evaluator = ([*evaluator, dump] if isinstance(evaluator, (list, tuple))
                              else [evaluator, dump])
    return cfg


def use_tta(cfg: Config, config: str) -> None:
    """Swap in the config's test-time augmentation (mmseg's tools/test.py --tta), with
    ``tta_model.module`` merged into the model as overrides."""
    missing = [key for key in ('tta_model', 'tta_pipeline') if cfg.get(key) is None]
    if missing:
        raise KeyError(f'--tta: {config} has no {" and no ".join(missing)}')
    module = Config._merge_a_into_b(dict(cfg.tta_model.get('module') or {}),
                                    copy.deepcopy(cfg.model))
    cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
    cfg.model = dict(cfg.tta_model, module=module)


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
