"""Cell genotypes: the DARTS text format, JSON, validation and the shipped cells.

A genotype lists, for each of the 4 intermediate nodes of a cell, two
``(operation, input)`` pairs: inputs 0 and 1 are the two cell inputs, input
``2 + j`` is intermediate node ``j``.
"""
import ast
import json
import os
from typing import Any, Dict, List, NamedTuple, Sequence, Tuple, Union

from ..utils.fileio import atomic_write
from .operations import PRIMITIVES

NUM_NODES = 4
Pair = Tuple[str, int]


def reduction_layers(num_cells: int) -> Tuple[int, int]:
    """Indices of a network's two reduction cells (DARTS: at 1/3 and 2/3 of the depth).

    The one rule for every network built from genotypes: the search network, the
    backbones, the converters of the authors' weights and the cost model.
    """
    return num_cells // 3, 2 * num_cells // 3


class GenotypeError(ValueError):
    """A genotype (text, JSON or object) that does not describe a valid cell pair."""


class Genotype(NamedTuple):
    """A normal and a reduction cell; ``repr`` is the DARTS text format."""

    normal: List[Pair]
    normal_concat: List[int]
    reduce: List[Pair]
    reduce_concat: List[int]


def _check_cell(kind: str, pairs: Any, concat: Any, num_nodes: int) -> None:
    if not isinstance(pairs, (list, tuple)) or len(pairs) != 2 * num_nodes:
        n = len(pairs) if isinstance(pairs, (list, tuple)) else type(pairs).__name__
        raise GenotypeError(
            f'{kind}: expected {2 * num_nodes} (op, input) pairs (two per node), got {n}')
    for k, pair in enumerate(pairs):
        node = k // 2
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise GenotypeError(f'{kind}[{k}]: expected an (op, input) pair, got {pair!r}')
        op, inp = pair
        if op not in PRIMITIVES:
            raise GenotypeError(
                f'{kind}[{k}]: unknown operation {op!r}; expected one of {list(PRIMITIVES)}')
        if isinstance(inp, bool) or not isinstance(inp, int) or not 0 <= inp < 2 + node:
            raise GenotypeError(f'{kind}[{k}]: input {inp!r} out of range for node {node} '
                                f'(expected an integer in 0..{1 + node})')
    expected = list(range(2, 2 + num_nodes))
    if list(concat) != expected:
        raise GenotypeError(f'{kind}_concat: expected {expected}, got {list(concat)!r}')


def validate(genotype: Genotype, num_nodes: int = NUM_NODES) -> Genotype:
    """Return ``genotype`` unchanged if valid, else raise GenotypeError naming the problem."""
    if not isinstance(genotype, Genotype):
        raise GenotypeError(f'expected a Genotype, got {type(genotype).__name__}')
    _check_cell('normal', genotype.normal, genotype.normal_concat, num_nodes)
    _check_cell('reduce', genotype.reduce, genotype.reduce_concat, num_nodes)
    return genotype


def make_genotype(
    normal: Sequence[Sequence], reduce: Sequence[Sequence],
    normal_concat: Sequence[int] = (2, 3, 4, 5), reduce_concat: Sequence[int] = (2, 3, 4, 5)
) -> Genotype:
    """Build a validated Genotype from plain sequences (e.g. JSON lists)."""
    try:
        as_pairs = [[(str(op), inp) for op, inp in cell] for cell in (normal, reduce)]
    except (TypeError, ValueError) as exc:
        raise GenotypeError(f'cells must be lists of (op, input) pairs: {exc}') from None
    return validate(Genotype(as_pairs[0], list(normal_concat), as_pairs[1], list(reduce_concat)))


def format_genotype(genotype: Genotype) -> str:
    """The DARTS text form, e.g. ``Genotype(normal=[('sep_conv_3x3', 0), ...], ...)``."""
    g = validate(genotype)
    return (f'Genotype(normal={list(map(tuple, g.normal))!r}, '
            f'normal_concat={list(g.normal_concat)!r}, '
            f'reduce={list(map(tuple, g.reduce))!r}, '
            f'reduce_concat={list(g.reduce_concat)!r})')


def _literal(node: ast.AST, key: str) -> Any:
    # ``range(a, b)`` is how the authors (and DARTS) write concat lists.
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == 'range'
            and not node.keywords):
        return list(range(*[_literal(a, key) for a in node.args]))
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise GenotypeError(f'{key}: not a literal value: {ast.unparse(node)!r}') from None


def parse_genotype(text: str) -> Genotype:
    """Parse the DARTS text format (safely: literals and ``range`` only)."""
    try:
        tree = ast.parse(text.strip(), mode='eval').body
    except SyntaxError as exc:
        raise GenotypeError(f'genotype text does not parse: {exc.msg} in {text!r}') from None
    if not (isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name)
            and tree.func.id == 'Genotype' and not tree.args):
        raise GenotypeError(f'expected "Genotype(normal=[...], normal_concat=[...], reduce=[...], '
                            f'reduce_concat=[...])", got {text!r}')
    fields = {kw.arg: _literal(kw.value, kw.arg) for kw in tree.keywords}
    missing = set(Genotype._fields) - set(fields)
    extra = set(fields) - set(Genotype._fields)
    if missing or extra:
        raise GenotypeError(f'genotype fields: missing {sorted(missing)}, unexpected '
                            f'{sorted(extra)} in {text!r}')
    return make_genotype(**fields)


