"""End to end: the SimpleBaseline COCO config trains and tests on tiny COCO keypoints.

Only --cfg-options shrink it: RelNASNet with C=8 and 5 cells (stride-32 stage of
128 channels) and 16-filter deconvolutions. Input 256x192, heatmap codec, COCO
layout with detected val boxes and mmpose's CocoMetric: the config's.
"""
import os

import pytest
from fixtures_downstream import (LOADER_OPTIONS, check_ok, make_coco_keypoints,
                                 read_test_metrics, run_tool)

pytest.importorskip('mmpose')

CONFIG = 'configs/pose/relnas_simplebaseline_coco-256x192.py'
SMALL = ['model.backbone.base_channels=8', 'model.backbone.num_cells=5',
         'model.head.in_channels=128', 'model.head.deconv_out_channels=(16,16,16)',
         'train_cfg.max_epochs=1'] + LOADER_OPTIONS


def test_simplebaseline_coco_config_trains_and_reports_ap(tmp_path):
    root = make_coco_keypoints(str(tmp_path / 'coco'))
    work, test_work = str(tmp_path / 'work'), str(tmp_path / 'test')
    out = check_ok(run_tool('tools/train.py', CONFIG, '--work-dir', work, '--data-root', root,
                            '--cfg-options', *SMALL))
    assert 'Epoch(train) [1][2/2]' in out
    check_ok(run_tool('tools/test.py', CONFIG, os.path.join(work, 'epoch_1.pth'), '--work-dir',
                      test_work, '--data-root', root, '--cfg-options', *SMALL))
    metrics = read_test_metrics(test_work)
    assert isinstance(metrics['coco/AP'], float) and -1.0 <= metrics['coco/AP'] <= 1.0
