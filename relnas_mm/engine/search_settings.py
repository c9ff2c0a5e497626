"""Every ``search.*`` setting checked before any data is read, each bad value named once.

Why: the classes check their own arguments, but some only when they are built, after
the data has loaded (the evaluator), and some not at all (a negative learning rate
trained on). Here every known key of ``search.data``, ``search.supernet``,
``search.evaluator`` and ``search.algorithm`` is checked against its type and range,
and the settings that only fail together (a write-back mode with the number of ranks
a launcher started, a validation batch with ``augment_valid``), in one pass: each bad
value gets one line naming the key, the value and what is valid.

Keys this module does not know pass (a data set or a stem another module adds is
checked by its builder); ``search.budget`` is checked by ``search_budget.build_budget``.
"""
import inspect
import math
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional

from ..search import RelativeNAS, evaluator_class, make_evaluate
from ..search.algorithm import WRITEBACK_MODES
from ..search.evaluator import SuperNetEvaluator
from ..search.fast_evaluator import NORM_IMPLS, SGD_IMPLS


class SearchSettingsError(ValueError):
    """Bad ``search.*`` settings, one line each."""


@dataclass(frozen=True)
class Rule:
    """What a setting may hold: ``valid`` in words, ``ok`` as a test."""

    valid: str
    ok: Callable[[Any], bool]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def integer(low: int, optional: bool = False, even: bool = False) -> Rule:

    def ok(v: Any) -> bool:
        return (optional and v is None) or (_is_int(v) and v >= low and not (even and v % 2))

    return Rule(f'{"an even" if even else "an"} integer >= {low}{" or None" if optional else ""}',
                ok)


def number(low: float, high: Optional[float] = None, low_open: bool = False,
           high_open: bool = False) -> Rule:

    def ok(v: Any) -> bool:
        if not _is_number(v):
            return False
        above = v > low if low_open else v >= low
        below = high is None or (v < high if high_open else v <= high)
        return above and below

    upper = '' if high is None else f' and {"<" if high_open else "<="} {high:g}'
    return Rule(f'a number {">" if low_open else ">="} {low:g}{upper}', ok)


def boolean(optional: bool = False) -> Rule:
    return Rule(f'True or False{" or None" if optional else ""}',
                lambda v: isinstance(v, bool) or (optional and v is None))


def choice(*values: Any) -> Rule:
    return Rule(f'one of {values}', lambda v: isinstance(v, str) and v in values)


def _devices(v: Any) -> bool:
    return v is None or (isinstance(v, (list, tuple)) and len(v) > 0
                         and all(isinstance(d, str) for d in v))


#: the data set, its folder and its own options are the data builder's to check
DATA_RULES = dict(
    train_portion=number(0, 1, low_open=True, high_open=True), split_seed=integer(0),
    num_images=integer(2, optional=True))
SUPERNET_RULES = dict(
    channels=integer(1), num_cells=integer(3), num_classes=integer(2, optional=True),
    stem_multiplier=integer(1))
EVALUATOR_RULES = dict(
    batch_size=integer(1), momentum=number(0, 1, high_open=True), weight_decay=number(0),
    grad_clip=number(0, low_open=True), augment_valid=boolean(), deterministic=boolean(),
    workers=Rule("'auto' or an integer >= 0", lambda v: v == 'auto' or (_is_int(v) and v >= 0)),
    threads=integer(1, optional=True), streams=integer(1), warmup_steps=integer(1),
    valid_batch_size=integer(1, optional=True), cuda_graph=boolean(),
    channels_last=boolean(optional=True), sgd=choice(*SGD_IMPLS), norm=choice(*NORM_IMPLS),
    devices=Rule('a list of devices (str) or None', _devices))
ALGORITHM_RULES = dict(
    pop_size=integer(2, even=True), generations=integer(1), seed=integer(0),
    lr_max=number(0, low_open=True), lr_min=number(0), drop_path_max=number(0, 1, high_open=True),
    writeback=choice(*WRITEBACK_MODES))
