"""relnas_mm.ExponentialWarmupLR with PolyLR gives the authors' Cityscapes lr exactly."""
import pytest
import torch

pytest.importorskip('mmengine')
from mmengine.optim.scheduler import PolyLR

from relnas_mm.downstream.schedulers import PARAM_SCHEDULERS, ExponentialWarmupLR


def _authors_lr(it: int) -> float:
    """BiSeNet/opt_utils/optimizer.py: 1e-5 * (1e-2 / 1e-5)^(it / 1000) up to it = 1000,
    then 1e-2 * (1 - (it - 1000) / 79000)^0.9."""
    if it <= 1000:
        return 1e-5 * (1e3**(1 / 1000))**it
    return 1e-2 * (1 - (it - 1000) / 79000)**0.9


def test_warmup_then_poly_follows_the_authors_every_iteration():
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([{'params': [param]}, {'params': [], 'lr': 0.1}], lr=0.01)
    schedulers = [
        ExponentialWarmupLR(optimizer, start_factor=1e-3, begin=0, end=1001),
        PolyLR(optimizer, eta_min=0.0, power=0.9, begin=1000, end=80001, by_epoch=False)
    ]
    for it in range(80000):
        lr, fast = (g['lr'] for g in optimizer.param_groups)
        expected = _authors_lr(it)
        assert abs(lr - expected) <= 1e-9 * expected, (it, lr, expected)
        assert abs(fast - 10 * lr) <= 1e-9 * fast  # 10x groups keep their factor
        optimizer.step()
        for scheduler in schedulers:
            scheduler.step()


def test_arguments_are_checked_and_registered():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.01)
    with pytest.raises(ValueError, match='start_factor'):
        ExponentialWarmupLR(optimizer, start_factor=0.0)
    with pytest.raises(ValueError, match='end - begin'):
        ExponentialWarmupLR(optimizer, start_factor=0.1, begin=0, end=1)
    assert PARAM_SCHEDULERS.get('ExponentialWarmupLR') is ExponentialWarmupLR
