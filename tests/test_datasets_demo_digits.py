"""The demo dataset: scikit-learn's digits written once in CIFAR-10's format."""
import os
import sys

import numpy as np
import pytest

from relnas_mm.datasets.cifar_io import CIFARDataError, load_cifar10, load_cifar10_classes
from relnas_mm.datasets.demo_digits import (DIGIT_CLASSES, NUM_TRAIN, prepare_demo_digits,
                                            upscale_digits)


def test_upscale_maps_0_16_to_0_255_and_keeps_shapes():
    digits = np.zeros((3, 8, 8))
    digits[1] = 16
    digits[2, :, 4:] = 16  # left half dark, right half bright
    big = upscale_digits(digits)
    assert big.shape == (3, 32, 32, 3) and big.dtype == np.uint8
    assert big[0].max() == 0 and big[1].min() == 255
    assert (big[2][..., 0] == big[2][..., 2]).all()  # grey: the channels agree
    assert big[2, :, :14].max() == 0 and big[2, :, 18:].min() == 255
    row = big[2, 0, :, 0].astype(int)
    assert (np.diff(row) >= 0).all() and 0 < row[15] < 255  # a smooth (bilinear) edge


def test_writes_all_digits_once_and_reuses_them(tmp_path):
    datasets = pytest.importorskip('sklearn.datasets')
    root = str(tmp_path / 'digits')
    assert prepare_demo_digits(root) == root
    train_x, train_y = load_cifar10(root, 'train')
    test_x, test_y = load_cifar10(root, 'test')
    assert train_x.shape == (NUM_TRAIN, 32, 32, 3) and test_x.shape == (1797 - NUM_TRAIN, 32, 32, 3)
    assert load_cifar10_classes(root) == list(DIGIT_CLASSES)
    digits = datasets.load_digits()
    # Every digit lands in exactly one split, with its own label.
    images, labels = np.concatenate([train_x, test_x]), np.concatenate([train_y, test_y])
    written = {(x.tobytes(), int(y)) for x, y in zip(images, labels)}
    expected = {(x.tobytes(), int(y)) for x, y in zip(upscale_digits(digits.images), digits.target)}
    assert written == expected
    assert set(np.unique(test_y)) == set(range(10))

    folder = os.path.join(root, 'cifar-10-batches-py')
    stamps = {n: os.stat(os.path.join(folder, n)).st_mtime_ns for n in os.listdir(folder)}
    assert prepare_demo_digits(root) == root
    assert {n: os.stat(os.path.join(folder, n)).st_mtime_ns for n in os.listdir(folder)} == stamps
    assert sorted(os.listdir(root)) == ['cifar-10-batches-py']  # no staging left behind


def test_split_depends_on_the_seed(tmp_path):
    pytest.importorskip('sklearn')
    a = load_cifar10(prepare_demo_digits(str(tmp_path / 'a'), seed=0), 'test')[1]
    b = load_cifar10(prepare_demo_digits(str(tmp_path / 'b'), seed=1), 'test')[1]
    c = load_cifar10(prepare_demo_digits(str(tmp_path / 'c'), seed=0), 'test')[1]
    np.testing.assert_array_equal(a, c)
    assert not np.array_equal(a, b)


def test_incomplete_folder_is_not_overwritten(tmp_path):
    (tmp_path / 'cifar-10-batches-py').mkdir()
    (tmp_path / 'cifar-10-batches-py' / 'data_batch_1').write_bytes(b'mine')
    with pytest.raises(CIFARDataError, match='exists but is incomplete'):
        prepare_demo_digits(str(tmp_path))
    assert (tmp_path / 'cifar-10-batches-py' / 'data_batch_1').read_bytes() == b'mine'


def test_missing_scikit_learn_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, 'sklearn', None)  # makes the import fail
    monkeypatch.setitem(sys.modules, 'sklearn.datasets', None)
    with pytest.raises(ImportError, match='pip install scikit-learn'):
        prepare_demo_digits(str(tmp_path))
