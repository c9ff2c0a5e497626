"""tools/search.py end to end on tiny learnable data: results, kill-and-resume, two ranks, errors.

The runs that must be separate processes (a real SIGKILL, torchrun) are subprocesses;
the short runs (error cases, a NaN candidate) run in this process through the same
script. All runs use one thread, so single- and multi-process runs do the same
floating-point work and their states can be compared for equality.
"""
import glob
import json
import logging
import math
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest
import torch

pytest.importorskip('mmengine')

from fixtures_tools import REPO, run_tool_in_process, tool_env

from relnas_mm.datasets.cifar_io import CIFARDataError
from relnas_mm.search import EagerEvaluator
from relnas_mm.search.checkpoint import SearchStateError, latest_search_state, load_search_state
from relnas_mm.space.genotype import get_genotype

SCRIPT = osp.join(REPO, 'tools', 'search.py')
CONFIG = osp.join(REPO, 'configs', 'search', 'relnas_cifar.py')
GENERATIONS = 3
TINY = [
    f'search.algorithm.generations={GENERATIONS}', 'search.algorithm.pop_size=4',
    'search.supernet.channels=4', 'search.supernet.num_cells=3', 'search.evaluator.batch_size=16',
    'randomness.deterministic=True'
]
RUN_TIMEOUT = 300


def _args(work_dir: str, data_root: str, *options: str, resume: bool = False) -> list:
    return [
        CONFIG, '--work-dir', work_dir, '--data-root', data_root, *(['--resume'] if resume else []),
        '--cfg-options', *TINY, *options
    ]


def _search(*args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, SCRIPT, *args], cwd=REPO, env=tool_env(),
                          capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def _search_in_process(monkeypatch, name: str, *args: str) -> None:
    """Run tools/search.py in this process (a unique experiment name per run, one thread)."""
    run_tool_in_process(monkeypatch, SCRIPT, *args, f'experiment_name={name}')


def _two_generations_with(monkeypatch, work_dir: str, data_root: str, evaluator: type, *options:
                          str) -> str:
    """The run log of an in-process search of 2 generations in ``work_dir`` whose
    evaluator is ``evaluator`` (a stand-in defined in a test module)."""
    _search_in_process(
        monkeypatch, osp.basename(work_dir),
        *_args(work_dir, data_root, 'search.algorithm.generations=2',
               f'search.evaluator.type={evaluator.__module__}.{evaluator.__qualname__}', *options))
    with open(glob.glob(osp.join(work_dir, '*', '*.log'))[0]) as f:
        return f.read()


def _final_state(work_dir: str) -> dict:
    return load_search_state(osp.join(work_dir, f'search_state_gen_{GENERATIONS:03d}.pth'))


def _assert_same_search(a: dict, b: dict) -> None:
    sa, sb = a['algorithm'], b['algorithm']
    assert sa['generation'] == sb['generation'] == GENERATIONS
    assert torch.equal(sa['population'], sb['population'])
    assert torch.equal(sa['velocity'], sb['velocity'])
    assert sa['rng'] == sb['rng']
    assert sa['weight_set'].keys() == sb['weight_set'].keys()
    assert all(torch.equal(sa['weight_set'][k], sb['weight_set'][k]) for k in sa['weight_set'])
    assert sa['history'] == sb['history']


@pytest.fixture(scope='module')
def reference(tmp_path_factory, data_root) -> str:
    """An uninterrupted single-process search; returns its work_dir."""
    work_dir = str(tmp_path_factory.mktemp('reference'))
    _search(*_args(work_dir, data_root))
    return work_dir


