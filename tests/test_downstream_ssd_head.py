"""relnas_mm.SSDHeadFixed: mmdet 3.3.0's SSDHead, but prediction works, with the
authors' per-class candidate cap and init."""
import pytest
import torch

pytest.importorskip('mmdet')
from mmdet.models.dense_heads import SSDHead
from mmdet.models.task_modules import SSDAnchorGenerator
from mmengine.config import ConfigDict
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData

from relnas_mm.downstream.ssd_head import (TASK_UTILS, ClampedSSDAnchorGenerator, SSDHeadFixed,
                                           keep_top_per_class)
from relnas_mm.registry import MODELS

CHANNELS = (16, 32, 8, 8, 8, 8)
ANCHORS = dict(type='SSDAnchorGenerator', scale_major=False, strides=[16, 32, 64, 107, 160, 320],
               ratios=[[2, 3]] * 6, min_sizes=[48, 100, 150, 202, 253,
                                               304], max_sizes=[100, 150, 202, 253, 304, 320])
TEST_CFG = ConfigDict(nms_pre=100, nms=dict(type='nms', iou_threshold=0.45), min_bbox_size=0,
                      score_thr=0.02, max_per_img=20)
SIZES = (20, 10, 5, 3, 2, 1)  # feature maps of a 320x320 input


def _head(cls):
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmdet'):  # whatever scope earlier tests left
        return cls(
            num_classes=3, in_channels=CHANNELS, use_depthwise=True, anchor_generator=ANCHORS,
            bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[.0] * 4,
                            target_stds=[0.1, 0.1, 0.2, 0.2]), test_cfg=TEST_CFG).eval()


def _predict(head):
    feats = [torch.randn(1, c, s, s) for c, s in zip(CHANNELS, SIZES)]
    metas = [dict(img_shape=(320, 320), ori_shape=(320, 320), scale_factor=(1.0, 1.0))]
    with torch.no_grad():
        cls_scores, bbox_preds = head(feats)
        return head.predict_by_feat(cls_scores, bbox_preds, batch_img_metas=metas)


def test_mmdet_ssd_head_cannot_predict():
    """The upstream bug this class exists for (drop the class once mmdet fixes it)."""
    with pytest.raises(AttributeError, match="no attribute 'loss_cls'"):
        _predict(_head(SSDHead))


def test_fixed_head_predicts_softmax_scores():
    results = _predict(_head(SSDHeadFixed))
    assert len(results) == 1
    boxes, scores, labels = results[0].bboxes, results[0].scores, results[0].labels
    assert boxes.shape[1] == 4 and len(boxes) == len(scores) == len(labels) <= 20
    assert len(boxes) > 0
    assert ((scores >= 0.02) & (scores <= 1)).all()  # softmax probabilities over the threshold
    assert ((labels >= 0) & (labels < 3)).all()  # background (index 3) never a label


def test_same_parameters_as_mmdet_head_and_registered():
    fixed, plain = _head(SSDHeadFixed), _head(SSDHead)
    assert fixed.state_dict().keys() == plain.state_dict().keys()  # checkpoints interchange
    assert MODELS.get('SSDHeadFixed') is SSDHeadFixed


def test_keep_top_per_class_keeps_each_labels_best_boxes():
    scores = torch.tensor([0.9, 0.1, 0.8, 0.7, 0.6, 0.5, 0.4])
    labels = torch.tensor([0, 0, 1, 0, 1, 1, 2])
    results = InstanceData(scores=scores, labels=labels, bboxes=torch.arange(7.).repeat(4, 1).T)
    kept = keep_top_per_class(results, 2)
    assert kept.scores.tolist() == pytest.approx([0.9, 0.8, 0.7, 0.6, 0.4])  # score order
    assert kept.labels.tolist() == [0, 1, 0, 1, 2]
    assert kept.bboxes[:, 0].tolist() == [0, 2, 3, 4, 6]


def test_candidates_per_class_caps_the_boxes_before_nms():
    head = _head(SSDHeadFixed)
    head.test_cfg = ConfigDict(TEST_CFG, score_thr=0.0, max_per_img=100000, nms_pre=100000,
                               nms=dict(type='nms', iou_threshold=1.0), candidates_per_class=5)
    result = _predict(head)[0]
    assert len(result) == 3 * 5  # 3 classes, 5 candidates each, NMS removing none
    assert torch.bincount(result.labels).tolist() == [5, 5, 5]


def test_convs_start_xavier_uniform():
    head = _head(SSDHeadFixed)
    head.init_weights()
    conv = head.cls_convs[0][-1]  # 1x1, 16 -> 6 priors x 4 scores
    bound = (6 / (conv.in_channels + conv.out_channels))**0.5
    assert conv.weight.abs().max() <= bound
    assert conv.weight.abs().max() > 0.8 * bound  # uniform up to the bound, not 0.001-normal


def test_clamped_anchors_differ_from_mmdets_only_where_wider_than_the_image():
    args = dict(ANCHORS, min_sizes=[60, 105, 150, 195, 240, 285],
                max_sizes=[105, 150, 195, 240, 285, 330], strides=[16, 32, 64, 100, 150, 300])
    args.pop('type')
    plain = SSDAnchorGenerator(**args).grid_priors(list(zip(SIZES, SIZES)), device='cpu')
    clamped = ClampedSSDAnchorGenerator(**args, clamp_size=320).grid_priors(
        list(zip(SIZES, SIZES)), device='cpu')
    for level, (a, b) in enumerate(zip(plain, clamped)):
        wh_a, wh_b = a[:, 2:] - a[:, :2], b[:, 2:] - b[:, :2]
        assert torch.allclose((a[:, :2] + a[:, 2:]) / 2, (b[:, :2] + b[:, 2:]) / 2)
        assert torch.allclose(wh_b, wh_a.clamp(max=320))
        assert bool((wh_a > 320).any()) == (level >= 3)  # 195 * sqrt(3) > 320 from level 3
    assert TASK_UTILS.get('ClampedSSDAnchorGenerator') is ClampedSSDAnchorGenerator
