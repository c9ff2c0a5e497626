"""Every shell command in README.md, docs/en/*.md and configs/*/README.md works as written.

The fenced ``bash`` blocks are read as a shell would read them: ``\\`` continuations
and multi-line quotes joined, comments dropped, ``VAR=value`` lines and ``for`` loops
expanded. A command that runs a file of tools/ (directly, under torchrun or srun) or
``python -m relnas_mm...`` must name an existing tool whose argparse parser accepts
the arguments as written; the config it names must exist and each ``--cfg-options``
key must resolve in that config (or be an argument of what the key's dict builds). A
few cheap commands are run. Each test is named by the doc file and line it checks.
"""
import argparse
import contextlib
import glob
import inspect
import io
import os
import re
import runpy
import shlex
import signal
import subprocess
import sys
from typing import Any, Dict, Iterator, List, NamedTuple, Optional, Tuple

import pytest
from fixtures_tools import REPO, tool_env

pytest.importorskip('mmengine')
from mmengine.config import Config

DOCS = ['README.md'] + sorted(
    os.path.relpath(p, REPO) for pattern in ('docs/en/*.md', 'configs/*/README.md')
    for p in glob.glob(os.path.join(REPO, pattern)))
SHELL_FENCES = ('bash', 'sh', 'shell')
PYTHONS = ('python', 'python3', '.venv/bin/python')
_ASSIGNMENT = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*=')
_SEPARATORS = {';', '&&', '||', '|'}


class DocCommand(NamedTuple):
    """One simple command of a doc: where it is written and its words."""

    where: str  # 'docs/en/search.md:40'
    text: str
    argv: List[str]


# ------------------------------------------------------------------------------ reading
def _logical_lines(path: str) -> Iterator[Tuple[int, str]]:
    """(first line number, text) of each shell line in the fenced shell blocks, with
    continuations and multi-line quotes joined."""
    fence, pending, start = None, '', 0
    with open(os.path.join(REPO, path)) as f:
        for number, line in enumerate(f.read().split('\n'), 1):
            marker = re.match(r'^\s*```(\S*)', line)
            if marker and not pending:
                fence = marker.group(1) if fence is None else None
                continue
            if fence not in SHELL_FENCES:
                continue
            if not pending:
                start = number
            pending += line
            if pending.endswith('\\'):
                pending = pending[:-1] + ' '
                continue
            try:
                shlex.split(pending, comments=True)
            except ValueError:  # an open quote: the command goes on
                pending += '\n'
                continue
            yield start, pending
            pending = ''


def _words(text: str) -> List[str]:
    lexer = shlex.shlex(text, posix=True, punctuation_chars=';&|')
    lexer.whitespace_split = True
    return list(lexer)


def _expand_braces(word: str) -> List[str]:
    match = re.search(r'\{([^{}]*,[^{}]*)\}', word)
    if not match:
        return [word]
    return [
        expanded for choice in match.group(1).split(',')
        for expanded in _expand_braces(word[:match.start()] + choice + word[match.end():])
    ]


def _expand_words(words: List[str]) -> List[str]:
    """Brace expansion and globs relative to the repository, as bash does them."""
    out = []
    for word in words:
        for expanded in _expand_braces(word):
            hits = sorted(glob.glob(os.path.join(REPO, expanded))) if '*' in expanded else []
            out += [os.path.relpath(h, REPO) for h in hits] or [expanded]
    return out


def _substitute(words: List[str], variables: Dict[str, str]) -> List[str]:
    return [
        re.sub(r'\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?', lambda m: variables.get(m.group(1), m.group(0)),
               w) for w in words
    ]


def _segments(words: List[str]) -> List[List[str]]:
    segments, current = [], []
    for word in words:
        if word in _SEPARATORS:
            segments.append(current)
            current = []
        else:
            current.append(word)
    return [s for s in segments + [current] if s]


def doc_commands(path: str) -> Iterator[DocCommand]:
    """The simple commands of one doc file, variables and ``for`` loops expanded."""
    variables: Dict[str, str] = {}
    for number, text in _logical_lines(path):
        where = f'{path}:{number}'
        segments = _segments(_words(text))
        loop: Optional[Tuple[str, List[str]]] = None
        for segment in segments:
            if segment[0] == 'for' and len(segment) > 3 and segment[2] == 'in':
                loop = (segment[1], _expand_words(segment[3:]))
                continue
            if segment[0] == 'done':
                loop = None
                continue
            if segment[0] == 'do':
                segment = segment[1:]
            if len(segment) == 1 and _ASSIGNMENT.match(segment[0]):
                name, value = segment[0].split('=', 1)
                variables[name] = value
                continue
            values = [(loop[0], v) for v in loop[1]] if loop else [(None, None)]
            for name, value in values:
                scope = dict(variables, **({name: value} if name else {}))
                yield DocCommand(where, text.strip(), _substitute(segment, scope))


