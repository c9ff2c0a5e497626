"""The floating-point regime of a search: fast by default, bit-reproducible on request.

On Ampere and newer GPUs cuDNN convolutions run in TF32 by default (10-bit mantissa
products), and cuDNN picks algorithms whose reductions are not ordered. Two runs, or a
run and its resume, then agree only statistically. ``deterministic=True`` asks for IEEE
fp32 everywhere, deterministic cuDNN algorithms and PyTorch's deterministic kernels, so
that a GPU search resumed from a checkpoint ends bit-equal to an uninterrupted one.

torch 2.14 keeps two sets of precision settings, the old flags (``allow_tf32``,
``set_float32_matmul_precision``) and the newer ``fp32_precision`` tree, and its old
getters raise RuntimeError when the two disagree. Inductor and third-party code read
the old getters, so ``set_numerics`` sets both, and every getter of ``PRECISION_GETTERS``
reads back the same regime (``precision_mismatches`` says which do not). No mmengine
here (the CUDA self-check runs on torch alone).
"""
import os
from typing import Any, Callable, Dict, List, Union

import torch

#: what the search's functions accept as a device
Device = Union[str, torch.device, None]

#: cuBLAS needs a fixed workspace for deterministic results (NVIDIA's documented setting)
CUBLAS_WORKSPACE = ':4096:8'

#: every getter of the CUDA fp32 precision, old and new, by the name code reads it with
PRECISION_GETTERS: Dict[str, Callable[[], Any]] = {
    'torch.backends.cudnn.fp32_precision': lambda: torch.backends.cudnn.fp32_precision,
    'torch.backends.cudnn.conv.fp32_precision': lambda: torch.backends.cudnn.conv.fp32_precision,
    'torch.backends.cudnn.rnn.fp32_precision': lambda: torch.backends.cudnn.rnn.fp32_precision,
    'torch.backends.cuda.matmul.fp32_precision': lambda: torch.backends.cuda.matmul.fp32_precision,
    'torch.backends.cudnn.allow_tf32': lambda: torch.backends.cudnn.allow_tf32,
    'torch.backends.cuda.matmul.allow_tf32': lambda: torch.backends.cuda.matmul.allow_tf32,
    'torch.get_float32_matmul_precision()': torch.get_float32_matmul_precision,
}

#: what each getter reads in each regime
PRECISION_READBACK: Dict[str, Dict[str, Any]] = {
    regime: dict(zip(PRECISION_GETTERS, [regime] * 4 + [regime == 'tf32'] * 2 + [matmul]))
    for regime, matmul in (('ieee', 'highest'), ('tf32', 'high'))
}


def set_fp32_precision(precision: str) -> None:
    """'tf32' or 'ieee' for cuDNN (convolutions and RNNs) and CUDA matmuls, old and new
    settings alike.

    The old setters go first: ``cudnn.allow_tf32 = False`` leaves conv and rnn at 'none'
    (inherit), and ``cuda.matmul.allow_tf32`` also sets the matmul precision that
    ``get_float32_matmul_precision`` reads ('highest' / 'high'), without touching the
    CPU's oneDNN setting as ``set_float32_matmul_precision`` would.
    """
    if precision not in PRECISION_READBACK:
        raise ValueError(f'precision must be one of {list(PRECISION_READBACK)}, got {precision!r}')
    tf32 = precision == 'tf32'
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.fp32_precision = precision
    torch.backends.cudnn.conv.fp32_precision = precision
    torch.backends.cudnn.rnn.fp32_precision = precision
    torch.backends.cuda.matmul.fp32_precision = precision


def read_precision() -> Dict[str, Any]:
    """Every getter of ``PRECISION_GETTERS`` with what it returns (or the error it raises)."""
    values = {}
    for name, getter in PRECISION_GETTERS.items():
        try:
            values[name] = getter()
        except RuntimeError as err:
            values[name] = f'RuntimeError: {str(err)[:90]}...'
    return values


def precision_mismatches(regime: str) -> List[str]:
    """The getters that do not read back ``regime`` ('ieee' or 'tf32'), with their value."""
    expected = PRECISION_READBACK[regime]
    return [
        f'{name} = {value!r} (expected {expected[name]!r})'
        for name, value in read_precision().items() if value != expected[name]
    ]


def conv_precision() -> str:
    """The cuDNN convolution regime in force, 'tf32' or 'ieee' (a latency is measured
    under it); 'none' inherits from the general cuDNN setting, and torch's own default
    lets convolutions use TF32."""
    for value in (torch.backends.cudnn.conv.fp32_precision, torch.backends.cudnn.fp32_precision):
        if value != 'none':
            return value
    return 'tf32'


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
        set_fp32_precision('ieee')
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        return ('numerics: IEEE fp32 (no TF32), deterministic cuDNN and PyTorch kernels: '
                'a resumed search is bit-equal to an uninterrupted one')
    set_fp32_precision('tf32')
    torch.backends.cudnn.deterministic = False
    return ('numerics: TF32 convolutions and matmuls, non-deterministic cuDNN algorithms: '
            'runs and resumes agree statistically, not bitwise (deterministic=True for '
            'bit-equal runs)')
