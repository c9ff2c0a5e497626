"""tools/check_cuda.py: torch alone, a no-op without CUDA, its device-agnostic paths run."""
import subprocess

import pytest
from fixtures_tools import run_without_openmmlab


def _run(*args: str) -> subprocess.CompletedProcess:
    return run_without_openmmlab('tools/check_cuda.py', *args, env=dict(CUDA_VISIBLE_DEVICES=''))


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
