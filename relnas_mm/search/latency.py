"""Latency of a network at batch 1 on the search's own device (plain PyTorch).

A latency budget is about the device the network will run on, so it is measured, not
modelled: the median of ``runs`` timed forward passes after ``warmup`` untimed ones
(the first passes pay for memory allocation and kernel selection). The search caches
one value per genotype (``budget.Budget``), so a candidate's latency does not change
within a search.
"""
import statistics
import time
from typing import Sequence

import torch
from torch import nn

from .numerics import Device


def measure_latency(model: nn.Module, input_hw: Sequence[int], device: Device = 'cpu',
                    warmup: int = 5, runs: int = 20) -> float:
    """Median wall time in milliseconds of one eval-mode forward pass of a (1, 3, H, W) batch."""
    if warmup < 0 or runs < 1:
        raise ValueError(f'latency: warmup must be >= 0 and runs >= 1, got {warmup}, {runs}')
    device = torch.device(device)
    model = model.to(device).eval()
    inputs = torch.randn(1, 3, *input_hw, device=device)
    sync = torch.cuda.synchronize if device.type == 'cuda' else (lambda: None)
    times = []
    with torch.no_grad():
        for i in range(warmup + runs):
            sync()
            start = time.perf_counter()
            model(inputs)
            sync()
            if i >= warmup:
                times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)
