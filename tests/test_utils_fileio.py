"""relnas_mm.utils.fileio.atomic_write: a reader sees the old file or the whole new one."""
import os

import pytest

from relnas_mm.utils.fileio import atomic_write


def test_replaces_the_file_only_when_the_block_completes(tmp_path):
    path = tmp_path / 'state.json'
    path.write_text('old')
    with atomic_write(str(path)) as f:
        f.write('new')
        assert path.read_text() == 'old'  # not yet replaced while writing
    assert path.read_text() == 'new'
    assert os.listdir(tmp_path) == ['state.json']  # no temporary file left


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / 'data.bin'
    path.write_bytes(b'old')
    with pytest.raises(RuntimeError, match='interrupted'):
        with atomic_write(str(path), 'wb') as f:
            f.write(b'half')
            raise RuntimeError('interrupted')
    assert path.read_bytes() == b'old'
    assert os.listdir(tmp_path) == ['data.bin']


def test_binary_mode_and_bad_modes(tmp_path):
    path = tmp_path / 'x.bin'
    with atomic_write(str(path), 'wb') as f:
        f.write(b'\x00\x01')
    assert path.read_bytes() == b'\x00\x01'
    with pytest.raises(ValueError, match='mode must be "w" or "wb", got \'a\''):
        with atomic_write(str(path), 'a'):
            pass
