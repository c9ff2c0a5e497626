"""Networks built from genotypes.

This package's ``__init__`` imports no mmengine and exports only the plain-PyTorch
parts. The mmengine-registered modules (``backbone.RelNASNet``,
``classifiers.RelNASClassifier``) are imported by ``relnas_mm/__init__.py`` when
mmengine is installed.
"""
from .cell import Cell, drop_path
from .heads import AuxiliaryHeadCIFAR, AuxiliaryHeadImageNet

__all__ = ['Cell', 'drop_path', 'AuxiliaryHeadCIFAR', 'AuxiliaryHeadImageNet']
