"""FLOPs, multiply-adds and parameters of a genotype's network, counted analytically.

A search under a budget needs the cost of every candidate in the network the cell will
live in (the ImageNet mobile network, the CIFAR network, a detector's backbone), and
building and tracing that network per candidate would take seconds. The structure is
the architecture plan (``relnas_mm.space.plan``) that ``RelNASNet`` and the search
network are built from, so the cost is a sum over the plan's layers that depends on the
genotype's operations and the input size alone.

It counts what the built network runs at test time (every layer: both input
preprocessings of every cell and every cell, unless the network is built with
``prune_unused``), under two conventions:

* ``flops``: mmengine's flop counter's rules (``tools/analysis/get_flops.py``): one per
  multiply-add of a convolution or linear layer, two per element of an eval-mode affine
  BatchNorm, one per input element of the global average pooling; ReLU, additions,
  concatenation, padding and the 3x3 pools count nothing;
* ``multadds``: the multiply-adds of convolutions and linear layers only, the number
  the DARTS family of papers gives for the mobile setting (< 600M).

Parameters are those of every module of the built network (no auxiliary head, which
is not part of it). Plain Python, no torch or mmengine.
"""
import math
from dataclasses import dataclass
from typing import Dict, NamedTuple, Tuple

from .genotype import Genotype, validate
from .plan import STEM_TYPES, CellPlan, network_plan


@dataclass(frozen=True)
class NetworkSpec:
    """The network a cell is used in: RelNASNet's structure, its input size and classifier.

    Args:
        stem_type: ``'imagenet'`` (three stride-2 convs) or ``'cifar'`` (one stride-1 conv).
        channels: C, the channels of the first cells (doubled at each reduction).
        num_cells: number of cells (>= 3).
        input_hw: input (height, width).
        num_classes: outputs of the global-pool + linear classifier; 0 for a backbone alone.
        stem_multiplier: the CIFAR stem has ``stem_multiplier * C`` channels.
        in_channels: input image channels.
        out_indices: the backbone stages whose outputs the rest of the network reads
            (RelNASNet's ``out_indices``); a classifier reads stage 3.
        prune_unused: the network is built with ``prune_unused=True`` (runs none of the
            work whose output nothing reads).
    """

    stem_type: str
    channels: int
    num_cells: int
    input_hw: Tuple[int, int]
    num_classes: int = 0
    stem_multiplier: int = 3
    in_channels: int = 3
    out_indices: Tuple[int, ...] = (3, )
    prune_unused: bool = False

    def __post_init__(self) -> None:
        if self.stem_type not in STEM_TYPES:
            raise ValueError(f'NetworkSpec: stem_type must be one of {STEM_TYPES}, '
                             f'got {self.stem_type!r}')
        for key in ('channels', 'num_cells', 'stem_multiplier', 'in_channels'):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f'NetworkSpec: {key} must be a positive integer, got {value!r}')
        if self.num_cells < 3:
            raise ValueError(f'NetworkSpec: num_cells must be >= 3, got {self.num_cells}')
        if self.channels % 2:
            raise ValueError(f'NetworkSpec: channels must be even (FactorizedReduce), '
                             f'got {self.channels}')
        hw = tuple(self.input_hw)
        if len(hw) != 2 or not all(isinstance(v, int) and v >= 1 for v in hw):
            raise ValueError(f'NetworkSpec: input_hw must be two positive integers (H, W), '
                             f'got {self.input_hw!r}')
        object.__setattr__(self, 'input_hw', hw)
        out = tuple(self.out_indices)
        if not out or not all(isinstance(i, int) and 0 <= i <= 3 for i in out) \
                or (self.num_classes and 3 not in out):
            raise ValueError(f'NetworkSpec: out_indices must be stage indices in 0..3 (with '
                             f'3 when there is a classifier), got {self.out_indices!r}')
        object.__setattr__(self, 'out_indices', out)
        if not isinstance(self.prune_unused, bool):
            raise ValueError(f'NetworkSpec: prune_unused must be True or False, '
                             f'got {self.prune_unused!r}')
        if isinstance(self.num_classes, bool) or not isinstance(self.num_classes, int) \
                or self.num_classes < 0:
            raise ValueError(f'NetworkSpec: num_classes must be an integer >= 0 (0: no '
                             f'classifier), got {self.num_classes!r}')

    def describe(self) -> str:
        """One line for logs and result files."""
        head = f', {self.num_classes}-class classifier' if self.num_classes else ', backbone'
        pruned = ', unused work pruned' if self.prune_unused else ''
        return (f'{self.stem_type} network C={self.channels}, {self.num_cells} cells, '
                f'{self.input_hw[0]}x{self.input_hw[1]} input{head}{pruned}')


#: The networks of the paper: the ImageNet mobile setting and the CIFAR evaluation network.
NETWORKS: Dict[str, NetworkSpec] = {
    'imagenet_mobile': NetworkSpec('imagenet', 46, 14, (224, 224), num_classes=1000),
    'cifar': NetworkSpec('cifar', 36, 20, (32, 32), num_classes=10),
}


