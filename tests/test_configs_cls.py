"""End to end: the CIFAR-10 and ImageNet configs train and test with tools/ on tiny data.

The configs keep the paper's settings; only --cfg-options shrink the network
(C=8, 5 cells), the epochs and the loaders.
"""
import os
import pickle

import pytest
from fixtures_data import make_cifar_like, make_image_folder
from fixtures_downstream import LOADER_OPTIONS, check_ok, read_test_metrics, run_tool

pytest.importorskip('mmengine')

SMALL_NET = ['model.backbone.base_channels=8', 'model.backbone.num_cells=5']


def _train_and_test(config: str, data_root: str, tmp_path, extra: list) -> tuple:
    """Train one epoch, test the checkpoint; return (test metrics, dumped predictions)."""
    work = str(tmp_path / 'work')
    options = SMALL_NET + LOADER_OPTIONS + ['train_cfg.max_epochs=1'] + extra
    out = check_ok(run_tool('tools/train.py', config, '--work-dir', work, '--data-root',
                            data_root, '--cfg-options', *options))
    assert 'Epoch(train) [1]' in out
    ckpt = os.path.join(work, 'epoch_1.pth')
    assert os.path.isfile(ckpt)
    test_work = str(tmp_path / 'test')
    preds = str(tmp_path / 'preds.pkl')
    check_ok(run_tool('tools/test.py', config, ckpt, '--work-dir', test_work, '--data-root',
                      data_root, '--out', preds, '--cfg-options', *options))
    with open(preds, 'rb') as f:
        predictions = pickle.load(f)
    return read_test_metrics(test_work), predictions


def test_cifar10_config_trains_and_reports_accuracy(tmp_path):
    root = make_cifar_like(str(tmp_path / 'cifar'), n_train=8, n_test=6)
    metrics, predictions = _train_and_test('configs/cifar/relnas_cifar10.py', root, tmp_path, [])
    top1 = metrics['accuracy/top1']
    assert isinstance(top1, float) and 0.0 <= top1 <= 100.0
    assert len(predictions) == 6  # --out dumped one prediction per test image
    assert predictions[0]['pred_score'].shape == (10, )


def test_imagenet_config_trains_and_reports_accuracy(tmp_path):
    root = str(tmp_path / 'imagenet')
    for split in ('train', 'val'):
        make_image_folder(os.path.join(root, split), classes=('n01440764', 'n01443537'),
                          per_class=2, size=(100, 120))
    # 96-pixel crops keep the ImageNet auxiliary head's 5x5 pooling valid (6x6 input)
    extra = ['train_dataloader.dataset.pipeline.0.size=96',
             'val_dataloader.dataset.pipeline.0.resize=110',
             'val_dataloader.dataset.pipeline.0.crop=96',
             'test_dataloader.dataset.pipeline.0.resize=110',
             'test_dataloader.dataset.pipeline.0.crop=96']
    metrics, _ = _train_and_test('configs/imagenet/relnas_imagenet_mobile.py', root, tmp_path,
                                 extra)
    for key in ('accuracy/top1', 'accuracy/top5'):
        assert isinstance(metrics[key], float) and 0.0 <= metrics[key] <= 100.0
