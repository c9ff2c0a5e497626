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
