"""The ``search.budget`` section: which network the cost is of, how it is measured, the results.

::

    budget = dict(metric='flops',               # 'flops' | 'params' | 'latency' (ms)
                  network='imagenet_mobile',    # or 'cifar', a downstream config file,
                                                # or dict(stem_type=..., channels=..., ...)
                  max=600e6)                    # warmup=5, runs=20: latency only

FLOPs and parameters come from ``relnas_mm.space.cost`` (counted like
tools/analysis/get_flops.py); latency is measured at batch 1 on the search's device by
rank 0 and shared with the other ranks, so every rank takes the same decisions.
"""
import inspect
import json
import logging
import os.path as osp
from dataclasses import asdict
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dist import broadcast_object_list, get_dist_info, is_main_process

from ..search.algorithm import GenerationRecord
from ..search.budget import METRICS, Budget, MeasureFn, candidates, pareto_front
from ..search.latency import measure_latency
from ..space.cost import NETWORKS, NetworkSpec, network_cost
from ..space.genotype import Genotype
from ..utils.fileio import atomic_write
from ..visualization import plot_pareto

BUDGET_KEYS = ('metric', 'network', 'max', 'warmup', 'runs')
PARETO_FILE = 'pareto.json'
PARETO_PLOT = 'pareto.png'
_REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _find_backbone(node: Any) -> Optional[Mapping[str, Any]]:
    """The first RelNASNet config inside a model config (a detector's, a segmentor's...)."""
    if isinstance(node, Mapping):
        if str(node.get('type', '')).split('.')[-1] == 'RelNASNet':
            return node
        children = node.values()
    elif isinstance(node, (list, tuple)):
        children = node
    else:
        return None
    for child in children:
        found = _find_backbone(child)
        if found is not None:
            return found
    return None


def _config_path(path: str) -> str:
    """A downstream config, from the working directory or else from the repository root."""
    for candidate in (path, osp.join(_REPO, path)):
        if osp.isfile(candidate):
            return candidate
    raise FileNotFoundError(f'search.budget.network: config file {path!r} not found (looked '
                            f'in the working directory and in {_REPO})')


def spec_from_config(path: str) -> NetworkSpec:
    """The RelNASNet of a downstream config at the config's ``input_hw``.

    A classifier config (``RelNASClassifier``) gives the whole classifier; any other
    model (detector, segmentor, pose model) gives its backbone alone, with the stages
    its neck or head reads (``out_indices``).
    """
    from ..models.backbone import RelNASNet
    cfg = Config.fromfile(_config_path(path), import_custom_modules=False)
    model = cfg.get('model')
    backbone = _find_backbone(model)
    if backbone is None:
        raise ValueError(f'search.budget.network: {path} has no RelNASNet in its model')
    if cfg.get('input_hw') is None:
        raise ValueError(f'search.budget.network: {path} has no input_hw = (H, W); add it '
                         f'or give the network as a dict')
    defaults = {k: p.default for k, p in inspect.signature(RelNASNet).parameters.items()}
    arg = {
        k: backbone.get(k, defaults[k])
        for k in ('base_channels', 'num_cells', 'stem_type', 'stem_multiplier', 'in_channels',
                  'out_indices', 'prune_unused')
    }
    classifier = str(model.get('type', '')).split('.')[-1] == 'RelNASClassifier'
    return NetworkSpec(arg['stem_type'], arg['base_channels'], arg['num_cells'],
                       tuple(cfg.input_hw), num_classes=model.num_classes if classifier else 0,
                       stem_multiplier=arg['stem_multiplier'], in_channels=arg['in_channels'],
                       out_indices=(3, ) if classifier else tuple(arg['out_indices']),
                       prune_unused=arg['prune_unused'])


def network_spec(network: Any, num_classes: int) -> NetworkSpec:
    """``search.budget.network`` as a NetworkSpec.

    ``'cifar'`` is the CIFAR network with the search data's ``num_classes``;
    ``'imagenet_mobile'`` keeps ImageNet's 1000.
    """
    if isinstance(network, Mapping):
        fields = dict(network)
        unknown = sorted(set(fields) - set(NetworkSpec.__dataclass_fields__))
        if unknown:
            raise KeyError(f'search.budget.network: unknown key(s) {unknown}; expected some '
                           f'of {list(NetworkSpec.__dataclass_fields__)}')
        return NetworkSpec(**fields)
    if network == 'cifar':
        return NetworkSpec(**dict(asdict(NETWORKS['cifar']), num_classes=num_classes))
    if network in NETWORKS:
        return NETWORKS[network]
    if isinstance(network, str) and network.endswith('.py'):
        return spec_from_config(network)
    raise ValueError(f'search.budget.network: expected one of {sorted(NETWORKS)}, a config '
                     f'file (.py) or a dict of {list(NetworkSpec.__dataclass_fields__)}, '
                     f'got {network!r}')


def build_network(genotype: Genotype, spec: NetworkSpec) -> torch.nn.Module:
    """The network ``spec`` with ``genotype``'s cells (its test-time forward pass)."""
    from ..models.backbone import RelNASNet
    from ..models.classifiers import RelNASClassifier
    backbone = dict(genotype=genotype, base_channels=spec.channels, num_cells=spec.num_cells,
                    stem_type=spec.stem_type, stem_multiplier=spec.stem_multiplier,
                    in_channels=spec.in_channels, out_indices=spec.out_indices,
                    prune_unused=spec.prune_unused)
    if spec.num_classes:
        return RelNASClassifier(
            dict(type='relnas_mm.RelNASNet', **backbone), spec.num_classes, auxiliary_weight=0.0)
    return RelNASNet(**backbone)


