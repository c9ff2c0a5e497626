"""relnas_mm.apis.checkpoint_compat: mmengine checkpoints under weights_only loading."""
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from fixtures_tools import REPO

pytest.importorskip('mmengine')
from mmengine.logging import HistoryBuffer

from relnas_mm.apis.checkpoint_compat import allow_mmengine_checkpoints


def _mmengine_like_checkpoint() -> dict:
    """What mmengine 0.10.7 saves beside the weights: message hub buffers, numpy meta."""
    buffer = HistoryBuffer()
    buffer.update(0.5)
    buffer.update(np.float64(0.25))
    return dict(
        meta=dict(
            epoch=3, dataset_meta=dict(
                classes=('a', 'b'), sigmas=np.array([.1, .2]),
                flip_indices=np.arange(3, dtype=np.int64))),
        message_hub=dict(log_scalars={'train/loss': buffer},
                         runtime_info=dict(iter=np.int64(7),
                                           lr=np.float32(0.1))), state_dict={'w': torch.ones(2)})


def test_weights_only_load_of_mmengine_checkpoint_content(tmp_path):
    allow_mmengine_checkpoints()
    path = str(tmp_path / 'epoch_3.pth')
    torch.save(_mmengine_like_checkpoint(), path)
    loaded = torch.load(path, map_location='cpu', weights_only=True)
    buffer = loaded['message_hub']['log_scalars']['train/loss']
    assert isinstance(buffer, HistoryBuffer) and buffer.mean() == pytest.approx(0.375)
    np.testing.assert_array_equal(loaded['meta']['dataset_meta']['sigmas'], [.1, .2])
    assert loaded['message_hub']['runtime_info']['iter'] == 7
    assert torch.equal(loaded['state_dict']['w'], torch.ones(2))


class _Payload:
    """Unpickling it would run os.system: what weights_only loading must keep refusing."""

    def __reduce__(self):
        return os.system, ('true', )


def test_arbitrary_callables_stay_refused(tmp_path):
    allow_mmengine_checkpoints()
    path = str(tmp_path / 'evil.pth')
    torch.save({'x': _Payload()}, path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)


def test_importing_relnas_mm_allows_them(tmp_path):
    """What the configs' ``custom_imports=['relnas_mm']`` does for OpenMMLab's own tools."""
    code = ('import torch, relnas_mm\n'
            'from mmengine.logging import HistoryBuffer\n'
            'assert HistoryBuffer in torch.serialization.get_safe_globals()\n')
    proc = subprocess.run([sys.executable, '-c', code], cwd=str(tmp_path), capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=REPO))
    assert proc.returncode == 0, proc.stderr[-2000:]
