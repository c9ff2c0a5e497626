"""End to end: the BiSeNetV1 Cityscapes config trains and tests on tiny Cityscapes data,
with both test protocols (single scale; --tta: multi-scale + flip, sliding windows).

Only --cfg-options shrink it: RelNASNet context path with C=8 and 5 cells, narrow
BiSeNet paths and heads, 64x64 crops of 128x64 images (64x64 windows under --tta),
2 iterations. Dataset layout, the OHEM loss, the optimiser groups, the TTA views and
the IoU metric are the config's. The trained checkpoint is tested with its classifier
set to call every pixel "road": the mIoU of both protocols is then known exactly from
the label files.
"""
import glob
import os

import numpy as np
import pytest
import torch
from fixtures_downstream import (LOADER_OPTIONS, SMALL_SEG, cli_options, make_cityscapes,
                                 read_test_metrics)
from fixtures_tools import check_ok, run_tool, tool_config
from PIL import Image

pytest.importorskip('mmseg')

CONFIG = 'configs/seg/relnas_bisenetv1_cityscapes-1024x1024.py'
SMALL = cli_options(SMALL_SEG) + LOADER_OPTIONS + [
    'model.data_preprocessor.size=(64,64)',
    'train_dataloader.dataset.pipeline.2.scale=(128,64)',  # RandomResize
    'train_dataloader.dataset.pipeline.3.crop_size=(64,64)',  # RandomCrop
    'val_dataloader.dataset.pipeline.1.scale=(128,64)',  # Resize
    'test_dataloader.dataset.pipeline.1.scale=(128,64)',
    'train_cfg.max_iters=2',
    'train_cfg.val_interval=2'
]
SMALL_TTA = [
    'tta_model.module.test_cfg.crop_size=(64,64)', 'tta_model.module.test_cfg.stride=(43,43)'
]


def test_tta_protocol_is_six_scales_flipped_with_sliding_windows():
    cfg = tool_config('test', CONFIG, 'c.pth', '--tta')
    assert cfg.model.type == 'SegTTAModel'
    assert cfg.model.module.type == 'EncoderDecoder'
    assert cfg.model.module.test_cfg == dict(mode='slide', crop_size=(1024, 1024),
                                             stride=(683, 683))
    load, tta = cfg.test_dataloader.dataset.pipeline
    assert load.type == 'LoadImageFromFile' and tta.type == 'TestTimeAug'
    scales, flips, annotations, pack = tta.transforms
    assert [t.scale_factor for t in scales] == [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
    assert [(t.type, t.prob) for t in flips] == [('RandomFlip', 0.), ('RandomFlip', 1.)]
    # without --tta: single scale on the whole image
    plain = tool_config('test', CONFIG, 'c.pth')
    assert plain.model.test_cfg == dict(mode='whole')
    assert [t.type for t in plain.test_dataloader.dataset.pipeline
            ] == ['LoadImageFromFile', 'Resize', 'LoadAnnotations', 'PackSegInputs']


def _all_road(checkpoint: str, out: str) -> str:
    """A copy of the checkpoint whose decode head scores train id 0 (road) highest at
    every pixel, whatever the image."""
    state = torch.load(checkpoint, map_location='cpu', weights_only=False)
    weights = state['state_dict']
    weights['decode_head.conv_seg.weight'].zero_()
    weights['decode_head.conv_seg.bias'].zero_()[0] = 1.0
    torch.save(state, out)
    return out


def _all_road_miou(root: str) -> float:
    """mIoU (percent, 2 decimals, as mmseg logs it) of calling every pixel road: road's
    IoU is its share of the non-ignored pixels; every other class present scores 0."""
    labels = np.stack([
        np.asarray(Image.open(p))
        for p in sorted(glob.glob(os.path.join(root, 'gtFine', 'val', '*', '*_labelTrainIds.png')))
    ])
    valid = labels != 255
    present = np.unique(labels[valid])
    return round(100.0 * (labels == 0).sum() / valid.sum() / len(present), 2)


@pytest.mark.e2e
def test_bisenet_cityscapes_config_trains_and_reports_miou_with_both_protocols(tmp_path):
    root = make_cityscapes(str(tmp_path / 'cityscapes'))
    work = str(tmp_path / 'work')
    out = check_ok(
        run_tool('tools/train.py', CONFIG, '--work-dir', work, '--data-root', root, '--cfg-options',
                 *SMALL))
    assert 'Iter(val) [1/1]' in out and 'mIoU' in out  # validated after the 2 iterations
    assert 'model.backbone.backbone_cfg starts without pretrained weights' in out
    checkpoint = _all_road(os.path.join(work, 'iter_2.pth'), str(tmp_path / 'road.pth'))
    expected = _all_road_miou(root)
    assert 0 < expected < 100 / 3  # road, sky and car in the labels
    for protocol, extra in (('single', []), ('tta', ['--tta'])):
        test_work = str(tmp_path / protocol)
        out = check_ok(
            run_tool('tools/test.py', CONFIG, checkpoint, '--work-dir', test_work, '--data-root',
                     root, *extra, '--cfg-options', *SMALL, *(SMALL_TTA if extra else [])))
        assert read_test_metrics(test_work)['mIoU'] == pytest.approx(expected, abs=1e-6)
    assert 'SegTTAModel' in out  # the last run's logged config