def _latency_measure(spec: NetworkSpec, device: torch.device, warmup: int, runs: int) -> MeasureFn:
    """Latencies measured by rank 0 alone (one device, no contention), sent to all ranks."""

    def measure(genotypes: List[Genotype]) -> List[float]:
        result = [None]
        if is_main_process():
            result = [[
                measure_latency(build_network(g, spec), spec.input_hw, device, warmup, runs)
                for g in genotypes
            ]]
        if get_dist_info()[1] > 1:
            broadcast_object_list(result)
        return result[0]

    return measure


def build_budget(budget_cfg: Mapping[str, Any], num_classes: int,
                 device: torch.device) -> Optional[Budget]:
    """The search's Budget, or None when the config has no ``search.budget``."""
    if not budget_cfg:
        return None
    unknown = sorted(set(budget_cfg) - set(BUDGET_KEYS))
    missing = [k for k in ('metric', 'network', 'max') if k not in budget_cfg]
    if unknown or missing:
        raise KeyError(f'search.budget: unknown key(s) {unknown}, missing key(s) {missing}; '
                       f'expected dict(metric={"|".join(METRICS)}, network=..., max=...)')
    metric = budget_cfg['metric']
    if metric not in METRICS:
        raise ValueError(f'search.budget.metric: expected one of {METRICS}, got {metric!r}')
    if metric != 'latency' and ('warmup' in budget_cfg or 'runs' in budget_cfg):
        raise ValueError('search.budget.warmup/runs apply to metric="latency" only')
    spec = network_spec(budget_cfg['network'], num_classes)
    description = dict(network=json.loads(json.dumps(asdict(spec))))
    if metric == 'latency':
        warmup, runs = budget_cfg.get('warmup', 5), budget_cfg.get('runs', 20)
        measure = _latency_measure(spec, device, warmup, runs)
        description.update(device=str(device), warmup=warmup, runs=runs)
    else:

        def measure(genotypes: List[Genotype]) -> List[float]:
            return [getattr(network_cost(g, spec), metric) for g in genotypes]

    try:
        return Budget(metric, budget_cfg['max'], measure, description)
    except ValueError as exc:
        raise ValueError(f'search.budget: {exc}') from None


def describe_cost(value: float, metric: str) -> str:
    """A cost for the log: 412.3M FLOPs, 3.21M params, 12.4 ms."""
    if metric == 'latency':
        return f'{value:.2f} ms'
    return f'{value / 1e6:.2f}M {"FLOPs" if metric == "flops" else "params"}'


def cost_summary(record: GenerationRecord,
                 budget: Optional[Budget]) -> Tuple[str, Dict[str, float]]:
    """A generation's costs for its log line and the visualizer ('' and {} without a budget)."""
    if budget is None:
        return '', {}
    mean = float(np.mean(record.costs))
    text = (f'  best cost {describe_cost(record.best_cost, budget.metric)}  mean cost '
            f'{describe_cost(mean, budget.metric)}  feasible '
            f'{sum(record.feasible)}/{len(record.feasible)}')
    return text, dict(best_cost=record.best_cost, mean_cost=mean, feasible=sum(record.feasible))


def final_cost_message(history: Sequence[GenerationRecord], budget: Budget) -> Tuple[int, str]:
    """(log level, message) on the result's cost; a warning if nothing ever met the budget."""
    cost = describe_cost(history[-1].best_cost, budget.metric)
    limit = describe_cost(budget.limit, budget.metric)
    if any(any(r.feasible) for r in history):
        return logging.INFO, f'Best genotype cost: {cost} (budget {limit})'
    return logging.WARNING, (
        f'No candidate of the search met the budget ({budget.metric} at most {limit}); '
        f'best_genotype.json holds the least-violating one ({cost}, feasible: false)')


def best_fields(record: Mapping[str, Any], budget: Budget) -> Dict[str, Any]:
    """What best_genotype.json adds under a budget (``record`` is a ``to_dict`` record)."""
    best = record['best_index']
    return dict(cost=record['costs'][best], metric=budget.metric, budget=budget.limit,
                feasible=record['feasible'][best])


def save_pareto(history: Sequence[Mapping[str, Any]], budget: Budget, work_dir: str,
                plot: bool) -> List[str]:
    """pareto.json (the non-dominated (loss, cost) candidates of the whole search) and
    pareto.png; returns the written paths."""
    entries = candidates(history)
    front = pareto_front([(e['val_loss'], e['cost']) for e in entries])
    path = osp.join(work_dir, PARETO_FILE)
    with atomic_write(path) as f:
        json.dump(
            dict(metric=budget.metric, max=budget.limit, **budget.description,
                 num_candidates=len(entries), front=[entries[i] for i in front]), f, indent=1)
    written = [path]
    if plot:
        title = f'RelativeNAS under a {budget.metric} budget ({len(history)} generations)'
        written += plot_pareto(entries, front, budget.metric, osp.join(work_dir, PARETO_PLOT),
                               budget.limit, title)
    return written
