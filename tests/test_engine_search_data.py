"""The search data from its config section: classes before images, every data set, checks."""
import numpy as np
import pytest
from fixtures_data import make_cifar100_like, make_image_folder

pytest.importorskip('mmengine')

from relnas_mm.datasets.cifar100_io import load_cifar100
from relnas_mm.datasets.cifar_io import CIFARDataError, load_cifar10
from relnas_mm.engine.search_data import load_search_images, search_classes, with_num_classes


def test_cifar100_fine_or_coarse(tmp_path):
    root = make_cifar100_like(str(tmp_path), n_train=30, num_fine=6, num_coarse=3)
    cfg = dict(dataset='cifar100', data_root=root)
    assert search_classes(cfg) == [f'fine_{k}' for k in range(6)]
    assert search_classes(dict(cfg, label_type='coarse')) == ['coarse_0', 'coarse_1', 'coarse_2']
    images, labels = load_search_images(dict(cfg, label_type='coarse', num_images=10))
    full_images, coarse = load_cifar100(root, 'train', 'coarse')
    assert images.shape == (10, 32, 32, 3) and labels.max() < 3
    rows = {img.tobytes(): label for img, label in zip(full_images, coarse)}
    assert all(rows[img.tobytes()] == label for img, label in zip(images, labels))


def test_image_folder_at_its_image_size_with_progress(tmp_path):
    root = make_image_folder(str(tmp_path), classes=('a', 'b', 'c'), per_class=4)
    cfg = dict(dataset='image_folder', data_root=root, image_size=24)
    assert search_classes(cfg) == ['a', 'b', 'c']
    calls = []
    images, labels = load_search_images(cfg, progress=lambda d, t: calls.append((d, t)))
    assert images.shape == (12, 24, 24, 3) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [4, 4, 4] and calls[-1] == (12, 12)
    assert load_search_images(dict(cfg, image_size=None))[0].shape[1:] == (32, 32, 3)


@pytest.mark.parametrize('cfg, message', [
    (dict(dataset='cifar10', data_root='x', image_size=16),
     "search.data.image_size applies to dataset='image_folder' only, not 'cifar10'"),
    (dict(dataset='image_folder', data_root='x',
          label_type='fine'), "search.data.label_type applies to dataset='cifar100' only"),
    (dict(dataset='svhn', data_root='x'), 'search.data.dataset: expected one of'),
])
def test_options_of_another_data_set_are_refused(cfg, message):
    with pytest.raises(ValueError, match=message.replace('.', r'\.').replace('(', r'\(')):
        search_classes(cfg)


def test_num_classes_from_the_data():
    data = dict(dataset='image_folder', data_root='data/x')
    assert with_num_classes(dict(channels=8, num_classes=None), ['a', 'b'],
                            data) == dict(channels=8, num_classes=2)
    assert with_num_classes(dict(channels=8), ['a', 'b'], data)['num_classes'] == 2
    with pytest.raises(
            ValueError, match=r'num_classes is 10 but the search data \(image_folder '
            r'in data/x\) has 2 classes; set it to 2 or to None'):
        with_num_classes(dict(num_classes=10), ['a', 'b'], data)


def test_all_training_images_by_default(cifar_root):
    images, labels = load_search_images(dict(dataset='cifar10', data_root=cifar_root))
    expected_images, expected_labels = load_cifar10(cifar_root, 'train')
    np.testing.assert_array_equal(images, expected_images)
    np.testing.assert_array_equal(labels, expected_labels)


def test_num_images_keeps_a_seeded_subset(cifar_root):
    full, full_labels = load_cifar10(cifar_root, 'train')
    cfg = dict(dataset='cifar10', data_root=cifar_root, num_images=10, split_seed=3)
    images, labels = load_search_images(cfg)
    again, _ = load_search_images(cfg)
    other, _ = load_search_images(dict(cfg, split_seed=4))
    assert images.shape == (10, 32, 32, 3)
    np.testing.assert_array_equal(images, again)
    assert not np.array_equal(images, other)
    rows = {full[i].tobytes(): full_labels[i] for i in range(len(full))}
    assert all(rows[img.tobytes()] == lab for img, lab in zip(images, labels))


@pytest.mark.parametrize('value', [1, 65, 2.5, True])
def test_num_images_out_of_range_names_the_key(cifar_root, value):
    message = r'search\.data\.num_images: expected an integer in 2\.\.64'
    with pytest.raises(ValueError, match=message):
        load_search_images(dict(dataset='cifar10', data_root=cifar_root, num_images=value))


def test_missing_data_is_the_readers_error(tmp_path):
    with pytest.raises(CIFARDataError, match=str(tmp_path / 'none')):
        load_search_images(dict(dataset='cifar10', data_root=str(tmp_path / 'none')))
    with pytest.raises(ValueError, match=r'search\.data\.data_root is not set'):
        load_search_images(dict(dataset='cifar10', data_root=None))
