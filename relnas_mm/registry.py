"""relnas_mm's child registries of mmengine's root registries.

Being children of the root, they are reachable from mmdet, mmseg and mmpose configs
as ``type='relnas_mm.RelNASNet'`` once ``relnas_mm`` is imported (``custom_imports``).
"""
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import Registry

MODELS = Registry('model', parent=MMENGINE_MODELS, locations=['relnas_mm.models'])
DATASETS = Registry('dataset', parent=MMENGINE_DATASETS, locations=['relnas_mm.datasets'])
TRANSFORMS = Registry('transform', parent=MMENGINE_TRANSFORMS, locations=['relnas_mm.datasets'])
METRICS = Registry('metric', parent=MMENGINE_METRICS, locations=['relnas_mm.evaluation'])
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, locations=['relnas_mm.engine'])
LOOPS = Registry('loop', parent=MMENGINE_LOOPS, locations=['relnas_mm.engine'])
VISBACKENDS = Registry('vis_backend', parent=MMENGINE_VISBACKENDS,
                       locations=['relnas_mm.visualization'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry('optimizer wrapper constructor',
                                      parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
                                      locations=['relnas_mm.downstream'])
