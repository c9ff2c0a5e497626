"""relnas_mm.utils.image_stats: one definition of the datasets' mean/std, and the
configs' literal copies of it."""
import glob
import os

import pytest
from fixtures_tools import REPO

from relnas_mm.utils.image_stats import (CIFAR10_MEAN, CIFAR10_STD, IMAGENET_MEAN, IMAGENET_STD,
                                         SSDLITE_MEAN, SSDLITE_STD, on_255_scale)

CONFIGS = sorted(
    p for p in glob.glob(os.path.join(REPO, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in p and os.sep + 'search' + os.sep not in p)


def test_the_uint8_scale_is_what_openmmlab_configs_write():
    assert on_255_scale(IMAGENET_MEAN) == [123.675, 116.28, 103.53]
    assert on_255_scale(IMAGENET_STD) == [58.395, 57.12, 57.375]
    assert on_255_scale(CIFAR10_MEAN) == [125.307, 122.95, 113.865]
    assert on_255_scale(SSDLITE_MEAN) == [127.0] * 3 and on_255_scale(SSDLITE_STD) == [128.0] * 3


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: os.path.relpath(p, REPO))
def test_every_network_config_normalises_with_the_stats_of_its_data(path):
    """CIFAR-style configs (a 'cifar' stem) with CIFAR-10's, the SSDLite detectors with the
    authors' (x - 127) / 128, all others with ImageNet's."""
    config = pytest.importorskip('mmengine.config')
    cfg = config.Config.fromfile(path)
    preprocessor = cfg.model.data_preprocessor
    stem = cfg.model.get('backbone', {}).get('stem_type')
    mean, std = (CIFAR10_MEAN, CIFAR10_STD) if stem == 'cifar' else (IMAGENET_MEAN, IMAGENET_STD)
    if os.sep + 'det' + os.sep in path:
        mean, std = SSDLITE_MEAN, SSDLITE_STD
    assert list(preprocessor.mean) == on_255_scale(mean)
    assert list(preprocessor.std) == on_255_scale(std)


def test_the_classifier_defaults_use_the_same_statistics():
    pytest.importorskip('mmengine')
    from relnas_mm.models.classifiers import cifar_network, imagenet_network
    for network, (mean, std) in ((cifar_network, (CIFAR10_MEAN, CIFAR10_STD)),
                                 (imagenet_network, (IMAGENET_MEAN, IMAGENET_STD))):
        preprocessor = network(channels=4, num_cells=3).data_preprocessor
        assert preprocessor.mean.flatten().tolist() == pytest.approx(on_255_scale(mean))
        assert preprocessor.std.flatten().tolist() == pytest.approx(on_255_scale(std))
