"""Latency of a network at batch 1 on the search's own device (plain PyTorch).

A latency budget is about the device the network will run on, so it is measured, not
modelled: the median of ``runs`` timed forward passes after ``warmup`` untimed ones
(the first passes pay for memory allocation and kernel selection). The search caches
one value per genotype (``budget.Budget``), so a candidate's latency does not change
within a search; :func:`latency_context` names where it was measured, and a value
measured elsewhere (another device, thread count or precision) is not reused.
"""
import platform
import statistics
import time
from typing import Sequence

import torch
from torch import nn

from .numerics import Device, conv_precision


def _cpu_name() -> str:
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or 'cpu'


def latency_context(device: Device) -> str:
    """Where a latency is measured: the device model, the thread count, the precision.

    e.g. ``'NVIDIA H200 (cuda), 1 thread(s), tf32'``; TF32 or IEEE fp32 convolutions
    on CUDA (``numerics``), fp32 on the CPU.
    """
    device = torch.device(device)
    if device.type == 'cuda':
        name, precision = torch.cuda.get_device_name(device), conv_precision()
    else:
        name, precision = _cpu_name(), 'fp32'
    return f'{name} ({device.type}), {torch.get_num_threads()} thread(s), {precision}'


def measure_latency(model: nn.Module, input_hw: Sequence[int], device: Device = 'cpu',
                    warmup: int = 5, runs: int = 20, in_channels: int = 3) -> float:
    """Median wall time in milliseconds of one eval-mode forward pass of a
    ``(1, in_channels, H, W)`` batch."""
    if warmup < 0 or runs < 1:
        raise ValueError(f'latency: warmup must be >= 0 and runs >= 1, got {warmup}, {runs}')
    device = torch.device(device)
    model = model.to(device).eval()
    inputs = torch.randn(1, in_channels, *input_hw, device=device)
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
