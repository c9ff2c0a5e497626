"""tools/check_cuda.py: torch alone, a no-op without CUDA, its CPU checks pass, and every
fault ``--break`` injects on the CPU makes the checks that must catch it FAIL."""
import subprocess

import pytest
from fixtures_tools import load_tool, run_without_openmmlab

# the smallest run that shows every CPU fault: two training steps of a small network
SMALL = ('--device', 'cpu', '--images', '192', '--channels', '4', '--cells', '3')
CHECK_CUDA = load_tool('check_cuda')
CPU_FAULTS = [name for name, fault in CHECK_CUDA.FAULTS.items() if not fault.cuda_only]


def _run(*args: str) -> subprocess.CompletedProcess:
    return run_without_openmmlab('tools/check_cuda.py', *args, env=dict(CUDA_VISIBLE_DEVICES=''))


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
