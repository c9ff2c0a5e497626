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
from ..space.operations import FactorizedReduce, ReLUConvBN, build_op


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


def preprocessing(c_prev_prev: int, c_prev: int, c: int,
                  reduction_prev: bool) -> Tuple[nn.Module, nn.Module]:
    """The DARTS cell's two input layers (``preprocess0``, ``preprocess1``) to ``c`` channels.

    The first input, from two cells back, has twice the resolution of the second when
    the previous cell reduced, and is then reduced by FactorizedReduce.
    """
    preprocess0 = (
        FactorizedReduce(c_prev_prev, c) if reduction_prev else ReLUConvBN(c_prev_prev, c, 1, 1, 0))
    return preprocess0, ReLUConvBN(c_prev, c, 1, 1, 0)


def imagenet_stems(in_channels: int, c: int) -> Tuple[nn.Sequential, nn.Sequential]:
    """DARTS's ImageNet stems (``stem0``: stride 4 to ``c`` channels, ``stem1``: stride 2),
    shared by ``RelNASNet`` and the search network so both downsample alike."""
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


class Cell(nn.Module):
    """One normal or reduction cell of a genotype.

    Args:
        genotype: the normal and reduction cell description.
        c_prev_prev: channels of the cell's first input (output of cell k-2).
        c_prev: channels of the cell's second input (output of cell k-1).
        c: channels of every node inside the cell.
        reduction: whether this cell halves the resolution (edges from the two
            inputs then have stride 2).
        reduction_prev: whether the previous cell reduced; then the first input is
            twice the resolution of the second and is reduced by FactorizedReduce.
    """

    def __init__(self, genotype: Genotype, c_prev_prev: int, c_prev: int, c: int, reduction: bool,
                 reduction_prev: bool) -> None:
        super().__init__()
        genotype = validate(genotype)
        self.reduction = reduction
        self.preprocess0, self.preprocess1 = preprocessing(c_prev_prev, c_prev, c, reduction_prev)
        pairs = genotype.reduce if reduction else genotype.normal
        self.concat: List[int] = list(
            genotype.reduce_concat if reduction else genotype.normal_concat)
        self.indices: List[int] = [inp for _, inp in pairs]
        self.op_names: List[str] = [op for op, _ in pairs]
        self.ops = nn.ModuleList(
            build_op(name, c, 2 if reduction and inp < 2 else 1) for name, inp in pairs)
        self.multiplier = len(self.concat)
        self.out_channels = self.multiplier * c

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, drop_prob: float = 0.0) -> torch.Tensor:
        """Cell output: the concatenation of the ``concat`` nodes.

        Drop path applies in training to every edge except identities, as in DARTS
        (dropping an identity would just drop the skip connection's input).
        """
        states = [self.preprocess0(s0), self.preprocess1(s1)]
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
