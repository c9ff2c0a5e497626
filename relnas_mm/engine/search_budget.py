"""The ``search.budget`` section: which network the costs are of, their ranges, the results.

::

    budget = dict(network='imagenet_mobile',    # or 'cifar', a downstream config file,
                                                # or dict(stem_type=..., channels=..., ...)
                  flops=(None, 600e6),          # (min, max) per metric, either end None:
                  params=(None, 5.5e6),         # flops, multadds, params, latency (ms)
                  reevaluate=False)             # warmup=5, runs=20: latency only
    budget = dict(metric='flops', network='imagenet_mobile', max=600e6)  # one metric

FLOPs, multiply-adds and parameters come from ``relnas_mm.space.cost``; latency is
measured at batch 1 on the search's device by rank 0 and shared with the other ranks,
so every rank takes the same decisions.
"""
import inspect
import json
import logging
import math
import os.path as osp
from dataclasses import asdict
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dist import all_gather_object, broadcast_object_list, get_dist_info, is_main_process

from ..search.algorithm import GenerationRecord, RelativeNAS
from ..search.budget import (METRICS, Bounds, Budget, MeasureFn, candidates, check_bounds,
                             pareto_front)
from ..search.evaluator import EagerEvaluator, SearchData
from ..search.latency import latency_context, measure_latency
from ..space.cost import NETWORKS, NetworkSpec, network_cost
from ..space.genotype import Genotype, parse_genotype
from ..utils.fileio import atomic_write
from ..visualization import plot_pareto

#: the keys of search.budget besides the metrics' (min, max) ranges
OPTIONS = ('network', 'warmup', 'runs', 'reevaluate')
#: the single-metric form: metric='flops', max=600e6
SINGLE = ('metric', 'max')
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
                measure_latency(
                    build_network(g, spec), spec.input_hw, device, warmup, runs, spec.in_channels)
                for g in genotypes
            ]]
        if get_dist_info()[1] > 1:
            broadcast_object_list(result)
        return result[0]

    return measure


def _cost_measure(spec: NetworkSpec, metric: str) -> MeasureFn:
    return lambda genotypes: [getattr(network_cost(g, spec), metric) for g in genotypes]


def parse_bounds(budget_cfg: Mapping[str, Any]) -> Dict[str, Bounds]:
    """``{metric: (min, max)}`` from ``search.budget``, in either form; errors name the key."""
    if 'metric' in budget_cfg or 'max' in budget_cfg:
        extra = sorted(set(budget_cfg) - set(SINGLE) - set(OPTIONS))
        missing = [k for k in SINGLE if k not in budget_cfg]
        if extra or missing:
            raise KeyError(f'search.budget: the single-metric form takes metric= and max= '
                           f'(missing {missing}) and no range (got {extra}); for several '
                           f'metrics give each a range instead: flops=(None, 600e6), ...')
        metric = budget_cfg['metric']
        if metric not in METRICS:
            raise ValueError(f'search.budget.metric: expected one of {METRICS}, got {metric!r}')
        given, key = {metric: (None, budget_cfg['max'])}, 'max'
    else:
        given, key = {k: v for k, v in budget_cfg.items() if k not in OPTIONS}, None
        unknown = sorted(k for k in given if k not in METRICS)
        if unknown:
            raise ValueError(f'search.budget: unknown metric(s) {unknown}; expected (min, max) '
                             f'ranges of {METRICS} and the options {OPTIONS}')
        if not given:
            raise KeyError(f'search.budget: no metric is bounded; give e.g. flops=(None, 600e6) '
                           f'(metrics: {METRICS})')
    bounds = {}
    for metric, value in given.items():
        try:
            bounds[metric] = check_bounds(metric, value)
        except ValueError as exc:
            raise ValueError(f'search.budget.{key or metric}: {exc}') from None
    return bounds


