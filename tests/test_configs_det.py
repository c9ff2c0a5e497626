"""End to end: configs/det/relnas_ssd_voc.py trains and tests on a tiny VOCdevkit.

Only --cfg-options shrink it (RelNASNet with C=8 and 5 cells, narrow extra layers,
one epoch, small loaders); input size, anchors, data pipeline, the VOC07+12
datasets and the VOC metric are the config's.
"""
import os

import pytest
from fixtures_downstream import (LOADER_OPTIONS, SMALL_DET, check_ok, cli_options, make_voc,
                                 read_test_metrics, run_tool)

pytest.importorskip('mmdet')

CONFIG = 'configs/det/relnas_ssd_voc.py'
SMALL = cli_options(SMALL_DET) + LOADER_OPTIONS + ['train_cfg.max_epochs=1']


@pytest.mark.e2e
def test_ssd_voc_config_trains_and_reports_map(tmp_path):
    devkit = make_voc(str(tmp_path))
    work, test_work = str(tmp_path / 'work'), str(tmp_path / 'test')
    out = check_ok(run_tool('tools/train.py', CONFIG, '--work-dir', work, '--data-root', devkit,
                            '--cfg-options', *SMALL))
    assert 'Epoch(train) [1][3/3]' in out  # 4 + 2 trainval images of VOC2007 + VOC2012
    assert 'pascal_voc/mAP' in out  # validation ran: SSD predicted (the SSDHead fix)
    check_ok(run_tool('tools/test.py', CONFIG, os.path.join(work, 'epoch_1.pth'),
                      '--work-dir', test_work, '--data-root', devkit, '--cfg-options', *SMALL))
    mean_ap = read_test_metrics(test_work)['pascal_voc/mAP']
    assert isinstance(mean_ap, float) and 0.0 <= mean_ap <= 1.0
