"""relnas_mm: RelativeNAS (slow-fast learning NAS) as an OpenMMLab 2.x plug-in.

``relnas_mm.space``, ``relnas_mm.search`` and the plain-PyTorch networks in
``relnas_mm.models`` need torch alone. The OpenMMLab glue (registries, backbone,
hooks, loops, datasets, the tools' ``apis``) is imported, and so registered, only
when mmengine is installed: the search core must also run on a machine with torch
and nothing else.
"""
import importlib.util

from .version import __version__

if importlib.util.find_spec('mmengine') is not None:
    from . import apis, datasets, downstream, engine, evaluation, visualization  # noqa: F401
    from .models import backbone, classifiers  # noqa: F401

__all__ = ['__version__']
