"""CIFAR-10 python format: round trip, the official pickle layout, errors, download."""
import hashlib
import os
import pickle
import struct
import tarfile

import numpy as np
import pytest
from fixtures_data import make_cifar_like

from relnas_mm.datasets import cifar_io
from relnas_mm.datasets.cifar_io import (CIFARDataError, download_cifar10, find_cifar10_dir,
                                         is_cifar10_complete, load_cifar10, load_cifar10_classes,
                                         write_cifar10)


def _arrays(n, seed, num_classes=10):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    return images, rng.integers(0, num_classes, n).astype(np.int64)


def test_round_trip_returns_identical_arrays(tmp_path):
    train, test = _arrays(23, 0), _arrays(7, 1)
    folder = write_cifar10(str(tmp_path), train, test)
    assert folder == str(tmp_path / 'cifar-10-batches-py')
    for root in (str(tmp_path), folder):  # the parent or the batches folder itself
        images, labels = load_cifar10(root, 'train')
        assert images.dtype == np.uint8 and images.shape == (23, 32, 32, 3)
        assert labels.dtype == np.int64
        np.testing.assert_array_equal(images, train[0])
        np.testing.assert_array_equal(labels, train[1])
        images, labels = load_cifar10(root, 'test')
        np.testing.assert_array_equal(images, test[0])
        np.testing.assert_array_equal(labels, test[1])
    assert load_cifar10_classes(str(tmp_path)) == list(cifar_io.CIFAR10_CLASSES)


def test_files_follow_the_official_layout(tmp_path):
    train, test = _arrays(12, 0), _arrays(5, 1)
    folder = write_cifar10(str(tmp_path), train, test, classes=[f'c{k}' for k in range(10)])
    assert sorted(os.listdir(folder)) == sorted(['batches.meta', 'test_batch'] +
                                                [f'data_batch_{i}' for i in range(1, 6)])
    with open(os.path.join(folder, 'data_batch_1'), 'rb') as f:
        batch = pickle.load(f, encoding='bytes')  # how most CIFAR code reads the files
    assert set(batch) == {b'data', b'labels', b'batch_label', b'filenames'}
    data = batch[b'data']
    assert data.dtype == np.uint8 and data.shape == (3, 3072)  # 12 images over 5 batches
    # Rows are channel-major: 1024 red values, then green, then blue, each row by row.
    np.testing.assert_array_equal(data[0, :1024], train[0][0, :, :, 0].ravel())
    np.testing.assert_array_equal(data[0, 2048:], train[0][0, :, :, 2].ravel())
    assert batch[b'labels'] == [int(v) for v in train[1][:3]]
    assert batch[b'batch_label'] == b'training batch 1 of 5'
    assert all(isinstance(n, bytes) for n in batch[b'filenames'])
    with open(os.path.join(folder, 'test_batch'), 'rb') as f:
        latin = pickle.load(f, encoding='latin1')  # torchvision's way: str keys
    assert set(latin) == {'data', 'labels', 'batch_label', 'filenames'}
    np.testing.assert_array_equal(latin['data'][4, 1024:2048], test[0][4, :, :, 1].ravel())
    with open(os.path.join(folder, 'batches.meta'), 'rb') as f:
        meta = pickle.load(f, encoding='bytes')
    assert meta[b'label_names'] == [f'c{k}'.encode() for k in range(10)]
    assert meta[b'num_vis'] == 3072


def _py2_str(raw):
    """Python 2 ``str`` opcodes (SHORT_BINSTRING / BINSTRING)."""
    if len(raw) < 256:
        return b'U' + bytes([len(raw)]) + raw
    return b'T' + struct.pack('<i', len(raw)) + raw


def _py2_pickle(rows, labels):
    """A batch dict byte for byte as Python 2 + numpy 1 pickled the official files."""
    array = (b'cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85' + _py2_str(b'b') +
             b'\x87R(K\x01M' + struct.pack('<H', len(rows)) + b'M\x00\x0c\x86' +
             b'cnumpy\ndtype\n' + _py2_str(b'u1') + b'K\x00K\x01\x87R(K\x03' + _py2_str(b'|') +
             b'NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89' + _py2_str(rows.tobytes()) + b'tb')
    label_list = b'](' + b''.join(b'K' + bytes([v]) for v in labels) + b'e'
    return (b'\x80\x02}(' + _py2_str(b'data') + array + _py2_str(b'labels') + label_list +
            _py2_str(b'batch_label') + _py2_str(b'testing batch 1 of 1') + b'u.')


def test_reads_files_as_python2_wrote_them(tmp_path):
    """The official archive's files: Python 2 strings, numpy.core module path."""
    root = make_cifar_like(str(tmp_path), n_train=5, n_test=3)
    images, labels = _arrays(3, 4)
    rows = images.transpose(0, 3, 1, 2).reshape(3, 3072)
    (tmp_path / 'cifar-10-batches-py' / 'test_batch').write_bytes(
        _py2_pickle(rows, [int(v) for v in labels]))
    got_images, got_labels = load_cifar10(root, 'test')
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)


def test_reads_files_pickled_by_python3_with_str_keys(tmp_path):
    """Re-pickled copies of CIFAR-10 (str keys, numpy labels) are read the same way."""
    folder = tmp_path / 'cifar-10-batches-py'
    folder.mkdir()
    images, labels = _arrays(4, 3)
    rows = images.transpose(0, 3, 1, 2).reshape(4, 3072)
    for name in ['test_batch'] + [f'data_batch_{i}' for i in range(1, 6)]:
        with open(folder / name, 'wb') as f:
            pickle.dump({'data': rows, 'labels': labels}, f, protocol=4)
    with open(folder / 'batches.meta', 'wb') as f:
        pickle.dump({'label_names': list('abcdefghij')}, f)
    got_images, got_labels = load_cifar10(str(tmp_path), 'test')
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)
    assert load_cifar10(str(tmp_path), 'train')[0].shape == (20, 32, 32, 3)