class Cost(NamedTuple):
    """The cost of a network: ``flops`` (mmengine's rule), ``multadds`` (conv + linear)
    and ``params``."""

    flops: int
    multadds: int
    params: int


class _Counter:
    """Accumulates the cost of layers, given their output sizes."""

    def __init__(self) -> None:
        self.flops = 0
        self.multadds = 0
        self.params = 0

    def conv(self, c_in: int, c_out: int, k: int, hw: Tuple[int, int], groups: int = 1) -> None:
        weights = c_out * (c_in // groups) * k * k
        self.multadds += weights * hw[0] * hw[1]
        self.flops += weights * hw[0] * hw[1]
        self.params += weights

    def linear(self, c_in: int, c_out: int) -> None:
        self.multadds += c_in * c_out
        self.flops += c_in * c_out
        self.params += c_in * c_out + c_out

    def bn(self, c: int, hw: Tuple[int, int]) -> None:
        self.flops += 2 * c * hw[0] * hw[1]
        self.params += 2 * c

    def global_pool(self, c: int, hw: Tuple[int, int]) -> None:
        self.flops += c * hw[0] * hw[1]

    def relu_conv_bn(self, c_in: int, c_out: int, hw: Tuple[int, int]) -> None:
        self.conv(c_in, c_out, 1, hw)
        self.bn(c_out, hw)

    def factorized_reduce(self, c_in: int, c_out: int, hw: Tuple[int, int]) -> None:
        self.conv(c_in, c_out // 2, 1, hw)
        self.conv(c_in, c_out // 2, 1, hw)
        self.bn(c_out, hw)

    def dil_conv(self, c: int, k: int, hw: Tuple[int, int]) -> None:
        self.conv(c, c, k, hw, groups=c)
        self.conv(c, c, 1, hw)
        self.bn(c, hw)

    def op(self, name: str, c: int, stride: int, hw: Tuple[int, int]) -> None:
        """An operation of the space with ``c`` channels and output size ``hw``."""
        if name.startswith('sep_conv_'):
            k = int(name[-1])
            self.dil_conv(c, k, hw)
            self.dil_conv(c, k, hw)
        elif name.startswith('dil_conv_'):
            self.dil_conv(c, int(name[-1]), hw)
        elif name == 'skip_connect' and stride == 2:
            self.factorized_reduce(c, c, hw)
        elif name not in ('skip_connect', 'max_pool_3x3', 'avg_pool_3x3'):
            raise ValueError(f'cost: unknown operation {name!r}')

    def cell(self, genotype: Genotype, cell: CellPlan, hw_in: Tuple[int, int]) -> None:
        """A live cell whose second input has size ``hw_in``: the preprocessing it builds
        (``cell.reads``) and all of its operations."""
        if cell.reads[0]:
            if cell.reduction_prev:
                self.factorized_reduce(cell.c_prev_prev, cell.channels, hw_in)
            else:
                self.relu_conv_bn(cell.c_prev_prev, cell.channels, hw_in)
        if cell.reads[1]:
            self.relu_conv_bn(cell.c_prev, cell.channels, hw_in)
        hw_out = _half(hw_in) if cell.reduction else hw_in
        for op, inp in genotype.reduce if cell.reduction else genotype.normal:
            self.op(op, cell.channels, 2 if cell.reduction and inp < 2 else 1, hw_out)


def _half(hw: Tuple[int, int]) -> Tuple[int, int]:
    """Output size of every stride-2 layer of the network (all pad to ceil(H / 2))."""
    return math.ceil(hw[0] / 2), math.ceil(hw[1] / 2)


def network_cost(genotype: Genotype, spec: NetworkSpec) -> Cost:
    """The cost of ``spec`` built with ``genotype``'s cells: what its forward pass runs.

    Equal to what ``tools/analysis/get_flops.py`` reports for the same network and to a
    count of the layers the built network executes (``tests/test_space_cost.py``).
    """
    genotype = validate(genotype)
    plan = network_plan(spec.stem_type, spec.channels, spec.num_cells, spec.stem_multiplier,
                        genotype, spec.out_indices, spec.prune_unused)
    n = _Counter()
    c = spec.channels
    if spec.stem_type == 'cifar':
        hw = spec.input_hw
        n.conv(spec.in_channels, plan.stem_channels, 3, hw)
        n.bn(plan.stem_channels, hw)
    else:
        hw0 = _half(spec.input_hw)
        n.conv(spec.in_channels, c // 2, 3, hw0)
        n.bn(c // 2, hw0)
        hw1 = _half(hw0)
        n.conv(c // 2, c, 3, hw1)
        n.bn(c, hw1)
        hw = _half(hw1)
        if plan.stem1_live:
            n.conv(c, c, 3, hw)
            n.bn(c, hw)
    for cell in plan.cells:
        if cell.live:
            n.cell(genotype, cell, hw)
        hw = _half(hw) if cell.reduction else hw
    if spec.num_classes:
        n.global_pool(plan.cells[-1].out_channels, hw)
        n.linear(plan.cells[-1].out_channels, spec.num_classes)
    return Cost(n.flops, n.multadds, n.params)
