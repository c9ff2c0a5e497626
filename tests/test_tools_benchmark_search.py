"""tools/benchmark_search.py runs with torch alone and reports comparable figures."""
import json
import os.path as osp
import sys

import pytest
from fixtures_tools import REPO, run_without_openmmlab


@pytest.mark.e2e
def test_benchmark_runs_without_mmengine_and_reports(tmp_path):
    out = tmp_path / 'bench.json'
    args = [
        '--device', 'cpu', '--channels', '4', '--cells', '3', '--batch-size', '8', '--train-size',
        '20', '--valid-size', '12', '--candidates', '2', '--check-steps', '2', '--threads', '1',
        '--variant', 'sgd=loop,warmup_steps=2', '--json',
        str(out)
    ]
    proc = run_without_openmmlab('tools/benchmark_search.py', *args, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert set(report['engines']) == {'eager', 'fast[sgd=loop,warmup_steps=2]'}
    assert len(report['genotypes']) == 2
    for name, diff in report['check'].items():  # the search's 1e-4 rule
        assert diff['loss'] <= 1e-4 and diff['train_loss'] <= 1e-4, name
        # 2 candidates x (2 training + 3 validation steps), none from graphs on the CPU
        assert (diff['graphs'], diff['graph_steps'], diff['steps']) == (False, 0, 10)
    eager = report['engines']['eager']
    for name in ['fast[sgd=loop,warmup_steps=2]']:
        row = report['engines'][name]
        assert row['max_rel_diff']['loss'] < 0.05 and row['max_rel_diff']['train_loss'] < 0.05
        assert row['speedup'] == pytest.approx(eager['seconds_per_candidate'] /
                                               row['seconds_per_candidate'])
        # 1000 candidates at 25k + 25k images, scaled from 20 + 12 images
        per_image = row['seconds_per_candidate'] / 32
        assert row['projected_search_minutes'] == pytest.approx(per_image * 50000 * 1000 / 60)
        assert row['peak_memory_mb'] > 0
        assert row['candidates_per_minute'] == pytest.approx(60 / row['seconds_per_candidate'])
    traffic = report['result_bytes']
    assert 0 < traffic['per_result'] < traffic['weight_set'] / 2  # the trained part only
    assert 'result traffic:' in proc.stdout
    assert 'same-results check [sgd=loop,warmup_steps=2]' in proc.stdout
    assert '-> PASS' in proc.stdout and ' vs eager ' in proc.stdout
    assert '(2 training steps, IEEE; CUDA graphs off)' in proc.stdout
    assert '/min)' in proc.stdout and 'paper-scale search (pop 20, 50 generations)' in proc.stdout


def _benchmark_module():
    sys.path.insert(0, osp.join(REPO, 'tools'))
    try:
        import benchmark_search
    finally:
        sys.path.pop(0)
    return benchmark_search


def test_bad_variant_is_refused():
    parse_variant = _benchmark_module().parse_variant
    assert parse_variant('channels_last=1, norm=native,streams=4') == dict(
        channels_last=1, norm='native', streams=4)
    assert parse_variant('') == {}
    with pytest.raises(ValueError, match="expected k=v items, got 'streams'"):
        parse_variant('streams')


def test_the_same_results_check_fails_a_graph_variant_that_replayed_nothing():
    """On CUDA a variant with graphs must have replayed some of the check's steps
    (with one training step nothing is captured, which the old default hid)."""
    verdict = _benchmark_module().check_verdict
    close = dict(loss=1e-6, train_loss=1e-6)
    assert verdict(dict(close, graphs=True, graph_steps=8)) == 'PASS'
    assert verdict(dict(close, graphs=False, graph_steps=0)) == 'PASS'  # CPU, or cuda_graph=0
    assert verdict(dict(close, graphs=True, graph_steps=0)).startswith('FAIL (no step ran')
    assert verdict(dict(close, loss=2e-4, graphs=True, graph_steps=8)) == 'FAIL'
