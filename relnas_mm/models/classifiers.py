"""Classification networks for evaluating a cell (CIFAR and ImageNet), as mmengine models.

``RelNASClassifier`` = ``RelNASNet`` backbone + global average pooling + a linear
``classifier`` (+ the DARTS ``auxiliary_head`` on cell 2L/3 during training). With
the published cell its parameter count (auxiliary head excluded) equals the
authors': 3,928,222 (CIFAR-10, C=36, 20 cells) and 5,050,029 (ImageNet, C=46,
14 cells).

Data samples: ``loss`` reads each sample's ``gt_label`` (an mmengine data element
or dict holding an int / one-element tensor, or a bare int / tensor); ``predict``
returns data elements with ``pred_score`` (softmax, shape ``(num_classes,)``),
``pred_label`` (long, shape ``(1,)``) and the input's ``gt_label`` when it had one.
"""
from typing import Any, Dict, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.structures import BaseDataElement
from torch import nn

from ..registry import MODELS
from ..space.genotype import GenotypeLike, reduction_layers
from ..utils.image_stats import CIFAR10_MEAN, CIFAR10_STD, IMAGENET_MEAN, IMAGENET_STD, on_255_scale
from .backbone import RelNASNet
from .heads import AuxiliaryHeadCIFAR, AuxiliaryHeadImageNet

DataSamples = Optional[Sequence[Any]]
BackboneLike = Union[dict, RelNASNet]


def _label_of(sample: Any, index: int) -> torch.Tensor:
    """The class label of one data sample as a one-element LongTensor, or a clear error.

    Only shapes and dtypes are checked, so labels already on the GPU cause no sync.
    """
    label = sample
    if isinstance(sample, (BaseDataElement, dict)):
        label = sample.get('gt_label')
    if label is None:
        raise ValueError(f'data sample {index} has no gt_label: {sample!r}')
    label = torch.as_tensor(label)
    if label.numel() != 1 or label.is_floating_point() or label.dtype == torch.bool:
        raise ValueError(f'data sample {index}: gt_label must be one integer class index, '
                         f'got {label!r}')
    return label.reshape(1).long()


def gather_labels(data_samples: DataSamples, device: torch.device) -> torch.Tensor:
    """A LongTensor of the samples' labels (a ready tensor of labels passes through)."""
    if data_samples is None:
        raise ValueError('mode="loss" needs data_samples carrying gt_label')
    if isinstance(data_samples, torch.Tensor):
        return data_samples.to(device=device, dtype=torch.long).reshape(-1)
    labels = [_label_of(s, i).to(device) for i, s in enumerate(data_samples)]
    return torch.cat(labels)


