"""Shared fixtures that create small real-format data (see fixtures_data.py)."""
import pytest
from fixtures_data import make_cifar_like


@pytest.fixture
def cifar_root(tmp_path) -> str:
    """A tiny learnable CIFAR-10 python-format dataset (64 train / 32 test, 10 classes)."""
    return make_cifar_like(str(tmp_path / 'cifar'))
