"""Glue between relnas_mm and the downstream libraries (mmdet, mmseg, mmpose).

``preflight``, ``launch``, ``pretrained`` and ``checkpoint_compat`` need mmengine
alone and serve tools/train.py and tools/test.py; importing this package also
allowlists mmengine's checkpoint contents for torch's ``weights_only`` loading.
``ohem_loss`` (``relnas_mm.OHEMCrossEntropyLoss``) and ``optim``
(``relnas_mm.LrMultOptimWrapperConstructor``) are BiSeNet's training recipe, in
plain PyTorch/mmengine, registered here.

The modules that subclass a library's classes register ``relnas_mm.SSDHeadFixed``
(``ssd_head``, needs mmdet) and ``relnas_mm.BiSeNetV1AnyContext`` (``bisenetv1``,
needs mmseg). They are not imported here: ``import mmdet.models`` alone costs
seconds, which every ``import relnas_mm`` (the search, its workers) would pay. The
det/seg configs import them through ``custom_imports``, and the tools import the
one matching a config's ``default_scope`` (``launch.register_scope_modules``).
"""
from .checkpoint_compat import allow_mmengine_checkpoints
from .launch import build_runner, register_scope_modules
from .ohem_loss import OHEMCrossEntropyLoss
from .optim import LrMultOptimWrapperConstructor
from .preflight import DataCheckError, check_data, check_model, preflight, set_data_root
from .pretrained import PretrainedMismatchError, bind_top_level, check_pretrained

allow_mmengine_checkpoints()

__all__ = [
    'allow_mmengine_checkpoints', 'build_runner', 'register_scope_modules',
    'OHEMCrossEntropyLoss', 'LrMultOptimWrapperConstructor', 'DataCheckError', 'check_data',
    'check_model', 'preflight', 'set_data_root', 'PretrainedMismatchError', 'bind_top_level',
    'check_pretrained'
]