def build_budget(budget_cfg: Mapping[str, Any], num_classes: int,
                 device: torch.device) -> Optional[Budget]:
    """The search's Budget, or None when the config has no ``search.budget``."""
    if not budget_cfg:
        return None
    bounds = parse_bounds(budget_cfg)
    if 'network' not in budget_cfg:
        raise KeyError(f'search.budget.network is missing: the network the costs are of '
                       f'({sorted(NETWORKS)}, a config file or a dict)')
    if 'latency' not in bounds and ('warmup' in budget_cfg or 'runs' in budget_cfg):
        raise ValueError('search.budget.warmup/runs apply to a latency budget only')
    if not isinstance(budget_cfg.get('reevaluate', False), bool):
        raise ValueError(f'search.budget.reevaluate: expected True or False, got '
                         f'{budget_cfg["reevaluate"]!r}')
    spec = network_spec(budget_cfg['network'], num_classes)
    description = dict(network=json.loads(json.dumps(asdict(spec))))
    measures = {m: _cost_measure(spec, m) for m in bounds if m != 'latency'}
    contexts = {}
    if 'latency' in bounds:
        warmup, runs = budget_cfg.get('warmup', 5), budget_cfg.get('runs', 20)
        measures['latency'] = _latency_measure(spec, device, warmup, runs)
        contexts['latency'] = lambda: latency_context(device)
        description.update(warmup=warmup, runs=runs)
    return Budget(bounds, measures, description, contexts)


# ----------------------------------------------------------------------------- the log
def describe_cost(value: float, metric: str) -> str:
    """A cost for the log: 412.3M FLOPs, 398.1M multiply-adds, 3.21M params, 12.4 ms."""
    if metric == 'latency':
        return f'{value:.2f} ms'
    unit = dict(flops='FLOPs', multadds='multiply-adds', params='params')[metric]
    return f'{value / 1e6:.2f}M {unit}'


def describe_costs(costs: Mapping[str, float]) -> str:
    return ', '.join(describe_cost(v, m) for m, v in costs.items())


def describe_bounds(bounds: Mapping[str, Bounds]) -> str:
    """e.g. 'flops <= 450.00M FLOPs, params in [1.00M params, 5.50M params]'."""
    parts = []
    for metric, (low, high) in bounds.items():
        if low is None:
            parts.append(f'{metric} <= {describe_cost(high, metric)}')
        elif high is None:
            parts.append(f'{metric} >= {describe_cost(low, metric)}')
        else:
            parts.append(f'{metric} in [{describe_cost(low, metric)}, '
                         f'{describe_cost(high, metric)}]')
    return ', '.join(parts)


def cost_summary(record: GenerationRecord,
                 budget: Optional[Budget]) -> Tuple[str, Dict[str, float]]:
    """A generation's costs, feasible share and repairs for its log line and the visualizer
    ('' and {} without a budget)."""
    if budget is None:
        return '', {}
    mean = {m: float(np.mean(c)) for m, c in record.costs.items()}
    feasible, n = sum(record.feasible), len(record.feasible)
    redrawn = f'  redrawn {record.redrawn}' if record.redrawn else ''
    text = (f'  best cost {describe_costs(record.best_cost)}  mean cost {describe_costs(mean)}  '
            f'feasible {feasible}/{n} ({100 * feasible / n:.0f}%)  repairs {record.repairs}'
            f'{redrawn}')
    scalars = dict(feasible=feasible, feasible_share=feasible / n, repairs=record.repairs)
    for metric in record.costs:
        scalars.update({f'best_{metric}': record.best_cost[metric], f'mean_{metric}': mean[metric]})
    return text, scalars


def final_cost_message(history: Sequence[GenerationRecord], budget: Budget) -> Tuple[int, str]:
    """(log level, message) on the result's cost; a warning if nothing ever met the budget."""
    cost, limits = describe_costs(history[-1].best_cost), describe_bounds(budget.bounds)
    if any(any(r.feasible) for r in history):
        return logging.INFO, f'Best genotype cost: {cost} (budget {limits})'
    return logging.WARNING, (
        f'No candidate of the search met the budget ({limits}); best_genotype.json holds '
        f'the least-violating one ({cost}, feasible: false)')


def best_fields(record: Mapping[str, Any], budget: Budget) -> Dict[str, Any]:
    """What best_genotype.json adds under a budget (``record`` is a ``to_dict`` record)."""
    best = record['best_index']
    return dict(costs=record['best_cost'], budget=budget.config()['bounds'],
                feasible=record['feasible'][best])


