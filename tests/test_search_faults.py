"""The search's failure modes as a user meets them, at tiny size: each with its exact outcome
and, where the search can go on, the same final history as an uninterrupted search.

kill -9 of the search (no process left behind), kill -9 of a worker (its candidate runs
again), SIGTERM, a full disk (a writer that runs out of space), a damaged latest
checkpoint, two searches in one work dir, and bad settings (refused before any data).
"""
import errno
import json
import os
import os.path as osp
import shutil
import signal
import socket
import subprocess
import sys
import time
from types import SimpleNamespace
from typing import Dict, List, Set

import numpy as np
import pytest
import torch

pytest.importorskip('mmengine')

import test_tools_search
from fixtures_tools import load_tool, tool_env
from mmengine.config import Config
from test_tools_search import (CONFIG, GENERATIONS, RUN_TIMEOUT, SCRIPT, _args, _assert_same_search,
                               _final_state, _search, _search_in_process)

from relnas_mm.apis import unfinished_genotypes
from relnas_mm.engine.search_files import (LOCK_FILE, SearchFiles, SearchSaveError,
                                           WorkDirBusyError, WorkDirLock)
from relnas_mm.engine.search_settings import SearchSettingsError, check_search_settings
from relnas_mm.search import RelativeNAS
from relnas_mm.search.checkpoint import (SearchStateError, latest_search_state, make_search_state,
                                         save_search_state)
from relnas_mm.search.evaluator import CandidateJob, split_search_data
from relnas_mm.search.fast_evaluator import FastEvaluator
from relnas_mm.search.fast_parallel import make_evaluate
from relnas_mm.space.encoding import decode_population, random_population
from relnas_mm.space.genotype import get_genotype, save_genotype
from relnas_mm.utils import fileio

HERE = osp.dirname(osp.abspath(__file__))
reference = test_tools_search.reference  # the uninterrupted search, a module fixture
DIE_MARK = 'RELNAS_TEST_DIE_MARK'  # where DieOnce notes that it died already
TINY_NET = dict(channels=4, num_cells=3, num_classes=10)


def _history(work_dir: str) -> List[dict]:
    with open(osp.join(work_dir, 'search_history.json')) as f:
        return json.load(f)['generations']


def _log(work_dir: str) -> str:
    logs = sorted(
        p for d in os.listdir(work_dir) if osp.isdir(osp.join(work_dir, d))
        for p in [osp.join(work_dir, d, f'{d}.log')] if osp.isfile(p))
    return ''.join(open(p).read() for p in logs)


def _assert_same_as(work_dir: str, reference: str) -> None:
    """The whole final search state and history equal the uninterrupted search's."""
    _assert_same_search(_final_state(work_dir), _final_state(reference))
    assert _history(work_dir) == _history(reference)
    with open(osp.join(work_dir, 'best_genotype.json')) as f:
        best = json.load(f)
    assert best['finished'] is True and best['generations'] == GENERATIONS


