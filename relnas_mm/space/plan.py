"""The architecture plan of a network of cells: the one schedule every builder iterates.

The search network (``SuperNet``), the final network (``RelNASNet``), the cost model
(``network_cost``) and the converter of the authors' weights all need the same facts
per cell: whether it reduces, whether its predecessor did, its input and node
channels, its stage. Writing that schedule once keeps the four in step (a change such
as ``prune_unused`` is made here only); the plan also says which work is live when the
network is built without what nothing reads. Plain Python, no torch or mmengine.
"""
from dataclasses import dataclass, replace
from typing import Dict, Optional, Sequence, Tuple

from .genotype import NUM_NODES, Genotype, reduction_layers, validate

STEM_TYPES = ('imagenet', 'cifar')
NUM_STAGES = 4
Reads = Tuple[bool, bool]  # which of a cell's two input preprocessings are built and run


@dataclass(frozen=True)
class CellPlan:
    """One cell of the network.

    ``reads`` says which of the two input preprocessings (``preprocess0``,
    ``preprocess1``) are built and run; ``live`` whether the cell is.
    """

    index: int
    reduction: bool
    reduction_prev: bool
    c_prev_prev: int
    c_prev: int
    channels: int
    stage: int
    live: bool = True
    reads: Reads = (True, True)

    @property
    def out_channels(self) -> int:
        """Channels of the cell's output: the concatenation of its intermediate nodes."""
        return NUM_NODES * self.channels


@dataclass(frozen=True)
class NetworkPlan:
    """The stems and cells of a network, in order.

    ``stem_channels``: output channels of the CIFAR stem, or of ``stem0`` and ``stem1``
    (C) in the ImageNet stem, whose first conv has C/2. ``stem1_live``: whether the
    ImageNet ``stem1`` is built and run. The first stem always is: every live cell
    reads one of its inputs at least, so the chain of live work reaches it.
    """

    stem_type: str
    channels: int
    stem_channels: int
    cells: Tuple[CellPlan, ...]
    stem1_live: bool = True

    @property
    def stage_ends(self) -> Dict[int, int]:
        """Cell index -> stage, for the last cell of each stage 1..3."""
        return {max(c.index for c in self.cells if c.stage == s): s for s in range(1, NUM_STAGES)}

    @property
    def stage_channels(self) -> Tuple[int, ...]:
        """Channels of the four stage outputs."""
        ends = sorted(self.stage_ends)
        return (self.stem_channels, *(self.cells[i].out_channels for i in ends))


def network_plan(stem_type: str, channels: int, num_cells: int, stem_multiplier: int = 3,
                 genotype: Optional[Genotype] = None, out_indices: Sequence[int] = (3, ),
                 prune_unused: bool = False) -> NetworkPlan:
    """The plan of a DARTS network: reductions at L/3 and 2L/3, channels doubled there.

    Args:
        stem_type: ``'cifar'`` (one stem of ``stem_multiplier * channels``) or
            ``'imagenet'`` (``stem0``, ``stem1``, both of ``channels``; the first cell
            then sees a reduced predecessor).
        channels: C, the node channels of the first cells.
        num_cells: cells (>= 3).
        genotype, out_indices, prune_unused: with ``prune_unused``, the work whose output
            neither a stage in ``out_indices`` nor any live work reads is marked dead
            (the cells' input preprocessing that no operation of the genotype reads, cells
            no live cell reads, a stem no one reads). Without it everything is live, as in
            the authors' networks.
    """
    if stem_type not in STEM_TYPES:
        raise ValueError(f'network plan: stem_type must be one of {STEM_TYPES}, got {stem_type!r}')
    if isinstance(num_cells, bool) or not isinstance(num_cells, int) or num_cells < 3:
        raise ValueError(f'network plan: num_cells must be an integer >= 3 (one cell per '
                         f'stage at least), got {num_cells!r}')
    reductions = reduction_layers(num_cells)
    stem_channels = stem_multiplier * channels if stem_type == 'cifar' else channels
    c_prev_prev = c_prev = stem_channels
    reduction_prev = stem_type == 'imagenet'
    c_cur = channels
    cells = []
    for i in range(num_cells):
        reduction = i in reductions
        c_cur = 2 * c_cur if reduction else c_cur
        cell = CellPlan(i, reduction, reduction_prev, c_prev_prev, c_prev, c_cur,
                        1 + sum(i >= r for r in reductions))
        cells.append(cell)
        c_prev_prev, c_prev, reduction_prev = c_prev, cell.out_channels, reduction
    plan = NetworkPlan(stem_type, channels, stem_channels, tuple(cells))
    if not prune_unused:
        return plan
    if genotype is None:
        raise ValueError('network plan: prune_unused needs the genotype (which inputs its '
                         'cells read)')
    return _pruned(plan, validate(genotype), tuple(out_indices))


def _pruned(plan: NetworkPlan, genotype: Genotype, out_indices: Tuple[int, ...]) -> NetworkPlan:
    """``plan`` with liveness: a backward pass from the returned stages.

    States are ``[stem | stem0, stem | stem1]`` then one per cell; cell ``i`` reads
    states ``i`` (input 0) and ``i + 1`` (input 1); a cell's input no operation of
    the genotype reads is not read.
    """
    if not out_indices or not all(i in range(NUM_STAGES) for i in out_indices):
        raise ValueError(f'network plan: out_indices must be stage indices in 0..'
                         f'{NUM_STAGES - 1}, got {out_indices!r}')
    ends = {stage: i for i, stage in plan.stage_ends.items()}
    live = [False] * (len(plan.cells) + 2)
    for stage in out_indices:
        live[ends[stage] + 2 if stage else 0] = True
    reads = []
    for cell in reversed(plan.cells):
        pairs = genotype.reduce if cell.reduction else genotype.normal
        read = tuple(live[cell.index + 2] and k in {inp for _, inp in pairs} for k in (0, 1))
        live[cell.index] |= read[0]
        live[cell.index + 1] |= read[1]
        reads.append(read)
    cells = tuple(
        replace(c, live=live[c.index + 2], reads=read)
        for c, read in zip(plan.cells, reversed(reads)))
    return replace(plan, cells=cells, stem1_live=plan.stem_type == 'cifar' or live[1])
