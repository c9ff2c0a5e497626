"""The search core's log lines (a failed capture, a worker's message) in the run log."""
import logging

import pytest

pytest.importorskip('mmengine')

from mmengine.logging import MMLogger

from relnas_mm.engine.log_bridge import CoreLogBridge


def test_core_records_reach_the_run_log_file_while_attached(tmp_path):
    log_file = tmp_path / 'run.log'
    run_logger = MMLogger.get_instance('log_bridge_test', log_file=str(log_file))
    core = logging.getLogger('relnas_mm')
    saved = (core.level, core.propagate, list(core.handlers))
    bridge = CoreLogBridge(run_logger)
    bridge.attach()
    core.warning('capture failed for candidate %d', 3)
    bridge.detach()
    core.warning('after the run')
    for handler in run_logger.handlers:
        handler.flush()
    text = log_file.read_text()
    assert 'capture failed for candidate 3' in text and 'WARNING' in text
    assert 'after the run' not in text
    assert (core.level, core.propagate, core.handlers) == saved


def test_fallbacks_of_every_rank_are_logged_with_totals():
    """Rank 0 sees every rank's results after the gather: one line per fallback,
    naming the rank, and the totals per rank at the end."""
    from relnas_mm.engine.log_bridge import FallbackLog
    from relnas_mm.search.evaluator import CandidateResult
    from relnas_mm.search.fast_parallel import PackedResult

    lines = []
    target = logging.getLogger('fallback_log_test')
    target.setLevel(logging.INFO)
    handler = logging.Handler()
    handler.emit = lambda record: lines.append((record.levelname, record.getMessage()))
    target.addHandler(handler)
    fallbacks = FallbackLog(target)

    def result(index, graphs, failures=0):
        return CandidateResult(index, 1.0, 0.5, 1.0, {}, True, capture_failures=failures,
                               cuda_graphs=graphs)

    events = [(0, result(0, True)), (3, result(1, True)), (3, result(5, False, 1)),
              (3, result(7, True)), (3, result(9, False, 1)), (3, result(11, False)),
              (3, result(13, False)), (0, result(2, True))]
    for rank, r in events:
        fallbacks.record(rank, PackedResult.of(r).unpack())  # as gathered from the ranks
    assert [m for _, m in lines] == [
        'rank 3: CUDA graph capture failed for candidate 5 (1 failure(s) on rank 3 so far); '
        'it was rerun eagerly',
        'rank 3: CUDA graph capture failed for candidate 9 (2 failure(s) on rank 3 so far); '
        'it was rerun eagerly',
        'rank 3: candidate 11 ran eagerly, CUDA graphs are off on rank 3 (several times '
        'slower; every rank waits for it at the gather)'
    ]
    fallbacks.log_totals()
    assert lines[-1] == ('WARNING', 'CUDA graphs in this run: rank 0: 2 candidate(s), 2 from '
                         'CUDA graphs, 0 capture failure(s); rank 3: 6 candidate(s), 2 from CUDA '
                         'graphs, 2 capture failure(s)')
    cpu = FallbackLog(target)  # no graphs anywhere (the CPU): nothing fell back
    cpu.record(0, result(0, False))
    cpu.log_totals()
    assert lines[-1][0] == 'INFO' and len(lines) == 5
    target.removeHandler(handler)
