"""A config's top-level ``pretrained`` and ``genotype``, and ImageNet weights that must fit.

Why: the det/seg/pose configs declare ``pretrained = None`` and ``genotype = ...`` at
their top and fill the backbone's ``init_cfg`` and ``genotype`` from them when that
file is parsed. A child config or ``--cfg-options pretrained=...`` changes only the
top-level key afterwards, and the backbone would silently keep the file's value
(and train from scratch). :func:`bind_top_level` runs after every merge and puts the
values where they belong, or refuses a contradiction naming both keys.
The configs always write ``init_cfg=dict(type='Pretrained', checkpoint=pretrained, ...)``
(``checkpoint=None``, the default, loads nothing: see :func:`pretrained_init` and
``RelNASNet.init_weights``), so that the upstream tools, which know nothing of the
top-level keys, load weights with one key, ``model.backbone.init_cfg.checkpoint=PATH``
(``model.backbone.backbone_cfg.init_cfg.checkpoint=PATH`` for BiSeNet); given to
relnas_mm's tools, that key updates the top-level ``pretrained``.
mmengine's ``Pretrained`` init loads with ``strict=False`` and only logs the keys
that do not fit; :func:`check_pretrained` makes such a checkpoint (another genotype,
another width) an error before training.
"""
import ast
import os.path as osp
from typing import Any, Dict, Iterator, List, Optional, Tuple

from torch import nn

from .preflight import walk_dicts

#: the prefix of a classifier checkpoint's backbone keys (relnas_mm's converted
#: checkpoints and OpenMMLab's ImageNet classifiers alike)
DEFAULT_PREFIX = 'backbone.'
#: libraries whose backbones are meant to start from ImageNet weights
DOWNSTREAM_SCOPES = ('mmdet', 'mmseg', 'mmpose')
_MAX_LISTED = 5


class PretrainedMismatchError(ValueError):
    """A ``Pretrained`` checkpoint whose keys or shapes do not fit the module."""


def backbone_node(cfg: Any) -> Tuple[str, dict]:
    """``(config key, dict)`` of the network that ImageNet weights initialise:
    ``model.backbone``, or the backbone nested in its ``backbone_cfg`` (BiSeNet's
    context path)."""
    model = cfg.get('model')
    if not isinstance(model, dict) or not isinstance(model.get('backbone'), dict):
        raise KeyError(f"{cfg.filename or 'the config'}: the model has no 'backbone' to "
                       'load pretrained weights into')
    key, node = 'model.backbone', model['backbone']
    while isinstance(node.get('backbone_cfg'), dict):
        key, node = f'{key}.backbone_cfg', node['backbone_cfg']
    return key, node


def _as_list(init_cfg: Any) -> List[Any]:
    return list(init_cfg) if isinstance(init_cfg, (list, tuple)) else [init_cfg]


def _pretrained_entry(init_cfg: Any) -> Optional[dict]:
    """The ``Pretrained`` entry of an ``init_cfg``, even one whose checkpoint is None."""
    for item in _as_list(init_cfg):
        if isinstance(item, dict) and item.get('type') == 'Pretrained':
            return item
    return None


def pretrained_init(init_cfg: Any) -> Optional[dict]:
    """The ``Pretrained`` entry of an ``init_cfg`` (a dict or a list of them) that names
    a checkpoint, if any. ``checkpoint=None`` (the det/seg/pose configs' default, which
    lets the upstream tools set ``...init_cfg.checkpoint=PATH`` alone) loads nothing:
    RelNASNet keeps its own initialisation."""
    item = _pretrained_entry(init_cfg)
    return item if item is not None and item.get('checkpoint') is not None else None


def _cli_keys(options: Dict[str, Any], prefix: str) -> List[str]:
    return [k for k in options if k == prefix or k.startswith(prefix + '.')]


def _base_files(filename: str) -> List[str]:
    """The ``_base_`` entries of a config file, as written (mmengine drops the key once
    it has merged the bases, and has no public reader for it)."""
    if osp.splitext(filename)[1] != '.py':
        from mmengine.fileio import load
        bases = load(filename).get('_base_', [])
    else:
        with open(filename, encoding='utf-8') as f:
            tree = ast.parse(f.read(), filename)
        bases = next(
            (ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)
             and len(node.targets) == 1 and getattr(node.targets[0], 'id', None) == '_base_'), [])
    return [bases] if isinstance(bases, str) else list(bases)


