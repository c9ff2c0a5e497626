"""Convert checkpoints of the authors' reference code (DARTS layout) to relnas_mm's.

Pure key renaming (plain PyTorch, no mmengine); ``tools/convert_official.py`` is
the command line around it. The authors' networks are DARTS's ``NetworkCIFAR`` /
``NetworkImageNet``, whose modules are ``nn.Sequential`` s indexed by position;
relnas_mm names the same modules. Renaming needs the genotype: the type of op
``cells.{i}._ops.{k}`` (sep_conv, dil_conv, ...) is not in the checkpoint.

==================================  ============================================
authors' key                        relnas_mm key (classifier layout)
==================================  ============================================
``stem.*`` / ``stem0.*``/``stem1.*``  ``backbone.`` + same
``cells.i.preprocessP.op.1.weight``   ``backbone.cells.i.preprocessP.conv.weight``
``cells.i.preprocessP.op.2.*``        ``backbone.cells.i.preprocessP.bn.*``
``cells.i.preprocessP.conv_1/2, bn``  same names (FactorizedReduce)
``cells.i._ops.k.op.1/2/3``           ``backbone.cells.i.ops.k.dw/pw/bn`` (dil_conv)
``cells.i._ops.k.op.1/2/3, 5/6/7``    ``...ops.k.0.dw/pw/bn``, ``...ops.k.1.dw/pw/bn``
                                      (sep_conv)
``cells.i._ops.k.conv_1/2, bn``       same names (skip_connect at stride 2)
``classifier.*``, ``auxiliary_head.*``  same
==================================  ============================================
"""
import re
from collections import OrderedDict
from typing import Any, Dict, Iterable, List, NamedTuple, Optional

import torch

from ..space.genotype import Genotype
from ..space.plan import CellPlan, NetworkPlan, network_plan

# Tensor names of conv (weight) and BatchNorm modules.
PARAM_SUFFIXES = ('weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked')
_RELU_CONV_BN = {'op.1': 'conv', 'op.2': 'bn'}
_DIL_CONV = {'op.1': 'dw', 'op.2': 'pw', 'op.3': 'bn'}
_SEP_CONV = {
    'op.1': '0.dw',
    'op.2': '0.pw',
    'op.3': '0.bn',
    'op.5': '1.dw',
    'op.6': '1.pw',
    'op.7': '1.bn'
}
_FACTORIZED_REDUCE = {'conv_1': 'conv_1', 'conv_2': 'conv_2', 'bn': 'bn'}
_CELL_KEY = re.compile(r'^cells\.(\d+)\.(preprocess0|preprocess1|_ops\.(\d+))\.(.+)$')
_WRAPPERS = ('state_dict', 'model', 'net')


class ConversionError(ValueError):
    """A checkpoint that cannot be mapped onto relnas_mm's network."""


class NetworkInfo(NamedTuple):
    """What a DARTS-layout state dict says about its network."""

    network: str  # 'cifar' or 'imagenet'
    base_channels: int
    stem_multiplier: int
    num_cells: int
    num_classes: int
    auxiliary: bool


def load_official_checkpoint(path: str) -> Dict[str, torch.Tensor]:
    """Read an authors' checkpoint safely (``weights_only``) and return its flat state dict."""
    try:
        obj = torch.load(path, map_location='cpu', weights_only=True)
    except FileNotFoundError:
        raise ConversionError(f'checkpoint {path} does not exist') from None
    except Exception as exc:  # torch raises UnpicklingError or RuntimeError variants
        raise ConversionError(
            f'cannot read {path} with torch.load(weights_only=True) ({exc}). The converter '
            f'only reads plain tensor state dicts; if the file pickles a whole model, '
            f'load it with the authors\' code and save model.state_dict()') from None
    return unwrap_state_dict(obj, path)


def unwrap_state_dict(obj: Any, source: str = 'checkpoint') -> Dict[str, torch.Tensor]:
    """Strip ``state_dict``/``model`` wrappers and DataParallel ``module.`` prefixes."""
    while isinstance(obj, dict) and not _is_state_dict(obj):
        wrapper = next((k for k in _WRAPPERS if k in obj), None)
        if wrapper is None:
            raise ConversionError(f'{source}: expected a state dict of tensors or one wrapped '
                                  f'in {list(_WRAPPERS)}; found keys {sorted(obj)[:10]}')
        obj = obj[wrapper]
    if not isinstance(obj, dict) or not obj:
        raise ConversionError(f'{source}: expected a non-empty state dict, got '
                              f'{type(obj).__name__}')
    out = OrderedDict()
    for key, value in obj.items():
        out[key[len('module.'):] if key.startswith('module.') else key] = value
    return out


def _is_state_dict(obj: dict) -> bool:
    return bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values())


def _shape(sd: Dict[str, torch.Tensor], key: str) -> torch.Size:
    if key not in sd:
        raise ConversionError(f'expected key {key!r} is missing from the checkpoint')
    return sd[key].shape


