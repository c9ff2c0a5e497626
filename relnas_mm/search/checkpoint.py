"""Search-state checkpoints: atomic files, a ``latest`` pointer, safe loading.

A search state is the algorithm's ``state_dict()`` plus the process RNG states and a
fingerprint of the search config. Everything is stored as tensors and plain Python
values, so ``torch.load(..., weights_only=True)`` reads it: a checkpoint file can
never run code on load. Only rank 0 calls the writers.
"""
import io
import json
import os
import os.path as osp
import random
import re
from typing import Any, Dict, List, Mapping, Optional

import numpy as np
import torch

from ..utils.fileio import atomic_write

STATE_KIND = 'relnas_mm.search_state'
STATE_VERSION = 1
LATEST_FILE = 'latest_search_state'
_NAME = 'search_state_gen_{:03d}.pth'
_NAME_RE = re.compile(r'^search_state_gen_(\d+)\.pth$')
#: Keys of the ``search`` section that may change between a run and its resumption
#: because they do not change its results (the data may have moved; budget.reevaluate
#: changes only the final Pareto files, so a finished search can be resumed with it).
RESUMABLE_KEYS = ('data.data_root', 'budget.reevaluate')


class SearchStateError(ValueError):
    """A checkpoint that cannot be read or does not belong to this search."""


def _plain(value: Any) -> Any:
    """JSON-normal form (tuples become lists, ConfigDicts dicts) for comparisons."""
    return json.loads(json.dumps(value, default=str))


def flatten_config(tree: Mapping[str, Any], prefix: str = '') -> Dict[str, Any]:
    """Nested dicts as one flat dict (``{'algorithm.pop_size': 20}``); flat ones unchanged."""
    flat: Dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping):
            flat.update(flatten_config(value, f'{prefix}{key}.'))
        else:
            flat[f'{prefix}{key}'] = value
    return flat


def check_same_config(saved: Mapping[str, Any], current: Mapping[str, Any], message: str) -> None:
    """Refuse to resume from a different configuration, naming the first key that differs.

    Both configs are flattened, so a nested difference names its full key; ``message``
    words the error for the caller and is formatted with ``key``, ``old`` (saved) and
    ``new`` (current). Raises ``SearchStateError``.
    """
    saved_flat, current_flat = flatten_config(saved), flatten_config(current)
    for key in sorted(set(saved_flat) | set(current_flat)):
        old, new = saved_flat.get(key, '<absent>'), current_flat.get(key, '<absent>')
        if old != new:
            raise SearchStateError(message.format(key=key, old=old, new=new))


def search_fingerprint(search_cfg: Mapping[str, Any]) -> Dict[str, Any]:
    """The keys of the config's ``search`` section that determine the search's results.

    Returned flat (``'algorithm.pop_size': 20``) so a mismatch names its key.
    """
    flat = flatten_config(_plain(dict(search_cfg)))
    return {k: v for k, v in flat.items() if k not in RESUMABLE_KEYS}


def check_fingerprint(saved: Mapping[str, Any], current: Mapping[str, Any], path: str) -> None:
    """Refuse a checkpoint made with other search settings, naming the first key that differs."""
    check_same_config(
        saved, current,
        f'{path} was saved by a different search: search.{{key}} is {{old!r}} there but '
        f'{{new!r}} in this config; resume it with the config it was made with, or start '
        f'a new search in another work_dir')


