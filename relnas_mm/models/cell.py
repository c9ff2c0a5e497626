"""A discrete cell built from a genotype, with DARTS semantics (plain PyTorch).

The final networks (backbone, classifiers) stack these cells. Every (node, slot)
pair of the genotype gets its own module, in genotype order, so ``ops[k]`` is the
k-th pair of the cell: the same order as the authors' ``_ops`` list, which keeps
checkpoint conversion a pure renaming.
"""
from typing import List, Optional, Tuple

import torch
from torch import nn

from ..space.genotype import Genotype, validate
from ..space.operations import FactorizedReduce, NormCfg, ReLUConvBN, build_norm, build_op
from ..space.plan import CellPlan, Reads


def drop_path(x: torch.Tensor, p: float,
              generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Zero whole samples with probability ``p`` and rescale the rest by 1/(1-p).

    DARTS regularises a cell's edges this way (in the search network and in final
    training); the rescaling keeps the expected value of the edge output unchanged.
    The mask comes from one uniform draw per sample from ``generator`` (torch's
    global RNG when None), so a search replays it exactly, also in a CUDA graph.
    """
    if not 0.0 <= p < 1.0:
        raise ValueError(f'drop path probability must be in [0, 1), got {p}')
    if p == 0.0:
        return x
    keep = 1.0 - p
    noise = torch.rand((x.shape[0], ) + (1, ) * (x.dim() - 1), generator=generator, device=x.device,
                       dtype=x.dtype)
    return x * (noise < keep).to(x.dtype) / keep


def cifar_stem(in_channels: int, channels: int, norm_cfg: NormCfg = None) -> nn.Sequential:
    """The CIFAR stem (search network and CIFAR network): 3x3 conv, norm.

    Indices 0 and 1 are DARTS's ``stem`` keys.
    """
    return nn.Sequential(
        nn.Conv2d(in_channels, channels, 3, padding=1, bias=False), build_norm(norm_cfg, channels))


def preprocessing(plan: CellPlan, norm_cfg: NormCfg = None) -> Tuple[Optional[nn.Module], ...]:
    """The DARTS cell's two input layers (``preprocess0``, ``preprocess1``) to ``plan.channels``.

    The first input, from two cells back, has twice the resolution of the second when
    the previous cell reduced, and is then reduced by FactorizedReduce. A layer the plan
    does not read (``plan.reads``, with ``prune_unused``) is None: not built, not run.
    """
    c = plan.channels
    preprocess0 = None
    if plan.reads[0]:
        preprocess0 = (
            FactorizedReduce(plan.c_prev_prev, c, norm_cfg=norm_cfg)
            if plan.reduction_prev else ReLUConvBN(plan.c_prev_prev, c, 1, 1, 0, norm_cfg=norm_cfg))
    preprocess1 = ReLUConvBN(plan.c_prev, c, 1, 1, 0, norm_cfg=norm_cfg) if plan.reads[1] else None
    return preprocess0, preprocess1


def preprocess(cell: nn.Module, s0: Optional[torch.Tensor], s1: Optional[torch.Tensor],
               reads: Reads) -> List[Optional[torch.Tensor]]:
    """The cell's two preprocessed inputs, run only where ``reads`` says (else None)."""
    return [
        layer(s) if read else None
        for layer, s, read in ((cell.preprocess0, s0, reads[0]), (cell.preprocess1, s1, reads[1]))
    ]


def imagenet_stems(in_channels: int, c: int, norm_cfg: NormCfg = None,
                   build_stem1: bool = True) -> Tuple[nn.Sequential, Optional[nn.Sequential]]:
    """DARTS's ImageNet stems (``stem0``: stride 4 to ``c`` channels, ``stem1``: stride 2),
    shared by ``RelNASNet`` and the search network so both downsample alike; ``stem1``
    is None when nothing reads it (``prune_unused``)."""
    # Index layouts match DARTS's ``stem0`` / ``stem1`` keys. ReLUs are not in-place
    # (unlike DARTS) so that stem1 leaves the stage-0 feature map untouched.
    stem0 = nn.Sequential(
        nn.Conv2d(in_channels, c // 2, 3, stride=2, padding=1, bias=False),
        build_norm(norm_cfg, c // 2), nn.ReLU(inplace=False),
        nn.Conv2d(c // 2, c, 3, stride=2, padding=1, bias=False), build_norm(norm_cfg, c))
    stem1 = nn.Sequential(
        nn.ReLU(inplace=False), nn.Conv2d(c, c, 3, stride=2, padding=1, bias=False),
        build_norm(norm_cfg, c)) if build_stem1 else None
    return stem0, stem1


class Cell(nn.Module):
    """One normal or reduction cell of a genotype.

    Args:
        genotype: the normal and reduction cell description.
        plan: the cell's place in the network (``relnas_mm.space.plan``): input and node
            channels, whether it and its predecessor reduce (a reduction cell's edges
            from the two inputs have stride 2), which input preprocessings to build.
        norm_cfg: the normalisation layers (``build_norm``; None: BatchNorm2d).
    """

    def __init__(self, genotype: Genotype, plan: CellPlan, norm_cfg: NormCfg = None) -> None:
        super().__init__()
        genotype = validate(genotype)
        reduction, c = plan.reduction, plan.channels
        self.reduction = reduction
        self.reads = plan.reads
        self.preprocess0, self.preprocess1 = preprocessing(plan, norm_cfg)
        pairs = genotype.reduce if reduction else genotype.normal
        self.concat: List[int] = list(
            genotype.reduce_concat if reduction else genotype.normal_concat)
        self.indices: List[int] = [inp for _, inp in pairs]
        self.op_names: List[str] = [op for op, _ in pairs]
        self.ops = nn.ModuleList(
            build_op(name, c, 2 if reduction and inp < 2 else 1, norm_cfg=norm_cfg)
            for name, inp in pairs)
        self.multiplier = len(self.concat)
        self.out_channels = plan.out_channels

    def forward(self, s0: Optional[torch.Tensor], s1: Optional[torch.Tensor],
                drop_prob: float = 0.0) -> torch.Tensor:
        """Cell output: the concatenation of the ``concat`` nodes.

        Drop path applies in training to every edge except identities, as in DARTS
        (dropping an identity would just drop the skip connection's input).
        """
        states = preprocess(self, s0, s1, self.reads)
        use_drop = self.training and drop_prob > 0.0
        for node in range(len(self.ops) // 2):
            total = 0
            for k in (2 * node, 2 * node + 1):
                op = self.ops[k]
                h = op(states[self.indices[k]])
                if use_drop and not isinstance(op, nn.Identity):
                    h = drop_path(h, drop_prob)
                total = total + h
            states.append(total)
        return torch.cat([states[i] for i in self.concat], dim=1)


class PrunedCell(nn.Module):
    """The place of a cell that ``prune_unused`` did not build: nothing reads its output.

    It keeps the cells' indices (and so their state-dict keys) those of the full network.
    """

    def __init__(self, plan: CellPlan) -> None:
        super().__init__()
        self.index = plan.index
        self.reduction = plan.reduction
        self.out_channels = plan.out_channels

    def forward(self, *args: object) -> torch.Tensor:
        raise RuntimeError(f'cell {self.index} was pruned (prune_unused=True): nothing the '
                           f'network returns reads its output')
