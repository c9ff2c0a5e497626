"""set_numerics: the precision and determinism settings a search runs with."""
import pytest
import torch

from relnas_mm.search.numerics import fp32_precision, set_numerics


@pytest.fixture(autouse=True)
def _restore():
    saved = (fp32_precision(), torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark,
             torch.are_deterministic_algorithms_enabled())
    yield
    conv = getattr(torch.backends.cudnn, 'conv', None)
    if conv is not None and hasattr(conv, 'fp32_precision'):
        conv.fp32_precision = saved[0]
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved[1:3]
    torch.use_deterministic_algorithms(saved[3])


def test_cuda_settings_are_applied_without_a_gpu():
    """The flags are process settings; a machine without CUDA can set and read them."""
    line = set_numerics(torch.device('cuda'), deterministic=True)
    assert fp32_precision() == 'ieee' and torch.backends.cudnn.deterministic
    assert not torch.backends.cudnn.benchmark and torch.are_deterministic_algorithms_enabled()
    assert 'IEEE fp32' in line and 'bit-equal' in line
    line = set_numerics(torch.device('cuda'))
    assert fp32_precision() == 'tf32' and not torch.backends.cudnn.deterministic
    assert not torch.are_deterministic_algorithms_enabled()
    assert 'TF32' in line and 'statistically' in line


def test_cpu_line_names_the_threads():
    line = set_numerics(torch.device('cpu'))
    assert f'{torch.get_num_threads()} thread(s)' in line