def _start(work_dir: str, data_root: str, *options: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, SCRIPT, *_args(work_dir, data_root, *options)],
                            cwd=os.path.dirname(HERE), env=tool_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def _wait_for(condition, proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + RUN_TIMEOUT
    while not condition():
        assert proc.poll() is None, f'the search ended before {what}'
        assert time.monotonic() < deadline, f'no {what} in time'
        time.sleep(0.02)


# ----------------------------------------------------------------------------- processes
def _children() -> Dict[int, List[int]]:
    children: Dict[int, List[int]] = {}
    for name in os.listdir('/proc'):
        if name.isdigit():
            try:
                with open(f'/proc/{name}/stat') as f:
                    ppid = int(f.read().rsplit(')', 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(name))
    return children


def _descendants(pid: int) -> Set[int]:
    children, found, todo = _children(), set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _running(pid: int) -> bool:
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def _assert_all_gone(pids: Set[int], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while any(_running(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in pids if _running(p)], f'left behind after {seconds} s'


linux_only = pytest.mark.skipif(not osp.isdir('/proc/self'), reason='reads /proc')


@linux_only
@pytest.mark.e2e
def test_kill9_of_the_search_leaves_no_process_and_resumes(reference, data_root, tmp_path):
    work_dir = str(tmp_path / 'killed')
    proc = _start(work_dir, data_root, 'search.evaluator.workers=2')
    best = osp.join(work_dir, 'best_genotype.json')  # written after the checkpoint
    try:
        _wait_for(lambda: osp.isfile(best), proc, 'a best genotype')
        helpers = _descendants(proc.pid)
        assert len(helpers) >= 2, helpers  # the two workers (and any helper of theirs)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    _assert_all_gone(helpers)
    with open(best) as f:
        fields = json.load(f)
    assert (fields['finished'], fields['generations']) == (False, GENERATIONS)
    _search(*_args(work_dir, data_root, 'search.evaluator.workers=2', resume=True))
    assert 'took over the lock of search pid' in _log(work_dir)
    _assert_same_as(work_dir, reference)


class SleepyEvaluator(FastEvaluator):
    """Stays in its candidate for a minute: a worker busy when its parent dies."""

    def evaluate_many(self, jobs):
        time.sleep(60)
        return super().evaluate_many(jobs)


class DieOnce(FastEvaluator):
    """Kills its own process (SIGKILL) the first time it gets candidate 2."""

    def evaluate_many(self, jobs):
        mark = os.environ[DIE_MARK]
        if any(j.index == 2 for j in jobs) and not osp.exists(mark):
            open(mark, 'w').close()
            os.kill(os.getpid(), signal.SIGKILL)
        return super().evaluate_many(jobs)


class DieAlways(FastEvaluator):
    """Kills its own process whenever it gets candidate 2."""

    def evaluate_many(self, jobs):
        if any(j.index == 2 for j in jobs):
            os.kill(os.getpid(), signal.SIGKILL)
        return super().evaluate_many(jobs)


@pytest.fixture(scope='module')
def data():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (24, 16, 16, 3)).astype(np.uint8)
    return split_search_data(images, np.arange(24) % 10, seed=0)


@pytest.fixture(scope='module')
def jobs():
    torch.manual_seed(0)
    from relnas_mm.models.supernet import SuperNet
    weights = SuperNet(**TINY_NET).state_dict()
    genotypes = decode_population(random_population(4, np.random.default_rng(2)))
    return [
        CandidateJob(index=i, genotype=g, weights=weights, lr=0.05, drop_prob=0.1, seed=20 + i)
        for i, g in enumerate(genotypes)
    ]


@linux_only
@pytest.mark.e2e
def test_workers_exit_when_their_parent_is_killed(tmp_path):
    parent = subprocess.Popen([
        sys.executable, '-c', f'''
import sys, numpy as np
sys.path[:0] = [{HERE!r}]
from test_search_faults import SleepyEvaluator, TINY_NET, CandidateJob
from relnas_mm.search.evaluator import split_search_data
from relnas_mm.search.fast_parallel import make_evaluate
data = split_search_data(np.zeros((8, 8, 8, 3), np.uint8), np.arange(8), seed=0)
evaluate = make_evaluate(data, SleepyEvaluator, workers=2, model_cfg=TINY_NET, batch_size=4)
print('ready', flush=True)
evaluate([CandidateJob(0, None, {{}}, 0.1, 0.0, 0), CandidateJob(1, None, {{}}, 0.1, 0.0, 1)])
'''
    ], cwd=os.path.dirname(HERE), env=tool_env(), stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout.readline().strip() == 'ready'
        time.sleep(1)  # both workers are in their candidates now
        workers = _descendants(parent.pid)
        assert len(workers) >= 2
        parent.send_signal(signal.SIGKILL)
    finally:
        parent.kill()
        parent.wait()
    _assert_all_gone(workers)


@pytest.mark.e2e
def test_a_dead_worker_s_candidate_runs_again_with_the_same_result(data, jobs, tmp_path,
                                                                   monkeypatch, caplog):
    sequential = make_evaluate(data, 'fast', workers=0, model_cfg=TINY_NET, batch_size=8)(jobs)
    monkeypatch.setenv(DIE_MARK, str(tmp_path / 'died'))
    with make_evaluate(data, DieOnce, workers=2, model_cfg=TINY_NET, batch_size=8) as evaluate:
        parallel = evaluate(jobs)
        assert len(evaluate(jobs)) == 4  # the fresh worker serves the next calls too
    for a, b in zip(sequential, parallel):
        assert (a.index, a.loss, a.acc, a.train_loss) == (b.index, b.loss, b.acc, b.train_loss)
        assert all(torch.equal(a.state[k], b.state[k]) for k in a.state)
    warnings = [r.getMessage() for r in caplog.records if 'died' in r.getMessage()]
    assert len(warnings) == 1 and 'exit code -9' in warnings[0] \
        and 'candidate(s) [2]' in warnings[0], warnings
    with make_evaluate(data, DieAlways, workers=2, model_cfg=TINY_NET, batch_size=8) as evaluate:
        with pytest.raises(RuntimeError, match=r"worker process\(es\) died: \[\('relnas-eval-"):
            evaluate(jobs)


@pytest.mark.e2e
def test_kill9_of_a_worker_gives_the_same_history(monkeypatch, reference, data_root, tmp_path):
    work_dir = str(tmp_path / 'worker_killed')
    monkeypatch.setenv(DIE_MARK, str(tmp_path / 'died'))
    _search_in_process(
        monkeypatch, 'worker_killed',
        *_args(work_dir, data_root, 'search.evaluator.workers=2',
               f'search.evaluator.type={DieOnce.__module__}.DieOnce'))
    assert osp.exists(tmp_path / 'died')
    assert 'starting a fresh worker' in _log(work_dir)
    _assert_same_as(work_dir, reference)


@pytest.mark.e2e
def test_sigterm_then_resume_gives_the_same_history(reference, data_root, tmp_path):
    work_dir = str(tmp_path / 'terminated')
    proc = _start(work_dir, data_root)
    try:
        _wait_for(lambda: latest_search_state(work_dir) is not None, proc, 'a checkpoint')
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=RUN_TIMEOUT)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGTERM
    assert osp.isfile(osp.join(work_dir, LOCK_FILE))  # no handler ran: a stale lock
    _search(*_args(work_dir, data_root, resume=True))
    assert not osp.exists(osp.join(work_dir, LOCK_FILE))
    _assert_same_as(work_dir, reference)


# ----------------------------------------------------------------------------- a full disk
class _FullDisk:
    """``open`` for fileio's atomic writes on a disk with ``room`` bytes left."""

    def __init__(self, room: int) -> None:
        self.room = room

    def __call__(self, path, mode='r', *args, **kwargs):
        disk, real = self, open(path, mode, *args, **kwargs)

        class File:

            def __getattr__(self, name):
                return getattr(real, name)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                real.close()

            def write(self, data):
                if len(data) > disk.room:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                disk.room -= len(data)
                return real.write(data)

        return File()


def test_a_full_disk_names_the_file_the_space_and_how_to_resume(monkeypatch, tmp_path):
    algorithm = RelativeNAS(pop_size=4, generations=2, model_cfg=TINY_NET)
    files = SearchFiles(
        str(tmp_path), {'algorithm.pop_size': 4},
        resume_command='python tools/search.py C.py --resume')
    monkeypatch.setattr(fileio, 'open', _FullDisk(1000), raising=False)
    with pytest.raises(SearchSaveError) as caught:
        files.save_generation(algorithm, [])
    message = str(caught.value)
    assert message.startswith(f'could not write {tmp_path}/search_state_gen_000.pth: No space '
                              f'left on device (')
    assert 'free on the file system of' in message and 'the search state is ' in message
    assert 'No checkpoint was written yet' in message
    assert message.endswith('then continue with:\n  python tools/search.py C.py --resume')
    assert os.listdir(tmp_path) == []  # the temporary file is gone


@pytest.mark.e2e
def test_a_full_disk_stops_with_one_message_and_resumes(monkeypatch, reference, data_root,
                                                        tmp_path):
    work_dir = str(tmp_path / 'full')
    one_checkpoint = osp.getsize(osp.join(reference, 'search_state_gen_001.pth'))
    monkeypatch.setattr(fileio, 'open', _FullDisk(one_checkpoint + 100_000), raising=False)
    with pytest.raises(SearchSaveError) as caught:
        _search_in_process(monkeypatch, 'full_disk', *_args(work_dir, data_root))
    message = str(caught.value)
    assert f'could not write {work_dir}/search_state_gen_002.pth: No space left' in message
    assert f'The last complete checkpoint, {work_dir}/search_state_gen_001.pth, is ' \
           f'intact' in message
    assert message.endswith(' --resume') and f'--work-dir {work_dir}' in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    monkeypatch.undo()
    _search_in_process(monkeypatch, 'full_disk_resumed', *_args(work_dir, data_root, resume=True))
    _assert_same_as(work_dir, reference)


# ----------------------------------------------------------------------------- checkpoints
def _states(work_dir: str, fingerprint: dict, generations=(1, 2, 3)) -> None:
    for g in generations:
        save_search_state(make_search_state({'g': g}, g, fingerprint), work_dir, keep=5)


def test_resume_falls_back_over_a_damaged_latest_checkpoint(tmp_path):
    fingerprint = {'algorithm.pop_size': 4}
    _states(str(tmp_path), fingerprint)
    files = SearchFiles(str(tmp_path), fingerprint)
    with open(tmp_path / 'search_state_gen_003.pth', 'r+b') as f:
        f.truncate(100)
    path, state, skipped = files.state_to_resume(True, None)
    assert (osp.basename(path), state['algorithm']) == ('search_state_gen_002.pth', {'g': 2})
    assert len(skipped) == 1 and 'search_state_gen_003.pth with torch.load' in skipped[0]
    # --resume PATH never falls back
    with pytest.raises(SearchStateError, match='cannot read search checkpoint .*gen_003'):
        files.state_to_resume(True, str(tmp_path / 'search_state_gen_003.pth'))
    # another search's checkpoint, or a pointer to a missing file, is passed over too
    save_search_state(make_search_state({'g': 3}, 3, {'algorithm.pop_size': 6}), str(tmp_path))
    os.remove(tmp_path / 'search_state_gen_002.pth')
    path, _, skipped = files.state_to_resume(True, None)
    assert osp.basename(path) == 'search_state_gen_001.pth'
    assert 'search.algorithm.pop_size is 6 there but 4' in skipped[0]
    with open(tmp_path / 'latest_search_state', 'w') as f:
        f.write('search_state_gen_009.pth\n')
    path, _, skipped = files.state_to_resume(True, None)
    assert osp.basename(path) == 'search_state_gen_001.pth' and 'gen_009' in skipped[0]
    os.remove(tmp_path / 'search_state_gen_001.pth')
    with pytest.raises(
            SearchStateError, match=r'(?s)no checkpoint in .* can be resumed:.*'
            r'gen_009.*gen_003.pth was saved by a different search'):
        files.state_to_resume(True, None)


@pytest.mark.e2e
def test_a_damaged_latest_checkpoint_is_skipped_on_resume(monkeypatch, reference, data_root,
                                                          tmp_path):
    work_dir = str(tmp_path / 'damaged')
    shutil.copytree(reference, work_dir)
    damaged = osp.join(work_dir, f'search_state_gen_{GENERATIONS:03d}.pth')
    with open(damaged, 'r+b') as f:
        f.truncate(osp.getsize(damaged) // 2)
    with pytest.raises(SearchStateError, match='cannot read search checkpoint'):
        _search_in_process(monkeypatch, 'damaged_explicit', CONFIG, '--work-dir', work_dir,
                           '--data-root', data_root, '--resume', damaged,
                           *_args(work_dir, data_root)[5:])  # from --cfg-options on
    _search_in_process(monkeypatch, 'damaged', *_args(work_dir, data_root, resume=True))
    log = _log(work_dir)
    assert f'--resume: resuming from {work_dir}/search_state_gen_{GENERATIONS - 1:03d}.pth' in log
    assert f'cannot read search checkpoint {damaged}' in log
    _assert_same_as(work_dir, reference)


# ----------------------------------------------------------------------------- the lock
def test_a_work_dir_lock_belongs_to_one_search(tmp_path):
    first = WorkDirLock(str(tmp_path))
    assert first.acquire() is None
    with open(first.path) as f:
        owner = json.load(f)
    assert owner == dict(host=socket.gethostname(), pid=os.getpid(), started=owner['started'])
    with pytest.raises(
            WorkDirBusyError,
            match=rf'another search is running in {tmp_path}: pid {os.getpid()} on '
            rf'{socket.gethostname()}, started {owner["started"]}'):
        WorkDirLock(str(tmp_path)).acquire()
    first.release()
    assert not osp.exists(first.path)
    # a dead process's lock on this host is taken over, with a warning
    dead = subprocess.Popen([sys.executable, '-c', 'pass'])
    dead.wait()
    with open(first.path, 'w') as f:
        json.dump(dict(host=socket.gethostname(), pid=dead.pid, started='then'), f)
    second = WorkDirLock(str(tmp_path))
    assert f'took over the lock of search pid {dead.pid} (started then)' in second.acquire()
    second.release()
    # another host's processes cannot be seen: its lock holds
    with open(first.path, 'w') as f:
        json.dump(dict(host='elsewhere', pid=dead.pid, started='then'), f)
    with pytest.raises(WorkDirBusyError, match='on elsewhere, started then'):
        WorkDirLock(str(tmp_path)).acquire()


@pytest.mark.e2e
def test_a_second_search_in_the_work_dir_stops_at_once(monkeypatch, reference, data_root, tmp_path):
    work_dir = str(tmp_path / 'shared')
    first = _start(work_dir, data_root)
    try:
        _wait_for(lambda: osp.isfile(osp.join(work_dir, LOCK_FILE)), first, 'a lock')
        first.send_signal(signal.SIGSTOP)  # still running whenever the second one looks
        started = time.monotonic()
        with pytest.raises(
                WorkDirBusyError, match=f'another search is running in {work_dir}: '
                f'pid {first.pid} on '):
            _search_in_process(monkeypatch, 'second', *_args(work_dir, data_root))
        assert time.monotonic() - started < 30
        first.send_signal(signal.SIGCONT)
        assert first.wait(timeout=RUN_TIMEOUT) == 0
    finally:
        first.kill()
        first.wait()
    _assert_same_as(work_dir, reference)


# ----------------------------------------------------------------------------- settings
BAD_SETTINGS = [
    ('search.algorithm.lr_max=-0.1',
     r'search\.algorithm\.lr_max: got -0\.1, expected a number > 0'),
    ('search.algorithm.lr_min=-1', r'lr_min: got -1, expected a number >= 0$'),
    ('search.algorithm.lr_min=0.5', r'lr_min: got 0\.5, expected a number <= '
     r'search\.algorithm\.lr_max \(0\.1\)'),
    ('search.algorithm.drop_path_max=1.5', r'drop_path_max: got 1\.5, expected a number >= 0 '
     r'and < 1'),
    ('search.algorithm.generations=0', r'generations: got 0, expected an integer >= 1'),
    ('search.algorithm.pop_size=3', r'pop_size: got 3, expected an even integer >= 2'),
    ('search.algorithm.seed=-1', r'seed: got -1, expected an integer >= 0'),
    ('search.algorithm.writeback=sometimes', r"writeback: got 'sometimes', expected one of "
     r"\('pair', 'generation'\)"),
    ('search.evaluator.batch_size=0', r'batch_size: got 0, expected an integer >= 1'),
    ('search.evaluator.momentum=1.0', r'momentum: got 1\.0, expected a number >= 0 and < 1'),
    ('search.evaluator.weight_decay=-0.001', r'weight_decay: got -0\.001, expected a number >= 0'),
    ('search.evaluator.grad_clip=0', r'grad_clip: got 0, expected a number > 0'),
    ('search.evaluator.workers=many', r"workers: got 'many', expected 'auto' or an integer >= 0"),
    ('search.evaluator.augment_valid=yes', r"augment_valid: got 'yes', expected True or False"),
    ('search.evaluator.sgd=adam', r"sgd: got 'adam', expected one of \('foreach', 'fused', "
     r"'loop'\)"),
    ('search.evaluator.streams=0', r'streams: got 0, expected an integer >= 1'),
    ('search.evaluator.batchsize=8', r"search\.evaluator: unknown key\(s\) \['batchsize'\] for "
     r"FastEvaluator; expected some of \[.*'batch_size'"),
    ('search.data.train_portion=1.0', r'train_portion: got 1\.0, expected a number > 0 and < 1'),
    ('search.supernet.num_cells=2', r'num_cells: got 2, expected an integer >= 3'),
    ('search.evaluator.threads=2', r'threads: got 2, expected None with workers=0'),
]


@pytest.mark.parametrize('option, message', BAD_SETTINGS)
def test_a_bad_setting_stops_the_search_before_any_data(monkeypatch, tmp_path, option, message):
    """No data at ``data_root``: the setting is refused before the data is looked for."""
    extra = ['search.evaluator.workers=0'] if 'threads' in option else []
    with pytest.raises(SearchSettingsError, match=message):
        _search_in_process(monkeypatch, f'bad_{option.replace("=", "_")}',
                           *_args(str(tmp_path / 'w'), str(tmp_path / 'no_data'), option, *extra))
    assert os.listdir(tmp_path / 'w') and not osp.exists(tmp_path / 'w' / LOCK_FILE)


def test_settings_that_only_fail_together_and_several_at_once():
    sections = dict(data={}, supernet={}, budget={},
                    evaluator=dict(augment_valid=True, batch_size=16,
                                   valid_batch_size=8), algorithm=dict(writeback='pair', lr_max=-1))
    with pytest.raises(SearchSettingsError) as caught:
        check_search_settings(sections, world_size=4, launcher='pytorch')
    assert str(caught.value).splitlines() == [
        '3 bad search settings:',
        '  search.algorithm.lr_max: got -1, expected a number > 0',
        "  search.algorithm.writeback: got 'pair', expected 'generation' with 4 ranks "
        "(--launcher pytorch): 'pair' runs one pair at a time, on 2 ranks, or start at most "
        '2 ranks',
        '  search.evaluator.valid_batch_size: got 8, expected None or search.evaluator.batch_size '
        'with augment_valid=True (its draws are per batch)',
    ]
    sections['algorithm'] = dict(writeback='pair')
    sections['evaluator'] = dict(type='EagerEvaluator', momentum=0.5)
    check_search_settings(sections, world_size=2)  # pair mode on 2 ranks is fine
    sections['evaluator'].update(cuda_graph=True, streams=2)  # the reference has neither
    with pytest.raises(SearchSettingsError, match=r"unknown key\(s\) \['cuda_graph', 'streams'\] "
                       r'for EagerEvaluator'):
        check_search_settings(sections)


# ----------------------------------------------------------------------------- the result
class _Runner:
    """What tools/train.py's main needs of a runner, noting the warnings it logs."""

    def __init__(self) -> None:
        self.model, self.warnings = torch.nn.Linear(1, 1), []
        self.logger = SimpleNamespace(warning=self.warnings.append)

    def train(self) -> None:
        """Training is not what is tested."""


def test_train_warns_about_an_unfinished_search_s_genotype(tmp_path, monkeypatch):
    path = str(tmp_path / 'best_genotype.json')
    (tmp_path / 'cifar-10-batches-py').mkdir()  # the data check passes
    train, runners = load_tool('train'), []

    def build_runner(cfg) -> _Runner:
        runners.append(_Runner())
        return runners[-1]

    monkeypatch.setattr(train, 'build_runner', build_runner)
    monkeypatch.setattr(sys, 'argv', [
        'train.py', 'configs/cifar/relnas_cifar10.py', '--data-root',
        str(tmp_path), '--cfg-options', f'model.backbone.genotype={path}'
    ])
    for finished, generation in ((False, 0), (True, 2)):
        save_genotype(
            get_genotype('RelativeNAS'), path, generation=generation, generations=3,
            finished=finished)
        train.main()
    assert runners[0].warnings == [
        f'model.backbone.genotype: {path} is the best genotype of an unfinished search '
        f'(generation 1 of 3): resume the search (tools/search.py CONFIG --resume) for its '
        f'final result'
    ]
    assert runners[1].warnings == []
    save_genotype(get_genotype('RelativeNAS'), path)  # a genotype file of any other origin
    cfg = Config(dict(model=dict(backbone=dict(genotype=path))))
    assert unfinished_genotypes(cfg) == []
