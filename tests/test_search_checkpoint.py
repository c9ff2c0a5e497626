"""Search-state checkpoints: atomic save, latest pointer, pruning, safe load, RNG, fingerprints."""
import os
import random

import numpy as np
import pytest
import torch

from relnas_mm.search import RelativeNAS
from relnas_mm.search.checkpoint import (LATEST_FILE, SearchStateError, capture_rng,
                                         check_fingerprint, latest_search_state, list_search_states,
                                         load_search_state, make_search_state, restore_rng,
                                         save_search_state, search_fingerprint)

TINY = dict(channels=4, num_cells=3, num_classes=10)


def _state(generation: int, algorithm: RelativeNAS = None):
    algorithm = algorithm or RelativeNAS(pop_size=4, generations=3, model_cfg=TINY)
    return make_search_state(algorithm.state_dict(), generation, {'algorithm.pop_size': 4},
                             dict(evaluated_by=[[0, 1, 0, 1]]))


def test_save_keeps_last_k_and_points_latest(tmp_path):
    for g in (1, 2, 3, 4):
        path = save_search_state(_state(g), str(tmp_path), keep=2)
    names = sorted(os.listdir(tmp_path))
    assert names == [LATEST_FILE, 'search_state_gen_003.pth', 'search_state_gen_004.pth']
    assert latest_search_state(str(tmp_path)) == path
    assert path.endswith('search_state_gen_004.pth')
    assert [os.path.basename(p) for p in list_search_states(str(tmp_path))
            ] == ['search_state_gen_003.pth', 'search_state_gen_004.pth']
    assert not any(n.endswith('.tmp') for n in names)


def test_no_checkpoint_means_none(tmp_path):
    assert latest_search_state(str(tmp_path)) is None


def test_dangling_latest_pointer_is_an_error(tmp_path):
    (tmp_path / LATEST_FILE).write_text('search_state_gen_007.pth\n')
    with pytest.raises(SearchStateError, match='search_state_gen_007.pth'):
        latest_search_state(str(tmp_path))


def test_round_trip_with_weights_only_restores_algorithm(tmp_path):
    algorithm = RelativeNAS(pop_size=4, generations=3, seed=5, model_cfg=TINY)
    algorithm.rng.random(7)  # move the search RNG off its seed state
    path = save_search_state(_state(2, algorithm), str(tmp_path))
    # the file must load with torch's safe loader (no numpy or custom classes inside)
    raw = torch.load(path, map_location='cpu', weights_only=True)
    assert raw['generation'] == 2
    state = load_search_state(path)
    other = RelativeNAS(pop_size=4, generations=3, seed=5, model_cfg=TINY)
    other.load_state_dict(state['algorithm'])
    np.testing.assert_array_equal(other.population, algorithm.population)
    assert other.rng.random() == algorithm.rng.random()
    assert state['extra'] == dict(evaluated_by=[[0, 1, 0, 1]])


def test_rng_states_round_trip(tmp_path):
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    saved = capture_rng()
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    torch.save(saved, tmp_path / 'rng.pth')
    random.seed(9), np.random.seed(9), torch.manual_seed(9)
    restore_rng(torch.load(tmp_path / 'rng.pth', weights_only=True))
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected


def test_garbage_and_foreign_files_are_refused(tmp_path):
    bad = tmp_path / 'search_state_gen_001.pth'
    bad.write_bytes(b'not a checkpoint')
    with pytest.raises(SearchStateError, match='cannot read search checkpoint'):
        load_search_state(str(bad))
    foreign = tmp_path / 'model.pth'
    torch.save({'state_dict': {'w': torch.zeros(1)}}, foreign)
    with pytest.raises(SearchStateError, match='not a relnas_mm search state'):
        load_search_state(str(foreign))
    with pytest.raises(SearchStateError, match='does not exist'):
        load_search_state(str(tmp_path / 'missing.pth'))


class _Arbitrary:
    """A class no safe loader allowlists (numpy arrays are: mmengine checkpoints hold them)."""


def test_pickled_objects_are_not_executed(tmp_path):
    """A file holding arbitrary Python objects is refused, not unpickled."""
    path = tmp_path / 'evil.pth'
    torch.save({'kind': 'relnas_mm.search_state', 'obj': _Arbitrary()}, path)
    with pytest.raises(SearchStateError, match='weights_only=True'):
        load_search_state(str(path))


def test_fingerprint_names_the_differing_key():
    base = dict(
        data=dict(dataset='cifar10', data_root='a', split_seed=0),
        algorithm=dict(pop_size=20, writeback='pair'), supernet=dict(channels=16))
    fp = search_fingerprint(base)
    assert 'data.data_root' not in fp  # moving the data does not change the search
    moved = search_fingerprint(dict(base, data=dict(base['data'], data_root='b')))
    check_fingerprint(fp, moved, 'x.pth')
    other = search_fingerprint(dict(base, algorithm=dict(pop_size=10, writeback='pair')))
    with pytest.raises(SearchStateError, match=r'search\.algorithm\.pop_size is 20 there but 10'):
        check_fingerprint(fp, other, 'x.pth')
    tuples = search_fingerprint(dict(base, supernet=dict(channels=16, extra=(1, 2))))
    lists = search_fingerprint(dict(base, supernet=dict(channels=16, extra=[1, 2])))
    assert tuples == lists
