"""relnas_mm.analysis: named and random cells, size matching, statistics, run scheduling."""
import math
import os
import sys

import numpy as np
import pytest

from relnas_mm.analysis.compare import (bootstrap_difference, draw_random_cells, format_report,
                                        named_cells, percentile_among, sampling_rng, summarize,
                                        within_size)
from relnas_mm.analysis.runs import Job, Progress, cpu_slots, gpu_slots, read_result, run_jobs
from relnas_mm.search.slow_fast import initial_population
from relnas_mm.space.encoding import decode_population
from relnas_mm.space.genotype import GENOTYPES, GenotypeError, format_genotype, save_genotype


def test_named_cells_accept_what_genotype_accepts(tmp_path):
    search_dir = tmp_path / 'my_search'
    search_dir.mkdir()
    save_genotype(GENOTYPES['PC_DARTS'], str(search_dir / 'best_genotype.json'))
    other = tmp_path / 'cell_b.json'
    save_genotype(GENOTYPES['DARTS_V2'], str(other))
    text = format_genotype(GENOTYPES['RelativeNAS'])
    cells = named_cells(
        ['RelativeNAS',
         str(search_dir / 'best_genotype.json'),
         str(other), text, f'mine={text}'])
    assert [c.name for c in cells] == ['RelativeNAS', 'my_search', 'cell_b', 'cell3', 'mine']
    assert [c.genotype for c in cells] == [
        GENOTYPES['RelativeNAS'], GENOTYPES['PC_DARTS'], GENOTYPES['DARTS_V2'],
        GENOTYPES['RelativeNAS'], GENOTYPES['RelativeNAS']
    ]
    assert {c.kind for c in cells} == {'named'}


def test_named_cells_errors_name_the_entry():
    with pytest.raises(GenotypeError, match="--cells 'Relative_NAS': genotype 'Relative_NAS'"):
        named_cells(['Relative_NAS'])
    with pytest.raises(ValueError, match="two cells are labelled 'DARTS_V2'"):
        named_cells(['DARTS_V2', 'DARTS_V2'])
    with pytest.raises(ValueError, match="'random_1' is reserved"):
        named_cells(['random_1=DARTS_V2'])


def test_random_cells_come_from_the_search_initial_distribution():
    cells = draw_random_cells(5, np.random.default_rng(7))
    population, _ = initial_population(6, np.random.default_rng(7))
    assert [c.genotype for c in cells] == decode_population(population)[:5]
    assert [c.name for c in cells] == [f'random_{i:02d}' for i in range(5)]
    assert all(c.kind == 'random' and c.spec == format_genotype(c.genotype) for c in cells)
    # more random cells later extend the list: the first ones stay (a comparison can grow)
    assert draw_random_cells(3, np.random.default_rng(7)) == cells[:3]


def test_random_cells_never_repeat_a_search_population_or_a_named_cell():
    # a search seeded with 0 starts from these; its searched cell may be one of them
    population = decode_population(initial_population(20, np.random.default_rng(0))[0])
    cells = draw_random_cells(20, sampling_rng(0))
    assert not {format_genotype(g) for g in population} & {c.spec for c in cells}
    assert draw_random_cells(20, sampling_rng(0)) == cells  # still seeded
    # a draw equal to a named cell (or to an earlier random cell) is skipped
    skipped = draw_random_cells(4, np.random.default_rng(7), exclude=[population[0]])
    plain = draw_random_cells(5, np.random.default_rng(7))
    first = decode_population(initial_population(2, np.random.default_rng(7))[0])[0]
    excluded = draw_random_cells(4, np.random.default_rng(7), exclude=[first])
    assert [c.genotype for c in excluded] == [c.genotype for c in plain[1:5]]
    assert [c.name for c in excluded] == [f'random_{i:02d}' for i in range(4)]
    assert skipped == plain[:4]  # excluding a cell that is never drawn changes nothing


def _fake_params(genotype) -> int:
    """A size that depends on the cell the way real ones do: convolutions cost, pools don't."""
    cost = {
        'sep_conv_3x3': 30,
        'sep_conv_5x5': 40,
        'dil_conv_3x3': 15,
        'dil_conv_5x5': 20,
        'skip_connect': 2,
        'max_pool_3x3': 0,
        'avg_pool_3x3': 0
    }
    return 100 + sum(cost[op] for op, _ in genotype.normal + genotype.reduce)


def test_match_size_keeps_only_cells_near_the_reference():
    reference = _fake_params(GENOTYPES['RelativeNAS'])
    sizes = [_fake_params(c.genotype) for c in draw_random_cells(40, np.random.default_rng(0))]
    assert sum(not within_size(s, reference) for s in sizes) > 5  # unmatched draws miss often
    cells = draw_random_cells(6, np.random.default_rng(0), _fake_params, reference)
    assert all(abs(_fake_params(c.genotype) - reference) <= 0.1 * reference for c in cells)
    with pytest.raises(
            RuntimeError, match=r'0 of 2 random cells lie within ±10% of the '
            r'reference \(10 parameters\) after 50 draws'):
        draw_random_cells(2, np.random.default_rng(0), _fake_params, 10, max_draws=50)


@pytest.mark.parametrize('reference, message', [
    (None, r'2 of 5 random cells after 2 draws: --max-draws must be at least --random'),
    (10, r'--match-size: 0 of 5 random cells lie within ±10% of the reference \(10 parameters\) '
     r'after 0 draws; the reference'),
])
def test_too_few_draws_is_a_clear_error(reference, message):
    """The message itself must format: no size matching, or no draw at all."""
    with pytest.raises(RuntimeError, match=message):
        draw_random_cells(5, np.random.default_rng(0), _fake_params, reference,
                          max_draws=0 if reference else 2)