@pytest.mark.e2e
def test_search_writes_all_results(reference):
    best = get_genotype(osp.join(reference, 'best_genotype.json'))
    with open(osp.join(reference, 'search_history.json')) as f:
        history = json.load(f)['generations']
    assert [h['generation'] for h in history] == list(range(GENERATIONS))
    assert all(len(h['genotypes']) == 4 and h['evaluated_by'] == [0] * 4 for h in history)
    # the result is the best member of the last generation
    assert get_genotype(history[-1]['best_genotype']) == best
    assert history[-1]['best_loss'] == min(history[-1]['losses'])
    for name in ('normal', 'reduce'):
        for ext in ('png', 'svg'):
            assert osp.getsize(osp.join(reference, 'cells', f'{name}.{ext}')) > 0
    assert osp.getsize(osp.join(reference, 'search_curves.png')) > 0
    # a checkpoint per generation (the default keeps 3), latest = the last one
    assert [osp.basename(p) for p in sorted(glob.glob(osp.join(reference, '*.pth')))
            ] == [f'search_state_gen_{g:03d}.pth' for g in range(1, GENERATIONS + 1)]
    assert latest_search_state(reference).endswith(f'gen_{GENERATIONS:03d}.pth')
    # one summary line per generation in the log, the same scalars in the visualizer
    log = open(glob.glob(osp.join(reference, '*', '*.log'))[0]).read()
    for g in range(1, GENERATIONS + 1):
        assert f'Generation [{g}/{GENERATIONS}] lr' in log
    assert log.count('(rank 0): val loss') == 4 * GENERATIONS
    assert 'numerics: fp32 on cpu' in log  # the precision the search runs with
    scalars = glob.glob(osp.join(reference, '*', 'vis_data', 'scalars.json'))[0]
    steps = [json.loads(line) for line in open(scalars)]
    assert [s['step'] for s in steps] == list(range(1, GENERATIONS + 1))
    assert [s['best_val_loss'] for s in steps] == pytest.approx([h['best_loss'] for h in history])


@pytest.mark.e2e
def test_result_feeds_the_backbone(reference):
    """A backbone built from best_genotype.json runs the search's recorded best cell."""
    from relnas_mm.models.backbone import RelNASNet
    net = RelNASNet(
        genotype=osp.join(reference, 'best_genotype.json'), base_channels=4, num_cells=3,
        stem_type='cifar')
    with open(osp.join(reference, 'search_history.json')) as f:
        best = get_genotype(json.load(f)['generations'][-1]['best_genotype'])
    for cell in net.cells:
        pairs = best.reduce if cell.reduction else best.normal
        assert list(zip(cell.op_names, cell.indices)) == [tuple(p) for p in pairs]


