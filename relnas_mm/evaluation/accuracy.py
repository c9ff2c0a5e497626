"""Top-k accuracy of a classifier's predictions, as an mmengine metric."""
from typing import Any, Dict, List, Optional, Sequence, Union

import torch
from mmengine.evaluator import BaseMetric

from ..registry import METRICS


def topk_accuracy(scores: torch.Tensor, labels: torch.Tensor,
                  topk: Sequence[int]) -> Dict[int, float]:
    """Percentage of rows whose label is among the k highest scores, for each k."""
    num_classes = scores.shape[1]
    if max(topk) > num_classes:
        raise ValueError(f'top-{max(topk)} accuracy needs at least {max(topk)} classes, '
                         f'the predictions have {num_classes}; lower topk')
    ranked = scores.topk(max(topk), dim=1).indices
    hits = ranked == labels.reshape(-1, 1)
    return {k: 100.0 * hits[:, :k].any(dim=1).float().mean().item() for k in topk}


@METRICS.register_module()
class Accuracy(BaseMetric):
    """Top-k accuracy (percent) from ``pred_score`` and ``gt_label`` of each sample.

    Args:
        topk: the k values to report, as ``accuracy/top{k}``.
        collect_device: see :class:`mmengine.evaluator.BaseMetric`.
        prefix: key prefix (default ``'accuracy'``).
    """

    default_prefix = 'accuracy'

    def __init__(self, topk: Union[int, Sequence[int]] = (1, 5), collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.topk = (topk, ) if isinstance(topk, int) else tuple(topk)
        if not self.topk or any(not isinstance(k, int) or k < 1 for k in self.topk):
            raise ValueError(f'topk must be positive integers, got {topk!r}')

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Keep each sample's score vector and label (on the CPU)."""
        for i, sample in enumerate(data_samples):
            if 'pred_score' not in sample or 'gt_label' not in sample:
                raise KeyError(f'Accuracy: data sample {i} needs pred_score and gt_label, '
                               f'has {sorted(sample)}')
            label = torch.as_tensor(sample['gt_label']).reshape(-1)
            if label.numel() != 1:
                raise ValueError(f'Accuracy: data sample {i} gt_label must be one class '
                                 f'index, got {sample["gt_label"]!r}')
            self.results.append(
                (torch.as_tensor(sample['pred_score']).detach().cpu(), int(label[0])))

    def compute_metrics(self, results: List[tuple]) -> Dict[str, float]:
        """``{'top1': ..., 'top5': ...}`` in percent over all processed samples."""
        scores = torch.stack([score for score, _ in results])
        labels = torch.tensor([label for _, label in results])
        return {f'top{k}': acc for k, acc in topk_accuracy(scores, labels, self.topk).items()}
