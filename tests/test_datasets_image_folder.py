"""The ImageNet-style folder dataset: class folders, annotation files, bad input."""
import numpy as np
import pytest
import torch
from fixtures_data import make_image_folder
from mmengine.registry import DATASETS

import relnas_mm  # noqa: F401  (registers the dataset)
from relnas_mm.datasets.image_folder import ImageFolderDataset, ImageFolderError

PIPELINE = [
    dict(type='relnas_mm.ResizeCenterCrop', resize=36, crop=32),
    dict(type='relnas_mm.PackClsInputs')
]


def test_reads_class_folders_in_sorted_order(tmp_path):
    root = make_image_folder(
        str(tmp_path / 'train'), classes=('zebra', 'ant'), per_class=2, size=(40, 48))
    (tmp_path / 'train' / 'ant' / 'notes.txt').write_text('not an image')
    dataset = DATASETS.build(
        dict(type='relnas_mm.ImageFolderDataset', data_root=root, pipeline=PIPELINE))
    assert dataset.metainfo['classes'] == ('ant', 'zebra')
    assert len(dataset) == 4
    labels = [dataset[i]['data_samples'].gt_label.item() for i in range(4)]
    assert labels == [0, 0, 1, 1]
    info = dataset.get_data_info(0)
    assert info['img'].shape == (40, 48, 3) and info['img'].dtype == np.uint8
    assert info['img_path'].endswith('.JPEG') and '/ant/' in info['img_path']
    item = dataset[2]
    assert item['inputs'].shape == (3, 32, 32) and item['inputs'].dtype == torch.uint8


def test_annotation_file_lists_paths_and_labels(tmp_path):
    make_image_folder(str(tmp_path / 'val'), classes=('a', 'b'), per_class=2)
    (tmp_path / 'val.txt').write_text('b/b_3.JPEG 1\na/a_0.JPEG 0\n\n')
    dataset = ImageFolderDataset(
        str(tmp_path), ann_file='val.txt', data_prefix='val', pipeline=PIPELINE)
    assert len(dataset) == 2 and dataset.metainfo['classes'] == ('a', 'b')
    assert [dataset[i]['data_samples'].gt_label.item() for i in range(2)] == [1, 0]


@pytest.mark.parametrize('text, message', [
    ('a/a_0.JPEG\n', r'val.txt:1: expected "<image path> <label>"'),
    ('a/a_0.JPEG 0\na/a_1.JPEG x\n', r'val.txt:2: expected'),
    ('a/a_0.JPEG 5\n', r'label 5 of a/a_0.JPEG is out of range for 2 classes'),
])
def test_bad_annotation_lines_are_named(tmp_path, text, message):
    make_image_folder(str(tmp_path / 'val'), classes=('a', 'b'), per_class=1)
    (tmp_path / 'val.txt').write_text(text)
    with pytest.raises(ImageFolderError, match=message):
        ImageFolderDataset(str(tmp_path), ann_file='val.txt', data_prefix='val')


def test_missing_folder_and_files_are_named(tmp_path):
    with pytest.raises(ImageFolderError, match='nowhere.*does not exist'):
        ImageFolderDataset(str(tmp_path / 'nowhere'))
    (tmp_path / 'empty' / 'cls').mkdir(parents=True)
    with pytest.raises(ImageFolderError, match='no images'):
        ImageFolderDataset(str(tmp_path / 'empty'))
    with pytest.raises(ImageFolderError, match='annotation file .*missing.txt'):
        ImageFolderDataset(str(tmp_path), ann_file='missing.txt')


def test_unreadable_image_is_named(tmp_path):
    root = make_image_folder(str(tmp_path), classes=('a', ), per_class=1)
    bad = tmp_path / 'a' / 'a_0.JPEG'
    bad.write_bytes(b'not a jpeg')
    dataset = ImageFolderDataset(root, pipeline=PIPELINE)
    with pytest.raises(ImageFolderError, match='cannot read image .*a_0.JPEG'):
        dataset[0]
