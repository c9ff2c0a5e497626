"""tools/train.py and tools/test.py: command-line options, clear errors before training,
and CPU multi-process training.

Resuming, --data-root and --out run end to end in tests/test_configs_*.py. For bad
input the tools' main() runs in-process with the runner replaced by a guard, so the
checks must stop it before anything is built.
"""
import glob
import importlib.util
import os
import re
import sys

import numpy as np
import pytest
import torch
from fixtures_data import make_cifar_like
from fixtures_downstream import LOADER_OPTIONS, SMALL_NET, cli_options, make_voc
from fixtures_tools import REPO, check_ok, load_tool, run_tool

pytest.importorskip('mmengine')
from mmengine.config import Config

from relnas_mm.apis.launch import prepare_cpu_distributed
from relnas_mm.apis.preflight import DataCheckError
from relnas_mm.datasets.cifar_io import load_cifar10
from relnas_mm.models.classifiers import cifar_network
from relnas_mm.space.genotype import GenotypeError

CIFAR = 'configs/cifar/relnas_cifar10.py'


def _config_from_argv(monkeypatch, name: str, *argv: str):
    tool = load_tool(name)
    monkeypatch.setattr(sys, 'argv', [f'{name}.py', *argv])
    return tool.make_config(tool.parse_args())


def _main_fails(monkeypatch, name: str, *argv: str):
    """Run tools/<name>.py's main() in-process; return the exception it raised.

    The runner is never built: the errors come from the checks before it."""
    tool = load_tool(name)
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
    error = _main_fails(monkeypatch, 'train', CIFAR, '--data-root', str(tmp_path), '--cfg-options',
                        f'model.backbone.genotype={bad}')
    assert isinstance(error, GenotypeError)
    assert str(error).startswith(f'model.backbone.genotype: genotype file {bad} is not valid JSON')


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

    cfg = _config_from_argv(monkeypatch, 'train', CIFAR, '--resume', 'w/epoch_3.pth', '--work-dir',
                            'w', '--data-root', '/data/c10')
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


@pytest.mark.e2e
def test_cpu_distributed_training_with_torchrun(tmp_path):
    """--launcher pytorch on CPUs (gloo): 2 ranks split the data (8 images, batch 2 per
    rank: 2 iterations) and DDP accepts the reduction cells' unused preprocess0.
    --auto-scale-lr scales lr 0.025 (for a total batch of 128) to the total batch 4.
    The run starts (load_from) from a classifier that calls every image one class, by
    a margin two small steps cannot undo: the validation accuracy gathered from both
    ranks is then known exactly from the test labels."""
    root = make_cifar_like(str(tmp_path / 'cifar'), n_train=8, n_test=4)
    labels = load_cifar10(root, 'test')[1]
    guess = int(labels[0])
    start = cifar_network(channels=SMALL_NET['model.backbone.base_channels'],
                          num_cells=SMALL_NET['model.backbone.num_cells'])
    start.classifier.weight.data.zero_()
    start.classifier.bias.data.zero_()[guess] = 10.0
    torch.save({'state_dict': start.state_dict()}, tmp_path / 'start.pth')
    proc = run_tool('-m', 'torch.distributed.run', '--nproc_per_node=2', 'tools/train.py',
                    CIFAR, '--launcher', 'pytorch', '--auto-scale-lr', '--work-dir',
                    str(tmp_path / 'w'), '--data-root', root, '--cfg-options',
                    'env_cfg.dist_cfg.backend=gloo', 'train_cfg.max_epochs=1',
                    f"load_from={tmp_path / 'start.pth'}", *cli_options(SMALL_NET), *LOADER_OPTIONS)
    out = check_ok(proc)
    assert 'Distributed training: True' in out
    assert 'Epoch(train) [1][2/2]' in out
    assert 'lr: 7.8125e-04' in out  # 0.025 x (2 ranks x 2) / 128
    assert os.path.isfile(tmp_path / 'w' / 'epoch_1.pth')
    # rank 0 validates images 0 and 2, rank 1 images 1 and 3: each half alone differs
    expected = 100.0 * np.mean(labels == guess)
    assert expected not in (100.0 * np.mean(labels[0::2] == guess),
                            100.0 * np.mean(labels[1::2] == guess))
    (top1, ) = re.findall(r'Epoch\(val\) \[1\]\[\d+/\d+\].*accuracy/top1: ([\d.]+)', out)
    assert float(top1) == pytest.approx(expected, abs=1e-4)