def test_missing_data_root_names_where_it_looked_and_how_to_get_it(tmp_path):
    root = str(tmp_path / 'nowhere')
    with pytest.raises(CIFARDataError) as err:
        load_cifar10(root, 'train')
    message = str(err.value)
    assert root in message and 'cifar-10-batches-py' in message
    assert cifar_io.CIFAR10_URL in message and 'download=True' in message


def test_empty_folder_is_not_mistaken_for_cifar(tmp_path):
    with pytest.raises(CIFARDataError, match='holds no CIFAR-10 files'):
        find_cifar10_dir(str(tmp_path))
    assert not is_cifar10_complete(str(tmp_path))


def test_missing_batch_file_is_named(tmp_path):
    root = make_cifar_like(str(tmp_path))
    os.remove(tmp_path / 'cifar-10-batches-py' / 'data_batch_3')
    assert not is_cifar10_complete(root)
    load_cifar10(root, 'test')  # the other split is intact
    with pytest.raises(CIFARDataError, match=r'data_batch_3 is missing'):
        load_cifar10(root, 'train')


def test_missing_meta_file_is_named(tmp_path):
    root = make_cifar_like(str(tmp_path))
    os.remove(tmp_path / 'cifar-10-batches-py' / 'batches.meta')
    with pytest.raises(CIFARDataError, match=r'batches.meta is missing'):
        load_cifar10(root, 'test')


def test_corrupt_pickle_is_named(tmp_path):
    root = make_cifar_like(str(tmp_path))
    path = tmp_path / 'cifar-10-batches-py' / 'test_batch'
    path.write_bytes(path.read_bytes()[:500])  # a truncated download
    with pytest.raises(CIFARDataError) as err:
        load_cifar10(root, 'test')
    assert str(path) in str(err.value) and 'corrupt' in str(err.value)


def _overwrite(path, obj):
    with open(path, 'wb') as f:
        pickle.dump(obj, f)


@pytest.mark.parametrize('batch, expected', [
    ({
        'data': np.zeros((4, 100), np.uint8),
        'labels': [0] * 4
    }, r'shape \(N, 3072\), got uint8'),
    ({
        'data': np.zeros((4, 3072), np.float32),
        'labels': [0] * 4
    }, r'got float32 array'),
    ({
        'data': np.zeros((4, 3072), np.uint8),
        'labels': [0] * 3
    }, r'"labels" must be 4'),
    ({
        'data': np.zeros((2, 3072), np.uint8),
        'labels': [0, 10]
    }, r'labels must lie in 0\.\.9'),
    ({
        'data': np.zeros((2, 3072), np.uint8)
    }, r'key "labels" is missing'),
    ([1, 2, 3], r'expected a pickled dict'),
])
def test_malformed_batch_is_named(tmp_path, batch, expected):
    root = make_cifar_like(str(tmp_path))
    path = tmp_path / 'cifar-10-batches-py' / 'data_batch_2'
    _overwrite(path, batch)
    with pytest.raises(CIFARDataError, match=expected) as err:
        load_cifar10(root, 'train')
    assert str(path) in str(err.value)


def test_batch_files_cannot_run_code(tmp_path):
    root = make_cifar_like(str(tmp_path))
    path = tmp_path / 'cifar-10-batches-py' / 'test_batch'
    _overwrite(path, {'data': os.getcwd, 'labels': []})  # references a function
    with pytest.raises(CIFARDataError, match='refusing to load'):
        load_cifar10(root, 'test')


def test_bad_split_and_bad_arrays_are_refused(tmp_path):
    with pytest.raises(ValueError, match='split'):
        load_cifar10(str(tmp_path), 'val')
    good = _arrays(3, 0)
    with pytest.raises(ValueError, match=r'train images: expected uint8 \(N, 32, 32, 3\)'):
        write_cifar10(str(tmp_path), (good[0][:, :16], good[1]), good)
    with pytest.raises(ValueError, match=r'test labels must lie in 0\.\.9, got 0\.\.10'):
        write_cifar10(str(tmp_path), good, (good[0], np.array([0, 10, 1])))


def _archive(tmp_path):
    """A cifar-10-python.tar.gz made from a tiny dataset, and its md5."""
    make_cifar_like(str(tmp_path / 'src'), n_train=10, n_test=5)
    archive = tmp_path / 'cifar-10-python.tar.gz'
    with tarfile.open(archive, 'w:gz') as tar:
        tar.add(tmp_path / 'src' / 'cifar-10-batches-py', arcname='cifar-10-batches-py')
    return archive, hashlib.md5(archive.read_bytes()).hexdigest()


def test_download_fetches_checks_and_extracts(tmp_path):
    archive, md5 = _archive(tmp_path)
    root = str(tmp_path / 'data')
    folder = download_cifar10(root, url=archive.as_uri(), md5=md5)
    assert folder == os.path.join(root, 'cifar-10-batches-py')
    np.testing.assert_array_equal(
        load_cifar10(root, 'test')[0],
        load_cifar10(str(tmp_path / 'src'), 'test')[0])
    # Complete data is never fetched again.
    assert download_cifar10(root, url='file:///does/not/exist.tar.gz') == folder


def test_download_refuses_a_corrupt_archive(tmp_path):
    archive, _ = _archive(tmp_path)
    with pytest.raises(CIFARDataError, match='md5'):
        download_cifar10(str(tmp_path / 'data'), url=archive.as_uri(), md5='0' * 32)
    assert not is_cifar10_complete(str(tmp_path / 'data'))