def test_within_size_bounds():
    assert within_size(110, 100) and within_size(90, 100) and not within_size(111, 100)


def test_percentile_counts_ties_half():
    assert percentile_among(5, [1, 2, 3, 4]) == 100.0
    assert percentile_among(0, [1, 2, 3, 4]) == 0.0
    assert percentile_among(3, [1, 2, 3, 4]) == 62.5  # 2 below, 1 tie of 4
    assert math.isnan(percentile_among(3, []))


def test_bootstrap_interval():
    rng = np.random.default_rng(0)
    low, high = bootstrap_difference([80.0, 80.0], [70.0, 71.0, 72.0], rng, samples=2000)
    # the named cell is constant; the random median is one of 70..72
    assert 8.0 <= low <= high <= 10.0 and low < high
    low, high = bootstrap_difference([60.0, 64.0, 62.0], [50.0, 70.0, 61.0, 62.0], rng, 4000)
    assert low < 62.0 - 61.5 < high  # the point estimate lies inside


def _runs(table):
    return [
        dict(cell=cell, seed=s, top1=acc) for cell, accs in table.items()
        for s, acc in enumerate(accs)
    ]


def test_summary_and_report_numbers():
    table = {
        'searched': [80.0, 84.0],
        'random_00': [70.0, 72.0],
        'random_01': [75.0, 79.0],
        'random_02': [60.0, 60.0]
    }
    cells = [
        dict(name=n, kind='named' if n == 'searched' else 'random', params=1.5e6 + i, flops=2e8)
        for i, n in enumerate(table)
    ]
    summary = summarize(cells, _runs(table), bootstrap=1000)
    rows = {r['name']: r for r in summary['cells']}
    assert rows['searched']['mean'] == 82.0
    assert rows['searched']['std'] == pytest.approx(np.std([80, 84], ddof=1))
    assert summary['random'] == dict(count=3, median=71.0, min=60.0, max=77.0)
    named = summary['named'][0]
    assert named['percentile'] == 100.0 and named['difference'] == 11.0
    assert named['ci_low'] <= 11.0 <= named['ci_high']
    report = format_report(summary, ['config: x'])
    assert '| searched | named | 82.00 ± 2.83 | 2 | 80.00..84.00 | 1.500 | 200.0 |' in report
    assert 'Random cells: 3, median top-1 71.00 %, range 60.00..77.00 %' in report
    assert f"| searched | 82.00 | 100.0 | 11.00 | [{named['ci_low']:.2f}, " in report
    # a single seed has no standard deviation
    one = summarize(cells[:1], _runs({'searched': [80.0]}))
    assert math.isnan(one['cells'][0]['std']) and math.isnan(one['named'][0]['percentile'])


def test_cells_without_runs_are_left_out():
    cells = [
        dict(name='a', kind='named', params=1, flops=1),
        dict(name='random_00', kind='random', params=1, flops=1)
    ]
    summary = summarize(cells, _runs({'a': [50.0]}))
    assert [r['name'] for r in summary['cells']] == ['a'] and summary['random']['count'] == 0


def test_slots():
    cpu = cpu_slots(2, 3)
    assert len(cpu) == 2 and cpu[0].env == {
        'CUDA_VISIBLE_DEVICES': '',
        'OMP_NUM_THREADS': '3',
        'MKL_NUM_THREADS': '3'
    }
    gpu = gpu_slots([0, 1], 2)
    assert [s.env['CUDA_VISIBLE_DEVICES'] for s in gpu] == ['0', '1', '0', '1']
    with pytest.raises(ValueError, match='--workers and --threads must be >= 1'):
        cpu_slots(0, 1)


def test_run_jobs_runs_each_job_once_in_its_slot_environment(tmp_path):
    jobs = [Job(f'c{i}', 0, str(tmp_path / f'c{i}')) for i in range(5)]
    script = ('import json, os, sys; d = sys.argv[1]; '
              'json.dump(dict(top1=float(os.environ["OMP_NUM_THREADS"]), seconds=0.0), '
              'open(os.path.join(d, "result.json"), "w")); sys.exit(3 if d.endswith("c4") else 0)')
    done = []
    run_jobs(jobs, cpu_slots(2, 4), lambda job: [sys.executable, '-c', script, job.run_dir],
             lambda job, rc: done.append((job.cell, rc)), poll_s=0.05)
    assert sorted(done) == [('c0', 0), ('c1', 0), ('c2', 0), ('c3', 0), ('c4', 3)]
    assert all(read_result(j.run_dir)['top1'] == 4.0 for j in jobs)
    assert all(os.path.isfile(os.path.join(j.run_dir, 'run.log')) for j in jobs)


def test_a_broken_result_file_is_a_clear_error(tmp_path):
    (tmp_path / 'result.json').write_text('{"top1": ')
    with pytest.raises(ValueError, match='result.json is not valid JSON .* delete it'):
        read_result(str(tmp_path))
    assert read_result(str(tmp_path / 'nothing')) is None


def test_progress_line_says_what_is_left():
    progress = Progress(4)
    line = progress.line(Job('random_00', 1, 'x'), 'top-1 50.00')
    assert line.startswith('[1/4] random_00 seed 1: top-1 50.00; 3 left, about ')
    assert line.endswith(' s to go')
