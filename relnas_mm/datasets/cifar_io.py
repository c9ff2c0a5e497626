"""CIFAR-10 in its official python format: read, write, and (only on request) download.

No mmengine here: the search puts all 50k training images on the device as one
array (:func:`load_cifar10`), and the demo and the tests write small datasets in the
same on-disk format (:func:`write_cifar10`) so that every reader sees one format.

The official files were pickled by Python 2: their dict keys and strings are
Python 2 ``str``, which Python 3 loads as ``bytes`` (``encoding='bytes'``, keys
``b'data'``) or as ``str`` (``encoding='latin1'``, torchvision's way). The writer
emits the same opcodes, so third-party readers accept our files too.
"""
import hashlib
import logging
import os
import pickle
import shutil
import struct
import tarfile
import urllib.request
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..utils.fileio import atomic_write

BASE_FOLDER = 'cifar-10-batches-py'
TRAIN_FILES = tuple(f'data_batch_{i}' for i in range(1, 6))
TEST_FILES = ('test_batch', )
META_FILE = 'batches.meta'
CIFAR10_URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz'
CIFAR10_MD5 = 'c58f30108f718f92721af3b95e74349a'
CIFAR10_CLASSES = ('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship',
                   'truck')
IMAGE_SHAPE = (32, 32, 3)
ROW_SIZE = 3 * 32 * 32

Arrays = Tuple[np.ndarray, np.ndarray]
logger = logging.getLogger(__name__)

HOW_TO_GET = (f'Get CIFAR-10 from {CIFAR10_URL} and extract it there '
              f'(tar -xzf cifar-10-python.tar.gz -C <data root>), '
              f'or pass download=True to fetch it.')


class CIFARDataError(RuntimeError):
    """CIFAR-10 data that is missing, incomplete or not in the official python format."""


