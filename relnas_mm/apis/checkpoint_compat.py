"""Let mmengine 0.10.7 load its own checkpoints under torch >= 2.6.

torch >= 2.6 loads with ``weights_only=True`` by default, and mmengine 0.10.7 calls
``torch.load`` without that argument when it resumes, honours ``load_from`` or runs
``init_cfg=dict(type='Pretrained')``. Its checkpoints hold more than tensors: the
message hub's ``HistoryBuffer`` objects (whose pickles reference the buffer's
statistics methods through ``getattr``) and numpy arrays and scalars (log history,
``dataset_meta`` such as mmpose's keypoint sigmas). Instead of switching the safe
loader off, this allowlists exactly those types, so that an untrusted file still
cannot run arbitrary code: torch's unpickler refuses to *call* anything that is not
allowlisted, whatever ``getattr`` returns.
"""
import builtins
from typing import List

import numpy as np
import torch


def _numpy_globals() -> List[object]:
    """The numpy callables and classes that pickled arrays, scalars and dtypes use."""
    core = getattr(np, '_core', None) or np.core  # numpy 2 renamed np.core
    dtype_classes = [getattr(np.dtypes, name) for name in getattr(np.dtypes, '__all__', [])]
    return [
        np.ndarray, np.dtype, core.multiarray._reconstruct, core.multiarray.scalar, *dtype_classes
    ]


def mmengine_safe_globals() -> List[object]:
    """Everything an mmengine 0.10.7 checkpoint needs beyond torch's default allowlist."""
    from mmengine.logging import HistoryBuffer
    return [HistoryBuffer, builtins.getattr, *_numpy_globals()]


def allow_mmengine_checkpoints() -> None:
    """Allowlist mmengine's checkpoint contents for ``torch.load(weights_only=True)``.

    Idempotent; a no-op on torch versions without ``add_safe_globals`` (< 2.4), which
    also do not default to ``weights_only=True``.
    """
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is not None:
        add(mmengine_safe_globals())