RULES: Dict[str, Dict[str, Rule]] = dict(data=DATA_RULES, supernet=SUPERNET_RULES,
                                         evaluator=EVALUATOR_RULES, algorithm=ALGORITHM_RULES)


def check_search_settings(sections: Mapping[str, Mapping[str, Any]], world_size: int = 1,
                          launcher: str = 'none') -> None:
    """Raise ``SearchSettingsError`` listing every bad setting of ``sections`` (what
    ``read_search_config`` returns); ``world_size`` ranks were started by ``launcher``."""
    problems: List[str] = []

    def bad(key: str, value: Any, valid: str) -> None:
        problems.append(f'search.{key}: got {value!r}, expected {valid}')

    for section, rules in RULES.items():
        for key, rule in rules.items():
            if key in sections[section] and not rule.ok(sections[section][key]):
                bad(f'{section}.{key}', sections[section][key], rule.valid)
    algorithm, evaluator = sections['algorithm'], sections['evaluator']
    lr_min, lr_max = (_setting(algorithm, RelativeNAS, k) for k in ('lr_min', 'lr_max'))
    if ALGORITHM_RULES['lr_min'].ok(lr_min) and ALGORITHM_RULES['lr_max'].ok(lr_max) \
            and lr_min > lr_max:
        bad('algorithm.lr_min', lr_min, f'a number <= search.algorithm.lr_max ({lr_max!r})')
    if _setting(algorithm, RelativeNAS, 'writeback') == 'pair' and world_size > 2:
        bad(
            'algorithm.writeback', 'pair',
            f"'generation' with {world_size} ranks (--launcher {launcher}): 'pair' runs one "
            f'pair at a time, on 2 ranks, or start at most 2 ranks')
    if evaluator.get('augment_valid') is True and evaluator.get('valid_batch_size') not in (
            None, _setting(evaluator, SuperNetEvaluator, 'batch_size')):
        bad(
            'evaluator.valid_batch_size', evaluator['valid_batch_size'],
            'None or search.evaluator.batch_size with augment_valid=True (its draws are per batch)')
    for key in ('threads', 'devices'):
        if evaluator.get(key) is not None and _setting(evaluator, make_evaluate, 'workers') == 0:
            bad(f'evaluator.{key}', evaluator[key], 'None with workers=0 (no worker processes)')
    problems += _unknown_evaluator_options(evaluator)
    if len(problems) == 1:
        raise SearchSettingsError(problems[0])
    if problems:
        raise SearchSettingsError(f'{len(problems)} bad search settings:\n  ' +
                                  '\n  '.join(problems))


def _setting(section: Mapping[str, Any], owner: Callable[..., Any], key: str) -> Any:
    """``section[key]``, or the default of ``owner``'s argument ``key``."""
    return section.get(key, inspect.signature(owner).parameters[key].default)


def _unknown_evaluator_options(evaluator: Mapping[str, Any]) -> List[str]:
    """Keys of ``search.evaluator`` that neither its class nor ``make_evaluate`` takes
    (the class would refuse them only when built, after the data)."""
    try:
        cls = evaluator_class(evaluator.get('type', 'FastEvaluator'))
    except ValueError as exc:
        return [f'search.evaluator.type: {exc}']
    taken = {'type', 'workers', 'threads', 'devices'}  # make_evaluate's own
    for klass in cls.__mro__:  # an __init__ passing **settings on takes its base's too
        if '__init__' not in vars(klass):
            continue
        if klass is object:
            return []  # a class that takes any option checks them itself
        parameters = inspect.signature(klass.__init__).parameters.values()
        named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        taken |= {p.name for p in parameters if p.kind in named}
        if not any(p.kind == p.VAR_KEYWORD for p in parameters):
            break
    taken -= {'self', 'data', 'model_cfg'}  # given by the search, not the config
    unknown = sorted(set(evaluator) - taken)
    return [
        f'search.evaluator: unknown key(s) {unknown} for {cls.__name__}; expected some '
        f'of {sorted(taken)}'
    ] if unknown else []