# ----------------------------------------------------------------------------- reading
class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays and builtins only: a batch file cannot run code."""

    _ALLOWED = {
        ('numpy.core.multiarray', '_reconstruct'),
        ('numpy._core.multiarray', '_reconstruct'),
        ('numpy', 'ndarray'),
        ('numpy', 'dtype'),
        ('_codecs', 'encode'),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f'refusing to load {module}.{name}')
        return super().find_class(module, name)


def _str_keys(obj: Any) -> Any:
    """Python 2 strings load as bytes; decode them so both pickle flavours read alike."""
    if isinstance(obj, bytes):
        try:
            return obj.decode('utf-8')
        except UnicodeDecodeError:
            return obj.decode('latin1')
    if isinstance(obj, dict):
        return {
            _str_keys(k): (v if isinstance(v, np.ndarray) else _str_keys(v))
            for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [_str_keys(v) for v in obj]
    return obj


def _load_pickle(path: str, name: str = 'CIFAR-10', how: str = HOW_TO_GET) -> Dict[str, Any]:
    """One file of the format as a dict with str keys; ``name``/``how`` word the errors."""
    if not os.path.isfile(path):
        raise CIFARDataError(f'{name} file {path} is missing. {how}')
    try:
        with open(path, 'rb') as f:
            obj = _ArrayUnpickler(f, encoding='bytes').load()
    except Exception as exc:  # any unpickling failure means the same thing: a bad file
        raise CIFARDataError(
            f'{name} file {path} is corrupt (cannot unpickle: {type(exc).__name__}: {exc}). '
            f'Delete it and extract the archive again. {how}') from None
    if not isinstance(obj, dict):
        raise CIFARDataError(f'{name} file {path} is corrupt: expected a pickled dict, got '
                             f'{type(obj).__name__}')
    return _str_keys(obj)


def _find_dir(root: str, base_folder: str = BASE_FOLDER, meta_file: str = META_FILE,
              name: str = 'CIFAR-10', how: str = HOW_TO_GET) -> str:
    """The folder holding the files: ``root/<base_folder>`` or ``root`` itself."""
    nested = os.path.join(root, base_folder)
    if os.path.isdir(nested):
        return nested
    if os.path.isfile(os.path.join(
            root, meta_file)) or (os.path.basename(os.path.normpath(root)) == base_folder
                                  and os.path.isdir(root)):
        return root
    where = 'does not exist' if not os.path.isdir(root) else f'holds no {name} files'
    raise CIFARDataError(f'{name} not found: data root {root!r} {where}; looked for {nested} '
                         f'(and for {meta_file} directly in {root}). {how}')


def _load_names(path: str, key: str, name: str = 'CIFAR-10', how: str = HOW_TO_GET) -> List[str]:
    """The class names under ``key`` of a meta file (index = label)."""
    names = _load_pickle(path, name, how).get(key)
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise CIFARDataError(
            f'{name} file {path} is corrupt: expected key "{key}" with a non-empty list '
            f'of strings, got {names!r:.200}')
    return names


def find_cifar10_dir(root: str) -> str:
    """Return the folder holding the batch files: ``root/cifar-10-batches-py`` or ``root``."""
    return _find_dir(root)


def load_cifar10_classes(root: str) -> List[str]:
    """Class names from ``batches.meta`` (index = label)."""
    return _load_names(os.path.join(find_cifar10_dir(root), META_FILE), 'label_names')


def _load_batch(path: str, num_classes: int, label_key: str = 'labels', name: str = 'CIFAR-10',
                how: str = HOW_TO_GET, meta_file: str = META_FILE) -> Arrays:
    """Images and the ``label_key`` labels of one batch file (CIFAR-100 too: same layout)."""
    batch = _load_pickle(path, name, how)
    for key in ('data', label_key):
        if key not in batch:
            raise CIFARDataError(f'{name} file {path} is corrupt: key "{key}" is missing '
                                 f'(found {sorted(map(str, batch))})')
    data = batch['data']
    if (not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2
            or data.shape[1] != ROW_SIZE):
        got = (f'{data.dtype} array of shape {data.shape}'
               if isinstance(data, np.ndarray) else type(data).__name__)
        raise CIFARDataError(
            f'{name} file {path} is corrupt: "data" must be a uint8 array of shape '
            f'(N, {ROW_SIZE}), got {got}')
    labels = np.asarray(batch[label_key])
    if labels.shape != (len(data), ) or (labels.size and labels.dtype.kind not in 'iu'):
        raise CIFARDataError(
            f'{name} file {path} is corrupt: "{label_key}" must be {len(data)} integers '
            f'(one per image), got {labels.dtype} array of shape {labels.shape}')
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise CIFARDataError(
            f'{name} file {path} is corrupt: labels must lie in 0..{num_classes - 1} '
            f'({num_classes} classes in {meta_file}), got {labels.min()}..{labels.max()}')
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return images, labels.astype(np.int64)


def load_cifar10(root: str, split: str = 'train') -> Arrays:
    """Load a split as ``(images uint8 (N, 32, 32, 3) RGB, labels int64 (N,))``.

    ``root`` is the folder holding ``cifar-10-batches-py`` or that folder itself;
    ``split`` is ``'train'`` (``data_batch_1..5``) or ``'test'`` (``test_batch``).
    """
    if split not in ('train', 'test'):
        raise ValueError(f'split must be "train" or "test", got {split!r}')
    folder = find_cifar10_dir(root)
    num_classes = len(load_cifar10_classes(folder))
    parts = [
        _load_batch(os.path.join(folder, name), num_classes)
        for name in (TRAIN_FILES if split == 'train' else TEST_FILES)
    ]
    images = np.ascontiguousarray(np.concatenate([p[0] for p in parts]))
    return images, np.concatenate([p[1] for p in parts])


def is_cifar10_complete(root: str) -> bool:
    """Whether all seven files of the format exist (their content is not checked)."""
    try:
        folder = find_cifar10_dir(root)
    except CIFARDataError:
        return False
    return all(
        os.path.isfile(os.path.join(folder, n)) for n in TRAIN_FILES + TEST_FILES + (META_FILE, ))


# ----------------------------------------------------------------------------- writing
class _Py2Str(bytes):
    """A byte string pickled as a Python 2 ``str``, like every string in the official files."""


class _Py2Pickler(pickle._Pickler):  # the pure-Python pickler is the one with a dispatch table
    """Protocol-2 pickler that writes :class:`_Py2Str` with the BINSTRING opcodes."""

    dispatch = dict(pickle._Pickler.dispatch)

    def _save_py2str(self, obj: _Py2Str) -> None:
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + bytes(obj))
        else:
            self.write(pickle.BINSTRING + struct.pack('<i', len(obj)) + bytes(obj))

    dispatch[_Py2Str] = _save_py2str

    def reducer_override(self, obj: Any) -> Any:
        # numpy's own reduction stores the pixels as a unicode string under protocol 2
        # (twice the size); keep them as one raw Python 2 string, as the official files do.
        if type(obj) is np.ndarray:
            rebuild, args, state = obj.__reduce__()
            version, shape, dtype, fortran, raw = state
            return rebuild, args, (version, shape, dtype, fortran, _Py2Str(raw))
        return NotImplemented


def _py2(obj: Any) -> Any:
    """Turn every ``str`` (keys, names) into a Python 2 string, recursively."""
    if isinstance(obj, str):
        return _Py2Str(obj.encode('utf-8'))
    if isinstance(obj, dict):
        return {_py2(k): _py2(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_py2(v) for v in obj]
    return obj


def _dump(obj: Dict[str, Any], path: str) -> None:
    with atomic_write(path, 'wb') as f:
        _Py2Pickler(f, protocol=2).dump(_py2(obj))


def _check_split(name: str, split: Arrays, num_classes: int) -> Arrays:
    try:
        images, labels = split
    except (TypeError, ValueError):
        raise ValueError(f'{name}: expected a pair (images, labels)') from None
    images, labels = np.asarray(images), np.asarray(labels)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != IMAGE_SHAPE:
        raise ValueError(f'{name} images: expected uint8 (N, 32, 32, 3), got {images.dtype} '
                         f'{images.shape}')
    if labels.shape != images.shape[:1] or (labels.size and labels.dtype.kind not in 'iu'):
        raise ValueError(f'{name} labels: expected {len(images)} integers, got '
                         f'{labels.dtype} {labels.shape}')
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f'{name} labels must lie in 0..{num_classes - 1}, got '
                         f'{labels.min()}..{labels.max()}')
    return images, labels


def _rows(images: np.ndarray) -> np.ndarray:
    """NHWC images as the format's rows: all R, then all G, then all B of each image."""
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2).reshape(len(images), ROW_SIZE))


