"""The search data from its config section: classes before images, every data set, checks,
the cache of pieces and the split by source image."""
import glob
import json
import os

import numpy as np
import pytest
from fixtures_data import make_cifar100_like, make_image_folder
from fixtures_downstream import make_cityscapes
from fixtures_pieces import NUM_IMAGES, make_coco, make_voc
from PIL import Image

pytest.importorskip('mmengine')

from relnas_mm.datasets.cifar100_io import load_cifar100
from relnas_mm.datasets.cifar_io import CIFARDataError, load_cifar10
from relnas_mm.datasets.crop_io import AnnotationError
from relnas_mm.engine import search_data
from relnas_mm.engine.search_data import load_search_images, search_classes, with_num_classes
from relnas_mm.search import split_search_data


def test_cifar100_fine_or_coarse(tmp_path):
    root = make_cifar100_like(str(tmp_path), n_train=30, num_fine=6, num_coarse=3)
    cfg = dict(dataset='cifar100', data_root=root)
    assert search_classes(cfg) == [f'fine_{k}' for k in range(6)]
    assert search_classes(dict(cfg, label_type='coarse')) == ['coarse_0', 'coarse_1', 'coarse_2']
    images, labels, groups = load_search_images(dict(cfg, label_type='coarse', num_images=10))
    full_images, coarse = load_cifar100(root, 'train', 'coarse')
    assert images.shape == (10, 32, 32, 3) and labels.max() < 3 and groups is None
    rows = {img.tobytes(): label for img, label in zip(full_images, coarse)}
    assert all(rows[img.tobytes()] == label for img, label in zip(images, labels))


def test_image_folder_at_its_image_size_with_progress(tmp_path):
    root = make_image_folder(str(tmp_path), classes=('a', 'b', 'c'), per_class=4)
    cfg = dict(dataset='image_folder', data_root=root, image_size=24)
    assert search_classes(cfg) == ['a', 'b', 'c']
    calls = []
    images, labels, groups = load_search_images(cfg, progress=lambda d, t: calls.append((d, t)))
    assert images.shape == (12, 24, 24, 3) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [4, 4, 4] and calls[-1] == (12, 12) and groups is None
    assert load_search_images(dict(cfg, image_size=None))[0].shape[1:] == (32, 32, 3)