def capture_rng() -> Dict[str, Any]:
    """The global RNG states of python, numpy and torch (CPU and CUDA), safe to save."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state: Dict[str, Any] = dict(
        python=random.getstate(),
        numpy=dict(name=name, keys=torch.from_numpy(keys.astype(np.int64)), pos=int(pos),
                   has_gauss=int(has_gauss), cached_gaussian=float(cached)),
        torch=torch.get_rng_state())
    if torch.cuda.is_available():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: Mapping[str, Any]) -> None:
    """Inverse of :func:`capture_rng` (CUDA states only if this process has as many GPUs)."""
    random.setstate(_as_tuple(state['python']))
    np_state = state['numpy']
    np.random.set_state((np_state['name'], np_state['keys'].numpy().astype(np.uint32),
                         np_state['pos'], np_state['has_gauss'], np_state['cached_gaussian']))
    torch.set_rng_state(state['torch'])
    cuda = state.get('cuda')
    if cuda is not None and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


def _as_tuple(value: Any) -> Any:
    """random.setstate needs tuples all the way down."""
    return tuple(_as_tuple(v) for v in value) if isinstance(value, (list, tuple)) else value


def make_search_state(algorithm_state: Mapping[str, Any], generation: int,
                      fingerprint: Mapping[str, Any],
                      extra: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """Bundle what a checkpoint holds (see the module docstring)."""
    return dict(kind=STATE_KIND, version=STATE_VERSION, generation=int(generation),
                fingerprint=dict(fingerprint), algorithm=dict(algorithm_state), rng=capture_rng(),
                extra=dict(extra or {}))


def save_search_state(state: Mapping[str, Any], work_dir: str, keep: int = 3) -> str:
    """Write ``state`` atomically as ``search_state_gen_XXX.pth``, point ``latest`` at it,
    and delete all but the newest ``keep`` such files. Returns the file path.

    XXX is the number of finished generations, so a resume continues with that one.
    """
    if keep < 1:
        raise ValueError(f'keep_checkpoints must be >= 1, got {keep}')
    os.makedirs(work_dir, exist_ok=True)
    path = state_file(work_dir, int(state['generation']))
    serialized = io.BytesIO()  # first, so that a failed write (a full disk) is an OSError:
    torch.save(dict(state), serialized)  # torch.save's writer buries it in a RuntimeError
    with atomic_write(path, 'wb') as f:
        f.write(serialized.getbuffer())
    with atomic_write(osp.join(work_dir, LATEST_FILE)) as f:
        f.write(osp.basename(path) + '\n')
    for old in list_search_states(work_dir)[:-keep]:
        os.remove(old)
    return path


def state_file(work_dir: str, generation: int) -> str:
    """The checkpoint file of a search after ``generation`` finished generations."""
    return osp.join(work_dir, _NAME.format(generation))


def list_search_states(work_dir: str) -> List[str]:
    """The checkpoint files in ``work_dir``, oldest generation first."""
    if not osp.isdir(work_dir):
        return []
    found = [(int(m.group(1)), f) for f in os.listdir(work_dir) if (m := _NAME_RE.match(f))]
    return [osp.join(work_dir, f) for _, f in sorted(found)]


def latest_search_state(work_dir: str) -> Optional[str]:
    """The file the ``latest`` pointer names (or None when there is no checkpoint)."""
    pointer = osp.join(work_dir, LATEST_FILE)
    if not osp.isfile(pointer):
        return None
    with open(pointer) as f:
        name = f.read().strip()
    path = osp.join(work_dir, name)
    if not osp.isfile(path):
        raise SearchStateError(f'{pointer} names {name!r}, which does not exist in {work_dir}')
    return path


def load_search_state(path: str) -> Dict[str, Any]:
    """Read a checkpoint with ``weights_only=True`` (tensors and plain values only)."""
    if not osp.isfile(path):
        raise SearchStateError(f'search checkpoint {path} does not exist')
    try:
        state = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same answer
        raise SearchStateError(
            f'cannot read search checkpoint {path} with torch.load(weights_only=True): '
            f'{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ""} '
            f'(corrupt, truncated, or not written by tools/search.py)') from None
    if not isinstance(state, dict) or state.get('kind') != STATE_KIND:
        raise SearchStateError(f'{path} is not a relnas_mm search state '
                               f'(expected kind={STATE_KIND!r})')
    if state.get('version') != STATE_VERSION:
        raise SearchStateError(f'{path} has search-state version {state.get("version")!r}, '
                               f'this code reads version {STATE_VERSION}')
    return state
