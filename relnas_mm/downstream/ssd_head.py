"""``relnas_mm.SSDHeadFixed``: mmdet 3.3.0's SSDHead, able to predict.

mmdet 3.3.0's ``BaseDenseHead._predict_by_feat_single`` reads ``self.loss_cls``
(to ask whether the loss supplies its own activation), but ``SSDHead`` never sets
that attribute: it computes its softmax cross-entropy with hard negative mining
inline. Every SSD prediction (validation, test, inference) therefore fails with
``AttributeError: 'SSDHead' object has no attribute 'loss_cls'`` (upstream issues
#11063, #11305, #11780). This subclass sets ``loss_cls`` to the loss SSD actually
uses, a softmax cross-entropy, so prediction takes the softmax branch SSD needs.
It holds no parameters, so checkpoints are those of ``SSDHead``.
"""
from mmdet.models.dense_heads import SSDHead
from mmdet.registry import MODELS as MMDET_MODELS

from relnas_mm.registry import MODELS


@MODELS.register_module()
class SSDHeadFixed(SSDHead):
    """mmdet's ``SSDHead`` (same arguments and behaviour) that also predicts."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Describes SSD's loss_by_feat (softmax CE over num_classes + background);
        # read only by the prediction path.
        self.loss_cls = MMDET_MODELS.build(
            dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0))
