"""A rank's CUDA graph fallbacks reach the run log of rank 0 (tools/search.py in process).

The results carry them (``capture_failures``, ``cuda_graphs``); here an evaluator stands in
for a GPU one whose capture of candidate 1 fails. The ranks other than 0 are covered by
``FallbackLog``'s test in test_engine_log_bridge.py (rank 0 sees their gathered results).
"""

import pytest

pytest.importorskip('mmengine')

from test_tools_search import _two_generations_with

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
    log = _two_generations_with(monkeypatch, str(tmp_path / 'capture_fallback'), data_root,
                                CaptureFailsForCandidateOne)
    assert log.count('rank 0: CUDA graph capture failed for candidate 1 (') == 2
    assert '(2 failure(s) on rank 0 so far); it was rerun eagerly' in log
    assert ('CUDA graphs in this run: rank 0: 8 candidate(s), 6 from CUDA graphs, 2 capture '
            'failure(s)') in log