def _base_value(cfg: Any, name: str) -> Any:
    """The top-level ``name`` of the config's base configs, each resolved on its own
    (None when no local base declares it)."""
    from mmengine.config import Config
    if not cfg.filename or not osp.isfile(cfg.filename):
        return None
    value = None
    for base in _base_files(cfg.filename):
        if '::' in base:  # a config of another package: none of relnas_mm's keys
            continue
        parent = Config.fromfile(osp.join(osp.dirname(cfg.filename), base))
        bind_top_level(parent)
        value = parent.get(name, value)
    return value


def _bind_genotype(cfg: Any, options: Dict[str, Any]) -> None:
    if 'genotype' not in cfg:
        return
    nodes = [(key, node) for key, node in walk_dicts(cfg.get('model'), 'model')
             if 'genotype' in node]
    node_options = [k for k in options if k.startswith('model.') and k.endswith('.genotype')]
    if 'genotype' in options:
        if node_options:
            raise ValueError(f'--cfg-options sets both genotype and {node_options[0]}: give '
                             'one of them (genotype=... sets every backbone of the model)')
        if not nodes:
            raise KeyError(f"--cfg-options genotype: the model of {cfg.filename} has no "
                           "'genotype' key to set (it is not a RelNASNet model)")
        for _, node in nodes:
            node['genotype'] = cfg.genotype
        return
    if node_options:  # the model key given on the command line wins; keep the top in step
        cfg.genotype = options[node_options[0]]
        return
    differ = [(key, node) for key, node in nodes if node['genotype'] != cfg.genotype]
    if not differ:
        return
    base = _base_value(cfg, 'genotype')
    model_values = {str(node['genotype']) for _, node in differ}
    if base is not None and cfg.genotype != base and model_values == {str(base)}:
        for _, node in differ:  # a child config set the top-level key
            node['genotype'] = cfg.genotype
        return
    if base is not None and cfg.genotype == base and len(model_values) == 1:
        cfg.genotype = differ[0][1]['genotype']  # a child config set the model key
        return
    key, node = differ[0]
    raise ValueError(
        f"{cfg.filename}: genotype = {cfg.genotype!r} at the top of the config, but "
        f"{key}.genotype = {node['genotype']!r}: set one of them (the top-level key, or "
        '--cfg-options genotype=VALUE, sets every backbone of the model)')


def _bind_pretrained(cfg: Any, options: Dict[str, Any]) -> None:
    if 'pretrained' not in cfg:
        return
    key, node = backbone_node(cfg)
    current = pretrained_init(node.get('init_cfg'))
    loaded = current.get('checkpoint') if current else None
    entry = _pretrained_entry(node.get('init_cfg'))  # checkpoint=None keeps its prefix
    prefix = entry.get('prefix', DEFAULT_PREFIX) if entry else DEFAULT_PREFIX
    node_options = _cli_keys(options, f'{key}.init_cfg')
    if 'pretrained' in options:
        if node_options:
            raise ValueError(f'--cfg-options sets both pretrained and {node_options[0]}: give '
                             'one of them')
        node['init_cfg'] = None if cfg.pretrained is None else dict(
            type='Pretrained', checkpoint=cfg.pretrained, prefix=prefix)
        return
    if node_options:  # the backbone's init_cfg given on the command line wins
        cfg.pretrained = loaded
        return
    if cfg.pretrained == loaded:
        return
    base = _base_value(cfg, 'pretrained') if current else None
    if current is None or (cfg.pretrained != base and loaded == base):
        # a child config set the top-level key: its base built the backbone without it
        node['init_cfg'] = None if cfg.pretrained is None else dict(
            type='Pretrained', checkpoint=cfg.pretrained, prefix=prefix)
        return
    if cfg.pretrained == base:
        cfg.pretrained = loaded  # the backbone's init_cfg was set directly
        return
    raise ValueError(
        f"{cfg.filename}: pretrained = {cfg.pretrained!r} at the top of the config, but "
        f"{key}.init_cfg loads {loaded!r}: set one of them (the top-level key, or "
        '--cfg-options pretrained=PATH)')


