"""relnas_mm.engine.search_build: the search section's checks, its evaluator, and the data
prepared once per search."""
import numpy as np
import pytest
import torch

pytest.importorskip('mmengine')

from relnas_mm.engine import search_data
from relnas_mm.engine.search_build import build_evaluate, build_search, read_search_config
from relnas_mm.search import EagerEvaluator, evaluator_class, split_search_data


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


def test_a_search_prepares_the_demo_digits_once(cifar_root, monkeypatch):
    """One write of the demo data and one barrier per search, however many readers."""
    calls = []
    monkeypatch.setattr(search_data, 'prepare_demo_digits', lambda root: calls.append(root))
    monkeypatch.setattr(search_data, 'barrier', lambda: calls.append('barrier'))
    search = dict(
        data=dict(dataset='demo_digits', data_root=cifar_root, num_images=16),
        supernet=dict(channels=4, num_cells=3), algorithm=dict(pop_size=2, generations=1),
        evaluator=dict(type='eager', batch_size=4, workers=0))
    setup = build_search(dict(search=search), torch.device('cpu'))
    assert calls == [cifar_root, 'barrier']
    assert setup.config['supernet']['num_classes'] == 10 and setup.data.train_images.shape[0] == 8
