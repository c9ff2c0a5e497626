"""Glue between relnas_mm and the downstream libraries (mmdet, mmseg, mmpose).

``preflight``, ``launch`` and ``checkpoint_compat`` need mmengine alone and serve
tools/train.py and tools/test.py. The modules that subclass a library's classes are
imported, and so registered, only where that library is installed, so that
``import relnas_mm`` stays light for the search.
"""
import importlib.util

from .checkpoint_compat import allow_mmengine_checkpoints
from .launch import build_runner, register_scope_modules
from .preflight import DataCheckError, check_data, check_model, preflight, set_data_root

allow_mmengine_checkpoints()

__all__ = [
    'allow_mmengine_checkpoints', 'build_runner', 'register_scope_modules',
    'DataCheckError', 'check_data', 'check_model', 'preflight', 'set_data_root'
]

if importlib.util.find_spec('mmdet') is not None:
    from .ssd_head import SSDHeadFixed  # noqa: F401
    __all__ += ['SSDHeadFixed']
if importlib.util.find_spec('mmseg') is not None:
    from .bisenetv1 import BiSeNetV1AnyContext  # noqa: F401
    __all__ += ['BiSeNetV1AnyContext']
