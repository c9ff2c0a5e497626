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
"""
from mmdet.models.dense_heads import SSDHead
from mmdet.registry import MODELS as MMDET_MODELS
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData
import torch

from relnas_mm.registry import MODELS

from .ssdlite import xavier_uniform_convs


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
