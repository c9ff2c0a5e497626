"""tools/train.py and tools/test.py: command-line options, clear errors before training,
and CPU multi-process training.

Resuming, --data-root and --out run end to end in tests/test_configs_*.py. For bad
input the tools' main() runs in-process with the runner replaced by a guard, so the
checks must stop it before anything is built.
"""
import importlib.util
import os
import sys

import pytest
import torch
from fixtures_data import make_cifar_like
from fixtures_downstream import (LOADER_OPTIONS, REPO, SMALL_NET, check_ok, cli_options, make_voc,
                                 run_tool)

pytest.importorskip('mmengine')
from mmengine.config import Config  # noqa: E402

from relnas_mm.downstream.launch import prepare_cpu_distributed  # noqa: E402
from relnas_mm.downstream.preflight import DataCheckError  # noqa: E402
from relnas_mm.space.genotype import GenotypeError  # noqa: E402

CIFAR = 'configs/cifar/relnas_cifar10.py'


def _tool_module(name: str):
    spec = importlib.util.spec_from_file_location(name, os.path.join(REPO, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _config_from_argv(monkeypatch, name: str, *argv: str):
    tool = _tool_module(name)
    monkeypatch.setattr(sys, 'argv', [f'{name}.py', *argv])
    return tool.make_config(tool.parse_args())


def _main_fails(monkeypatch, name: str, *argv: str):
    """Run tools/<name>.py's main() in-process; return the exception it raised.

    The runner is never built: the errors come from the checks before it."""
    tool = _tool_module(name)
    monkeypatch.setattr(sys, 'argv', [f'{name}.py', *argv])
    monkeypatch.setattr(tool, 'build_runner', _no_runner)
    with pytest.raises(Exception) as info:
        tool.main()
    return info.value


def _no_runner(cfg):
    raise AssertionError('the checks let a bad config through to the runner')


def test_wrong_data_root_is_reported_before_training(tmp_path, monkeypatch):
    missing = str(tmp_path / 'no_such_dir')
    error = _main_fails(monkeypatch, 'train', CIFAR, '--data-root', missing)
    assert isinstance(error, DataCheckError)
    assert f"train_dataloader.dataset.data_root: directory '{missing}' does not exist" \
        in str(error)
    assert f"val_dataloader.dataset.data_root: directory '{missing}'" in str(error)


def test_missing_annotation_file_is_named_before_training(tmp_path, monkeypatch):
    pytest.importorskip('mmdet')  # the config imports relnas_mm's mmdet glue
    devkit = make_voc(str(tmp_path))
    lost = os.path.join(devkit, 'VOC2012', 'ImageSets', 'Main', 'trainval.txt')
    os.remove(lost)
    error = _main_fails(monkeypatch, 'train', 'configs/det/relnas_ssd_voc.py', '--data-root',
                        devkit)
    assert isinstance(error, DataCheckError)
    assert f"train_dataloader.dataset.datasets[1].ann_file: '{lost}' does not exist" \
        in str(error)


def test_unparsable_genotype_file_is_named_before_training(tmp_path, monkeypatch):
    bad = tmp_path / 'best_genotype.json'
    bad.write_text('{"normal": [["sep_conv_3x3", 0], ')
    (tmp_path / 'cifar-10-batches-py').mkdir()
    error = _main_fails(monkeypatch, 'train', CIFAR, '--data-root', str(tmp_path),
                        '--cfg-options', f'model.backbone.genotype={bad}')
    assert isinstance(error, GenotypeError)
    assert str(error).startswith(
        f'model.backbone.genotype: genotype file {bad} is not valid JSON')


def test_test_tool_names_a_missing_checkpoint(tmp_path, monkeypatch):
    missing = str(tmp_path / 'epoch_9.pth')
    error = _main_fails(monkeypatch, 'test', CIFAR, missing)
    assert isinstance(error, FileNotFoundError)
    assert str(error) == f"CHECKPOINT: checkpoint '{missing}' does not exist"


def test_train_command_line_options(monkeypatch):
    cfg = _config_from_argv(monkeypatch, 'train', CIFAR, '--amp', '--resume')
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'
    assert cfg.optim_wrapper.clip_grad.max_norm == 5  # the rest of the wrapper is kept
    assert cfg.resume is True and cfg.load_from is None  # latest checkpoint of work_dir
    assert cfg.work_dir == './work_dirs/relnas_cifar10'

    cfg = _config_from_argv(monkeypatch, 'train', CIFAR, '--resume', 'w/epoch_3.pth',
                            '--work-dir', 'w', '--data-root', '/data/c10')
    assert (cfg.resume, cfg.load_from, cfg.work_dir) == (True, 'w/epoch_3.pth', 'w')
    assert cfg.train_dataloader.dataset.data_root == '/data/c10'
    assert cfg.optim_wrapper.type == 'OptimWrapper'


def test_test_command_line_options(monkeypatch):
    cfg = _config_from_argv(monkeypatch, 'test', CIFAR, 'c.pth', '--out', 'preds.pkl')
    assert cfg.load_from == 'c.pth'
    assert [m['type'] for m in cfg.test_evaluator] == ['relnas_mm.Accuracy', 'DumpResults']
    assert cfg.test_evaluator[1].out_file_path == 'preds.pkl'
    with pytest.raises(ValueError, match='--out must be a .pkl'):
        _config_from_argv(monkeypatch, 'test', CIFAR, 'c.pth', '--out', 'preds.json')


@pytest.mark.skipif(torch.cuda.is_available(), reason='AMP runs where CUDA is available')
def test_amp_on_the_cpu_is_refused_before_training(monkeypatch):
    error = _main_fails(monkeypatch, 'train', CIFAR, '--amp')
    assert isinstance(error, RuntimeError) and '--amp needs a CUDA' in str(error)


def test_cpu_distributed_training_with_torchrun(tmp_path):
    """--launcher pytorch on CPUs (gloo): 2 ranks split the data (8 images, batch 2 per
    rank: 2 iterations) and DDP accepts the reduction cells' unused preprocess0."""
    root = make_cifar_like(str(tmp_path / 'cifar'), n_train=8, n_test=4)
    proc = run_tool('-m', 'torch.distributed.run', '--nproc_per_node=2', 'tools/train.py',
                    CIFAR, '--launcher', 'pytorch', '--work-dir', str(tmp_path / 'w'),
                    '--data-root', root, '--cfg-options', 'env_cfg.dist_cfg.backend=gloo',
                    'train_cfg.max_epochs=1', *cli_options(SMALL_NET), *LOADER_OPTIONS)
    out = check_ok(proc)
    assert 'Distributed training: True' in out
    assert 'Epoch(train) [1][2/2]' in out and 'accuracy/top1' in out
    assert os.path.isfile(tmp_path / 'w' / 'epoch_1.pth')


def test_cpu_distributed_needs_torchrun_and_gloo():
    if torch.cuda.is_available():
        pytest.skip('with CUDA, mmengine initialises the process group itself')
    cfg = Config(dict(launcher='pytorch', env_cfg=dict(dist_cfg=dict(backend='nccl'))))
    with pytest.raises(RuntimeError, match='backend=gloo'):
        prepare_cpu_distributed(cfg)
    prepare_cpu_distributed(Config(dict(launcher='none')))  # single process: nothing to do
