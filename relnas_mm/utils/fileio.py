"""Writing files so that a reader never sees half of one.

A search is interrupted and resumed, and several processes may read what rank 0
writes (a checkpoint, the ``latest`` pointer, a data set prepared once): each file
is written to a temporary name next to it and renamed over the target only when
complete, which POSIX and Windows make atomic on one file system.
"""
import contextlib
import os
from typing import IO, Iterator


@contextlib.contextmanager
def atomic_write(path: str, mode: str = 'w') -> Iterator[IO]:
    """Open a temporary file for writing that replaces ``path`` when the block ends.

    ``mode`` is 'w' (text) or 'wb' (binary). If the block raises, ``path`` is left
    as it was and the temporary file is removed. The temporary name carries the
    process id, so processes writing the same file do not mix their bytes.
    """
    if mode not in ('w', 'wb'):
        raise ValueError(f'atomic_write: mode must be "w" or "wb", got {mode!r}')
    tmp = f'{path}.tmp{os.getpid()}'
    try:
        with open(tmp, mode) as f:
            yield f
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
