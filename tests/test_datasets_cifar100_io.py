"""CIFAR-100's python format: the reader against files in the official layout."""
import os
import pickle

import numpy as np
import pytest
from fixtures_data import make_cifar100_like

from relnas_mm.datasets.cifar100_io import load_cifar100, load_cifar100_classes, write_cifar100
from relnas_mm.datasets.cifar_io import CIFARDataError


def test_official_layout_and_both_label_sets(tmp_path):
    root = make_cifar100_like(str(tmp_path), n_train=40, n_test=12, num_fine=8, num_coarse=2)
    folder = os.path.join(root, 'cifar-100-python')
    assert sorted(os.listdir(folder)) == ['meta', 'test', 'train']
    with open(os.path.join(folder, 'train'), 'rb') as f:  # what torchvision's reader expects
        raw = pickle.load(f, encoding='latin1')
    assert sorted(raw) == ['batch_label', 'coarse_labels', 'data', 'filenames', 'fine_labels']
    assert raw['data'].shape == (40, 3072) and raw['data'].dtype == np.uint8
    images, fine = load_cifar100(root, 'train')
    _, coarse = load_cifar100(root, 'train', label_type='coarse')
    assert images.shape == (40, 32, 32, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(fine, raw['fine_labels'])
    np.testing.assert_array_equal(coarse, fine % 2)
    np.testing.assert_array_equal(images[0].transpose(2, 0, 1).reshape(-1), raw['data'][0])
    assert load_cifar100(root, 'test')[0].shape == (12, 32, 32, 3)
    assert load_cifar100_classes(root) == [f'fine_{k}' for k in range(8)]
    assert load_cifar100_classes(folder, 'coarse') == ['coarse_0', 'coarse_1']


def test_missing_meta_and_bad_options_are_clear(tmp_path):
    root = make_cifar100_like(str(tmp_path))
    os.remove(os.path.join(root, 'cifar-100-python', 'meta'))
    with pytest.raises(CIFARDataError, match=r'CIFAR-100 file .*meta is missing'):
        load_cifar100(root)
    with pytest.raises(CIFARDataError, match='CIFAR-100 not found'):
        load_cifar100(str(tmp_path / 'nowhere'))
    with pytest.raises(ValueError, match='label_type must be one of'):
        load_cifar100(root, label_type='medium')
    with pytest.raises(ValueError, match='split must be'):
        load_cifar100(root, split='val')


def test_labels_outside_the_meta_classes_are_refused(tmp_path):
    images = np.zeros((4, 32, 32, 3), np.uint8)
    split = (images, np.array([0, 1, 2, 3]), np.array([0, 0, 1, 1]))
    with pytest.raises(ValueError, match=r'train \(fine\) labels must lie in 0\.\.2'):
        write_cifar100(str(tmp_path), split, split, ['a', 'b', 'c'], ['x', 'y'])
    folder = write_cifar100(str(tmp_path), split, split, list('abcd'), ['x', 'y'])
    with open(os.path.join(folder, 'meta'), 'wb') as f:
        pickle.dump({'fine_label_names': ['a', 'b'], 'coarse_label_names': ['x', 'y']}, f)
    with pytest.raises(CIFARDataError, match=r'labels must lie in 0\.\.1 \(2 classes in meta\)'):
        load_cifar100(str(tmp_path))


def test_mmengine_dataset_and_the_resize_transform(tmp_path):
    pytest.importorskip('mmengine')
    from mmengine.registry import DATASETS

    import relnas_mm  # noqa: F401  (registers the datasets and transforms)
    root = make_cifar100_like(str(tmp_path), n_train=20, n_test=6, num_fine=8, num_coarse=2)
    pipeline = [
        dict(type='Resize', scale=(24, 16), keep_ratio=False, backend='pillow'),
        dict(type='relnas_mm.PackClsInputs')
    ]
    data = DATASETS.build(
        dict(type='relnas_mm.CIFAR100Dataset', data_root=root, split='test', label_type='coarse',
             pipeline=pipeline))
    assert len(data) == 6 and data.metainfo['classes'] == ('coarse_0', 'coarse_1')
    item = data[0]
    assert tuple(item['inputs'].shape) == (3, 16, 24)
    assert int(item['data_samples'].gt_label) == load_cifar100(root, 'test', 'coarse')[1][0]
    with pytest.raises(ValueError, match='label_type must be one of'):
        DATASETS.build(
            dict(type='relnas_mm.CIFAR100Dataset', data_root=root, label_type='fine_grained'))
