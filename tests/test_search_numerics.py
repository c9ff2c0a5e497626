"""set_numerics: the precision and determinism settings a search runs with."""
import pytest
import torch

from relnas_mm.search.numerics import (PRECISION_GETTERS, PRECISION_READBACK, conv_precision,
                                       precision_mismatches, read_precision, set_fp32_precision,
                                       set_numerics)


@pytest.fixture(autouse=True)
def _restore():
    saved = (torch.backends.cudnn.conv.fp32_precision, torch.backends.cudnn.deterministic,
             torch.backends.cudnn.benchmark, torch.are_deterministic_algorithms_enabled())
    yield
    set_fp32_precision(saved[0])
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved[1:3]
    torch.use_deterministic_algorithms(saved[3])


def test_cuda_settings_are_applied_without_a_gpu():
    """The flags are process settings; a machine without CUDA can set and read them."""
    line = set_numerics(torch.device('cuda'), deterministic=True)
    assert precision_mismatches('ieee') == [] and torch.backends.cudnn.deterministic
    assert not torch.backends.cudnn.benchmark and torch.are_deterministic_algorithms_enabled()
    assert 'IEEE fp32' in line and 'bit-equal' in line
    line = set_numerics(torch.device('cuda'))
    assert precision_mismatches('tf32') == [] and not torch.backends.cudnn.deterministic
    assert not torch.are_deterministic_algorithms_enabled()
    assert 'TF32' in line and 'statistically' in line


@pytest.mark.parametrize('order', [('ieee', 'tf32', 'ieee'), ('tf32', 'ieee', 'tf32')])
def test_every_old_and_new_getter_reads_back_the_regime(order):
    """torch 2.14's old getters raise when the old and new settings disagree (as they did
    after setting conv and matmul alone); after every switch all of them agree."""
    for regime in order:
        set_numerics(torch.device('cuda'), deterministic=regime == 'ieee')
        assert read_precision() == PRECISION_READBACK[regime]
    assert set(PRECISION_GETTERS) >= {
        'torch.backends.cudnn.allow_tf32', 'torch.backends.cuda.matmul.allow_tf32',
        'torch.get_float32_matmul_precision()', 'torch.backends.cudnn.rnn.fp32_precision'
    }


def test_the_convolution_regime_is_read_as_set():
    """What a latency's cache key names: the regime set_numerics put convolutions in."""
    for deterministic, regime in ((True, 'ieee'), (False, 'tf32'), (True, 'ieee')):
        set_numerics(torch.device('cuda'), deterministic=deterministic)
        assert conv_precision() == regime


def test_a_mixed_setting_is_reported_not_raised():
    set_numerics(torch.device('cuda'), deterministic=True)
    torch.backends.cudnn.conv.fp32_precision = 'tf32'  # new API alone: rnn and the old flag lag
    problems = precision_mismatches('ieee')
    assert any(p.startswith('torch.backends.cudnn.conv.fp32_precision') for p in problems)
    assert any('torch.backends.cudnn.allow_tf32' in p and 'RuntimeError' in p for p in problems)


def test_cpu_line_names_the_threads():
    line = set_numerics(torch.device('cpu'))
    assert f'{torch.get_num_threads()} thread(s)' in line