def infer_network(sd: Dict[str, torch.Tensor], network: str = 'auto') -> NetworkInfo:
    """Network type, C, cell count, classes and auxiliary head, read from key shapes."""
    found = 'cifar' if 'stem.0.weight' in sd else 'imagenet' if 'stem0.0.weight' in sd else None
    if found is None:
        raise ConversionError('neither stem.0.weight (CIFAR) nor stem0.0.weight (ImageNet) '
                              'in the checkpoint: not a DARTS NetworkCIFAR/NetworkImageNet')
    if network not in ('auto', found):
        raise ConversionError(f'--network {network} requested, but the checkpoint holds a '
                              f'{found} network')
    cell_ids = {int(m.group(1)) for m in map(_CELL_KEY.match, sd) if m}
    if not cell_ids:
        raise ConversionError('no cells.<i>.* keys in the checkpoint')
    num_cells = max(cell_ids) + 1
    c = _shape(sd, 'cells.0.preprocess1.op.1.weight')[0]
    stem_out = _shape(sd, 'stem.0.weight' if found == 'cifar' else 'stem0.3.weight')[0]
    if stem_out % c:
        raise ConversionError(f'stem has {stem_out} channels, not a multiple of C={c}')
    return NetworkInfo(found, int(c), int(stem_out // c), num_cells,
                       int(_shape(sd, 'classifier.weight')[0]),
                       any(k.startswith('auxiliary_head.') for k in sd))


def _rename(rest: str, table: Dict[str, str], key: str, what: str) -> str:
    """Map the module path prefix of ``rest`` (e.g. ``op.2.running_mean``) via ``table``."""
    for src, dst in table.items():
        if rest.startswith(src + '.'):
            suffix = rest[len(src) + 1:]
            if suffix in PARAM_SUFFIXES:
                return f'{dst}.{suffix}'
    raise ConversionError(f'cannot place key {key!r}: {what} has parameters '
                          f'{sorted(table)} (then .weight/.bias/running stats), not {rest!r}')


def _op_table(name: str, stride: int) -> Optional[Dict[str, str]]:
    if name.startswith('sep_conv'):
        return _SEP_CONV
    if name.startswith('dil_conv'):
        return _DIL_CONV
    if name == 'skip_connect' and stride == 2:
        return _FACTORIZED_REDUCE
    return None  # pools and identity: no parameters


def network_plan_of(info: NetworkInfo) -> NetworkPlan:
    """The plan of the authors' network (nothing pruned: their networks build it all)."""
    return network_plan(info.network, info.base_channels, info.num_cells, info.stem_multiplier)


def _cell_key(key: str, match: re.Match, genotype: Genotype, cell: CellPlan) -> str:
    i = int(match.group(1))
    rest = match.group(4)
    reduction = cell.reduction
    prefix = f'backbone.cells.{i}'
    if match.group(2).startswith('preprocess'):
        which = match.group(2)
        if which == 'preprocess0' and cell.reduction_prev:
            table, what = _FACTORIZED_REDUCE, f'cells.{i}.{which} (FactorizedReduce)'
        else:
            table, what = _RELU_CONV_BN, f'cells.{i}.{which} (ReLUConvBN)'
        return f'{prefix}.{which}.{_rename(rest, table, key, what)}'
    k = int(match.group(3))
    pairs = genotype.reduce if reduction else genotype.normal
    if k >= len(pairs):
        raise ConversionError(f'cannot place key {key!r}: the cell has {len(pairs)} ops')
    name, inp = pairs[k]
    stride = 2 if reduction and inp < 2 else 1
    table = _op_table(name, stride)
    what = f'cells.{i}._ops.{k} ({name}, stride {stride}, per the genotype)'
    if table is None:
        raise ConversionError(f'cannot place key {key!r}: {what} has no parameters; '
                              f'is the genotype the one the checkpoint was trained with?')
    return f'{prefix}.ops.{k}.{_rename(rest, table, key, what)}'


def convert_state_dict(sd: Dict[str, torch.Tensor], genotype: Genotype,
                       info: NetworkInfo) -> 'OrderedDict[str, torch.Tensor]':
    """Rename every key to the RelNASClassifier layout; any key that cannot be placed
    is an error naming it (nothing is dropped)."""
    out = OrderedDict()
    stems = ('stem.', ) if info.network == 'cifar' else ('stem0.', 'stem1.')
    cells = network_plan_of(info).cells
    for key, value in sd.items():
        match = _CELL_KEY.match(key)
        if match:
            new = _cell_key(key, match, genotype, cells[int(match.group(1))])
        elif key.startswith(stems):
            new = 'backbone.' + key
        elif key.startswith(('classifier.', 'auxiliary_head.')):
            new = key
        else:
            raise ConversionError(f'cannot place key {key!r}: not a stem, cell, classifier or '
                                  f'auxiliary_head key of a DARTS {info.network} network')
        out[new] = value
    return out


def check_keys(converted: Dict[str, torch.Tensor], expected: Iterable[str]) -> List[str]:
    """Compare with the target model's keys: errors on missing/unexpected keys.

    A BatchNorm ``num_batches_tracked`` counter absent from an old checkpoint (PyTorch
    < 0.4.1 did not save it) is filled with 0 in place, and its key is returned so the
    caller can report it; every other difference is an error.
    """
    expected = list(expected)
    unexpected = sorted(set(converted) - set(expected))
    if unexpected:
        raise ConversionError(f'converted keys the model does not have: {unexpected[:10]}')
    missing = [k for k in expected if k not in converted]
    filled = [
        k for k in missing
        if k.endswith('.num_batches_tracked') and k[:-len('num_batches_tracked')] +
        'running_mean' in converted
    ]
    hard_missing = sorted(set(missing) - set(filled))
    if hard_missing:
        raise ConversionError(f'the checkpoint lacks {len(hard_missing)} expected key(s) '
                              f'(relnas_mm names): {hard_missing[:10]}')
    for key in filled:
        converted[key] = torch.tensor(0, dtype=torch.long)
    return filled


def strip_to_backbone(converted: Dict[str, torch.Tensor]) -> 'OrderedDict[str, torch.Tensor]':
    """The ``backbone.*`` entries without the prefix (what RelNASNet loads directly)."""
    return OrderedDict(
        (k[len('backbone.'):], v) for k, v in converted.items() if k.startswith('backbone.'))
