"""Task glue between relnas_mm and the downstream libraries (mmdet, mmseg, mmpose).

``ohem_loss`` (``relnas_mm.OHEMCrossEntropyLoss``) and ``optim``
(``relnas_mm.LrMultOptimWrapperConstructor``) are BiSeNet's training recipe, in
plain PyTorch/mmengine, registered here. The tools' generic plumbing (launching,
preflight checks, pretrained weights, checkpoint loading) is in ``relnas_mm.apis``.

The modules that subclass a library's classes register ``relnas_mm.SSDHeadFixed``
(``ssd_head``, needs mmdet) and ``relnas_mm.BiSeNetV1AnyContext`` (``bisenetv1``,
needs mmseg). They are not imported here: ``import mmdet.models`` alone costs
seconds, which every ``import relnas_mm`` (the search, its workers) would pay. The
det/seg configs import them through ``custom_imports``, and the tools import the
one matching a config's ``default_scope`` (``relnas_mm.apis.register_scope_modules``).
"""
from .ohem_loss import OHEMCrossEntropyLoss
from .optim import LrMultOptimWrapperConstructor

__all__ = ['OHEMCrossEntropyLoss', 'LrMultOptimWrapperConstructor']
