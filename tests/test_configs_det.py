"""configs/det/relnas_ssd_voc.py: the authors' SSDLite settings, and end to end.

The default config is built and its settings asserted against RelativeNAS's authors'
code (EMI-Group/TransferLearning-Tasks, SSDLite/): anchors, inverted-residual extra
layers, input normalisation, test thresholds.

End to end, it trains and tests on a tiny VOCdevkit, with relnas_mm's tools and with
the upstream tools' path (mmengine's Runner on the config, as mmdet's tools/train.py
runs it, ImageNet weights through model.backbone.init_cfg). Only --cfg-options shrink
it (RelNASNet with C=8 and 5 cells, narrow extra layers, one epoch, small loaders);
input size, anchors, data pipeline, the VOC07+12 datasets and the VOC metric are the
config's. The trained checkpoint is tested with
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
from fixtures_tools import REPO, check_ok, run_tool, run_upstream_train, upstream_pretrained

pytest.importorskip('mmdet')
import math

from mmdet.models.task_modules import DeltaXYWHBBoxCoder
from mmengine.config import Config
from mmengine.registry import MODELS, DefaultScope
from torch import nn

from relnas_mm.apis import register_scope_modules
from relnas_mm.downstream.ssd_head import ClampedSSDAnchorGenerator
from relnas_mm.models.classifiers import imagenet_network

CONFIG = 'configs/det/relnas_ssd_voc.py'
SMALL = cli_options(SMALL_DET) + LOADER_OPTIONS + ['train_cfg.max_epochs=1']
FEATURE_MAPS = [(20, 20), (10, 10), (5, 5), (3, 3), (2, 2), (1, 1)]  # of a 320x320 input


def _config(name: str = CONFIG) -> Config:
    return Config.fromfile(os.path.join(REPO, name))


def _anchor_generator(cfg: Config) -> ClampedSSDAnchorGenerator:
    gen = cfg.model.bbox_head.anchor_generator
    assert gen.type == 'relnas_mm.ClampedSSDAnchorGenerator'
    return ClampedSSDAnchorGenerator(**{k: v for k, v in gen.items() if k != 'type'})


def test_anchors_are_the_authors_priors():
    """ssdlite_config.py: SSDSpec(20, 16, (60, 105)), (10, 32, (105, 150)), (5, 64,
    (150, 195)), (3, 100, (195, 240)), (2, 150, (240, 285)), (1, 300, (285, 330)), ratios
    2 and 3: per cell the min square, the sqrt(min * max) square and 4 rectangles of the
    min size, centred at (i + 0.5) * stride, widths and heights clamped to the image."""
    anchors = _anchor_generator(_config()).grid_priors(FEATURE_MAPS, device='cpu')
    specs = [(16, 60, 105), (32, 105, 150), (64, 150, 195), (100, 195, 240), (150, 240, 285),
             (300, 285, 330)]
    for level, ((size, _), (stride, low, high)) in enumerate(zip(FEATURE_MAPS, specs)):
        boxes = anchors[level]
        assert len(boxes) == size * size * 6
        centres = ((boxes[:, :2] + boxes[:, 2:]) / 2)[::6]
        expected = [(i + 0.5) * stride for i in range(size)]
        assert sorted({round(float(x), 3) for x in centres[:, 0]}) == pytest.approx(expected)
        wh = sorted(tuple(pair) for pair in (boxes[:6, 2:] - boxes[:6, :2]).tolist())
        root2, root3 = math.sqrt(2), math.sqrt(3)
        big = math.sqrt(low * high)
        shapes = [(low, low), (big, big), (low * root2, low / root2), (low / root2, low * root2),
                  (low * root3, low / root3), (low / root3, low * root3)]
        clamped = sorted((min(w, 320), min(h, 320)) for w, h in shapes)
        flat = [v for pair in wh for v in pair]
        assert flat == pytest.approx([v for pair in clamped for v in pair], abs=0.02), level


def test_extra_layers_are_linear_inverted_residuals():
    cfg = _config()
    with DefaultScope.overwrite_default_scope(register_scope_modules(cfg)):
        neck = MODELS.build(cfg.model.neck)
    assert cfg.model.neck.type == 'relnas_mm.SSDLiteNeck'
    widths = [(736, 147, 512), (512, 128, 256), (256, 128, 256), (256, 64, 64)]  # round(in*r)
    assert len(neck.extra_layers) == 4
    for layer, (cin, hidden, cout) in zip(neck.extra_layers, widths):
        expand, depthwise, project = layer
        assert (expand.conv.in_channels, expand.conv.out_channels) == (cin, hidden)
        assert depthwise.conv.groups == hidden and depthwise.conv.stride == (2, 2)
        assert (project.conv.in_channels, project.conv.out_channels) == (hidden, cout)
        assert type(expand.activate) is nn.ReLU6 and type(depthwise.activate) is nn.ReLU6
        assert not project.with_activation  # linear bottleneck
        for block in layer:  # PyTorch-default BN, as the authors'
            assert (block.bn.eps, block.bn.momentum) == (1e-5, 0.1)
    feats = (torch.zeros(1, 368, 20, 20), torch.zeros(1, 736, 10, 10))
    with torch.no_grad():
        outs = neck.eval()(feats)
    assert [tuple(o.shape[1:]) for o in outs] == [(368, 20, 20), (736, 10, 10), (512, 5, 5),
                                                  (256, 3, 3), (256, 2, 2), (64, 1, 1)]


def test_normalisation_and_test_rule_are_the_authors():
    model = _config().model
    assert model.data_preprocessor.mean == [127.0] * 3  # (x - 127) / 128
    assert model.data_preprocessor.std == [128.0] * 3
    test = model.test_cfg
    assert test.score_thr == 0.01 and test.candidates_per_class == 200
    assert test.nms == dict(type='nms', iou_threshold=0.45)
    assert test.nms_pre >= 20 * 20 * 6 * 20  # no cap before the per-class one
    assert test.max_per_img >= 200 * 20  # nor after NMS
    assert test.min_bbox_size < 0
    expand = _config().train_dataloader.dataset.datasets[0].pipeline[2]
    assert expand.type == 'Expand' and expand.mean == [127, 127, 127]


def test_mobilenetv2_baseline_takes_96_and_1280_channel_features():
    cfg = _config('configs/det/mobilenetv2_ssd_voc.py')
    assert cfg.model.backbone.out_indices == (4, 7)
    assert cfg.model.neck.in_channels == 1280
    assert cfg.model.bbox_head.in_channels == (96, 1280, 512, 256, 256, 64)


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
    anchors = _anchor_generator(Config.fromfile(os.path.join(REPO, CONFIG))).grid_priors(
        FEATURE_MAPS, device='cpu')[-1]
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


@pytest.mark.e2e
def test_ssd_voc_config_trains_with_the_upstream_tools_and_backbone_init_cfg(tmp_path):
    """mmdet's tools/train.py path: no relnas_mm tool, no top-level pretrained=; the
    ImageNet weights come in through ONE key, model.backbone.init_cfg.checkpoint. The
    stem is frozen, so the trained checkpoint still holds the loaded stem tensors."""
    devkit = make_voc(str(tmp_path))
    weights = str(tmp_path / 'relnas_imagenet.pth')
    torch.manual_seed(3)
    classifier = imagenet_network(channels=8, num_cells=5).state_dict()
    torch.save({'state_dict': classifier}, weights)
    data = [f'train_dataloader.dataset.datasets.{i}.data_root={devkit}/' for i in (0, 1)
            ] + [f'{phase}_dataloader.dataset.data_root={devkit}/' for phase in ('val', 'test')]
    options = upstream_pretrained('model.backbone', weights)
    assert options == [f'model.backbone.init_cfg.checkpoint={weights}']
    out = check_ok(
        run_upstream_train(CONFIG, str(tmp_path / 'work'), *SMALL, *data, *options,
                           'model.backbone.frozen_stages=0'))
    assert f'load backbone. in model from: {weights}' in out
    assert 'Epoch(train) [1][3/3]' in out and 'pascal_voc/mAP' in out
    trained = torch.load(str(tmp_path / 'work' / 'epoch_1.pth'), map_location='cpu')
    assert torch.equal(trained['state_dict']['backbone.stem0.0.weight'],
                       classifier['backbone.stem0.0.weight'])
