"""End to end: the BiSeNetV1 Cityscapes config trains and tests on tiny Cityscapes data.

Only --cfg-options shrink it: RelNASNet context path with C=8 and 5 cells, narrow
BiSeNet paths and heads, 64x64 crops of 128x64 images, 2 iterations. Dataset
layout, OHEM and the IoU metric are the config's.
"""
import os

import pytest
from fixtures_downstream import (LOADER_OPTIONS, SMALL_SEG, check_ok, cli_options,
                                 make_cityscapes, read_test_metrics, run_tool)

pytest.importorskip('mmseg')

CONFIG = 'configs/seg/relnas_bisenetv1_cityscapes-1024x1024.py'
SMALL = cli_options(SMALL_SEG) + LOADER_OPTIONS + [
    'model.data_preprocessor.size=(64,64)',
    'train_dataloader.dataset.pipeline.2.scale=(128,64)',  # RandomResize
    'train_dataloader.dataset.pipeline.3.crop_size=(64,64)',  # RandomCrop
    'val_dataloader.dataset.pipeline.1.scale=(128,64)',  # Resize
    'test_dataloader.dataset.pipeline.1.scale=(128,64)',
    'train_cfg.max_iters=2', 'train_cfg.val_interval=2'
]


def test_bisenet_cityscapes_config_trains_and_reports_miou(tmp_path):
    root = make_cityscapes(str(tmp_path / 'cityscapes'))
    work, test_work = str(tmp_path / 'work'), str(tmp_path / 'test')
    out = check_ok(run_tool('tools/train.py', CONFIG, '--work-dir', work, '--data-root', root,
                            '--cfg-options', *SMALL))
    assert 'Iter(val) [1/1]' in out and 'mIoU' in out  # validated after the 2 iterations
    check_ok(run_tool('tools/test.py', CONFIG, os.path.join(work, 'iter_2.pth'), '--work-dir',
                      test_work, '--data-root', root, '--cfg-options', *SMALL))
    miou = read_test_metrics(test_work)['mIoU']
    assert isinstance(miou, float) and 0.0 <= miou <= 100.0
