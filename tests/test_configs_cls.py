"""End to end: the CIFAR-10 and ImageNet configs train, resume and test with tools/.

The configs keep the paper's settings; only --cfg-options shrink the network
(C=8, 5 cells), the epochs and the loaders. A network this small trained this briefly
is no better than chance, so tools/test.py evaluates the trained checkpoint with its
classifier set to fixed scores: the accuracy it reports is then known exactly from
the test labels.
"""
import os
import pickle
from typing import Sequence

import numpy as np
import pytest
import torch
from fixtures_data import make_cifar_like, make_image_folder
from fixtures_downstream import LOADER_OPTIONS, SMALL_NET, cli_options, read_test_metrics
from fixtures_tools import check_ok, run_tool

pytest.importorskip('mmengine')

from relnas_mm.datasets.cifar_io import load_cifar10

SMALL = cli_options(SMALL_NET) + LOADER_OPTIONS


def _fixed_scores(checkpoint: str, out: str, scores: Sequence[float]) -> str:
    """A copy of a classifier checkpoint whose logits are ``scores`` whatever the image."""
    state = torch.load(checkpoint, map_location='cpu', weights_only=False)
    weights = state['state_dict']
    weights['classifier.weight'].zero_()
    weights['classifier.bias'].zero_()[:len(scores)] = torch.tensor(scores)
    torch.save(state, out)
    return out


@pytest.mark.e2e
def test_cifar10_config_trains_resumes_and_reports_accuracy(tmp_path):
    root = make_cifar_like(str(tmp_path / 'cifar'), n_train=8, n_test=6)
    config, work = 'configs/cifar/relnas_cifar10.py', str(tmp_path / 'work')
    train = ['tools/train.py', config, '--work-dir', work, '--data-root', root]
    out = check_ok(run_tool(*train, '--cfg-options', *SMALL, 'train_cfg.max_epochs=1'))
    assert 'Epoch(train) [1][4/4]' in out and 'accuracy/top1' in out

    # --resume: the latest checkpoint (loaded under torch's weights_only default, with
    # mmengine's message hub and numpy state) and on to the new last epoch
    out = check_ok(run_tool(*train, '--resume', '--cfg-options', *SMALL, 'train_cfg.max_epochs=2'))
    assert 'resumed epoch: 1' in out
    assert 'Epoch(train) [2][4/4]' in out and 'Epoch(train) [1]' not in out
    ckpt = os.path.join(work, 'epoch_2.pth')
    assert torch.load(ckpt, map_location='cpu', weights_only=False)['meta']['epoch'] == 2

    labels = load_cifar10(root, 'test')[1]
    guess = int(labels[0])  # every image is called this class
    fixed = _fixed_scores(ckpt, str(tmp_path / 'fixed.pth'), [0.0] * guess + [1.0])
    test_work, preds = str(tmp_path / 'test'), str(tmp_path / 'preds.pkl')
    check_ok(
        run_tool('tools/test.py', config, fixed, '--work-dir', test_work, '--data-root', root,
                 '--out', preds, '--cfg-options', *SMALL))
    top1 = read_test_metrics(test_work)['accuracy/top1']
    assert top1 == pytest.approx(100.0 * np.mean(labels == guess), abs=1e-4)
    with open(preds, 'rb') as f:
        predictions = pickle.load(f)
    assert len(predictions) == 6  # --out dumped one prediction per test image
    assert [int(p['gt_label'][0]) for p in predictions] == labels.tolist()
    assert all(p['pred_score'].shape == (10, ) and int(p['pred_score'].argmax()) == guess
               for p in predictions)


@pytest.mark.e2e
def test_imagenet_config_trains_and_reports_accuracy(tmp_path):
    root = str(tmp_path / 'imagenet')
    for split in ('train', 'val'):
        make_image_folder(
            os.path.join(root, split), classes=('n01440764', 'n01443537'), per_class=2,
            size=(240, 260))
    config, work, test_work = ('configs/imagenet/relnas_imagenet_mobile.py', str(tmp_path / 'work'),
                               str(tmp_path / 'test'))
    # the config's 224x224 crops: the ImageNet auxiliary head needs its 7x7 input
    small = SMALL + ['train_cfg.max_epochs=1']
    check_ok(
        run_tool('tools/train.py', config, '--work-dir', work, '--data-root', root, '--cfg-options',
                 *small))
    # every image called the second class, the first one next: half the validation
    # images are right at top-1, all at top-5 (of the config's 1000 classes)
    fixed = _fixed_scores(
        os.path.join(work, 'epoch_1.pth'), str(tmp_path / 'fixed.pth'), [1.0, 2.0])
    check_ok(
        run_tool('tools/test.py', config, fixed, '--work-dir', test_work, '--data-root', root,
                 '--cfg-options', *small))
    metrics = read_test_metrics(test_work)
    assert metrics['accuracy/top1'] == pytest.approx(50.0, abs=1e-4)
    assert metrics['accuracy/top5'] == pytest.approx(100.0, abs=1e-4)
