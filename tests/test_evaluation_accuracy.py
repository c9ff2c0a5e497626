"""relnas_mm.evaluation.Accuracy: top-k accuracy from the classifier's predictions."""
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.structures import BaseDataElement

import relnas_mm  # noqa: F401  (registers the metric)
from relnas_mm.evaluation import Accuracy, topk_accuracy
from relnas_mm.registry import METRICS

SCORES = torch.tensor([[0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1], [0.2, 0.5, 0.1, 0.25],
                       [0.0, 0.1, 0.6, 0.3]])
# The label is ranked 1st, 3rd, 4th and 4th: top1 25%, top3 50%, top4 100%.
LABELS = torch.tensor([3, 2, 2, 0])


def test_topk_accuracy_values():
    acc = topk_accuracy(SCORES, LABELS, (1, 3, 4))
    assert acc == {1: 25.0, 3: 50.0, 4: 100.0}


def test_topk_larger_than_the_class_count_is_an_error():
    with pytest.raises(ValueError, match='top-5'):
        topk_accuracy(SCORES, LABELS, (1, 5))


def test_metric_through_an_evaluator_with_data_elements():
    evaluator = Evaluator(METRICS.build(dict(type='relnas_mm.Accuracy', topk=(1, 3))))
    for s, y in zip(SCORES, LABELS):
        sample = BaseDataElement(
            gt_label=torch.tensor([int(y)]), pred_score=s, pred_label=s.argmax().reshape(1))
        evaluator.process([sample])
    assert evaluator.evaluate(4) == {'accuracy/top1': 25.0, 'accuracy/top3': 50.0}


def test_missing_fields_and_bad_topk():
    metric = Accuracy(topk=1)
    with pytest.raises(KeyError, match='pred_score'):
        metric.process(None, [{'gt_label': torch.tensor([1])}])
    with pytest.raises(ValueError, match='topk'):
        Accuracy(topk=(0, ))
