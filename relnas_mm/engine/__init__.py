"""mmengine glue of the search: the hook that carries RelativeNAS, the generation loop,
the split of candidates over ranks, plus the drop-path ramp of the classification
configs. Importing this package registers
``relnas_mm.RelativeNASSearchHook``, ``relnas_mm.SearchLoop``,
``relnas_mm.SearchRunnerModel`` and ``relnas_mm.DropPathRampHook``."""
from .dist import DistributedEvaluate, share_of
from .drop_path_hook import DropPathRampHook
from .search_hook import RelativeNASSearchHook
from .search_loop import SearchLoop, SearchRunnerModel, run_search

__all__ = [
    'DistributedEvaluate', 'share_of', 'RelativeNASSearchHook', 'SearchLoop', 'SearchRunnerModel',
    'run_search', 'DropPathRampHook'
]
