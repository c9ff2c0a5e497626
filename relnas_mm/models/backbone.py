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
from ..space.genotype import Genotype, GenotypeError, GenotypeLike, get_genotype
from ..space.operations import NormCfg
from ..space.plan import NUM_STAGES, STEM_TYPES, NetworkPlan, network_plan
from .cell import Cell, PrunedCell, cifar_stem, imagenet_stems


def _resolve_genotype(genotype: GenotypeLike) -> Genotype:
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
        norm_cfg: every normalisation layer (stems and cells), e.g.
            ``dict(type='SyncBN', requires_grad=True)``; None: BatchNorm2d (DARTS).
        prune_unused: build and run none of the work whose output nothing returned
            reads (a cell input no operation reads, a cell no returned stage depends
            on). False (default) keeps the authors' network, which runs it all.
        init_cfg: mmengine init config, e.g. ``dict(type='Pretrained', checkpoint=...)``;
            None keeps PyTorch's default initialisation (as DARTS).
    """

    def __init__(self, genotype: GenotypeLike = 'RelativeNAS', base_channels: int = 46,
                 num_cells: int = 14, stem_type: str = 'imagenet', stem_multiplier: int = 3,
                 in_channels: int = 3, out_indices: Sequence[int] = (1, 2, 3),
                 frozen_stages: int = -1, norm_eval: bool = False, drop_path_rate: float = 0.0,
                 norm_cfg: NormCfg = None, prune_unused: bool = False,
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

        self.plan: NetworkPlan = network_plan(stem_type, base_channels, num_cells, stem_multiplier,
                                              self.genotype, self.out_indices, bool(prune_unused))
        if stem_type == 'cifar':
            self.stem = cifar_stem(in_channels, self.plan.stem_channels, norm_cfg)
        else:
            self.stem0, self.stem1 = imagenet_stems(in_channels, base_channels, norm_cfg,
                                                    self.plan.stem1_live)
        self.cells = nn.ModuleList(
            Cell(self.genotype, cell, norm_cfg) if cell.live else PrunedCell(cell)
            for cell in self.plan.cells)
        self.cell_stages: List[int] = [cell.stage for cell in self.plan.cells]
        # The index of the last cell of each stage: its output is the stage's output.
        self._stage_ends = self.plan.stage_ends
        self.stage_channels: Tuple[int, ...] = self.plan.stage_channels
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
        head = [self.stem1] if stage == 1 and getattr(self, 'stem1', None) is not None else []
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
            if not self.plan.cells[i].live:
                raise ValueError(f'RelNASNet: cell {i} is not built (prune_unused=True and no '
                                 f'returned stage reads it), so its output cannot be tapped')
        if self.stem_type == 'cifar':
            s0 = s1 = self.stem(x)
        else:
            s0 = self.stem0(x)
            s1 = None if self.stem1 is None else self.stem1(s0)
        stages = [s0]
        tapped = {}
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob) if self.plan.cells[i].live else None
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