@pytest.mark.parametrize('cfg, message', [
    (dict(dataset='cifar10', data_root='x', image_size=16),
     "search.data.image_size applies to dataset='image_folder', 'coco', 'voc', 'seg_patches' "
     "only, not 'cifar10'"),
    (dict(dataset='voc', data_root='x', patch_size=16),
     "search.data.patch_size applies to dataset='seg_patches' only, not 'voc'"),
    (dict(dataset='coco', data_root='x'), 'search.data.ann_file is not set'),
    (dict(dataset='seg_patches', data_root='x', layout='kitti'), 'search.data.layout: expected'),
    (dict(dataset='seg_patches', data_root='x', img_dir='a',
          ann_dir='b'), 'layout="pairs" needs the names of the label values'),
    (dict(dataset='coco', data_root='x', ann_file='a.json',
          context=0.5), 'search.data: context must be a number >= 1'),
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


def _coco_cfg(root: str, **options) -> dict:
    return dict(
        dict(dataset='coco', data_root=root, ann_file='annotations/instances_train.json',
             img_dir='train', image_size=16), **options)


def _refuse(*args, **kwargs):
    raise AssertionError('cut or planned again despite the cache')


def test_pieces_are_cached_in_the_work_dir(tmp_path, monkeypatch):
    root, work = make_coco(str(tmp_path / 'coco')), str(tmp_path / 'work')
    cfg = _coco_cfg(root)
    with pytest.warns(UserWarning, match='left out of the search: bird'):
        assert search_classes(cfg, work) == ['cat', 'dog']
    calls = []
    first = load_search_images(cfg, lambda d, t: calls.append((d, t)), work)
    assert first.images.shape == (2 * NUM_IMAGES, 16, 16, 3) and calls[-1] == (6, 6)
    assert first.groups.tolist() == np.repeat(np.arange(NUM_IMAGES), 2).tolist()
    (cache, ) = glob.glob(os.path.join(work, 'search_data_cache', 'coco_*.npz'))
    # a second search (a resume, or the same config again) neither plans nor cuts
    monkeypatch.setattr(search_data, '_PLANS', {})
    monkeypatch.setattr(search_data, 'plan_object_crops', _refuse)
    monkeypatch.setattr(search_data, 'cut_pieces', _refuse)
    assert search_classes(cfg, work) == ['cat', 'dog']
    second = load_search_images(cfg, work_dir=work)
    for a, b in zip(first, second):
        assert np.array_equal(a, b)
    monkeypatch.undo()
    # another crop setting or other annotations: another cache file
    load_search_images(_coco_cfg(root, context=1.5), work_dir=work)
    ann = os.path.join(root, 'annotations', 'instances_train.json')
    with open(ann) as f:
        data = json.load(f)
    data['annotations'] = data['annotations'][:-4]
    with open(ann, 'w') as f:
        json.dump(data, f)
    assert len(load_search_images(cfg, work_dir=work).images) == 2 * NUM_IMAGES - 2
    assert len(glob.glob(os.path.join(work, 'search_data_cache', '*.npz'))) == 3


def test_split_by_source_image(tmp_path):
    data = load_search_images(_coco_cfg(make_coco(str(tmp_path))))
    half = split_search_data(data.images, data.labels, seed=0, groups=data.groups)
    # a crop's blue channel is 40x its source image's number (fill included)
    train, valid = ({int(v) // 40
                     for v in d[:, 2, 0, 0]} for d in (half.train_images, half.valid_images))
    assert not train & valid and train | valid == set(range(NUM_IMAGES))
    assert len(half.train_images) == len(half.valid_images) == NUM_IMAGES


def test_voc_and_cityscapes_through_the_config(tmp_path):
    devkit = make_voc(str(tmp_path / 'voc'))
    voc = dict(
        dataset='voc', data_root=devkit,
        ann_file=['VOC2007/ImageSets/Main/trainval.txt',
                  'VOC2012/ImageSets/Main/trainval.txt'], classes=['dog', 'cat'], max_per_class=4)
    assert search_classes(voc) == ['dog', 'cat']
    images, labels, groups = load_search_images(voc)
    assert images.shape == (8, 32, 32, 3) and np.bincount(labels).tolist() == [4, 4]
    root = make_cityscapes(str(tmp_path / 'cityscapes'), size=(64, 128), per_split=2)
    seg = dict(dataset='seg_patches', data_root=root, layout='cityscapes', patch_size=32,
               image_size=16)
    with pytest.warns(UserWarning, match='16 class'):
        assert search_classes(seg) == ['road', 'sky', 'car']
    images, labels, groups = load_search_images(dict(seg, num_images=6))
    assert images.shape == (6, 16, 16, 3) and groups.shape == (6, )


def test_bad_annotations_are_named_before_anything_is_cut(tmp_path):
    root = make_coco(str(tmp_path / 'coco'))
    with pytest.raises(
            AnnotationError, match=r'does not match its images: .*/elsewhere/'
            r'000000000000\.jpg does not exist'):
        search_classes(_coco_cfg(root, img_dir='elsewhere'))
    with pytest.raises(AnnotationError, match=r'COCO annotation file .*/nope\.json does not exist'):
        search_classes(_coco_cfg(root, ann_file='nope.json'))


def test_ade_layout_names_its_classes_from_mmseg(tmp_path):
    pytest.importorskip('mmseg')
    for folder in ('images/training', 'annotations/training'):
        os.makedirs(tmp_path / folder)
    for i in range(2):
        Image.fromarray(np.zeros(
            (8, 16, 3), np.uint8)).save(tmp_path / 'images' / 'training' / f'ADE_train_{i}.jpg')
        # 0 is ADE's "other" (ignored); 1 and 2 are its first two classes
        labels = np.repeat(np.array([[1] * 8 + [2] * 8], np.uint8), 8, axis=0)
        labels[0] = 0
        Image.fromarray(labels).save(tmp_path / 'annotations' / 'training' / f'ADE_train_{i}.png')
    cfg = dict(dataset='seg_patches', data_root=str(tmp_path), layout='ade', patch_size=8)
    with pytest.warns(UserWarning, match='148 class'):
        assert search_classes(cfg) == ['wall', 'building']
    assert load_search_images(cfg).labels.tolist() == [0, 1, 0, 1]


def test_all_training_images_by_default(cifar_root):
    images, labels, groups = load_search_images(dict(dataset='cifar10', data_root=cifar_root))
    assert groups is None  # every image is its own source
    expected_images, expected_labels = load_cifar10(cifar_root, 'train')
    np.testing.assert_array_equal(images, expected_images)
    np.testing.assert_array_equal(labels, expected_labels)


def test_num_images_keeps_a_seeded_subset(cifar_root):
    full, full_labels = load_cifar10(cifar_root, 'train')
    cfg = dict(dataset='cifar10', data_root=cifar_root, num_images=10, split_seed=3)
    images, labels, _ = load_search_images(cfg)
    again = load_search_images(cfg).images
    other = load_search_images(dict(cfg, split_seed=4)).images
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