@pytest.mark.e2e
def test_killed_search_resumes_to_the_same_result(reference, data_root, tmp_path):
    work_dir = str(tmp_path / 'killed')
    proc = subprocess.Popen([sys.executable, SCRIPT, *_args(work_dir, data_root)], cwd=REPO,
                            env=tool_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + RUN_TIMEOUT
    try:
        while latest_search_state(work_dir) is None:  # generation 1 checkpointed
            assert proc.poll() is None, 'the search ended before its first checkpoint'
            assert time.monotonic() < deadline, 'no checkpoint in time'
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    # killed during generation 2: one generation done, not the search
    assert latest_search_state(work_dir).endswith('search_state_gen_001.pth')
    assert load_search_state(latest_search_state(work_dir))['algorithm']['generation'] == 1
    assert not osp.exists(osp.join(work_dir, 'search_curves.png'))
    _search(*_args(work_dir, data_root, resume=True))
    _assert_same_search(_final_state(work_dir), _final_state(reference))
    assert open(osp.join(work_dir, 'best_genotype.json')).read() == \
        open(osp.join(reference, 'best_genotype.json')).read()


@pytest.mark.e2e
def test_two_processes_split_candidates_and_match_one(reference, data_root, tmp_path):
    work_dir = str(tmp_path / 'two_ranks')
    cmd = [
        sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2', SCRIPT,
        *_args(work_dir, data_root, 'env_cfg.dist_cfg.backend=gloo'), '--launcher', 'pytorch'
    ]
    # --launcher after --cfg-options' values: argparse ends the list at the next option
    proc = subprocess.run(cmd, cwd=REPO, env=tool_env(), capture_output=True, text=True,
                          timeout=RUN_TIMEOUT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with open(osp.join(work_dir, 'search_history.json')) as f:
        history = json.load(f)['generations']
    assert len(history) == GENERATIONS
    for record in history:
        ranks = record['evaluated_by']  # rank of candidate 0..N-1: each evaluated once
        assert len(ranks) == 4 and sorted(set(ranks)) == [0, 1]
        for a, b in record['pairs']:  # 'pair' mode: the two members ran side by side
            assert ranks[a] != ranks[b]
    _assert_same_search(_final_state(work_dir), _final_state(reference))


class NaNForCandidateOne(EagerEvaluator):
    """The real evaluator, except that candidate 1 always diverges."""

    def evaluate(self, job):
        result = super().evaluate(job)
        if job.index == 1:
            result.loss, result.finite = math.nan, False
        return result


@pytest.mark.e2e
def test_nonfinite_candidate_is_logged_and_the_search_goes_on(monkeypatch, data_root, tmp_path):
    work_dir = str(tmp_path / 'nan')
    log = _two_generations_with(monkeypatch, work_dir, data_root, NaNForCandidateOne,
                                'randomness.deterministic=False')
    with open(osp.join(work_dir, 'search_history.json')) as f:
        history = json.load(f)['generations']
    assert len(history) == 2
    assert all(h['nonfinite'] == [1] and h['best_index'] != 1 for h in history)
    assert log.count('candidate 1 (') >= 2 and 'non-finite loss' in log
    assert 'WARNING' in log


@pytest.mark.e2e
def test_generation_writeback_from_a_seeded_population(monkeypatch, data_root, tmp_path):
    work_dir = str(tmp_path / 'generation')
    _search_in_process(
        monkeypatch, 'generation_mode',
        *_args(work_dir, data_root, 'search.algorithm.generations=1',
               'search.algorithm.writeback=generation',
               "search.algorithm.init_population=['RelativeNAS']",
               'randomness.deterministic=False'))
    with open(osp.join(work_dir, 'search_history.json')) as f:
        history = json.load(f)
    assert history['search']['algorithm.writeback'] == 'generation'
    record = history['generations'][0]
    assert get_genotype(record['genotypes'][0]) == get_genotype('RelativeNAS')
    assert get_genotype(osp.join(work_dir, 'best_genotype.json')) == get_genotype(
        record['genotypes'][record['best_index']])


@pytest.mark.e2e
def test_fast_engine_keeps_the_reference_ranking(monkeypatch, data_root, tmp_path):
    """The config's FastEvaluator (channels-last kernels on the CPU) against the eager
    reference over a generation of 8: the same ranking by validation loss, except swaps
    of candidates whose reference losses differ by less than 1%."""
    losses = {}
    for name, evaluator in (('fast', 'FastEvaluator'), ('eager', 'EagerEvaluator')):
        work_dir = str(tmp_path / name)
        _search_in_process(
            monkeypatch, f'ranking_{name}',
            *_args(work_dir, data_root, 'search.algorithm.generations=1',
                   'search.algorithm.pop_size=8', f'search.evaluator.type={evaluator}'))
        with open(osp.join(work_dir, 'search_history.json')) as f:
            losses[name] = json.load(f)['generations'][0]['losses']
    ref, out = losses['eager'], losses['fast']
    decided = [(i, j) for i in range(8) for j in range(8)
               if ref[i] < ref[j] and ref[j] - ref[i] >= 0.01 * ref[i]]
    assert decided, ref  # the comparison can fail
    assert all(out[i] < out[j] for i, j in decided), (ref, out)


def test_missing_dataset_fails_before_the_search(monkeypatch, tmp_path):
    work_dir = str(tmp_path / 'w')
    with pytest.raises(CIFARDataError, match='CIFAR-10 not found'):
        _search_in_process(monkeypatch, 'missing_data', *_args(work_dir, str(tmp_path / 'nowhere')))
    assert latest_search_state(work_dir) is None


@pytest.mark.parametrize('option, message', [
    ('search.algorithm.pop_size=3', r'search\.algorithm\.pop_size: got 3, expected an even'),
    ('search.algorithm.writeback=sometimes', r'search\.algorithm\.writeback: got .sometimes.'),
    ('search.algorithm.popsize=4', r'search\.algorithm: .*popsize'),
    ('search.data.dataset=mnist', r'search\.data\.dataset: expected one of'),
    ('search.evaluator.type=Nope', r'search\.evaluator\.type: .Nope. is not'),
    ('search.data.num_images=100', r'search\.data\.num_images: expected an integer in 2\.\.64'),
    ('search.data.datset=cifar10', r'search\.data: unknown key\(s\) \[.datset.\]'),
])
def test_bad_settings_name_the_key(monkeypatch, data_root, tmp_path, option, message):
    core = logging.getLogger('relnas_mm')
    before = (list(core.handlers), core.propagate)
    with pytest.raises((ValueError, TypeError, KeyError), match=message):
        _search_in_process(monkeypatch, f'bad_{option.split("=")[0]}',
                           *_args(str(tmp_path / 'w'), data_root, option))
    assert (core.handlers, core.propagate) == before  # the run-log bridge is detached


@pytest.mark.e2e
def test_checkpoint_of_another_search_is_refused(monkeypatch, reference, data_root, tmp_path):
    checkpoint = osp.join(reference, 'search_state_gen_001.pth')
    with pytest.raises(SearchStateError, match=r'search\.supernet\.channels is 4 there but 6'):
        _search_in_process(monkeypatch, 'foreign_checkpoint', CONFIG, '--work-dir',
                           str(tmp_path / 'w'), '--data-root', data_root, '--resume', checkpoint,
                           '--cfg-options', *TINY, 'search.supernet.channels=6')
