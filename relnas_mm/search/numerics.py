"""The floating-point regime of a search: fast by default, bit-reproducible on request.

On Ampere and newer GPUs cuDNN convolutions run in TF32 by default (10-bit mantissa
products), and cuDNN picks algorithms whose reductions are not ordered. Two runs, or a
run and its resume, then agree only statistically. ``deterministic=True`` asks for IEEE
fp32 everywhere, deterministic cuDNN algorithms and PyTorch's deterministic kernels, so
that a GPU search resumed from a checkpoint ends bit-equal to an uninterrupted one.

torch >= 2.9 sets this through ``fp32_precision`` ('tf32' or 'ieee'); older versions
through ``allow_tf32``. No mmengine here (the CUDA self-check runs on torch alone).
"""
import os
from typing import Union

import torch

#: what the search's functions accept as a device
Device = Union[str, torch.device, None]

#: cuBLAS needs a fixed workspace for deterministic results (NVIDIA's documented setting)
CUBLAS_WORKSPACE = ':4096:8'


def _set_fp32_precision(precision: str) -> None:
    """'tf32' or 'ieee' for cuDNN convolutions and CUDA matmuls."""
    conv = getattr(torch.backends.cudnn, 'conv', None)
    if conv is not None and hasattr(conv, 'fp32_precision'):
        conv.fp32_precision = precision
        torch.backends.cuda.matmul.fp32_precision = precision
    else:  # torch < 2.9
        torch.backends.cudnn.allow_tf32 = precision == 'tf32'
        torch.backends.cuda.matmul.allow_tf32 = precision == 'tf32'


def set_numerics(device: torch.device, deterministic: bool = False) -> str:
    """Configure this process's math for a search on ``device``; returns a log line.

    The settings are process-wide, as PyTorch's are. On the CPU, results are already
    reproducible for a fixed number of threads; ``deterministic`` additionally turns on
    PyTorch's deterministic-algorithm checks.
    """
    torch.use_deterministic_algorithms(bool(deterministic), warn_only=True)
    if torch.device(device).type != 'cuda':
        return (f'numerics: fp32 on {device}' +
                (', deterministic algorithms' if deterministic else '') +
                f', {torch.get_num_threads()} thread(s) (results depend on the thread count)')
    if deterministic:
        os.environ.setdefault('CUBLAS_WORKSPACE_CONFIG', CUBLAS_WORKSPACE)
        _set_fp32_precision('ieee')
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        return ('numerics: IEEE fp32 (no TF32), deterministic cuDNN and PyTorch kernels: '
                'a resumed search is bit-equal to an uninterrupted one')
    _set_fp32_precision('tf32')
    torch.backends.cudnn.deterministic = False
    return ('numerics: TF32 convolutions and matmuls, non-deterministic cuDNN algorithms: '
            'runs and resumes agree statistically, not bitwise (deterministic=True for '
            'bit-equal runs)')


def fp32_precision() -> str:
    """The current cuDNN convolution precision: 'tf32' or 'ieee'."""
    conv = getattr(torch.backends.cudnn, 'conv', None)
    if conv is not None and hasattr(conv, 'fp32_precision'):
        return 'tf32' if conv.fp32_precision == 'tf32' else 'ieee'
    return 'tf32' if torch.backends.cudnn.allow_tf32 else 'ieee'
