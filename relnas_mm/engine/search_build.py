"""The parts of a search from the config's ``search`` section, each error naming its key.

:func:`read_search_config` checks the section's keys, ``check_search_settings`` its
values; :func:`build_search` makes the algorithm (before any image is read, so a bad
setting fails at once), the data halves on the
device and the evaluation (``make_evaluate``) that the hook spreads over the ranks.
"""
from dataclasses import dataclass
from typing import Any, Callable, Dict, Mapping, Optional

import torch
from mmengine.dist import get_dist_info

from ..search import (Budget, RelativeNAS, SearchData, evaluator_class, make_evaluate,
                      split_search_data)
from ..search.checkpoint import search_fingerprint
from ..search.numerics import set_numerics
from ..space.genotype import get_genotype
from .search_budget import build_budget
from .search_data import (DATA_KEYS, ProgressFn, load_search_images, prepare_search_data,
                          search_classes, with_num_classes)
from .search_settings import check_search_settings

SECTIONS = ('data', 'supernet', 'evaluator', 'algorithm', 'budget')


def read_search_config(cfg: Mapping[str, Any]) -> Dict[str, Dict[str, Any]]:
    """The ``search`` section of a config as plain dicts, its keys checked."""
    search_cfg = cfg.get('search')
    if not isinstance(search_cfg, Mapping):
        raise KeyError(f'{getattr(cfg, "filename", "the config")}: the search needs a "search" '
                       f'section, a dict with {list(SECTIONS)}')
    unknown = sorted(set(search_cfg) - set(SECTIONS))
    if unknown:
        raise KeyError(f'search: unknown key(s) {unknown}; expected {list(SECTIONS)}')
    sections = {}
    for name in SECTIONS:
        value = search_cfg.get(name, {})
        if not isinstance(value, Mapping):
            raise TypeError(f'search.{name}: expected a dict, got {type(value).__name__}')
        sections[name] = value.to_dict() if hasattr(value, 'to_dict') else dict(value)
    unknown = sorted(set(sections['data']) - set(DATA_KEYS))
    if unknown:
        raise KeyError(f'search.data: unknown key(s) {unknown}; expected {list(DATA_KEYS)}')
    return sections


def built(what: str, factory: Callable[..., Any], **kwargs: Any) -> Any:
    """Call ``factory``; a bad argument becomes an error that names the config section."""
    try:
        return factory(**kwargs)
    except (TypeError, ValueError) as exc:
        raise (TypeError if isinstance(exc, TypeError) else ValueError)(f'{what}: {exc}') from exc


def build_algorithm(cfg: Mapping[str, Dict[str, Any]], device: torch.device,
                    budget: Optional[Budget] = None) -> RelativeNAS:
    """``RelativeNAS`` from ``search.algorithm`` (seed cells may be given by name or JSON)."""
    kwargs = dict(cfg['algorithm'])
    seeds = kwargs.pop('init_population', None)
    if seeds:
        kwargs['init_population'] = [
            get_genotype(s) if isinstance(s, (str, dict)) else s for s in seeds
        ]
    return built('search.algorithm', RelativeNAS, model_cfg=cfg['supernet'], device=device,
                 budget=budget, **kwargs)


def build_evaluate(evaluator_cfg: Mapping[str, Any], supernet_cfg: Mapping[str, Any],
                   data: SearchData, device: torch.device) -> Any:
    """This rank's ``evaluate(jobs)`` from ``search.evaluator`` (``type``: an evaluator
    name or dotted path, see ``relnas_mm.search.evaluator_class``; the rest: its options
    and ``make_evaluate``'s ``workers``)."""
    options = dict(evaluator_cfg)
    cls = built('search.evaluator.type', evaluator_class, kind=options.pop('type', 'FastEvaluator'))
    return built('search.evaluator', make_evaluate, data=data, kind=cls, model_cfg=supernet_cfg,
                 device=device, **options)


@dataclass
class SearchSetup:
    """What :func:`build_search` makes: the checked config, its fingerprint (what a
    resumed checkpoint must match), the algorithm, the data, this rank's evaluation and
    the numerics line for the log."""

    config: Dict[str, Dict[str, Any]]
    fingerprint: Dict[str, Any]
    algorithm: RelativeNAS
    data: SearchData
    evaluate: Any
    numerics: str


def build_search(cfg: Mapping[str,
                              Any], device: torch.device, progress: Optional[ProgressFn] = None,
                 work_dir: Optional[str] = None) -> SearchSetup:
    """Everything a search needs from the config ``cfg`` (see the module docstring);
    ``work_dir`` holds the cache of pieces cut from annotated images."""
    search_cfg = read_search_config(cfg)
    check_search_settings(search_cfg, get_dist_info()[1], cfg.get('launcher', 'none'))
    fingerprint = search_fingerprint(search_cfg)
    prepare_search_data(search_cfg['data'])
    search_cfg['supernet'] = with_num_classes(search_cfg['supernet'],
                                              search_classes(search_cfg['data'], work_dir),
                                              search_cfg['data'])
    budget = build_budget(search_cfg['budget'], search_cfg['supernet']['num_classes'], device)
    algorithm = build_algorithm(search_cfg, device, budget)  # fail before the data
    data_cfg = search_cfg['data']
    images, labels, groups = load_search_images(data_cfg, progress, work_dir)
    data = built('search.data', split_search_data, images=images, labels=labels,
                 seed=data_cfg.get('split_seed', 0),
                 train_portion=data_cfg.get('train_portion', 0.5), device=device, groups=groups)
    numerics = set_numerics(device, search_cfg['evaluator'].get('deterministic', False))
    evaluate = build_evaluate(search_cfg['evaluator'], search_cfg['supernet'], data, device)
    return SearchSetup(search_cfg, fingerprint, algorithm, data, evaluate, numerics)
