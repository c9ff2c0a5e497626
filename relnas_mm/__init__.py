"""relnas_mm: RelativeNAS (slow-fast learning NAS) as an OpenMMLab 2.x plug-in.

``relnas_mm.space``, ``relnas_mm.search`` and the plain-PyTorch networks in
``relnas_mm.models`` need torch alone. The OpenMMLab glue (registries, backbone,
hooks, loops, datasets, the tools' ``apis``) is imported, and so registered, only
when mmengine is installed: the search core must also run on a machine with torch
and nothing else. With mmengine but without a package the glue imports (mmcv, say),
the import fails with one message that names the package and how to install it.
"""
import importlib.util

from .version import __version__

#: the OpenMMLab packages the glue imports; tools/install.sh pins and builds them
OPENMMLAB = ('mmengine', 'mmcv', 'mmdet', 'mmseg', 'mmpose', 'mmpretrain')
INSTALL = 'bash tools/install.sh'

if importlib.util.find_spec('mmengine') is not None:
    try:
        from . import apis, datasets, downstream, engine, evaluation, visualization  # noqa: F401
        from .models import backbone, classifiers  # noqa: F401
    except ModuleNotFoundError as err:
        missing = (err.name or '').split('.')[0]
        if missing not in OPENMMLAB:
            raise
        raise ModuleNotFoundError(
            f'relnas_mm: mmengine is installed but {missing} is not, and the OpenMMLab part '
            f'of relnas_mm imports it. Install it with `{INSTALL}` (run in the relnas_mm '
            f'checkout: it pins and builds the OpenMMLab packages, see '
            f'requirements/mminstall.txt), or use the torch-only core (relnas_mm.space, '
            f'relnas_mm.search) in an environment without mmengine.', name=missing) from None

__all__ = ['__version__']