def _filenames(labels: np.ndarray, classes: Sequence[str], offset: int = 0) -> List[str]:
    return [f'{classes[v]}_s_{offset + i:06d}.png' for i, v in enumerate(labels)]


def _batch(images: np.ndarray, labels: np.ndarray, offset: int, title: str,
           classes: Sequence[str]) -> Dict[str, Any]:
    return {
        'batch_label': title,
        'labels': [int(v) for v in labels],
        'data': _rows(images),
        'filenames': _filenames(labels, classes, offset),
    }


def write_cifar10(root: str, train: Arrays, test: Arrays,
                  classes: Sequence[str] = CIFAR10_CLASSES) -> str:
    """Write images in CIFAR-10's python format; return the ``cifar-10-batches-py`` folder.

    ``train`` and ``test`` are ``(uint8 (N, 32, 32, 3) RGB, int labels (N,))``; the
    training images are spread over ``data_batch_1..5`` as evenly as possible.
    Each file is written atomically.
    """
    classes = [str(c) for c in classes]
    train = _check_split('train', train, len(classes))
    test = _check_split('test', test, len(classes))
    folder = (
        root if os.path.basename(os.path.normpath(root)) == BASE_FOLDER else os.path.join(
            root, BASE_FOLDER))
    os.makedirs(folder, exist_ok=True)
    chunks = np.array_split(np.arange(len(train[0])), len(TRAIN_FILES))
    for k, (name, idx) in enumerate(zip(TRAIN_FILES, chunks)):
        start = int(idx[0]) if len(idx) else 0
        title = f'training batch {k + 1} of {len(TRAIN_FILES)}'
        _dump(
            _batch(train[0][idx], train[1][idx], start, title, classes), os.path.join(folder, name))
    _dump(_batch(*test, 0, 'testing batch 1 of 1', classes), os.path.join(folder, TEST_FILES[0]))
    meta = {'num_cases_per_batch': len(chunks[0]), 'label_names': classes, 'num_vis': ROW_SIZE}
    _dump(meta, os.path.join(folder, META_FILE))
    return folder


# ----------------------------------------------------------------------------- download
def _md5(path: str) -> str:
    digest = hashlib.md5()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def download_cifar10(root: str, url: str = CIFAR10_URL, md5: Optional[str] = CIFAR10_MD5) -> str:
    """Download and extract CIFAR-10 into ``root`` unless it is already complete there.

    Called only when a user asks for it (``download=True``); returns the batches folder.
    """
    if is_cifar10_complete(root):
        return find_cifar10_dir(root)
    os.makedirs(root, exist_ok=True)
    archive = os.path.join(root, os.path.basename(url) or 'cifar-10-python.tar.gz')
    if not (os.path.isfile(archive) and (md5 is None or _md5(archive) == md5)):
        logger.info('downloading %s to %s', url, archive)
        try:
            with atomic_write(archive, 'wb') as f, urllib.request.urlopen(url) as response:
                shutil.copyfileobj(response, f)
        except OSError as exc:
            raise CIFARDataError(f'downloading {url} to {archive} failed: {exc}') from None
    got = _md5(archive) if md5 is not None else None
    if got != md5:
        raise CIFARDataError(f'{archive} is corrupt: md5 {got} != expected {md5}; '
                             f'delete it and download again')
    with tarfile.open(archive, 'r:gz') as tar:
        if hasattr(tarfile, 'data_filter'):  # refuse absolute paths and links out of root
            tar.extractall(root, filter='data')
        else:
            tar.extractall(root)
    if not is_cifar10_complete(root):
        raise CIFARDataError(f'{archive} did not contain {BASE_FOLDER}/ with {META_FILE}, '
                             f'{", ".join(TRAIN_FILES)} and {TEST_FILES[0]}')
    return find_cifar10_dir(root)