def all_commands() -> List[DocCommand]:
    return [command for path in DOCS for command in doc_commands(path)]


# ------------------------------------------------------------------------------ kinds
class Target(NamedTuple):
    """What a command runs: ``kind`` 'tool' (a file of this repository), 'module'
    (``python -m relnas_mm...``), 'python' (``-c`` code or another module), 'script'
    (``bash FILE``) or 'external' (a program that is not this repository's)."""

    kind: str
    name: str
    args: List[str]


def target_of(argv: List[str]) -> Target:
    words = list(argv)
    while words and _ASSIGNMENT.match(words[0]):
        words.pop(0)  # environment variables
    program, rest = words[0], words[1:]
    if program == 'torchrun':
        script = next((i for i, w in enumerate(rest) if w.endswith('.py')), None)
        assert script is not None, 'torchrun runs no .py file'
        return Target('tool', rest[script], rest[script + 1:])
    if program == 'srun':
        return target_of(rest[next(i for i, w in enumerate(rest) if w in PYTHONS):])
    if program == 'bash':
        return Target('script', rest[0], rest[1:])
    if program not in PYTHONS:
        return Target('external', program, rest)
    while rest and rest[0] == '-u':
        rest = rest[1:]
    if rest[0] == '-m':
        kind = 'module' if rest[1].startswith('relnas_mm') else 'python'
        return Target(kind, rest[1], rest[2:])
    if rest[0] == '-c':
        return Target('python', '-c', rest[1:])
    if os.path.isabs(rest[0]):
        return Target('external', rest[0], rest[1:])
    return Target('tool', rest[0], rest[1:])


class _Parsed(BaseException):
    """Raised by the patched ``parse_args``: the tool stops right after parsing."""

    def __init__(self, namespace: argparse.Namespace) -> None:
        super().__init__()
        self.namespace = namespace


def parse_as_the_tool(where: str, target: Target, monkeypatch) -> argparse.Namespace:
    """The tool's own parse of the command line: it runs as ``__main__`` up to its
    ``parse_args`` and stops there; an argparse error fails with argparse's message."""
    original = argparse.ArgumentParser.parse_args

    def parse_and_stop(self, args=None, namespace=None):
        raise _Parsed(original(self, args, namespace))

    monkeypatch.setattr(argparse.ArgumentParser, 'parse_args', parse_and_stop)
    monkeypatch.setattr(sys, 'argv', [target.name, *target.args])
    monkeypatch.setattr(sys, 'path', list(sys.path))
    handler = signal.getsignal(signal.SIGTERM)  # compare_cells.py sets its own
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors):
            if target.kind == 'module':
                runpy.run_module(target.name, run_name='__main__', alter_sys=True)
            else:
                runpy.run_path(os.path.join(REPO, target.name), run_name='__main__')
    except _Parsed as parsed:
        return parsed.namespace
    except SystemExit:
        pytest.fail(f'{where}: {target.name} refuses the arguments: {errors.getvalue().strip()}')
    except ImportError as exc:
        pytest.fail(f'{where}: {target.name} does not import: {exc}')
    finally:
        signal.signal(signal.SIGTERM, handler)
    pytest.fail(f'{where}: {target.name} never parsed a command line')


# ------------------------------------------------------------------------------ config keys
_CONFIGS: Dict[str, Config] = {}


def _config(path: str) -> Config:
    if path not in _CONFIGS:
        _CONFIGS[path] = Config.fromfile(os.path.join(REPO, path), import_custom_modules=False)
    return _CONFIGS[path]


def _accepts(builder: Any, name: str) -> bool:
    """Whether ``builder`` (a class or function) takes a keyword argument ``name``,
    following ``**kwargs`` up the classes it inherits from."""
    if not inspect.isclass(builder):
        return name in inspect.signature(builder).parameters
    for owner in builder.__mro__:
        if '__init__' not in vars(owner):
            continue
        parameters = inspect.signature(owner.__init__).parameters
        if name in parameters:
            return True
        if not any(p.kind == p.VAR_KEYWORD for p in parameters.values()):
            return False
    return False


def _registered(kind: Any) -> Any:
    """The class a ``type`` names in relnas_mm's registries (None if none knows it)."""
    from relnas_mm import registry
    if not isinstance(kind, str):
        return None
    for name in dir(registry):
        found = getattr(registry, name)
        if hasattr(found, 'module_dict'):
            with contextlib.suppress(Exception):
                if found.get(kind) is not None:
                    return found.get(kind)
    return None


