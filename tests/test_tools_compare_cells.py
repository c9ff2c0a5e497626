"""tools/analysis/compare_cells.py: named cells vs random cells, end to end on tiny CIFAR data.

The end-to-end test trains 2 named and 3 random cells with 2 seeds each (a small
network, one epoch), checks compare.json, recomputes compare.md's numbers from it,
then resumes: a run whose result is gone is tested again from its checkpoint, and a
call with every run finished trains nothing.
"""
import json
import os
import re
import threading

import numpy as np
import pytest
from fixtures_downstream import LOADER_OPTIONS, SMALL_NET, cli_options
from fixtures_tools import REPO, check_ok, load_tool, run_tool

pytest.importorskip('mmengine')
from mmengine.config import Config

from relnas_mm.space.genotype import get_genotype

CIFAR = 'configs/cifar/relnas_cifar10.py'
BUDGET = cli_options(SMALL_NET) + LOADER_OPTIONS + [
    'train_cfg.max_epochs=1', 'train_dataloader.batch_size=16'
]
RUN_FIELDS = {'cell', 'seed', 'top1', 'params', 'flops', 'seconds'}


def _small_cfg(genotype: str) -> Config:
    cfg = Config.fromfile(os.path.join(REPO, CIFAR))
    cfg.merge_from_dict(dict(SMALL_NET, **{'model.backbone.genotype': genotype}))
    return cfg


def _independent_size(genotype: str) -> dict:
    """Parameters and FLOPs the way tools/analysis/get_flops.py reports them."""
    flops = load_tool('analysis/get_flops')
    cfg = _small_cfg(genotype)
    return flops.complexity(flops.build_model(cfg), flops.input_hw(cfg, None))


def _table_rows(markdown: str, columns: int) -> dict:
    rows = {}
    for line in markdown.splitlines():
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if len(cells) == columns and not set(cells[0]) <= set('-') and cells[0] != 'cell':
            rows[cells[0]] = cells
    return rows


def _check_report(work: str, data: dict) -> None:
    """Every number of compare.md, recomputed from compare.json's runs."""
    with open(os.path.join(work, 'compare.md')) as f:
        report = f.read()
    accs = {}
    for run in data['runs']:
        accs.setdefault(run['cell'], {})[run['seed']] = run['top1']
    per_cell = _table_rows(report, 7)
    assert set(per_cell) == {c['name'] for c in data['cells']}
    means = {}
    for cell in data['cells']:
        values = [accs[cell['name']][s] for s in sorted(accs[cell['name']])]
        means[cell['name']] = np.mean(values)
        assert per_cell[cell['name']] == [
            cell['name'], cell['kind'], f'{np.mean(values):.2f} ± {np.std(values, ddof=1):.2f}',
            str(len(values)), f'{min(values):.2f}..{max(values):.2f}',
            f"{cell['params'] / 1e6:.3f}", f"{cell['flops'] / 1e6:.1f}"
        ]
    random = [means[c['name']] for c in data['cells'] if c['kind'] == 'random']
    median = np.median(random)
    assert (f'Random cells: {len(random)}, median top-1 {median:.2f} %, range '
            f'{min(random):.2f}..{max(random):.2f} %') in report
    named = _table_rows(report, 5)
    assert set(named) == {c['name'] for c in data['cells'] if c['kind'] == 'named'}
    for name, row in named.items():
        mean = means[name]
        percentile = 100 * (np.sum(np.array(random) < mean) +
                            0.5 * np.sum(np.array(random) == mean)) / len(random)
        assert row[1:4] == [f'{mean:.2f}', f'{percentile:.1f}', f'{mean - median:.2f}']
        low, high = (float(v) for v in re.fullmatch(r'\[(\S+), (\S+)\]', row[4]).groups())
        # resampling can only pick observed values: the interval lies within their extremes
        assert min(accs[name].values()) - max(random) - 0.01 <= low <= high \
            <= max(accs[name].values()) - min(random) + 0.01


