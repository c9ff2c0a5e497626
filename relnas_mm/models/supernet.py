"""The search network: every candidate's operations at once, one path active at a time.

RelativeNAS trains each candidate from a shared *weight set*. Holding that set as the
state of one network whose cells contain a module for every (edge, operation) gives
every candidate the same parameter names, so inheriting is ``load_state_dict`` and
writing back is a per-module choice of source (see ``relnas_mm.search.weight_set``).

Plain PyTorch, no mmengine.
"""
from typing import List, Optional, Sequence

import torch
from torch import nn

from ..space.genotype import NUM_NODES, Genotype, Pair, reduction_layers, validate
from ..space.operations import PRIMITIVES, NormCfg, build_op
from ..space.plan import STEM_TYPES, CellPlan, NetworkPlan, Reads, network_plan
from .cell import cifar_stem, drop_path, imagenet_stems, preprocess, preprocessing

NUM_OPS = len(PRIMITIVES)
State = Optional[torch.Tensor]  # a cell input; None where nothing computes it (prune_unused)
#: edges of a cell: node j takes inputs 0 .. 1 + j
NUM_EDGES = sum(2 + j for j in range(NUM_NODES))


def edge_index(node: int, inp: int) -> int:
    """Index of the edge from state ``inp`` into intermediate node ``node`` (0..13)."""
    if not 0 <= node < NUM_NODES or not 0 <= inp < 2 + node:
        raise ValueError(f'no edge from input {inp} into node {node}')
    return sum(2 + k for k in range(node)) + inp


def op_slot(node: int, inp: int, op: str) -> int:
    """Index, within a cell's ``ops`` list, of the module for (edge, operation)."""
    return edge_index(node, inp) * NUM_OPS + PRIMITIVES.index(op)


def op_module_of(name: str) -> Optional[str]:
    """The op-module prefix (``cells.3.ops.17``) that a state key belongs to, else None.

    Keys outside any per-(edge, op) module (stem, preprocessing, classifier) are
    shared by every candidate and return None.
    """
    parts = name.split('.')
    if len(parts) > 4 and parts[0] == 'cells' and parts[2] == 'ops':
        return '.'.join(parts[:4])
    return None


def candidate_keys(keys: Sequence[str], used: Sequence[str]) -> List[str]:
    """The state keys a candidate reads and trains: the shared ones and its op modules'.

    Everything else in the weight set is left as it was by training, so a result needs
    to carry (and ranks need to exchange) these keys only.
    """
    used = set(used)
    return [k for k in keys if op_module_of(k) is None or op_module_of(k) in used]


