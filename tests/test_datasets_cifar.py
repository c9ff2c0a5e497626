"""The mmengine CIFAR-10 datasets: items through a pipeline, batching, no silent download."""
import urllib.request

import numpy as np
import pytest
import torch
from mmengine.dataset import default_collate, pseudo_collate
from mmengine.registry import DATASETS
from torch.utils.data import DataLoader

import relnas_mm  # noqa: F401  (registers the datasets)
from relnas_mm.datasets import cifar as cifar_module
from relnas_mm.datasets.cifar import CIFAR10Dataset
from relnas_mm.datasets.cifar_io import CIFARDataError, load_cifar10

TRAIN_PIPELINE = [
    dict(type='relnas_mm.RandomCropPad', size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='relnas_mm.Cutout', length=16),
    dict(type='relnas_mm.PackClsInputs'),
]


def test_items_come_out_of_the_pipeline_as_inputs_and_labels(cifar_root):
    train = DATASETS.build(
        dict(type='relnas_mm.CIFAR10Dataset', data_root=cifar_root, split='train',
             pipeline=TRAIN_PIPELINE))
    test = DATASETS.build(
        dict(type='relnas_mm.CIFAR10Dataset', data_root=cifar_root, split='test',
             pipeline=[dict(type='relnas_mm.PackClsInputs')]))
    assert (len(train), len(test)) == (64, 32)
    assert train.metainfo['classes'] == tuple(f'class_{k}' for k in range(10))
    assert not train.test_mode and test.test_mode
    images, labels = load_cifar10(cifar_root, 'test')
    for idx in (0, 5, 31):
        item = test[idx]
        assert item['inputs'].dtype == torch.uint8 and item['inputs'].shape == (3, 32, 32)
        np.testing.assert_array_equal(item['inputs'].numpy(), images[idx].transpose(2, 0, 1))
        assert item['data_samples'].gt_label.tolist() == [labels[idx]]
        assert item['data_samples'].sample_idx == idx
    item = train[3]
    assert item['inputs'].shape == (3, 32, 32)
    assert item['data_samples'].gt_label.tolist() == [load_cifar10(cifar_root, 'train')[1][3]]


def test_augmentation_does_not_change_the_stored_images(cifar_root):
    dataset = CIFAR10Dataset(cifar_root, 'test', pipeline=TRAIN_PIPELINE)
    images, _ = load_cifar10(cifar_root, 'test')
    for _ in range(3):
        dataset[0]
    np.testing.assert_array_equal(dataset.get_data_info(0)['img'], images[0])


@pytest.mark.parametrize('collate', [default_collate, pseudo_collate])
def test_batches_through_a_dataloader(cifar_root, collate):
    dataset = CIFAR10Dataset(cifar_root, 'train', pipeline=TRAIN_PIPELINE)
    batch = next(iter(DataLoader(dataset, batch_size=8, collate_fn=collate)))
    inputs = batch['inputs']
    if collate is default_collate:
        assert inputs.shape == (8, 3, 32, 32) and inputs.dtype == torch.uint8
    else:
        assert len(inputs) == 8 and inputs[0].shape == (3, 32, 32)
    labels = torch.cat([s.gt_label for s in batch['data_samples']])
    assert labels.tolist() == load_cifar10(cifar_root, 'train')[1][:8].tolist()


def test_missing_data_is_an_error_and_nothing_is_downloaded(tmp_path, monkeypatch):

    def no_network(*args, **kwargs):
        raise AssertionError('downloaded without download=True')

    monkeypatch.setattr(urllib.request, 'urlretrieve', no_network)
    with pytest.raises(CIFARDataError, match='download=True'):
        CIFAR10Dataset(str(tmp_path / 'missing'), 'train')


def test_download_true_fetches_before_reading(tmp_path, monkeypatch, cifar_root):
    calls = []
    monkeypatch.setattr(cifar_module, 'download_cifar10', calls.append)
    dataset = CIFAR10Dataset(cifar_root, 'test', download=True)
    assert calls == [cifar_root] and len(dataset) == 32


def test_bad_split_is_refused(cifar_root):
    with pytest.raises(ValueError, match='split must be "train" or "test"'):
        CIFAR10Dataset(cifar_root, 'val')


def test_demo_digits_dataset_writes_its_data_on_first_use(tmp_path):
    pytest.importorskip('sklearn')
    dataset = DATASETS.build(
        dict(type='relnas_mm.DemoDigitsDataset', data_root=str(tmp_path), split='test',
             pipeline=[dict(type='relnas_mm.PackClsInputs')]))
    assert len(dataset) == 297 and dataset.metainfo['classes'][3] == 'three'
    assert dataset[0]['inputs'].shape == (3, 32, 32)
    with pytest.raises(TypeError):
        DATASETS.build(
            dict(type='relnas_mm.DemoDigitsDataset', data_root=str(tmp_path), download=True))