@pytest.mark.e2e
def test_compare_cells_end_to_end_and_resume(tmp_path, cifar_root):
    work = str(tmp_path / 'compare')
    command = [
        'tools/analysis/compare_cells.py', CIFAR, '--cells', 'RelativeNAS', 'DARTS_V2', '--random',
        '3', '--seeds', '2', '--work-dir', work, '--data-root', cifar_root, '--workers', '2',
        '--threads', '1', '--bootstrap', '2000', '--cfg-options', *BUDGET
    ]
    out = check_ok(run_tool(*command, timeout=1200))
    assert '5 cells x 2 seeds: 0 runs finished before, 10 to train' in out
    assert len(
        re.findall(
            r'^\[\d+/10\] \S+ seed [01]: accuracy/top1 \S+ in \d+ s; \d+ left, '
            r'about .* to go$', out, re.M)) == 10

    with open(os.path.join(work, 'compare.json')) as f:
        data = json.load(f)
    assert [c['name'] for c in data['cells']
            ] == ['RelativeNAS', 'DARTS_V2', 'random_00', 'random_01', 'random_02']
    assert len(data['runs']) == 10 and all(set(r) == RUN_FIELDS for r in data['runs'])
    assert {(r['cell'], r['seed'])
            for r in data['runs']} == {(c['name'], s)
                                       for c in data['cells']
                                       for s in (0, 1)}
    for run in data['runs']:
        assert 0.0 <= run['top1'] <= 100.0 and run['seconds'] > 0
    size = _independent_size('RelativeNAS')
    reference = next(c for c in data['cells'] if c['name'] == 'RelativeNAS')
    assert (reference['params'], reference['flops']) == (size['params_inference'], size['flops'])
    for cell in data['cells']:  # the run was trained with the cell the table names
        cfg = Config.fromfile(os.path.join(work, 'runs', cell['name'], 'seed1', 'config.py'))
        assert get_genotype(cfg.model.backbone.genotype) == get_genotype(cell['genotype'])
        assert cfg.randomness.seed == 1 and cfg.train_cfg.max_epochs == 1
    _check_report(work, data)
    with open(os.path.join(work, 'compare.png'), 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'

    # a run whose result is lost (killed after its last checkpoint): tested again from
    # that checkpoint, nothing else runs
    lost = os.path.join(work, 'runs', 'random_01', 'seed0')
    before = next(r['top1'] for r in data['runs'] if (r['cell'], r['seed']) == ('random_01', 0))
    os.remove(os.path.join(lost, 'result.json'))
    data['runs'] = [r for r in data['runs'] if (r['cell'], r['seed']) != ('random_01', 0)]
    with open(os.path.join(work, 'compare.json'), 'w') as f:
        json.dump(data, f)
    logs = {
        d: os.path.getsize(os.path.join(d, 'run.log'))
        for d in (os.path.join(work, 'runs', c, f'seed{s}') for c in ('RelativeNAS', 'random_00')
                  for s in (0, 1))
    }
    out = check_ok(run_tool(*command, timeout=600))
    assert '9 runs finished before, 1 to train' in out
    assert '[1/1] random_01 seed 0: ' in out
    assert all(os.path.getsize(os.path.join(d, 'run.log')) == n for d, n in logs.items())
    with open(os.path.join(work, 'compare.json')) as f:
        again = json.load(f)
    assert len(again['runs']) == 10
    # the same trained weights, tested again
    assert next(r['top1'] for r in again['runs']
                if (r['cell'], r['seed']) == ('random_01', 0)) == before
    with open(os.path.join(lost, 'run.log')) as f:
        assert 'Auto resumed from the latest checkpoint' in f.read()

    out = check_ok(run_tool(*command, timeout=600))
    assert '10 runs finished before, 0 to train' in out
    with open(os.path.join(work, 'compare.json')) as f:
        assert json.load(f)['runs'] == again['runs']
    _check_report(work, again)


def _fake_run_jobs(jobs, slots, command, on_done, poll_s=0.5):
    """Instead of training: a result whose accuracy grows with the seed."""
    for job in jobs:
        with open(os.path.join(job.run_dir, 'result.json'), 'w') as f:
            json.dump(dict(top1=50.0 + job.seed, seconds=1.0), f)
        on_done(job, 0)


def test_match_size_gives_random_cells_near_the_reference(tmp_path, cifar_root, monkeypatch):
    tool = load_tool('analysis/compare_cells')
    monkeypatch.setattr(tool, 'run_jobs', _fake_run_jobs)
    work = str(tmp_path / 'compare')
    assert tool.main([
        os.path.join(REPO,
                     CIFAR), '--cells', 'DARTS_V2', '--random', '4', '--seeds', '1', '--match-size',
        '--work-dir', work, '--data-root', cifar_root, '--cfg-options', *cli_options(SMALL_NET)
    ]) == 0
    with open(os.path.join(work, 'compare.json')) as f:
        cells = json.load(f)['cells']
    reference = _independent_size('DARTS_V2')['params_inference']
    assert cells[0]['params'] == reference
    random = cells[1:]
    assert len(random) == 4 and len({c['genotype'] for c in random}) == 4
    for cell in random:
        assert abs(cell['params'] - reference) <= 0.1 * reference
    # measured independently of the tool, for one of them
    assert _independent_size(random[0]['genotype'])['params_inference'] == random[0]['params']
    # without --match-size the same sample seed gives cells of a much wider size range
    free = tool.draw_random_cells(12, np.random.default_rng(0))
    count = tool.params_counter(_small_cfg('DARTS_V2'))
    assert any(abs(count(c.genotype) - reference) > 0.1 * reference for c in free)


def test_another_setup_in_the_same_work_dir_is_refused(tmp_path, cifar_root, monkeypatch):
    tool = load_tool('analysis/compare_cells')
    monkeypatch.setattr(tool, 'run_jobs', _fake_run_jobs)
    work = str(tmp_path / 'compare')
    args = [
        os.path.join(REPO, CIFAR), '--cells', 'DARTS_V2', '--random', '1', '--seeds', '1',
        '--work-dir', work, '--data-root', cifar_root, '--cfg-options', *cli_options(SMALL_NET)
    ]
    assert tool.main(args) == 0
    with pytest.raises(
            ValueError, match=r'compare.json holds a comparison with other settings '
            r'\(cfg_options differ\)'):
        tool.main(args + ['train_cfg.max_epochs=3'])
    with pytest.raises(
            ValueError, match=r"cell 'random_00' was Genotype\(.*\) before and is "
            r'Genotype\(.*\) now'):
        tool.main(args + ['--sample-seed', '5'])


def test_a_config_without_a_cell_is_a_clear_error(tmp_path):
    tool = load_tool('analysis/compare_cells')
    with pytest.raises(ValueError, match='relnas_cifar.py: model.backbone has no "genotype" key'):
        tool.main([
            os.path.join(REPO, 'configs/search/relnas_cifar.py'), '--cells', 'DARTS_V2',
            '--work-dir',
            str(tmp_path)
        ])


def test_launched_ranks_share_the_runs_and_rank0_writes_the_outputs(tmp_path, cifar_root,
                                                                    monkeypatch):
    """--launcher: two ranks (threads here, as torchrun's processes) split the runs."""
    tool = load_tool('analysis/compare_cells')
    ran = {}

    def fake_run_jobs(jobs, slots, command, on_done, poll_s=0.5):
        ran[threading.current_thread().name] = [(j.cell, j.seed) for j in jobs]
        assert len(slots) == 1  # one process per launched rank
        _fake_run_jobs(jobs, slots, command, on_done)

    monkeypatch.setattr(tool, 'run_jobs', fake_run_jobs)
    monkeypatch.setattr(
        tool, 'distributed_rank', lambda: {
            'rank0': (0, 2, 0),
            'rank1': (1, 2, 1)
        }[threading.current_thread().name])
    work = str(tmp_path / 'compare')
    args = [
        os.path.join(REPO, CIFAR), '--cells', 'DARTS_V2', '--random', '2', '--seeds', '2',
        '--work-dir', work, '--data-root', cifar_root, '--launcher', 'pytorch', '--cfg-options',
        *cli_options(SMALL_NET)
    ]
    codes = {}
    threads = [
        threading.Thread(
            target=lambda: codes.update({threading.current_thread().name: tool.main(args)}),
            name=f'rank{r}') for r in (0, 1)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert codes == {'rank0': 0, 'rank1': 0}
    every = [(c, s) for s in (0, 1) for c in ('DARTS_V2', 'random_00', 'random_01')]
    assert ran == {'rank0': every[0::2], 'rank1': every[1::2]}
    with open(os.path.join(work, 'compare.json')) as f:
        assert {(r['cell'], r['seed']) for r in json.load(f)['runs']} == set(every)
    assert os.path.isfile(os.path.join(work, 'compare.md'))


def test_a_rank_without_rank0_times_out(tmp_path, cifar_root, monkeypatch):
    """Rank 1 of a launched comparison whose rank 0 never writes the run configs."""
    tool = load_tool('analysis/compare_cells')
    monkeypatch.setattr(tool, 'distributed_rank', lambda: (1, 2, 1))
    monkeypatch.setattr(tool, 'RANK0_TIMEOUT_S', 1.0)
    errors = []

    def rank1() -> None:
        try:
            tool.main([
                os.path.join(REPO, CIFAR), '--cells', 'DARTS_V2', '--random', '1', '--seeds', '2',
                '--work-dir',
                str(tmp_path), '--data-root', cifar_root, '--launcher', 'pytorch', '--cfg-options',
                *cli_options(SMALL_NET)
            ])
        except TimeoutError as exc:
            errors.append(str(exc))

    thread = threading.Thread(target=rank1, daemon=True)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive(), 'rank 1 still waits for rank 0'
    assert len(errors) == 1 and 'did rank 0 fail?' in errors[0]
    assert os.path.join('runs', 'random_00', 'seed0', 'config.py') in errors[0]