def genotype_to_dict(genotype: Genotype) -> Dict[str, list]:
    """JSON-ready dict: ``{"normal": [["sep_conv_3x3", 0], ...], ...}``."""
    g = validate(genotype)
    return {
        'normal': [list(p) for p in g.normal],
        'normal_concat': list(g.normal_concat),
        'reduce': [list(p) for p in g.reduce],
        'reduce_concat': list(g.reduce_concat)
    }


def genotype_from_dict(data: Dict[str, Any]) -> Genotype:
    """Inverse of :func:`genotype_to_dict`; also accepts ``{"genotype": {...}}``."""
    if isinstance(data, dict) and 'genotype' in data and 'normal' not in data:
        data = data['genotype']
    if not isinstance(data, dict):
        raise GenotypeError(f'expected a JSON object with keys {list(Genotype._fields)}, '
                            f'got {type(data).__name__}')
    missing = [k for k in ('normal', 'reduce') if k not in data]
    if missing:
        raise GenotypeError(f'genotype JSON lacks key(s) {missing}')
    return make_genotype(data['normal'], data['reduce'], data.get('normal_concat', (2, 3, 4, 5)),
                         data.get('reduce_concat', (2, 3, 4, 5)))


def save_genotype(genotype: Genotype, path: str, **extra: Any) -> None:
    """Write a genotype JSON file (with its DARTS text for humans, and ``extra`` fields)."""
    payload = dict(genotype_to_dict(genotype), text=format_genotype(genotype), **extra)
    with atomic_write(path) as f:
        json.dump(payload, f, indent=2)


def load_genotype_file(path: str) -> Genotype:
    """Read a genotype from a JSON file (or a text file holding the DARTS format)."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError as exc:
        raise GenotypeError(f'cannot read genotype file {path}: {exc.strerror}') from None
    try:
        if text.lstrip().startswith('{'):
            return genotype_from_dict(json.loads(text))
        return parse_genotype(text)
    except json.JSONDecodeError as exc:
        raise GenotypeError(f'genotype file {path} is not valid JSON: {exc}') from None
    except GenotypeError as exc:
        raise GenotypeError(f'genotype file {path}: {exc}') from None


RELATIVENAS = make_genotype(
    normal=[('sep_conv_3x3', 0), ('dil_conv_5x5', 1), ('sep_conv_3x3', 1), ('sep_conv_3x3', 1),
            ('sep_conv_3x3', 1), ('sep_conv_5x5', 1), ('skip_connect', 0), ('sep_conv_3x3', 0)],
    reduce=[('avg_pool_3x3', 1), ('max_pool_3x3', 1), ('dil_conv_5x5', 1), ('max_pool_3x3', 1),
            ('avg_pool_3x3', 3), ('skip_connect', 1), ('dil_conv_5x5', 3), ('sep_conv_3x3', 1)])
DARTS_V2 = make_genotype(
    normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1),
            ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)],
    reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1),
            ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)])
PC_DARTS = make_genotype(
    normal=[('sep_conv_3x3', 1), ('skip_connect', 0), ('sep_conv_3x3', 0), ('dil_conv_3x3', 1),
            ('sep_conv_5x5', 0), ('sep_conv_3x3', 1), ('avg_pool_3x3', 0), ('dil_conv_3x3', 1)],
    reduce=[('sep_conv_5x5', 1), ('max_pool_3x3', 0), ('sep_conv_5x5', 1), ('sep_conv_5x5', 2),
            ('sep_conv_3x3', 0), ('sep_conv_3x3', 3), ('sep_conv_3x3', 1), ('sep_conv_3x3', 2)])

#: Cells shipped with the package, by name (the published RelativeNAS cell and two baselines).
GENOTYPES: Dict[str, Genotype] = {
    'RelativeNAS': RELATIVENAS,
    'DARTS_V2': DARTS_V2,
    'PC_DARTS': PC_DARTS,
}

GenotypeLike = Union[str, Genotype, Dict[str, Any]]


def get_genotype(spec: GenotypeLike) -> Genotype:
    """Resolve a shipped name, DARTS text, a JSON file path, a dict or a Genotype."""
    if isinstance(spec, Genotype):
        return validate(spec)
    if isinstance(spec, dict):
        return genotype_from_dict(spec)
    if not isinstance(spec, str):
        raise GenotypeError(f'cannot make a genotype from {type(spec).__name__}: {spec!r}')
    if spec in GENOTYPES:
        return GENOTYPES[spec]
    if spec.lstrip().startswith('Genotype('):
        return parse_genotype(spec)
    if spec.endswith(('.json', '.txt')) or os.sep in spec or os.path.exists(spec):
        return load_genotype_file(spec)
    raise GenotypeError(f'genotype {spec!r} is neither a shipped name ({sorted(GENOTYPES)}), '
                        f'a "Genotype(...)" text, nor an existing JSON file')
