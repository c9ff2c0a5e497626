"""Weight set: per-module write-back sources, shared parts from the fast learner."""
import pytest
import torch

from relnas_mm.models.supernet import SuperNet, op_module_of
from relnas_mm.search.weight_set import Contribution, WeightSet
from relnas_mm.space.genotype import make_genotype

TINY = dict(channels=4, num_cells=3, num_classes=2)


def _genotype(first_op):
    pairs = [(first_op, 0), ('sep_conv_3x3', 1), ('skip_connect', 0), ('max_pool_3x3', 2),
             ('avg_pool_3x3', 3), ('dil_conv_3x3', 1), ('skip_connect', 4), ('sep_conv_5x5', 0)]
    return make_genotype(pairs, pairs)


@pytest.fixture(scope='module')
def setup():
    net = SuperNet(**TINY)
    base = net.state_dict()
    fast_g, slow_g = _genotype('dil_conv_5x5'), _genotype('sep_conv_3x3')
    fast_used, slow_used = set(net.used_modules(fast_g)), set(net.used_modules(slow_g))
    fast_state = {k: v + 1 for k, v in base.items()}
    slow_state = {k: v + 2 for k, v in base.items()}
    return base, fast_used, slow_used, fast_state, slow_state


def _source_of(value, base, fast, slow, key):
    for name, state in (('base', base), ('fast', fast), ('slow', slow)):
        if torch.equal(value, state[key]):
            return name
    raise AssertionError(f'{key} matches no source')


def test_write_back_picks_the_right_source_for_every_key(setup):
    base, fast_used, slow_used, fast_state, slow_state = setup
    ws = WeightSet(base)
    ws.write_back(Contribution(fast_used, fast_state), Contribution(slow_used, slow_state))
    cases = {'shared': 0, 'fast_only': 0, 'slow_only': 0, 'both': 0, 'neither': 0}
    for key in base:
        module = op_module_of(key)
        got = _source_of(ws[key], base, fast_state, slow_state, key)
        if module is None:
            case, want = 'shared', 'fast'
        elif module in fast_used and module in slow_used:
            case, want = 'both', 'fast'
        elif module in fast_used:
            case, want = 'fast_only', 'fast'
        elif module in slow_used:
            case, want = 'slow_only', 'slow'
        else:
            case, want = 'neither', 'base'
        cases[case] += 1
        assert got == want, (key, case)
    assert all(cases.values()), cases  # every kind of key was exercised
    # concrete spot checks: stem BN statistics and classifier from the fast learner
    assert torch.equal(ws['stem.1.running_var'], fast_state['stem.1.running_var'])
    assert torch.equal(ws['classifier.bias'], fast_state['classifier.bias'])
    assert ws['stem.1.num_batches_tracked'].item() == 1


def test_non_finite_slow_is_not_written_back(setup):
    base, fast_used, slow_used, fast_state, _ = setup
    ws = WeightSet(base)
    ws.write_back(Contribution(fast_used, fast_state), Contribution(slow_used, None))
    for key in base:
        module = op_module_of(key)
        want = fast_state if module is None or module in fast_used else base
        assert torch.equal(ws[key], want[key]), key


def test_nothing_written_when_fast_is_non_finite(setup):
    base, fast_used, slow_used, _, _ = setup
    ws = WeightSet(base)
    ws.write_back(Contribution(fast_used, None), Contribution(slow_used, None))
    assert all(torch.equal(ws[k], base[k]) for k in base)


def test_snapshots_and_copies_are_independent_of_write_backs(setup):
    base, fast_used, slow_used, fast_state, slow_state = setup
    ws = WeightSet(base)
    snap, copy = ws.snapshot(), ws.copy()
    copy.write_back(Contribution(fast_used, fast_state), Contribution(slow_used, slow_state))
    assert all(torch.equal(ws[k], base[k]) for k in base)
    assert torch.equal(copy['classifier.bias'], fast_state['classifier.bias'])
    ws.write_back(Contribution(fast_used, fast_state), Contribution(slow_used, slow_state))
    assert all(torch.equal(snap[k], base[k]) for k in base)
    fast_state['classifier.bias'].add_(100)  # a later change of the source does not leak in
    assert not torch.equal(ws['classifier.bias'], fast_state['classifier.bias'])
    fast_state['classifier.bias'].sub_(100)


def test_trained_state_needs_only_the_keys_taken_from_it(setup):
    base, fast_used, slow_used, fast_state, slow_state = setup
    # the slow learner may send just its own op modules
    slow_only = {k: v for k, v in slow_state.items() if op_module_of(k) in slow_used}
    ws = WeightSet(base)
    ws.write_back(Contribution(fast_used, fast_state), Contribution(slow_used, slow_only))
    reference = WeightSet(base)
    reference.write_back(Contribution(fast_used, fast_state), Contribution(slow_used, slow_state))
    assert all(torch.equal(ws[k], reference[k]) for k in base)
    # a key that must come from a source and is missing is an error that changes nothing
    partial = dict(fast_state)
    partial.pop('classifier.weight')
    fresh = WeightSet(base)
    with pytest.raises(KeyError, match='classifier.weight'):
        fresh.write_back(Contribution(fast_used, partial), Contribution(slow_used, slow_state))
    assert all(torch.equal(fresh[k], base[k]) for k in base)


def test_state_dict_round_trip_and_checks(setup):
    base, fast_used, slow_used, fast_state, slow_state = setup
    ws = WeightSet(base)
    ws.write_back(Contribution(fast_used, fast_state), Contribution(slow_used, slow_state))
    saved = ws.state_dict()
    other = WeightSet(base)
    other.load_state_dict(saved)
    assert all(torch.equal(other[k], ws[k]) for k in base)
    assert list(other) == list(base) and len(other) == len(base)
    bad = dict(saved)
    bad['classifier.weight'] = torch.zeros(3, 3)
    with pytest.raises(ValueError, match="'classifier.weight': shape"):
        other.load_state_dict(bad)
    bad = dict(saved)
    bad['extra.weight'] = torch.zeros(1)
    with pytest.raises(KeyError, match='extra.weight'):
        other.load_state_dict(bad)
    with pytest.raises(ValueError, match='non-empty'):
        WeightSet({})


def test_weight_set_copies_its_input(setup):
    base = setup[0]
    tensor = dict(base)['classifier.bias'].clone()
    state = dict(base)
    state['classifier.bias'] = tensor
    ws = WeightSet(state)
    tensor.add_(5.0)
    assert not torch.equal(ws['classifier.bias'], tensor)
