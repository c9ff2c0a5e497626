"""Running tools/ from tests as a user would (``from fixtures_tools import ...``).

One place for the repository root and the ways a test runs a tool: as a module, its
config from a command line, as ``__main__`` in this process, in a subprocess from the
repository root, or in a subprocess where mmengine and mmcv cannot be imported (the
tools that must run with torch alone).
"""
import importlib.util
import os
import runpy
import subprocess
import sys
from typing import Dict, List, Optional

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# mmengine and OpenMMLab made unimportable, as on a machine with torch alone; the tool
# must not import mmengine behind the test's back either
_WITHOUT_OPENMMLAB = '''
import runpy, sys
for name in ('mmengine', 'mmcv', 'mmdet', 'mmseg', 'mmpose'):
    sys.modules[name] = None
script, sys.argv = sys.argv[1], sys.argv[1:]
try:
    runpy.run_path(script, run_name='__main__')
finally:
    assert 'mmengine' not in {m.split('.')[0] for m in sys.modules if sys.modules[m] is not None}
'''


def tool_env() -> Dict[str, str]:
    """This process's environment with one math thread and this checkout importable."""
    path = os.pathsep.join(p for p in (REPO, os.environ.get('PYTHONPATH')) if p)
    return dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1', PYTHONPATH=path)


def load_tool(name: str):
    """``tools/<name>.py`` as a module (its main() and make_config() run in-process)."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(REPO, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tool_config(name: str, *argv: str):
    """The config tools/<name>.py makes from this command line (nothing is built)."""
    tool = load_tool(name)
    saved = sys.argv
    sys.argv = [f'{name}.py', *argv]
    try:
        return tool.make_config(tool.parse_args())
    finally:
        sys.argv = saved


def run_tool_in_process(monkeypatch, script: str, *argv: str) -> None:
    """Run ``script`` (a tools/ file) as ``__main__`` in this process, with one math
    thread as its subprocess runs have, and the command line ``argv``."""
    import torch
    monkeypatch.setattr(sys, 'argv', [script, *argv])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        runpy.run_path(script, run_name='__main__')
    finally:
        torch.set_num_threads(threads)


def run_tool(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run ``python <args>`` from the repository root (as a user would) in
    :func:`tool_env`; returns the completed process (stdout and stderr merged)."""
    return subprocess.run([sys.executable, *args], cwd=REPO, env=tool_env(), timeout=timeout,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def run_without_openmmlab(script: str, *args: str, env: Optional[Dict[str, str]] = None,
                          timeout: int = 600) -> subprocess.CompletedProcess:
    """Run the tool ``script`` (relative to the repository root) where mmengine, mmcv
    and the OpenMMLab libraries cannot be imported, in a bare environment plus ``env``;
    stdout and stderr are captured apart."""
    bare = dict(PYTHONPATH=REPO, PATH='/usr/bin:/bin', OMP_NUM_THREADS='1', **(env or {}))
    return subprocess.run([sys.executable, '-c', _WITHOUT_OPENMMLAB, script, *args], cwd=REPO,
                          env=bare, capture_output=True, text=True, timeout=timeout)


def check_ok(proc: subprocess.CompletedProcess) -> str:
    """The output of a successful run; the output's tail as the failure message otherwise."""
    assert proc.returncode == 0, proc.stdout[-6000:]
    return proc.stdout


#: What mmdet's, mmseg's and mmpose's own tools/train.py do with a config (and what
#: ``mim train`` runs): parse it, merge --cfg-options, build mmengine's Runner, train.
#: No relnas_mm tool is involved; the config's custom_imports load relnas_mm.
UPSTREAM_TRAIN = """
import argparse
from mmengine.config import Config, DictAction
from mmengine.runner import Runner
parser = argparse.ArgumentParser()
parser.add_argument('config')
parser.add_argument('--work-dir')
parser.add_argument('--cfg-options', nargs='+', action=DictAction)
args = parser.parse_args()
cfg = Config.fromfile(args.config)
cfg.merge_from_dict(args.cfg_options or {})
cfg.work_dir = args.work_dir
Runner.from_cfg(cfg).train()
"""


def run_upstream_train(config: str, work_dir: str, *options: str) -> subprocess.CompletedProcess:
    """Train ``config`` as the upstream tools do (:data:`UPSTREAM_TRAIN`)."""
    return run_tool('-c', UPSTREAM_TRAIN, config, '--work-dir', work_dir, '--cfg-options', *options)


def upstream_pretrained(key: str, checkpoint: str) -> List[str]:
    """The one --cfg-options key that loads a classifier checkpoint's ``backbone.*``
    tensors through the backbone's own ``init_cfg`` at config key ``key`` (the configs
    write ``dict(type='Pretrained', checkpoint=None, prefix='backbone.')`` by default)."""
    return [f'{key}.init_cfg.checkpoint={checkpoint}']
