"""FLOPs and parameters of a genotype's network, counted analytically (no network is built).

A search under a budget needs the cost of every candidate in the network the cell will
live in (the ImageNet mobile network, the CIFAR network, a detector's backbone), and
building and tracing that network per candidate would take seconds. The structure is
fixed (``relnas_mm.models.backbone.RelNASNet``: stem, cells, reductions at L/3 and
2L/3), so the cost is a sum over its layers that depends on the genotype's operations
and the input size alone.

The counting rules are those of ``tools/analysis/get_flops.py`` (mmengine's flop
counter, fvcore's rules): a convolution or linear layer counts one FLOP per
multiply-add, an eval-mode affine BatchNorm two per element, adaptive average pooling
one per input element; ReLU, additions, concatenation, padding and the 3x3 pools count
nothing. Parameters are those of the modules a test-time forward pass runs ("Parameters
(inference)": every cell module and the classifier, no auxiliary head). Plain Python,
no torch or mmengine.
"""
import math
from dataclasses import dataclass
from typing import Dict, List, NamedTuple, Tuple

from .genotype import Genotype, reduction_layers, validate

STEM_TYPES = ('imagenet', 'cifar')


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
    """

    stem_type: str
    channels: int
    num_cells: int
    input_hw: Tuple[int, int]
    num_classes: int = 0
    stem_multiplier: int = 3
    in_channels: int = 3
    out_indices: Tuple[int, ...] = (3, )

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
        if isinstance(self.num_classes, bool) or not isinstance(self.num_classes, int) \
                or self.num_classes < 0:
            raise ValueError(f'NetworkSpec: num_classes must be an integer >= 0 (0: no '
                             f'classifier), got {self.num_classes!r}')

    def describe(self) -> str:
        """One line for logs and result files."""
        head = f', {self.num_classes}-class classifier' if self.num_classes else ', backbone'
        return (f'{self.stem_type} network C={self.channels}, {self.num_cells} cells, '
                f'{self.input_hw[0]}x{self.input_hw[1]} input{head}')


#: The networks of the paper: the ImageNet mobile setting and the CIFAR evaluation network.
NETWORKS: Dict[str, NetworkSpec] = {
    'imagenet_mobile': NetworkSpec('imagenet', 46, 14, (224, 224), num_classes=1000),
    'cifar': NetworkSpec('cifar', 36, 20, (32, 32), num_classes=10),
}


class Cost(NamedTuple):
    """FLOPs (multiply-adds, counted like get_flops.py) and parameters of a network."""

    flops: int
    params: int


class _Counter:
    """Accumulates the cost of layers, given their output sizes."""

    def __init__(self) -> None:
        self.flops = 0
        self.params = 0

    def conv(self, c_in: int, c_out: int, k: int, hw: Tuple[int, int], groups: int = 1,
             counted: bool = True) -> None:
        self.flops += c_out * (c_in // groups) * k * k * hw[0] * hw[1] if counted else 0
        self.params += c_out * (c_in // groups) * k * k

    def bn(self, c: int, hw: Tuple[int, int], counted: bool = True) -> None:
        self.flops += 2 * c * hw[0] * hw[1] if counted else 0
        self.params += 2 * c

    def relu_conv_bn(self, c_in: int, c_out: int, hw: Tuple[int, int],
                     counted: bool = True) -> None:
        self.conv(c_in, c_out, 1, hw, counted=counted)
        self.bn(c_out, hw, counted=counted)

    def factorized_reduce(self, c_in: int, c_out: int, hw: Tuple[int, int],
                          counted: bool = True) -> None:
        self.conv(c_in, c_out // 2, 1, hw, counted=counted)
        self.conv(c_in, c_out // 2, 1, hw, counted=counted)
        self.bn(c_out, hw, counted=counted)

    def dil_conv(self, c: int, k: int, hw: Tuple[int, int], counted: bool = True) -> None:
        self.conv(c, c, k, hw, groups=c, counted=counted)
        self.conv(c, c, 1, hw, counted=counted)
        self.bn(c, hw, counted=counted)

    def op(self, name: str, c: int, stride: int, hw: Tuple[int, int], counted: bool = True) -> None:
        """An operation of the space with ``c`` channels and output size ``hw``."""
        if name.startswith('sep_conv_'):
            k = int(name[-1])
            self.dil_conv(c, k, hw, counted)
            self.dil_conv(c, k, hw, counted)
        elif name.startswith('dil_conv_'):
            self.dil_conv(c, int(name[-1]), hw, counted)
        elif name == 'skip_connect' and stride == 2:
            self.factorized_reduce(c, c, hw, counted)
        elif name not in ('skip_connect', 'max_pool_3x3', 'avg_pool_3x3'):
            raise ValueError(f'cost: unknown operation {name!r}')


def _half(hw: Tuple[int, int]) -> Tuple[int, int]:
    """Output size of every stride-2 layer of the network (all pad to ceil(H / 2))."""
    return math.ceil(hw[0] / 2), math.ceil(hw[1] / 2)


def _live_outputs(genotype: Genotype, spec: NetworkSpec) -> List[bool]:
    """Whether each of the network's states is computed in the traced graph.

    States: ``[stem, stem]`` (cifar: both cell inputs of the first cell) or
    ``[stem0, stem1]`` (imagenet), then one per cell; cell ``i`` reads states ``i``
    and ``i + 1``. A state is live if it is a returned stage output or a live cell
    reads it; a cell input no operation reads is not read.
    """
    reductions = reduction_layers(spec.num_cells)
    stage_ends = {1 + sum(i >= r for r in reductions): i for i in range(spec.num_cells)}
    live = [False] * (spec.num_cells + 2)
    for stage in spec.out_indices:
        live[stage_ends[stage] + 2 if stage else 0] = True
    for i in reversed(range(spec.num_cells)):
        if live[i + 2]:
            read = {inp for _, inp in (genotype.reduce if i in reductions else genotype.normal)}
            live[i] = live[i] or 0 in read
            live[i + 1] = live[i + 1] or 1 in read
    if spec.stem_type == 'cifar':
        live[0] = live[1] = live[0] or live[1]
    else:
        live[0] = live[0] or live[1]  # stem1 runs on stem0's output
    return live


def network_cost(genotype: Genotype, spec: NetworkSpec) -> Cost:
    """The FLOPs and parameters of ``spec`` built with ``genotype``'s cells.

    Equal to what ``tools/analysis/get_flops.py`` reports for the same network. As
    there, a layer whose output nothing uses (the preprocessing of a cell input that
    no operation reads, e.g. the published reduction cell ignores its first input; a
    cell whose output only such inputs take) counts its parameters, since it runs,
    but no FLOPs: the traced graph drops it as dead code.
    """
    genotype = validate(genotype)
    live = _live_outputs(genotype, spec)
    n = _Counter()
    c = spec.channels
    if spec.stem_type == 'cifar':
        hw = spec.input_hw
        c_stem = spec.stem_multiplier * c
        n.conv(spec.in_channels, c_stem, 3, hw, counted=live[0])
        n.bn(c_stem, hw, counted=live[0])
        c_pp, c_p, hw_p, reduction_prev = c_stem, c_stem, hw, False
    else:
        hw0 = _half(spec.input_hw)
        n.conv(spec.in_channels, c // 2, 3, hw0, counted=live[0])
        n.bn(c // 2, hw0, counted=live[0])
        hw1 = _half(hw0)
        n.conv(c // 2, c, 3, hw1, counted=live[0])
        n.bn(c, hw1, counted=live[0])
        hw_p = _half(hw1)
        n.conv(c, c, 3, hw_p, counted=live[1])
        n.bn(c, hw_p, counted=live[1])
        c_pp, c_p, reduction_prev = c, c, True
    reductions = reduction_layers(spec.num_cells)
    c_cur = c
    for i in range(spec.num_cells):
        reduction = i in reductions
        c_cur = 2 * c_cur if reduction else c_cur
        pairs = genotype.reduce if reduction else genotype.normal
        read = {inp for _, inp in pairs} if live[i + 2] else set()
        if reduction_prev:
            n.factorized_reduce(c_pp, c_cur, hw_p, counted=0 in read)
        else:
            n.relu_conv_bn(c_pp, c_cur, hw_p, counted=0 in read)
        n.relu_conv_bn(c_p, c_cur, hw_p, counted=1 in read)
        hw_out = _half(hw_p) if reduction else hw_p
        for op, inp in pairs:
            n.op(op, c_cur, 2 if reduction and inp < 2 else 1, hw_out, counted=live[i + 2])
        concat = genotype.reduce_concat if reduction else genotype.normal_concat
        c_pp, c_p = c_p, len(concat) * c_cur
        hw_p = hw_out
        reduction_prev = reduction
    if spec.num_classes:
        n.flops += c_p * hw_p[0] * hw_p[1]  # global average pooling
        n.flops += c_p * spec.num_classes
        n.params += c_p * spec.num_classes + spec.num_classes
    return Cost(int(n.flops), int(n.params))
