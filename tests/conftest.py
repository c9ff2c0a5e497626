"""Shared test settings and fixtures that create small real-format data (see fixtures_data.py)."""
import os

# One math thread per process, for every test module and the tools/*.py subprocesses
# (they inherit the variable): pytest-xdist workers and the subprocesses share the
# cores, and intra-op threads on tiny tensors cost more than they gain.
os.environ.setdefault('OMP_NUM_THREADS', '1')

import pytest
import torch
from fixtures_data import make_cifar_like

torch.set_num_threads(1)


@pytest.fixture
def cifar_root(tmp_path) -> str:
    """A tiny learnable CIFAR-10 python-format dataset (64 train / 32 test, 10 classes)."""
    return make_cifar_like(str(tmp_path / 'cifar'))


@pytest.fixture(scope='module')
def data_root(tmp_path_factory) -> str:
    """A tiny learnable CIFAR-10 dataset shared by a module's searches (64 train / 8 test)."""
    return make_cifar_like(str(tmp_path_factory.mktemp('data') / 'cifar'), n_train=64, n_test=8)
