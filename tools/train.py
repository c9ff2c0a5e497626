"""Train any config of this repository (mmdet, mmseg, mmpose or mmengine scope).

    python tools/train.py CONFIG [--work-dir DIR] [--data-root DIR] [--resume [CKPT]]
                          [--amp] [--auto-scale-lr] [--cfg-options KEY=VALUE ...]
                          [--launcher pytorch]

The config's top-level ``pretrained`` and ``genotype`` can be set on the command line
(``--cfg-options pretrained=PATH genotype=NAME_OR_FILE``). Before training, a
``Pretrained`` checkpoint must exist and fit its module; a det/seg/pose backbone
that starts without pretrained weights gets a warning in the log.

Distributed: ``torchrun --nproc_per_node=8 tools/train.py CONFIG --launcher pytorch``.
"""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.model import is_model_wrapper

from relnas_mm.downstream.checkpoint_compat import allow_mmengine_checkpoints
from relnas_mm.downstream.launch import build_runner, check_amp_device, register_scope_modules
from relnas_mm.downstream.preflight import preflight, set_data_root
from relnas_mm.downstream.pretrained import (bind_top_level, check_pretrained,
                                             from_scratch_warning)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a model from a config')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and checkpoints')
    parser.add_argument('--data-root',
                        help='dataset root replacing the data_root of every dataset of '
                        'the train/val/test dataloaders')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from this checkpoint; without a path, resume from '
                        'the latest checkpoint in the work dir')
    parser.add_argument('--amp', action='store_true',
                        help='automatic mixed precision (AmpOptimWrapper, dynamic loss scale)')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help="scale the learning rate linearly from the config's "
                        'auto_scale_lr.base_batch_size to the actual total batch')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. pretrained=PATH genotype=PATH '
                        'train_cfg.max_epochs=1')
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
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if getattr(args, 'auto_scale_lr', False):
        scaling = cfg.get('auto_scale_lr')
        if not isinstance(scaling, dict) or 'base_batch_size' not in scaling:
            raise KeyError(f'--auto-scale-lr: {args.config} has no '
                           'auto_scale_lr=dict(base_batch_size=N) (the total batch its '
                           'learning rate is for)')
        scaling['enable'] = True
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    return cfg


def main() -> None:
    args = parse_args()
    cfg = make_config(args)
    if args.amp:
        check_amp_device()
    has_val = cfg.get('val_dataloader') is not None and cfg.get('val_cfg') is not None
    preflight(cfg, ('train', 'val') if has_val else ('train', ))
    scope = register_scope_modules(cfg)
    allow_mmengine_checkpoints()
    runner = build_runner(cfg)
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    check_pretrained(model)
    warning = from_scratch_warning(cfg, model, scope)
    if warning:
        runner.logger.warning(warning)
    runner.train()


if __name__ == '__main__':
    main()
