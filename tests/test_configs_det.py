"""End to end: configs/det/relnas_ssd_voc.py trains and tests on a tiny VOCdevkit.

Only --cfg-options shrink it (RelNASNet with C=8 and 5 cells, narrow extra layers,
one epoch, small loaders); input size, anchors, data pipeline, the VOC07+12
datasets and the VOC metric are the config's. The trained checkpoint is tested with
its head set to return fixed boxes at its 1x1 level, whatever the image, on the first
test image: the 11-point mAP is then known exactly from that image's annotation.
"""
import os
import re
import xml.etree.ElementTree as ET
from typing import Dict, Sequence, Tuple

import pytest
import torch
from fixtures_downstream import (LOADER_OPTIONS, SMALL_DET, VOC_CLASSES, Box, cli_options, make_voc,
                                 read_test_metrics)
from fixtures_tools import REPO, check_ok, run_tool

pytest.importorskip('mmdet')
from mmdet.models.task_modules import DeltaXYWHBBoxCoder, SSDAnchorGenerator
from mmengine.config import Config

CONFIG = 'configs/det/relnas_ssd_voc.py'
SMALL = cli_options(SMALL_DET) + LOADER_OPTIONS + ['train_cfg.max_epochs=1']
FEATURE_MAPS = [(20, 20), (10, 10), (5, 5), (3, 3), (2, 2), (1, 1)]  # of a 320x320 input


def _first_test_object(devkit: str) -> Tuple[str, Box]:
    """Class and box (VOC's 1-based pixels) of the one object of the first test image."""
    with open(os.path.join(devkit, 'VOC2007', 'ImageSets', 'Main', 'test.txt')) as f:
        name = f.readline().strip()
    (obj, ) = ET.parse(os.path.join(devkit, 'VOC2007', 'Annotations',
                                    f'{name}.xml')).findall('object')
    return obj.find('name').text, tuple(
        int(obj.find(f'bndbox/{k}').text) for k in ('xmin', 'ymin', 'xmax', 'ymax'))


def _fixed_boxes(checkpoint: str, out: str, boxes: Sequence[Tuple[str, float, Box]],
                 scale: float) -> str:
    """A copy of the checkpoint whose head predicts ``(class, logit, box)`` at the
    anchors of its last (1x1) level, in order, and nothing else: every other score is
    background. ``box`` is in image pixels; ``scale`` maps them to the network input."""
    head = Config.fromfile(os.path.join(REPO, CONFIG)).model.bbox_head
    anchors = SSDAnchorGenerator(**{
        k: v
        for k, v in head.anchor_generator.items() if k != 'type'
    }).grid_priors(FEATURE_MAPS, device='cpu')[-1]
    coder = DeltaXYWHBBoxCoder(**{k: v for k, v in head.bbox_coder.items() if k != 'type'})
    state = torch.load(checkpoint, map_location='cpu', weights_only=False)
    weights = state['state_dict']
    num_scores = len(VOC_CLASSES) + 1  # background is the last score

    def last_conv(branch: str, level: int) -> Dict[str, torch.Tensor]:
        layers = {
            int(m.group(1)): m.group(0)
            for key in weights
            for m in [re.fullmatch(rf'bbox_head\.{branch}\.{level}\.(\d+)\.weight', key)] if m
        }
        prefix = layers[max(layers)][:-len('weight')]
        return {p: weights[prefix + p] for p in ('weight', 'bias')}

    for level in range(len(FEATURE_MAPS)):
        cls = last_conv('cls_convs', level)
        cls['weight'].zero_()
        cls['bias'].fill_(-20.0)
        cls['bias'][num_scores - 1::num_scores] = 0.0
    last = len(FEATURE_MAPS) - 1
    cls, reg = last_conv('cls_convs', last), last_conv('reg_convs', last)
    reg['weight'].zero_()
    for anchor, (name, logit, box) in enumerate(boxes):
        cls['bias'][anchor * num_scores + VOC_CLASSES.index(name)] = logit
        target = torch.tensor([box], dtype=torch.float32) * scale
        reg['bias'][anchor * 4:anchor * 4 + 4] = coder.encode(anchors[anchor:anchor + 1], target)[0]
    torch.save(state, out)
    return out


@pytest.mark.e2e
def test_ssd_voc_config_trains_and_reports_map(tmp_path):
    devkit = make_voc(str(tmp_path))
    work, test_work = str(tmp_path / 'work'), str(tmp_path / 'test')
    out = check_ok(
        run_tool('tools/train.py', CONFIG, '--work-dir', work, '--data-root', devkit,
                 '--cfg-options', *SMALL))
    assert 'Epoch(train) [1][3/3]' in out  # 4 + 2 trainval images of VOC2007 + VOC2012
    assert 'pascal_voc/mAP' in out  # validation ran: SSD predicted (the SSDHead fix)

    # On the first test image (96x96 pixels): a wrong class on the object, then two
    # boxes of the right class away from it, then the object's box, scores descending.
    # Its class: detections false, false, true for its one object -> precision 1/3 at
    # recall 1, 11-point AP 1/3; the other class has no object and does not count.
    name, (x1, y1, x2, y2) = _first_test_object(devkit)
    wrong = VOC_CLASSES[(VOC_CLASSES.index(name) + 1) % len(VOC_CLASSES)]
    gt = (x1 - 1, y1 - 1, x2 - 1, y2 - 1)  # mmdet's 0-based pixels
    boxes = [(wrong, 4.0, gt), (name, 3.0, (0, 0, 20, 20)), (name, 2.0, (76, 76, 96, 96)),
             (name, 1.0, gt)]
    fixed = _fixed_boxes(
        os.path.join(work, 'epoch_1.pth'), str(tmp_path / 'fixed.pth'), boxes, scale=320 / 96)
    check_ok(
        run_tool('tools/test.py', CONFIG, fixed, '--work-dir', test_work, '--data-root', devkit,
                 '--cfg-options', *SMALL, 'test_dataloader.dataset.indices=1'))
    assert read_test_metrics(test_work)['pascal_voc/mAP'] == pytest.approx(1 / 3, abs=1e-4)
