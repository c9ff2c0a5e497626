"""Pieces of the search hook that need no runner: data selection and evaluator lookup
(relnas_mm.engine.search_data, relnas_mm.engine.search_build).

The hook inside a Runner is exercised end to end by tests/test_tools_search.py.
"""
import numpy as np
import pytest
import torch

pytest.importorskip('mmengine')

from relnas_mm.datasets.cifar_io import CIFARDataError, load_cifar10
from relnas_mm.engine.search_build import build_evaluate, read_search_config
from relnas_mm.engine.search_data import load_search_images
from relnas_mm.search import EagerEvaluator, evaluator_class, split_search_data


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


def test_evaluator_by_name_or_dotted_path():
    assert evaluator_class('EagerEvaluator') is EagerEvaluator
    assert evaluator_class('eager') is EagerEvaluator
    assert evaluator_class(EagerEvaluator) is EagerEvaluator
    assert evaluator_class('relnas_mm.search.evaluator.EagerEvaluator') is EagerEvaluator
    for bad in ('RelativeNAS', 'numpy.ndarray', 'relnas_mm.search.Nothing', dict):
        with pytest.raises(ValueError, match=r'.* is not a known evaluator \(evaluator kind '):
            evaluator_class(bad)
    with pytest.raises(ValueError, match=r'cannot import .no_such_package\.Evaluator.'):
        evaluator_class('no_such_package.Evaluator')


def test_a_bad_evaluator_type_names_its_config_key():
    rng = np.random.default_rng(0)
    data = split_search_data(
        rng.integers(0, 256, (8, 8, 8, 3), dtype=np.uint8),
        np.arange(8) % 2, seed=0)
    supernet = dict(channels=4, num_cells=3, num_classes=2)
    for bad in ('RelativeNAS', 'numpy.ndarray'):
        with pytest.raises(ValueError, match=r'search\.evaluator\.type: .* is not a '):
            build_evaluate(dict(type=bad), supernet, data, torch.device('cpu'))
    with pytest.raises(ValueError, match=r'search\.evaluator\.type: cannot import'):
        build_evaluate(dict(type='no_such_package.Evaluator'), supernet, data, torch.device('cpu'))
    with pytest.raises(ValueError, match=r'search\.evaluator: .*batch_size must be an integer'):
        build_evaluate(
            dict(type='eager', batch_size=0, workers=0), supernet, data, torch.device('cpu'))
    evaluate = build_evaluate(
        dict(type='eager', batch_size=4, workers=0), supernet, data, torch.device('cpu'))
    assert isinstance(evaluate.evaluator, EagerEvaluator)
    assert evaluate.evaluator.batch_size == 4


def test_search_section_keys_are_checked():
    with pytest.raises(KeyError, match=r"search: unknown key\(s\) \['datas'\]"):
        read_search_config(dict(search=dict(datas={})))
    with pytest.raises(KeyError, match=r"search\.data: unknown key\(s\) \['root'\]"):
        read_search_config(dict(search=dict(data=dict(root='x'))))
    with pytest.raises(TypeError, match=r'search\.algorithm: expected a dict, got int'):
        read_search_config(dict(search=dict(algorithm=3)))
    sections = read_search_config(dict(search=dict(algorithm=dict(pop_size=4))))
    assert sections['algorithm'] == dict(pop_size=4) and sections['budget'] == {}