def bind_top_level(cfg: Any, options: Optional[Dict[str, Any]] = None) -> None:
    """Make the config's top-level ``genotype`` and ``pretrained`` reach the model.

    ``options`` are the ``--cfg-options`` already merged into ``cfg``. The command
    line wins over the files: ``genotype=``/``pretrained=`` set the backbone's keys,
    and a backbone key given there (``model.backbone.genotype=``, ``...init_cfg...``)
    updates the top-level one. In the files, a child config may set either form: the
    one that differs from its base config's value is applied to the other. Both forms
    with different values (on one command line, or in one file) are an error.
    """
    options = dict(options or {})
    _bind_genotype(cfg, options)
    _bind_pretrained(cfg, options)


def pretrained_modules(model: nn.Module) -> Iterator[Tuple[str, nn.Module, dict]]:
    """``(name, module, Pretrained init_cfg)`` of every module that loads a checkpoint."""
    for name, module in model.named_modules():
        init = pretrained_init(getattr(module, 'init_cfg', None))
        if init is not None:
            yield name, module, init


def _checkpoint_state(init: dict) -> Dict[str, Any]:
    """The tensors a ``Pretrained`` init would load, read as mmengine reads them."""
    from mmengine.runner import CheckpointLoader
    checkpoint = CheckpointLoader.load_checkpoint(init['checkpoint'], map_location='cpu')
    state = checkpoint.get('state_dict', checkpoint) if isinstance(checkpoint, dict) else {}
    prefix = init.get('prefix')
    if prefix is None:
        return {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}
    prefix = prefix if prefix.endswith('.') else prefix + '.'
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def _listed(items: List[str]) -> str:
    more = f' (and {len(items) - _MAX_LISTED} more)' if len(items) > _MAX_LISTED else ''
    return ', '.join(items[:_MAX_LISTED]) + more


def check_pretrained(model: nn.Module) -> None:
    """Every module with a ``Pretrained`` init_cfg must find each of its parameters and
    buffers in the checkpoint, with the same shape (BatchNorm's ``num_batches_tracked``
    counters may be absent). Checkpoint keys the module lacks are allowed (a backbone
    may use fewer layers than the classifier it comes from).

    Raises PretrainedMismatchError naming the module, the file and the first keys.
    """
    for name, module, init in pretrained_modules(model):
        state = _checkpoint_state(init)
        where = f"{name or 'the model'}: pretrained checkpoint '{init['checkpoint']}'"
        if not state:
            raise PretrainedMismatchError(
                f"{where} has no key starting with prefix {init.get('prefix')!r} (a "
                'backbone-only file needs prefix=None in the init_cfg)')
        expected = module.state_dict()
        missing = [k for k in expected if k not in state and not k.endswith('num_batches_tracked')]
        shapes = [
            f'{k} {tuple(state[k].shape)} vs {tuple(v.shape)}' for k, v in expected.items()
            if k in state and hasattr(state[k], 'shape') and state[k].shape != v.shape
        ]
        if missing or shapes:
            problems = []
            if missing:
                problems.append(f'{len(missing)} of the {len(expected)} keys of the model are '
                                f'not in it: {_listed(missing)}')
            if shapes:
                problems.append(f'{len(shapes)} shapes differ (checkpoint vs model): '
                                f'{_listed(shapes)}')
            raise PretrainedMismatchError(
                f"{where} does not fit: {'; '.join(problems)}. Was it trained with another "
                'genotype or width (base_channels, num_cells) than the config builds?')


def from_scratch_warning(cfg: Any, model: nn.Module, scope: str) -> Optional[str]:
    """The warning to log when a det/seg/pose backbone starts without pretrained weights
    (no ``Pretrained`` init in the backbone or the model, no ``load_from``/resume)."""
    if scope not in DOWNSTREAM_SCOPES or cfg.get('load_from') or cfg.get('resume'):
        return None
    backbone = getattr(model, 'backbone', None)
    if backbone is None or pretrained_init(getattr(model, 'init_cfg', None)) is not None \
            or next(pretrained_modules(backbone), None) is not None:
        return None
    key, _ = backbone_node(cfg)
    return (f'{key} starts without pretrained weights: it is trained from scratch, and the '
            "results will not be comparable with the paper's. Load ImageNet weights with "
            '--cfg-options pretrained=PATH (see docs/en/downstream.md)')