def accepts(path: str, node: dict, name: str) -> bool:
    """Whether the dict at config key ``path`` may take a key ``name`` it does not hold:
    a ``search`` section or key, or an argument of the class its ``type`` names."""
    from relnas_mm.engine.search_budget import OPTIONS, SINGLE
    from relnas_mm.engine.search_build import SECTIONS
    from relnas_mm.engine.search_data import DATA_KEYS
    from relnas_mm.models.supernet import SuperNet
    from relnas_mm.search import RelativeNAS, evaluator_class, make_evaluate
    from relnas_mm.search.budget import METRICS
    known = {
        'search': SECTIONS,
        'search.data': DATA_KEYS,
        'search.budget': OPTIONS + SINGLE + METRICS
    }
    if path in known:
        return name in known[path]
    if path == 'search.algorithm':
        return _accepts(RelativeNAS, name)
    if path == 'search.supernet':
        return _accepts(SuperNet, name)
    if path == 'search.evaluator':
        return name == 'type' or _accepts(make_evaluate, name) or _accepts(
            evaluator_class(node.get('type', 'FastEvaluator')), name)
    builder = _registered(node.get('type'))
    return builder is not None and _accepts(builder, name)


def key_problem(config: str, key: str) -> Optional[str]:
    """Why ``--cfg-options key=...`` does not resolve in ``config`` (None: it does)."""
    node: Any = _config(config)._cfg_dict.to_dict()
    parts = key.split('.')
    for i, part in enumerate(parts):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, dict) and accepts('.'.join(parts[:i]), node, part):
            node = {}
        else:
            return f"'{'.'.join(parts[:i + 1])}' is not a key of {config}"
    return None


# ------------------------------------------------------------------------------ the tests
COMMANDS = all_commands()
#: the modules of ``python -m`` commands cheap enough to run as written (in a new directory)
RUN_MODULES = ('relnas_mm.visualization', 'timeit')
#: the file types a doc command reads: one that does not exist yet is a previous step's output
INPUTS = ('.json', '.pth', '.pt', '.pkl', '.txt')


def configs_written_by(doc: str) -> List[str]:
    """The configs a doc asks the user to write: python blocks that open with a
    ``# NAME.py: ...`` comment (a walk-through's own config, not in the repository)."""
    with open(os.path.join(REPO, doc), encoding='utf-8') as f:
        return re.findall(r'^```python\n# ([\w./-]+\.py):', f.read(), flags=re.M)


def test_the_docs_have_commands():
    assert len({c.where.split(':')[0] for c in COMMANDS}) >= 8
    assert sum(target_of(c.argv).kind == 'tool' for c in COMMANDS) >= 40


@pytest.mark.parametrize('command', COMMANDS, ids=[c.where for c in COMMANDS])
def test_doc_command(command: DocCommand, monkeypatch, tmp_path):
    monkeypatch.chdir(REPO)
    target = target_of(command.argv)
    if target.kind == 'script':
        assert os.path.isfile(target.name), f'{command.where}: no {target.name}'
    if target.kind == 'tool':
        assert os.path.isfile(target.name), f'{command.where}: no tool {target.name}'
    if target.kind in ('tool', 'module'):
        args = parse_as_the_tool(command.where, target, monkeypatch)
        config = getattr(args, 'config', None)
        if config is not None and not os.path.isfile(config):
            doc = command.where.split(':')[0]
            assert config in configs_written_by(doc), f'{command.where}: no config {config}'
        elif config is not None:
            options = getattr(args, 'cfg_options', None) or {}
            problems = [p for p in (key_problem(config, key) for key in options) if p]
            assert not problems, f'{command.where}: --cfg-options ' + '; '.join(problems)
    if target.name in RUN_MODULES:
        _run(command, tmp_path)


def _run(command: DocCommand, cwd) -> None:
    """Run the command in a fresh directory that sees the repository's configs; one
    that reads the output of a search or a dataset is not run."""
    words = [w for w in command.argv if not _ASSIGNMENT.match(w)]
    inputs = [w for w in words if w.startswith(('work_dirs/', 'data/')) or w.endswith(INPUTS)]
    if any(not os.path.exists(os.path.join(REPO, w)) for w in inputs):
        return
    os.symlink(os.path.join(REPO, 'configs'), cwd / 'configs')
    words[0] = sys.executable
    proc = subprocess.run(words, cwd=str(cwd), env=tool_env(), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, f'{command.where}: {command.text}\n{proc.stderr[-3000:]}'
