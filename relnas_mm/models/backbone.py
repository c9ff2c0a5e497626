"""``RelNASNet``: the network of a searched cell as an OpenMMLab backbone.

The structure is DARTS's ``NetworkCIFAR`` / ``NetworkImageNet`` (same module layout
and parameter counts), cut into four stages so that detectors, segmentors and pose
models can take multi-scale features:

============  =========================================  ==============  ============
stage         modules                                     stride (imnet)  stride (cifar)
============  =========================================  ==============  ============
0             ``stem0`` (imagenet) / ``stem`` (cifar)      4               1
1             (``stem1`` +) cells before the 1st reduction  8               1
2             1st reduction cell .. before the 2nd          16              2
3             2nd reduction cell .. last cell               32              4
============  =========================================  ==============  ============
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.model import BaseModule
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..registry import MODELS
from ..space.genotype import Genotype, GenotypeError, get_genotype, reduction_layers
from .cell import Cell

NUM_STAGES = 4
STEM_TYPES = ('imagenet', 'cifar')


def _cifar_stem(in_channels: int, channels: int) -> nn.Sequential:
    # Index layout (0: conv, 1: BN) matches DARTS's ``stem`` keys.
    return nn.Sequential(
        nn.Conv2d(in_channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels))


def _imagenet_stems(in_channels: int, c: int) -> Tuple[nn.Sequential, nn.Sequential]:
    # Index layouts match DARTS's ``stem0`` / ``stem1`` keys. ReLUs are not in-place
    # (unlike DARTS) so that stem1 leaves the stage-0 feature map untouched.
    stem0 = nn.Sequential(
        nn.Conv2d(in_channels, c // 2, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c // 2),
        nn.ReLU(inplace=False), nn.Conv2d(c // 2, c, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(c))
    stem1 = nn.Sequential(
        nn.ReLU(inplace=False), nn.Conv2d(c, c, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(c))
    return stem0, stem1


def _resolve_genotype(genotype: Union[str, dict, Genotype]) -> Genotype:
    try:
        return get_genotype(genotype)
    except GenotypeError as exc:
        raise GenotypeError(f'RelNASNet: invalid genotype {genotype!r}: {exc}') from None


def _check_out_indices(out_indices: Sequence[int]) -> Tuple[int, ...]:
    if not isinstance(out_indices, (list, tuple)) or not out_indices:
        raise ValueError(f'RelNASNet: out_indices must be a non-empty list/tuple of stage '
                         f'indices in 0..{NUM_STAGES - 1}, got {out_indices!r}')
    for i in out_indices:
        if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < NUM_STAGES:
            raise ValueError(f'RelNASNet: out_indices entry {i!r} is not a stage index in '
                             f'0..{NUM_STAGES - 1} (got out_indices={out_indices!r})')
    if len(set(out_indices)) != len(out_indices):
        raise ValueError(f'RelNASNet: out_indices has duplicates: {out_indices!r}')
    return tuple(out_indices)


@MODELS.register_module()
class RelNASNet(BaseModule):
    """Stacked cells of a (searched) genotype, returning per-stage features.

    Args:
        genotype: a shipped name (``'RelativeNAS'``, ``'DARTS_V2'``, ``'PC_DARTS'``),
            DARTS ``Genotype(...)`` text, a path to a genotype JSON file, a dict or a
            :class:`Genotype`.
        base_channels: C, the channels of the first cells (doubled at each reduction).
        num_cells: number of cells (at least 3, so that every stage has a cell).
        stem_type: ``'imagenet'`` (two stride-2 stems then stride 2: stride 8 before
            the cells) or ``'cifar'`` (one stride-1 conv).
        stem_multiplier: the CIFAR stem has ``stem_multiplier * C`` channels.
        in_channels: input image channels.
        out_indices: stages whose outputs are returned (see the module docstring).
        frozen_stages: freeze stages 0..frozen_stages (-1: none).
        norm_eval: keep every BatchNorm in eval mode during training.
        drop_path_rate: initial drop-path probability of the cells' edges. The
            current value is ``self.drop_path_prob``, which a hook may ramp.
        init_cfg: mmengine init config, e.g. ``dict(type='Pretrained', checkpoint=...)``;
            None keeps PyTorch's default initialisation (as DARTS).
    """

    def __init__(self, genotype: Union[str, dict,
                                       Genotype] = 'RelativeNAS', base_channels: int = 46,
                 num_cells: int = 14, stem_type: str = 'imagenet', stem_multiplier: int = 3,
                 in_channels: int = 3, out_indices: Sequence[int] = (1, 2, 3),
                 frozen_stages: int = -1, norm_eval: bool = False, drop_path_rate: float = 0.0,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self._check_args(base_channels, num_cells, stem_type, frozen_stages, drop_path_rate)
        self.genotype = _resolve_genotype(genotype)
        self.stem_type = stem_type
        self.num_cells = num_cells
        self.out_indices = _check_out_indices(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.drop_path_rate = float(drop_path_rate)
        self.drop_path_prob = float(drop_path_rate)

        c = base_channels
        if stem_type == 'cifar':
            c_stem = stem_multiplier * c
            self.stem = _cifar_stem(in_channels, c_stem)
            c_prev_prev, c_prev, reduction_prev = c_stem, c_stem, False
        else:
            c_stem = c
            self.stem0, self.stem1 = _imagenet_stems(in_channels, c)
            c_prev_prev, c_prev, reduction_prev = c, c, True

        reductions = reduction_layers(num_cells)
        self.cells = nn.ModuleList()
        self.cell_stages: List[int] = []
        c_curr = c
        for i in range(num_cells):
            reduction = i in reductions
            c_curr = 2 * c_curr if reduction else c_curr
            cell = Cell(self.genotype, c_prev_prev, c_prev, c_curr, reduction, reduction_prev)
            self.cells.append(cell)
            self.cell_stages.append(1 + sum(i >= r for r in reductions))
            reduction_prev = reduction
            c_prev_prev, c_prev = c_prev, cell.out_channels

        # The index of the last cell of each stage: its output is the stage's output.
        self._stage_ends = {
            max(i for i, s in enumerate(self.cell_stages) if s == stage): stage
            for stage in range(1, NUM_STAGES)
        }
        ends = sorted(self._stage_ends)
        self.stage_channels: Tuple[int, ...] = (c_stem, *(self.cells[i].out_channels for i in ends))
        self.out_channels: Tuple[int, ...] = tuple(self.stage_channels[i] for i in self.out_indices)
        self._freeze_stages()

    @staticmethod
    def _check_args(base_channels: int, num_cells: int, stem_type: str, frozen_stages: int,
                    drop_path_rate: float) -> None:
        if stem_type not in STEM_TYPES:
            raise ValueError(f'RelNASNet: stem_type must be one of {STEM_TYPES}, '
                             f'got {stem_type!r}')
        if not isinstance(num_cells, int) or num_cells < 3:
            raise ValueError(f'RelNASNet: num_cells must be an integer >= 3 (one cell per '
                             f'stage at least), got {num_cells!r}')
        if not isinstance(base_channels, int) or base_channels < 1:
            raise ValueError(f'RelNASNet: base_channels must be a positive integer, '
                             f'got {base_channels!r}')
        if stem_type == 'imagenet' and base_channels % 2:
            raise ValueError(f'RelNASNet: the imagenet stem needs an even base_channels '
                             f'(C/2-channel first conv, FactorizedReduce), got {base_channels}')
        if frozen_stages not in range(-1, NUM_STAGES):
            raise ValueError(f'RelNASNet: frozen_stages must be in -1..{NUM_STAGES - 1}, '
                             f'got {frozen_stages!r}')
        if not 0.0 <= drop_path_rate < 1.0:
            raise ValueError(f'RelNASNet: drop_path_rate must be in [0, 1), '
                             f'got {drop_path_rate!r}')

    def stage_modules(self, stage: int) -> List[nn.Module]:
        """The modules that make up ``stage`` (what ``frozen_stages`` freezes)."""
        if stage == 0:
            return [self.stem] if self.stem_type == 'cifar' else [self.stem0]
        head = [self.stem1] if stage == 1 and self.stem_type == 'imagenet' else []
        return head + [cell for cell, s in zip(self.cells, self.cell_stages) if s == stage]

    def _freeze_stages(self) -> None:
        for stage in range(self.frozen_stages + 1):
            for module in self.stage_modules(stage):
                module.eval()
                for param in module.parameters():
                    param.requires_grad = False

    def train(self, mode: bool = True) -> 'RelNASNet':
        """Set the mode, keeping frozen stages (and, with norm_eval, all BNs) in eval."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, _BatchNorm):
                    module.eval()
        return self

    def forward_with_cells(
        self, x: torch.Tensor, cell_indices: Sequence[int] = ()
    ) -> Tuple[Tuple[torch.Tensor, ...], Dict[int, torch.Tensor]]:
        """Stage outputs (``out_indices``) plus the outputs of the cells ``cell_indices``.

        The classifiers use the second part to feed the auxiliary head.
        """
        for i in cell_indices:
            if not 0 <= i < self.num_cells:
                raise IndexError(f'RelNASNet: cell index {i} out of range 0..{self.num_cells - 1}')
        if self.stem_type == 'cifar':
            s0 = s1 = self.stem(x)
        else:
            s0 = self.stem0(x)
            s1 = self.stem1(s0)
        stages = [s0]
        tapped = {}
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob)
            if i in cell_indices:
                tapped[i] = s1
            if i in self._stage_ends:
                stages.append(s1)
        return tuple(stages[i] for i in self.out_indices), tapped

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """The outputs of the stages in ``out_indices`` (same in train and eval)."""
        return self.forward_with_cells(x)[0]

    def init_weights(self) -> None:
        """mmengine's init, except that a ``Pretrained`` init_cfg whose ``checkpoint``
        is None names no checkpoint: the layers keep their own initialisation.

        The det/seg/pose configs always write ``init_cfg=dict(type='Pretrained',
        checkpoint=pretrained, ...)`` (None by default), so that the upstream tools
        load ImageNet weights with the one key
        ``--cfg-options model.backbone.init_cfg.checkpoint=PATH``.
        """
        init_cfg = self.init_cfg
        cfgs = init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg]
        kept = [
            c for c in cfgs if not (isinstance(c, dict) and c.get('type') == 'Pretrained'
                                    and c.get('checkpoint') is None)
        ]
        if len(kept) == len(cfgs):
            super().init_weights()
            return
        self.init_cfg = kept if isinstance(init_cfg, (list, tuple)) and kept else None
        try:
            super().init_weights()
        finally:
            self.init_cfg = init_cfg
