"""``relnas_mm.SSDHeadFixed``: mmdet 3.3.0's SSDHead, able to predict, with the
authors' test-time candidate rule and init.

Prediction: mmdet 3.3.0's ``BaseDenseHead._predict_by_feat_single`` reads
``self.loss_cls`` (to ask whether the loss supplies its own activation), but
``SSDHead`` never sets that attribute: it computes its softmax cross-entropy with
hard negative mining inline. Every SSD prediction (validation, test, inference)
therefore fails with ``AttributeError: 'SSDHead' object has no attribute
'loss_cls'`` (upstream issues #11063, #11305, #11780). This subclass sets
``loss_cls`` to the loss SSD actually uses, a softmax cross-entropy, so prediction
takes the softmax branch SSD needs. It holds no extra parameters, so checkpoints
are those of ``SSDHead``.

Candidates: RelativeNAS's authors (EMI-Group/TransferLearning-Tasks,
``SSDLite/vision/ssd/predictor.py``) keep, per class, the 200 highest-scoring boxes
above the score threshold before NMS, and every box NMS keeps. mmdet caps the
boxes per feature level before NMS (``nms_pre``) and per image after it
(``max_per_img``); ``test_cfg.candidates_per_class`` adds the authors' per-class cap.

Init: the authors start the head's convs Xavier-uniform.

Priors: ``relnas_mm.ClampedSSDAnchorGenerator`` is mmdet's ``SSDAnchorGenerator``
with the authors' clamping (``SSDLite/vision/utils/box_utils.py``,
``generate_ssd_priors(clamp=True)``): no prior is wider or taller than the image.
"""
from typing import List

import torch
from mmdet.models.dense_heads import SSDHead
from mmdet.models.task_modules import SSDAnchorGenerator
from mmdet.registry import MODELS as MMDET_MODELS
from mmengine.config import ConfigDict
from mmengine.registry import TASK_UTILS as MMENGINE_TASK_UTILS
from mmengine.registry import Registry
from mmengine.structures import InstanceData

from relnas_mm.registry import MODELS
from .ssdlite import xavier_uniform_convs

TASK_UTILS = Registry('task util', parent=MMENGINE_TASK_UTILS, scope='relnas_mm',
                      locations=['relnas_mm.downstream.ssd_head'])


@TASK_UTILS.register_module()
class ClampedSSDAnchorGenerator(SSDAnchorGenerator):
    """mmdet's ``SSDAnchorGenerator`` (same arguments) whose priors are at most
    ``clamp_size`` pixels wide and tall, centres unchanged."""

    def __init__(self, *args, clamp_size: int = 320, **kwargs) -> None:
        self.clamp_size = clamp_size
        super().__init__(*args, **kwargs)

    def gen_base_anchors(self) -> List[torch.Tensor]:
        clamped = []
        for anchors in super().gen_base_anchors():
            centre = (anchors[:, :2] + anchors[:, 2:]) / 2
            half = (anchors[:, 2:] - anchors[:, :2]).clamp(max=self.clamp_size) / 2
            clamped.append(torch.cat([centre - half, centre + half], dim=1))
        return clamped


def keep_top_per_class(results: InstanceData, per_class: int) -> InstanceData:
    """The ``per_class`` highest-scoring boxes of each label, in score order."""
    order = torch.argsort(results.scores, descending=True)
    order = order[torch.sort(results.labels[order], stable=True).indices]
    labels = results.labels[order]
    counts = torch.bincount(labels)
    first = torch.cumsum(counts, 0) - counts
    rank = torch.arange(len(order), device=order.device) - first[labels]
    kept = order[rank < per_class]
    return results[kept[torch.argsort(results.scores[kept], descending=True)]]


@MODELS.register_module()
class SSDHeadFixed(SSDHead):
    """mmdet's ``SSDHead`` (same arguments and parameters) that also predicts, honours
    ``test_cfg.candidates_per_class`` and starts its convs Xavier-uniform."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Describes SSD's loss_by_feat (softmax CE over num_classes + background);
        # read only by the prediction path.
        self.loss_cls = MMDET_MODELS.build(
            dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0))

    def init_weights(self) -> None:
        """mmdet's init, then the authors' Xavier-uniform conv weights."""
        super().init_weights()
        xavier_uniform_convs(self)

    def _bbox_post_process(self, results: InstanceData, cfg: ConfigDict, rescale: bool = False,
                           with_nms: bool = True, img_meta: dict = None) -> InstanceData:
        per_class = cfg.get('candidates_per_class')
        if per_class and len(results) > 0:
            results = keep_top_per_class(results, per_class)
        return super()._bbox_post_process(results, cfg, rescale, with_nms, img_meta)