def test_cpu_distributed_needs_torchrun_and_gloo():
    if torch.cuda.is_available():
        pytest.skip('with CUDA, mmengine initialises the process group itself')
    cfg = Config(dict(launcher='pytorch', env_cfg=dict(dist_cfg=dict(backend='nccl'))))
    with pytest.raises(RuntimeError, match='backend=gloo'):
        prepare_cpu_distributed(cfg)
    prepare_cpu_distributed(Config(dict(launcher='none')))  # single process: nothing to do


POSE = 'configs/pose/relnas_simplebaseline_coco-256x192.py'


def test_missing_pretrained_weights_are_named_before_training(tmp_path, monkeypatch):
    """--cfg-options pretrained=... reaches the backbone, so a wrong path stops the run."""
    missing = str(tmp_path / 'relnas_imagenet.pth')
    error = _main_fails(monkeypatch, 'train', POSE, '--cfg-options', f'pretrained={missing}')
    assert isinstance(error, FileNotFoundError)
    assert str(error) == (f"model.backbone.init_cfg.checkpoint: pretrained weights "
                          f"'{missing}' do not exist")


# the total batch each config's learning rate is for (the paper's / the library's setting)
BASE_BATCH = {
    'configs/det/relnas_ssd_voc.py': 32,
    'configs/det/mobilenetv2_ssd_voc.py': 32,
    'configs/seg/relnas_bisenetv1_cityscapes-1024x1024.py': 16,
    'configs/seg/mobilenetv2_bisenetv1_cityscapes-1024x1024.py': 16,
    POSE: 128,
    'configs/pose/mobilenetv2_simplebaseline_coco-256x192.py': 128,
    'configs/pose/relnas_simplebaseline_coco-256x192_gt-bbox.py': 128,
    'configs/pose/relnas_simplebaseline_coco-256x192_det-bbox.py': 128,
    'configs/pose/relnas_simplebaseline_coco-256x192_lr-step.py': 128,
    'configs/imagenet/relnas_imagenet_mobile.py': 1024,
    CIFAR: 128,
    'configs/cifar/relnas_cifar100.py': 128,
    'configs/cifar/relnas_image_folder.py': 128,
}


def test_every_downstream_and_classification_config_has_auto_scale_lr():
    configs = {
        os.path.relpath(p, REPO)
        for d in ('det', 'seg', 'pose', 'imagenet', 'cifar')
        for p in glob.glob(os.path.join(REPO, 'configs', d, '*.py'))
    }
    assert configs == set(BASE_BATCH)  # a new config needs its base batch here
    for config, batch in BASE_BATCH.items():
        scope = {'det': 'mmdet', 'seg': 'mmseg'}.get(config.split('/')[1])
        if scope and importlib.util.find_spec(scope) is None:
            continue  # its custom_imports need the library
        cfg = Config.fromfile(os.path.join(REPO, config))
        assert cfg.auto_scale_lr == dict(enable=False, base_batch_size=batch), config


def test_auto_scale_lr_option(tmp_path, monkeypatch):
    cfg = _config_from_argv(monkeypatch, 'train', CIFAR, '--auto-scale-lr')
    assert cfg.auto_scale_lr == dict(enable=True, base_batch_size=128)
    bare = tmp_path / 'no_scaling.py'
    bare.write_text(f"_base_ = '{os.path.join(REPO, CIFAR)}'\nauto_scale_lr = None\n")
    with pytest.raises(KeyError, match='no auto_scale_lr=dict'):
        _config_from_argv(monkeypatch, 'train', str(bare), '--auto-scale-lr')


def test_tta_needs_the_config_to_define_it(monkeypatch):
    with pytest.raises(KeyError, match='has no tta_model and no tta_pipeline'):
        _config_from_argv(monkeypatch, 'test', CIFAR, 'c.pth', '--tta')
