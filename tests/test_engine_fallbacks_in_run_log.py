"""A rank's CUDA graph fallbacks reach the run log of rank 0 (tools/search.py in process).

The results carry them (``capture_failures``, ``cuda_graphs``); here an evaluator stands in
for a GPU one whose capture of candidate 1 fails. The ranks other than 0 are covered by
``FallbackLog``'s test in test_engine_log_bridge.py (rank 0 sees their gathered results).
"""
import glob
import os.path as osp

import pytest

pytest.importorskip('mmengine')

from test_tools_search import _args, _search_in_process

from relnas_mm.search import EagerEvaluator


class CaptureFailsForCandidateOne(EagerEvaluator):
    """The reference, reporting what a CUDA-graph engine reports: graphs for every
    candidate but 1, whose capture failed (it ran eagerly)."""

    def evaluate(self, job):
        result = super().evaluate(job)
        result.capture_failures = int(job.index == 1)
        result.cuda_graphs = job.index != 1
        return result


@pytest.mark.e2e
def test_a_failed_capture_is_logged_with_its_rank_and_totalled(monkeypatch, data_root, tmp_path):
    work_dir = str(tmp_path / 'fallback')
    _search_in_process(
        monkeypatch, 'capture_fallback',
        *_args(work_dir, data_root, 'search.algorithm.generations=2',
               f'search.evaluator.type={__name__}.CaptureFailsForCandidateOne'))
    log = open(glob.glob(osp.join(work_dir, '*', '*.log'))[0]).read()
    assert log.count('rank 0: CUDA graph capture failed for candidate 1 (') == 2
    assert '(2 failure(s) on rank 0 so far); it was rerun eagerly' in log
    assert ('CUDA graphs in this run: rank 0: 8 candidate(s), 6 from CUDA graphs, 2 capture '
            'failure(s)') in log
