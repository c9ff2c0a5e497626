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

from mmengine.config import Config
from mmengine.model import is_model_wrapper

from relnas_mm.apis import (add_common_args, add_resume_arg, build_runner, check_amp_device,
                            check_pretrained, closing_process_group, from_scratch_warning,
                            parse_tool_args, preflight, runner_config_from_args, set_resume,
                            tool_parser, unfinished_genotypes)


def parse_args() -> argparse.Namespace:
    parser = tool_parser('Train a model from a config', 'train config file path')
    add_common_args(
        parser, 'the dir to save logs and checkpoints',
        'dataset root replacing the data_root of every dataset of the '
        'train/val/test dataloaders', 'pretrained=PATH genotype=PATH train_cfg.max_epochs=1')
    add_resume_arg(parser, 'checkpoint')
    parser.add_argument('--amp', action='store_true',
                        help='automatic mixed precision (AmpOptimWrapper, dynamic loss scale)')
    parser.add_argument(
        '--auto-scale-lr', action='store_true',
        help="scale the learning rate linearly from the config's "
        'auto_scale_lr.base_batch_size to the actual total batch')
    return parse_tool_args(parser)


def make_config(args: argparse.Namespace) -> Config:
    """The config with the command line applied (pure: builds nothing)."""
    cfg = runner_config_from_args(args)
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
    set_resume(cfg, args.resume)
    return cfg


def main() -> None:
    args = parse_args()
    cfg = make_config(args)
    if args.amp:
        check_amp_device()
    has_val = cfg.get('val_dataloader') is not None and cfg.get('val_cfg') is not None
    preflight(cfg, ('train', 'val') if has_val else ('train', ))
    with closing_process_group():
        runner = build_runner(cfg)
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        check_pretrained(model)
        warnings = [from_scratch_warning(cfg, model, cfg.get('default_scope'))]
        for warning in filter(None, warnings + unfinished_genotypes(cfg)):
            runner.logger.warning(warning)
        runner.train()


if __name__ == '__main__':
    main()
