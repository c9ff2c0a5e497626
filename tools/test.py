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

from mmengine.config import Config

from relnas_mm.apis import (add_common_args, build_runner, check_checkpoint, closing_process_group,
                            parse_tool_args, preflight, runner_config_from_args, tool_parser)


def parse_args() -> argparse.Namespace:
    parser = tool_parser('Test (evaluate) a checkpoint', 'test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    add_common_args(
        parser, 'the dir to save logs and metrics',
        'dataset root replacing the data_root of every dataset of the '
        'train/val/test dataloaders', 'test_dataloader.batch_size=1')
    parser.add_argument('--tta', action='store_true',
                        help="test-time augmentation: the config's tta_pipeline and tta_model")
    parser.add_argument('--out', help='dump the predictions to this pickle file')
    return parse_tool_args(parser)


def make_config(args: argparse.Namespace) -> Config:
    """The config with the command line applied (pure: builds nothing)."""
    cfg = runner_config_from_args(args)
    cfg.load_from = args.checkpoint
    if getattr(args, 'tta', False):
        use_tta(cfg, args.config)
    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--out must be a .pkl or .pickle file, got {args.out!r}')
        dump = dict(type='DumpResults', out_file_path=args.out)
        evaluator = cfg.test_evaluator
        evaluators = list(evaluator) if isinstance(evaluator, (list, tuple)) else [evaluator]
        cfg.test_evaluator = [*evaluators, dump]
    return cfg


def use_tta(cfg: Config, config: str) -> None:
    """Swap in the config's test-time augmentation (mmseg's tools/test.py --tta), with
    ``tta_model.module`` merged into the model as overrides."""
    missing = [key for key in ('tta_model', 'tta_pipeline') if cfg.get(key) is None]
    if missing:
        raise KeyError(f'--tta: {config} has no {" and no ".join(missing)}')
    module = Config._merge_a_into_b(
        dict(cfg.tta_model.get('module') or {}), copy.deepcopy(cfg.model))
    cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
    cfg.model = dict(cfg.tta_model, module=module)


def main() -> None:
    args = parse_args()
    cfg = make_config(args)
    check_checkpoint(args.checkpoint, 'CHECKPOINT')
    preflight(cfg, ('test', ))
    with closing_process_group():
        runner = build_runner(cfg)
        runner.test()


if __name__ == '__main__':
    main()
