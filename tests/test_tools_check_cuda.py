"""tools/check_cuda.py: torch alone, a no-op without CUDA, its CPU checks pass, and every
fault ``--break`` injects on the CPU makes the checks that must catch it FAIL."""
import importlib.util
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
# the smallest run that shows every CPU fault: two training steps of a small network
SMALL = ('--device', 'cpu', '--images', '192', '--channels', '4', '--cells', '3')


def _tool():
    spec = importlib.util.spec_from_file_location('check_cuda',
                                                  osp.join(REPO, 'tools', 'check_cuda.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CHECK_CUDA = _tool()
CPU_FAULTS = [name for name, fault in CHECK_CUDA.FAULTS.items() if not fault.cuda_only]


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
def test_every_cpu_check_passes_without_a_fault():
    proc = _run(*SMALL)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    cpu = [n for n in CHECK_CUDA.CHECKS if n not in CHECK_CUDA.CUDA_ONLY]
    for name in cpu:
        assert f'PASS {name} ' in proc.stdout, proc.stdout
    for name in CHECK_CUDA.CUDA_ONLY:
        assert f'SKIP {name} ' in proc.stdout, proc.stdout
    assert f'{len(cpu)} passed, 0 failed' in proc.stdout


def test_the_cpu_faults_are_the_issue_s():
    """Weight decay dropped, clipping skipped, stale draws, TF32 in deterministic mode run
    on the CPU; a graph kept alive and a capture left open need CUDA."""
    assert CPU_FAULTS == ['weight_decay', 'clip', 'stale_draws', 'tf32']
    assert [n for n in CHECK_CUDA.FAULTS if n not in CPU_FAULTS] == ['graph_alive', 'capture_state']
    for fault in CHECK_CUDA.FAULTS.values():
        assert set(fault.checks) <= set(CHECK_CUDA.CHECKS)


@pytest.mark.e2e
@pytest.mark.parametrize('fault', CPU_FAULTS)
def test_a_fault_makes_its_checks_fail(fault):
    proc = _run(*SMALL, '--break', fault)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    for name in CHECK_CUDA.FAULTS[fault].checks:
        if name not in CHECK_CUDA.CUDA_ONLY:
            assert f'FAIL {name} ' in proc.stdout, proc.stdout
    assert f'fault {fault}: caught' in proc.stdout and 'PASS' not in proc.stdout


def test_a_cuda_fault_is_refused_on_the_cpu():
    proc = _run('--device', 'cpu', '--break', 'graph_alive')
    assert proc.returncode == 2 and '--break graph_alive needs CUDA' in proc.stderr