# ----------------------------------------------------------------------------- Pareto front
ValidateFn = Callable[[Genotype], Tuple[float, float]]


def make_validate(search_cfg: Mapping[str, Mapping[str, Any]], data: SearchData,
                  device: torch.device) -> Callable[[RelativeNAS], ValidateFn]:
    """``validate_with(algorithm)(genotype) -> (loss, acc)``: one validation pass of a cell
    with the algorithm's current weight set, no training (``EagerEvaluator.validate``;
    its network is built only when asked for, at the end of the search)."""
    evaluator_cfg = search_cfg['evaluator']

    def validate_with(algorithm: RelativeNAS) -> ValidateFn:
        # the settings a validation pass depends on; the others keep the evaluator's defaults
        settings = {
            k: evaluator_cfg[k]
            for k in ('batch_size', 'augment_valid', 'deterministic') if k in evaluator_cfg
        }
        evaluator = EagerEvaluator(data, search_cfg['supernet'], device=device, **settings)
        weights = algorithm.weight_set.snapshot()
        return lambda genotype: evaluator.validate(genotype, weights)

    return validate_with


def reevaluate_archive(history: Sequence[GenerationRecord],
                       validate: ValidateFn) -> List[Dict[str, Any]]:
    """Every distinct cell the search evaluated, validated again by ``validate`` (one
    weight-set state for all), the cells split over the ranks.

    One entry per cell, in the order first evaluated, with the last generation it was
    evaluated in, its costs and feasibility, and the new validation loss and accuracy.
    """
    archive: Dict[str, Dict[str, Any]] = {}
    for entry in candidates([r.to_dict() for r in history]):
        del entry['index']
        archive[entry['genotype']] = entry
    cells = list(archive)
    rank, world_size = get_dist_info()
    mine = {g: validate(parse_genotype(g)) for g in cells[rank::world_size]}
    scores: Dict[str, Tuple[float, float]] = {}
    for part in (all_gather_object(mine) if world_size > 1 else [mine]):
        scores.update(part)
    return [
        dict(archive[g], val_loss=scores[g][0] if math.isfinite(scores[g][0]) else None,
             val_acc=scores[g][1]) for g in cells
    ]


def save_pareto(history: Sequence[Mapping[str, Any]], budget: Budget, work_dir: str, plot: bool,
                reevaluated: Optional[List[Dict[str, Any]]] = None) -> List[str]:
    """pareto.json and pareto.png (``to_dict`` records); returns the written paths.

    The front is over losses of one weight-set state: the final generation's
    candidates, or with ``reevaluated`` (``reevaluate_archive``) every cell of the
    search validated again with the final weight set. A cell is on it if no other is
    at least as good in the loss and every budgeted metric and better in one.
    """
    if reevaluated is None:
        entries, front_of = candidates(history[-1:]), 'final_generation'
        about = (f'the {len(entries)} candidates of the final generation (generation '
                 f'{history[-1]["generation"] + 1}), each with its validation loss after its '
                 f'epoch of training in that generation')
    else:
        entries, front_of = reevaluated, 'reevaluated_archive'
        about = (f'all {len(entries)} distinct cells the search evaluated, each validated '
                 f'once more with the final weight set (no training)')
    front = pareto_front([(e['val_loss'], tuple(e['costs'][m] for m in budget.metrics))
                          for e in entries])
    path = osp.join(work_dir, PARETO_FILE)
    with atomic_write(path) as f:
        json.dump(
            dict(front_of=front_of, about=about, **budget.config(), num_candidates=len(entries),
                 front=[entries[i] for i in front]), f, indent=1)
    written = [path]
    if plot:
        metric = budget.metrics[0]
        title = ('Pareto front of the final generation' if reevaluated is None else
                 'Pareto front of all cells, re-evaluated with the final weights')
        if len(budget.metrics) > 1:
            title += f'\n(front over the loss and {", ".join(budget.metrics)})'
        written += plot_pareto([dict(e, cost=e['costs'][metric]) for e in entries], front, metric,
                               osp.join(work_dir, PARETO_PLOT), budget.bounds[metric][1], title)
    return written
