"""tools/check_cuda.py: torch alone, a no-op without CUDA, its device-agnostic paths run."""
import os.path as osp
import subprocess
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

# mmengine and mmcv made unimportable, as on a GPU machine with torch alone
RUN_WITHOUT_OPENMMLAB = '''
import runpy, sys
for name in ('mmengine', 'mmcv', 'mmdet', 'mmseg', 'mmpose'):
    sys.modules[name] = None
sys.argv = ['check_cuda.py'] + sys.argv[1:]
try:
    runpy.run_path('tools/check_cuda.py', run_name='__main__')
except SystemExit as done:
    assert 'mmengine' not in {m.split('.')[0] for m in sys.modules if sys.modules[m] is not None}
    raise
'''


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-c', RUN_WITHOUT_OPENMMLAB, *args], cwd=REPO, env={
        'PYTHONPATH': REPO,
        'PATH': '/usr/bin:/bin',
        'OMP_NUM_THREADS': '1',
        'CUDA_VISIBLE_DEVICES': ''
    }, capture_output=True, text=True, timeout=600)


@pytest.mark.e2e
def test_without_cuda_it_says_so_and_passes():
    proc = _run()
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'no CUDA device visible to torch; nothing to check' in proc.stdout


@pytest.mark.e2e
def test_device_agnostic_paths_pass_on_the_cpu():
    proc = _run('--device', 'cpu', '--images', '96', '--only', 'eager', 'graphs', 'sgd',
                'deterministic', 'checkpoint')
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for name in ('eager', 'sgd', 'deterministic', 'checkpoint'):
        assert f'PASS {name}' in proc.stdout, proc.stdout
    assert 'SKIP graphs' in proc.stdout and '4 passed, 0 failed' in proc.stdout