@MODELS.register_module()
class RelNASClassifier(BaseModel):
    """An image classifier on a RelNASNet backbone, with the DARTS auxiliary head.

    Args:
        backbone: a RelNASNet config (``type`` may be omitted) or module. Its
            ``out_indices`` defaults to ``(3,)`` here; the last index must be 3.
        num_classes: number of classes.
        auxiliary_weight: weight of the auxiliary loss; 0 builds no auxiliary head.
        auxiliary_cell: the cell whose output feeds the auxiliary head (default
            ``2 * num_cells // 3``, the second reduction cell, as DARTS).
        label_smoothing: label smoothing of both cross-entropy losses.
        data_preprocessor: mmengine data preprocessor config (default: an
            ``ImgDataPreprocessor`` without normalisation).
        init_cfg: mmengine init config.
    """

    def __init__(self, backbone: BackboneLike, num_classes: int, auxiliary_weight: float = 0.4,
                 auxiliary_cell: Optional[int] = None, label_smoothing: float = 0.0,
                 data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='ImgDataPreprocessor')
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f'num_classes must be a positive integer, got {num_classes!r}')
        if auxiliary_weight < 0:
            raise ValueError(f'auxiliary_weight must be >= 0, got {auxiliary_weight}')
        self.backbone = self._build_backbone(backbone)
        self.num_classes = num_classes
        self.label_smoothing = label_smoothing
        self.auxiliary_weight = float(auxiliary_weight)
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(self.backbone.out_channels[-1], num_classes)
        self.auxiliary_cell = None
        if self.auxiliary_weight > 0:
            self.auxiliary_cell = self._check_aux_cell(auxiliary_cell)
            head = (
                AuxiliaryHeadCIFAR if self.backbone.stem_type == 'cifar' else AuxiliaryHeadImageNet)
            self.auxiliary_head = head(self.backbone.cells[self.auxiliary_cell].out_channels,
                                       num_classes)

    @staticmethod
    def _build_backbone(backbone: BackboneLike) -> RelNASNet:
        if isinstance(backbone, dict):
            cfg = dict(backbone)
            cfg.setdefault('type', 'relnas_mm.RelNASNet')
            cfg.setdefault('out_indices', (3, ))
            backbone = MODELS.build(cfg)
        if not isinstance(backbone, RelNASNet):
            raise TypeError(f'backbone must be a RelNASNet (or its config), '
                            f'got {type(backbone).__name__}')
        if backbone.out_indices[-1] != 3:
            raise ValueError(f'the classifier reads the last stage: the backbone\'s '
                             f'out_indices must end with 3, got {backbone.out_indices}')
        return backbone

    def _check_aux_cell(self, auxiliary_cell: Optional[int]) -> int:
        num_cells = self.backbone.num_cells
        if auxiliary_cell is None:
            return reduction_layers(num_cells)[1]
        if not 0 <= auxiliary_cell < num_cells:
            raise ValueError(f'auxiliary_cell must be in 0..{num_cells - 1}, '
                             f'got {auxiliary_cell}')
        return auxiliary_cell

    @property
    def with_auxiliary(self) -> bool:
        """Whether the network has an auxiliary head (it only runs in training)."""
        return self.auxiliary_cell is not None

    def _logits(self, features: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.global_pool(features).flatten(1))

    def _criterion(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, labels, label_smoothing=self.label_smoothing)

    def forward(self, inputs: torch.Tensor, data_samples: DataSamples = None,
                mode: str = 'tensor') -> Union[torch.Tensor, Dict[str, torch.Tensor], list]:
        """``tensor``: logits; ``loss``: dict of losses; ``predict``: data samples."""
        if mode == 'tensor':
            return self._logits(self.backbone(inputs)[-1])
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise ValueError(f'invalid mode {mode!r}; expected "tensor", "loss" or "predict"')

    def loss(self, inputs: torch.Tensor, data_samples: DataSamples) -> Dict[str, torch.Tensor]:
        """``loss_cls`` and, in training with an auxiliary head, the weighted ``loss_aux``."""
        labels = gather_labels(data_samples, inputs.device)
        use_aux = self.with_auxiliary and self.training
        taps = (self.auxiliary_cell, ) if use_aux else ()
        features, tapped = self.backbone.forward_with_cells(inputs, taps)
        losses = {'loss_cls': self._criterion(self._logits(features[-1]), labels)}
        if use_aux:
            aux_logits = self.auxiliary_head(tapped[self.auxiliary_cell])
            losses['loss_aux'] = self.auxiliary_weight * self._criterion(aux_logits, labels)
        return losses

    def predict(self, inputs: torch.Tensor, data_samples: DataSamples = None) -> List[Any]:
        """One data element per image with ``pred_score`` and ``pred_label`` set."""
        scores = F.softmax(self._logits(self.backbone(inputs)[-1]), dim=1).detach()
        if data_samples is None:
            data_samples = [BaseDataElement() for _ in range(scores.shape[0])]
        if len(data_samples) != scores.shape[0]:
            raise ValueError(f'{len(data_samples)} data samples for a batch of '
                             f'{scores.shape[0]} images')
        results = []
        for i, sample in enumerate(data_samples):
            if not isinstance(sample, BaseDataElement):
                sample = BaseDataElement(gt_label=_label_of(sample, i))
            sample.set_field(scores[i], 'pred_score')
            sample.set_field(scores[i].argmax().reshape(1), 'pred_label')
            results.append(sample)
        return results


def evaluation_network(stem_type: str, mean: Sequence[float], std: Sequence[float],
                       genotype: GenotypeLike, channels: int, num_cells: int, num_classes: int,
                       auxiliary_weight: float = 0.4, drop_path_rate: float = 0.0,
                       **kwargs: Any) -> RelNASClassifier:
    """The DARTS/RelativeNAS evaluation network with ``stem_type``'s stem and inputs
    normalised by ``mean``/``std`` (0..1 scale); the one builder the variants share."""
    kwargs.setdefault(
        'data_preprocessor',
        dict(type='ImgDataPreprocessor', mean=on_255_scale(mean), std=on_255_scale(std)))
    backbone = dict(type='relnas_mm.RelNASNet', genotype=genotype, base_channels=channels,
                    num_cells=num_cells, stem_type=stem_type, out_indices=(3, ),
                    drop_path_rate=drop_path_rate)
    return RelNASClassifier(backbone, num_classes, auxiliary_weight=auxiliary_weight, **kwargs)


def cifar_network(genotype: GenotypeLike = 'RelativeNAS', channels: int = 36, num_cells: int = 20,
                  num_classes: int = 10, **kwargs: Any) -> RelNASClassifier:
    """The CIFAR network: stride-1 stem, 8x8 auxiliary input, CIFAR-10 statistics."""
    return evaluation_network('cifar', CIFAR10_MEAN, CIFAR10_STD, genotype, channels, num_cells,
                              num_classes, **kwargs)


def imagenet_network(genotype: GenotypeLike = 'RelativeNAS', channels: int = 46,
                     num_cells: int = 14, num_classes: int = 1000, label_smoothing: float = 0.1,
                     **kwargs: Any) -> RelNASClassifier:
    """The ImageNet (mobile setting) network: 224x224 inputs, label smoothing 0.1."""
    return evaluation_network('imagenet', IMAGENET_MEAN, IMAGENET_STD, genotype, channels,
                              num_cells, num_classes, label_smoothing=label_smoothing, **kwargs)
