"""mmengine glue of the search: the hook that carries RelativeNAS, the generation loop,
search-state checkpoints and the split of candidates over ranks. Importing this
package registers ``relnas_mm.RelativeNASSearchHook``, ``relnas_mm.SearchLoop`` and
``relnas_mm.SearchRunnerModel``."""
from .checkpoint import (SearchStateError, latest_search_state, load_search_state,
                         save_search_state)
from .dist import DistributedEvaluate, share_of
from .search_hook import RelativeNASSearchHook
from .search_loop import SearchLoop, SearchRunnerModel, run_search

__all__ = [
    'SearchStateError', 'latest_search_state', 'load_search_state', 'save_search_state',
    'DistributedEvaluate', 'share_of', 'RelativeNASSearchHook', 'SearchLoop',
    'SearchRunnerModel', 'run_search'
]
