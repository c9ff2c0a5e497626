"""Task glue between relnas_mm and the downstream libraries (mmdet, mmseg, mmpose).

``ohem_loss`` (``relnas_mm.OHEMCrossEntropyLoss``) and ``optim``
(``relnas_mm.LrMultOptimWrapperConstructor``) are BiSeNet's training recipe, in
plain PyTorch/mmengine, registered here. The tools' generic plumbing (launching,
preflight checks, pretrained weights, checkpoint loading) is in ``relnas_mm.apis``.

The other modules carry RelativeNAS's authors' transfer settings that the libraries
cannot express by config, and are not imported here: they need mmcv (``import
mmcv.cnn`` and ``import mmdet.models`` cost seconds, which every ``import relnas_mm``
- the search, its workers - would pay). The det/seg/pose configs import the ones
they use through ``custom_imports``: ``ssd_head`` (``relnas_mm.SSDHeadFixed``, needs
mmdet), ``ssdlite`` (``relnas_mm.SSDLiteNeck``), ``bisenetv1``
(``relnas_mm.BiSeNetV1``), ``transforms`` (``relnas_mm.ColorJitterBCS``,
``ResizeToCover``, ``RandomScaleRotate``) and ``schedulers``
(``relnas_mm.ExponentialWarmupLR``). The tools also import the one matching a
config's ``default_scope`` (``relnas_mm.apis.register_scope_modules``).
"""
from .ohem_loss import OHEMCrossEntropyLoss
from .optim import LrMultOptimWrapperConstructor

__all__ = ['OHEMCrossEntropyLoss', 'LrMultOptimWrapperConstructor']