def used_modules(genotype: Genotype, num_cells: int) -> List[str]:
    """Prefixes (``cells.{i}.ops.{k}``) of the op modules ``genotype`` runs in a SuperNet.

    A (input, op) pair named twice in a node is one module, listed once.
    """
    genotype = validate(genotype)
    reductions = reduction_layers(num_cells)
    used = []
    for i in range(num_cells):
        pairs = genotype.reduce if i in reductions else genotype.normal
        slots = sorted({op_slot(k // 2, inp, op) for k, (op, inp) in enumerate(pairs)})
        used += [f'cells.{i}.ops.{slot}' for slot in slots]
    return used


class SearchCell(nn.Module):
    """A cell holding a module for each of the 14 edges x 7 operations."""

    def __init__(self, plan: CellPlan, norm_cfg: NormCfg = None) -> None:
        super().__init__()
        self.reduction = plan.reduction
        self.preprocess0, self.preprocess1 = preprocessing(plan, norm_cfg)
        self.ops = nn.ModuleList()
        for node in range(NUM_NODES):
            for inp in range(2 + node):
                stride = 2 if plan.reduction and inp < 2 else 1
                for op in PRIMITIVES:
                    self.ops.append(build_op(op, plan.channels, stride, True, norm_cfg))

    def forward(self, s0: State, s1: State, pairs: Sequence[Pair], drop_prob: float,
                generator: Optional[torch.Generator], reads: Reads = (True, True)) -> torch.Tensor:
        """The active path's output; only the preprocessing in ``reads`` runs."""
        states = preprocess(self, s0, s1, reads)
        for node in range(NUM_NODES):
            total = 0
            for op, inp in pairs[2 * node:2 * node + 2]:
                module = self.ops[op_slot(node, inp, op)]
                out = module(states[inp])
                if self.training and drop_prob > 0 and not isinstance(module, nn.Identity):
                    out = drop_path(out, drop_prob, generator)
                total = total + out
            states.append(total)
        return torch.cat(states[2:], dim=1)


class SuperNet(nn.Module):
    """The authors' CIFAR search network over the whole operation superset.

    Args:
        channels: initial channels C (the CIFAR stem has ``stem_multiplier * C``).
        num_cells: cells; reductions at ``num_cells // 3`` and ``2 * num_cells // 3``.
        num_classes: classifier outputs.
        stem_multiplier: stem width factor (CIFAR stem).
        stem: ``'cifar'`` (one stride-1 conv: 32-pixel images) or ``'imagenet'``
            (``RelNASNet``'s stems, stride 8 before the cells: larger crops are
            searched by a network that downsamples like the one the cell goes into).
        prune_unused: run, for each genotype, none of the work whose output nothing
            reads (unread input preprocessing, cells the classifier does not depend on);
            every module is still built (the weight set). False (default) runs it all,
            as the authors' search network.
        norm_cfg: every normalisation layer (``build_norm``); None: BatchNorm2d.

    ``set_genotype`` picks the active path; ``drop_prob`` is the drop-path rate used in
    training; ``generator`` (optional) drives drop-path so that results are
    reproducible without touching torch's global RNG.
    """

    def __init__(self, channels: int = 16, num_cells: int = 8, num_classes: int = 10,
                 stem_multiplier: int = 3, stem: str = 'cifar', prune_unused: bool = False,
                 norm_cfg: NormCfg = None) -> None:
        super().__init__()
        if stem not in STEM_TYPES:
            raise ValueError(f'SuperNet: stem must be one of {STEM_TYPES}, got {stem!r}')
        for key, value in (('channels', channels), ('num_cells', num_cells),
                           ('num_classes', num_classes), ('stem_multiplier', stem_multiplier)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f'SuperNet: {key} must be a positive integer, got {value!r}')
        if num_cells < 3:
            raise ValueError(f'SuperNet: num_cells must be >= 3 (two reduction cells), '
                             f'got {num_cells}')
        if channels % 2:
            raise ValueError(f'SuperNet: channels must be even (FactorizedReduce), '
                             f'got {channels}')
        self.reduction_cells = reduction_layers(num_cells)
        self.prune_unused = bool(prune_unused)
        self.stem_multiplier = stem_multiplier
        self.stem_type = stem
        self.plan: NetworkPlan = network_plan(stem, channels, num_cells, stem_multiplier)
        if stem == 'cifar':
            self.stem = cifar_stem(3, self.plan.stem_channels, norm_cfg)
        else:
            self.stem0, self.stem1 = imagenet_stems(3, channels, norm_cfg)
        self.cells = nn.ModuleList(SearchCell(cell, norm_cfg) for cell in self.plan.cells)
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(self.plan.cells[-1].out_channels, num_classes)
        self.genotype: Optional[Genotype] = None
        self.live: NetworkPlan = self.plan  # what runs for the active genotype
        self.drop_prob = 0.0
        self.generator: Optional[torch.Generator] = None

    def set_genotype(self, genotype: Genotype) -> None:
        """Make ``genotype`` the active path of the following forward passes."""
        self.genotype = validate(genotype)
        if self.prune_unused:
            self.live = network_plan(self.stem_type, self.plan.channels, len(self.cells),
                                     self.stem_multiplier, self.genotype, prune_unused=True)

    def used_modules(self, genotype: Genotype) -> List[str]:
        """Prefixes (``cells.{i}.ops.{k}``) of the op modules that ``genotype`` runs."""
        return used_modules(genotype, len(self.cells))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.genotype is None:
            raise RuntimeError('SuperNet: call set_genotype(genotype) before forward')
        if self.stem_type == 'cifar':
            s0 = s1 = self.stem(x)
        else:
            s0 = self.stem0(x)
            s1 = self.stem1(s0) if self.live.stem1_live else None
        drop_prob = float(self.drop_prob)
        for cell, plan in zip(self.cells, self.live.cells):
            pairs = self.genotype.reduce if cell.reduction else self.genotype.normal
            s0, s1 = s1, (
                cell(s0, s1, pairs, drop_prob, self.generator, plan.reads) if plan.live else None)
        return self.classifier(torch.flatten(self.global_pooling(s1), 1))


def supernet_config(channels: int = 16, num_cells: int = 8, num_classes: int = 10,
                    stem_multiplier: int = 3, stem: str = 'cifar',
                    prune_unused: bool = False) -> dict:
    """The full SuperNet config with defaults filled in (for fingerprints and checks).

    ``stem`` and ``prune_unused`` appear only when not the default, so that searches
    saved before they existed (CIFAR stem, everything run) keep their fingerprint and
    stay resumable.
    """
    cfg = dict(channels=channels, num_cells=num_cells, num_classes=num_classes,
               stem_multiplier=stem_multiplier)
    if stem != 'cifar':
        cfg['stem'] = stem
    return dict(cfg, prune_unused=True) if prune_unused else cfg
