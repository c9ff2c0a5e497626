"""tools/search.py on CIFAR-100, on an image folder and under a budget, end to end.

Tiny learnable data in the real on-disk formats; the results are checked against
tools/analysis/get_flops.py and trained with the CIFAR-style configs. The budgeted
search is resumed from one of its checkpoints and rerun on two processes, and both
must end in exactly its state.
"""
import glob
import json
import os
import os.path as osp
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

pytest.importorskip('mmengine')

from fixtures_count import executed_cost
from fixtures_data import make_cifar100_like, make_image_folder
from fixtures_downstream import LOADER_OPTIONS, SMALL_NET, cli_options
from fixtures_tools import REPO, check_ok, run_tool, run_tool_in_process, tool_env

from relnas_mm.datasets.image_folder_io import ImageFolderError
from relnas_mm.engine.search_budget import build_network
from relnas_mm.search.budget import pareto_front
from relnas_mm.search.checkpoint import load_search_state
from relnas_mm.space.cost import NETWORKS, network_cost
from relnas_mm.space.genotype import get_genotype

SCRIPT = osp.join(REPO, 'tools', 'search.py')
TINY = [
    'search.supernet.channels=4', 'search.supernet.num_cells=3', 'search.evaluator.batch_size=16',
    'randomness.deterministic=True'
]
# ImageNet mobile network, 380M FLOPs: tighter than the median random cell (436M over
# 1000 random cells), and the config's 5.5M parameters; 6 members, 7 generations
LIMIT, PARAMS, GENERATIONS = 380e6, 5.5e6, 7
BUDGETED = [
    'search.algorithm.pop_size=6', f'search.algorithm.generations={GENERATIONS}',
    f'search.budget.flops=(None,{LIMIT:.0f})'
]
TIMEOUT = 300


def _search(config: str, work_dir: str, data_root: str, *options: str, launcher: tuple = (),
            nproc: int = 1) -> str:
    """tools/search.py in a subprocess (``nproc`` > 1: under torchrun); returns its output."""
    args = [
        osp.join(REPO, 'configs', 'search', config), '--work-dir', work_dir, '--data-root',
        data_root, '--cfg-options', *TINY, *options, *launcher
    ]
    runner = ([
        sys.executable, '-m', 'torch.distributed.run', '--standalone', f'--nproc_per_node={nproc}'
    ] if nproc > 1 else [sys.executable])
    proc = subprocess.run([*runner, SCRIPT, *args], cwd=REPO, env=tool_env(), capture_output=True,
                          text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def _in_process(monkeypatch, name: str, config: str, work_dir: str, data_root: str, *options:
                str) -> None:
    run_tool_in_process(monkeypatch, SCRIPT, osp.join(REPO, 'configs', 'search', config),
                        '--work-dir', work_dir, '--data-root', data_root, '--cfg-options', *TINY,
                        *options, f'experiment_name={name}')


def _history(work_dir: str) -> list:
    with open(osp.join(work_dir, 'search_history.json')) as f:
        return json.load(f)['generations']


def _best(work_dir: str) -> dict:
    with open(osp.join(work_dir, 'best_genotype.json')) as f:
        return json.load(f)


def _log(work_dir: str) -> str:
    return open(glob.glob(osp.join(work_dir, '*', '*.log'))[0]).read()


def _same_state(a: str, b: str) -> None:
    sa, sb = load_search_state(a)['algorithm'], load_search_state(b)['algorithm']
    assert torch.equal(sa['population'], sb['population'])
    assert sa['history'] == sb['history'] and sa['budget'] == sb['budget']
    assert all(torch.equal(sa['weight_set'][k], sb['weight_set'][k]) for k in sa['weight_set'])


@pytest.fixture(scope='module')
def budgeted(tmp_path_factory, data_root) -> str:
    """The CIFAR search for the ImageNet mobile network under LIMIT; returns its work_dir."""
    work_dir = str(tmp_path_factory.mktemp('budgeted'))
    _search('relnas_cifar_mobile600m.py', work_dir, data_root, *BUDGETED)
    return work_dir


# ----------------------------------------------------------------------------- budget
@pytest.mark.e2e
def test_budgeted_search_ends_feasible_by_an_independent_count(budgeted):
    history = _history(budgeted)
    spec = NETWORKS['imagenet_mobile']
    for record in history:  # every evaluated candidate: its costs from its genotype
        costs = [network_cost(get_genotype(g), spec) for g in record['genotypes']]
        assert record['costs'] == dict(flops=[c.flops for c in costs],
                                       params=[c.params for c in costs])
        assert record['feasible'] == [c.flops <= LIMIT and c.params <= PARAMS for c in costs]
    # the first population was redrawn into the budget, and it stayed there
    assert history[0]['redrawn'] > 0
    shares = [np.mean(r['feasible']) for r in history]
    assert all(b >= a for a, b in zip(shares, shares[1:])) and np.mean(shares[1:]) >= 0.95
    best = _best(budgeted)
    last = history[-1]
    assert best['feasible'] is True and best['budget'] == dict(flops=[None, LIMIT],
                                                               params=[None, PARAMS])
    feasible = [i for i, ok in enumerate(last['feasible']) if ok and last['losses'][i] is not None]
    expected = min(feasible, key=lambda i: last['losses'][i])
    assert get_genotype(last['genotypes'][expected]) == get_genotype(best)
    assert best['costs'] == dict(flops=last['costs']['flops'][expected],
                                 params=last['costs']['params'][expected])
    # what the built network runs, counted with forward hooks, is within the budget
    net = build_network(get_genotype(best), spec).eval()
    flops = executed_cost(net, torch.zeros(1, 3, 224, 224))['flops']
    params = sum(p.numel() for p in net.parameters())
    assert flops <= LIMIT and params <= PARAMS
    assert (flops, params) == (best['costs']['flops'], best['costs']['params'])
    log = _log(budgeted)
    assert (f'Best genotype cost: {best["costs"]["flops"] / 1e6:.2f}M FLOPs, {params / 1e6:.2f}M '
            f'params (budget flops <= 380.00M FLOPs, params <= 5.50M params)') in log
    for record in history:
        feasible = sum(record['feasible'])
        assert re.search(
            rf'Generation \[{record["generation"] + 1}/{GENERATIONS}\] .* feasible '
            rf'{feasible}/6 \({100 * feasible / 6:.0f}%\)  repairs '
            rf'{record["repairs"]}', log)


@pytest.mark.e2e
def test_every_cell_called_feasible_fits_by_an_independent_count(budgeted):
    """Every cell of the final population flagged feasible runs within the budget."""
    last = _history(budgeted)[-1]
    for genotype in {g for g, ok in zip(last['genotypes'], last['feasible']) if ok}:
        net = build_network(get_genotype(genotype), NETWORKS['imagenet_mobile']).eval()
        assert executed_cost(net, torch.zeros(1, 3, 224, 224))['flops'] <= LIMIT, genotype


@pytest.mark.e2e
def test_pareto_outputs_hold_the_final_generation(budgeted):
    with open(osp.join(budgeted, 'pareto.json')) as f:
        pareto = json.load(f)
    last = _history(budgeted)[-1]
    final = [(last['losses'][i], (last['costs']['flops'][i], last['costs']['params'][i]))
             for i in range(6)]
    assert pareto['front_of'] == 'final_generation' and pareto['num_candidates'] == 6
    assert pareto['bounds'] == dict(flops=[None, LIMIT], params=[None, PARAMS])
    assert pareto['network']['input_hw'] == [224, 224]
    assert all(e['generation'] == GENERATIONS - 1 for e in pareto['front'])
    front = [(e['val_loss'], (e['costs']['flops'], e['costs']['params'])) for e in pareto['front']]
    assert front == [final[i] for i in pareto_front(final)]
    assert osp.getsize(osp.join(budgeted, 'pareto.png')) > 0


@pytest.mark.e2e
def test_reevaluated_front_over_the_whole_archive(budgeted, data_root, tmp_path):
    """Resuming the finished search with reevaluate=True validates every cell once with
    the final weight set and trains nothing."""
    work_dir = str(tmp_path / 'reevaluated')
    os.makedirs(work_dir)
    final = f'search_state_gen_{GENERATIONS:03d}.pth'
    shutil.copy(osp.join(budgeted, final), osp.join(work_dir, final))
    log = _search('relnas_cifar_mobile600m.py', work_dir, data_root, *BUDGETED,
                  'search.budget.reevaluate=True', '--resume', osp.join(work_dir, final))
    assert 'validating every cell of the search once more' in log
    assert not re.search(r'Generation \[\d+/\d+\]\[', log)  # no candidate trained
    with open(osp.join(work_dir, 'pareto.json')) as f:
        pareto = json.load(f)
    cells = {g for r in _history(budgeted) for g in r['genotypes']}
    assert pareto['front_of'] == 'reevaluated_archive' and pareto['num_candidates'] == len(cells)
    assert len(cells) > 6 and {e['genotype'] for e in pareto['front']} <= cells
    _same_state(osp.join(work_dir, final), osp.join(budgeted, final))  # nothing trained


@pytest.mark.e2e
def test_budgeted_search_resumes_exactly(budgeted, data_root, tmp_path):
    work_dir = str(tmp_path / 'resumed')
    os.makedirs(work_dir)
    checkpoint = osp.join(work_dir, 'search_state_gen_005.pth')
    shutil.copy(osp.join(budgeted, 'search_state_gen_005.pth'), checkpoint)
    _search('relnas_cifar_mobile600m.py', work_dir, data_root, *BUDGETED, '--resume', checkpoint)
    final = f'search_state_gen_{GENERATIONS:03d}.pth'
    _same_state(osp.join(work_dir, final), osp.join(budgeted, final))
    assert _best(work_dir) == _best(budgeted)


@pytest.mark.e2e
def test_budgeted_search_on_two_processes_matches_one(budgeted, data_root, tmp_path):
    work_dir = str(tmp_path / 'two')
    _search('relnas_cifar_mobile600m.py', work_dir, data_root, *BUDGETED,
            'env_cfg.dist_cfg.backend=gloo', launcher=('--launcher', 'pytorch'), nproc=2)
    assert all(sorted(set(r['evaluated_by'])) == [0, 1] for r in _history(work_dir))
    final = f'search_state_gen_{GENERATIONS:03d}.pth'
    _same_state(osp.join(work_dir, final), osp.join(budgeted, final))


@pytest.mark.e2e
def test_latency_budget_on_two_processes_with_generation_writeback(data_root, tmp_path):
    """Rank 0 measures each new genotype once and shares the values: the ranks agree."""
    work_dir = str(tmp_path / 'latency')
    network = [
        f'search.budget.network.{k}' for k in ('stem_type=cifar', 'channels=4', 'num_cells=3',
                                               'input_hw=(16,16)', 'num_classes=10')
    ]
    _search('relnas_cifar.py', work_dir, data_root, 'search.algorithm.pop_size=4',
            'search.algorithm.generations=2', 'search.algorithm.writeback=generation',
            'search.budget.latency=(None,1000)', *network, 'search.budget.warmup=1',
            'search.budget.runs=3', 'env_cfg.dist_cfg.backend=gloo',
            launcher=('--launcher', 'pytorch'), nproc=2)
    history = _history(work_dir)
    seen = {}
    for record in history:
        assert sorted(set(record['evaluated_by'])) == [0, 1]
        latency = record['costs']['latency']
        assert all(c > 0 and ok for c, ok in zip(latency, record['feasible']))
        for genotype, cost in zip(record['genotypes'], latency):
            assert seen.setdefault(genotype, cost) == cost  # measured once per genotype
    best = _best(work_dir)
    assert list(best['costs']) == ['latency'] and best['feasible'] is True
    assert 'ms (budget latency <= 1000.00 ms)' in _log(work_dir)


@pytest.mark.e2e
def test_no_feasible_candidate_is_said_and_the_least_violating_kept(monkeypatch, data_root,
                                                                    tmp_path):
    work_dir = str(tmp_path / 'impossible')
    _in_process(monkeypatch, 'impossible_budget', 'relnas_cifar.py', work_dir, data_root,
                'search.algorithm.pop_size=4', 'search.algorithm.generations=1',
                'search.budget.metric=params', 'search.budget.network=cifar',
                'search.budget.max=1000', 'randomness.deterministic=False')
    record = _history(work_dir)[-1]
    best = _best(work_dir)
    assert best['feasible'] is False and best['costs']['params'] == min(record['costs']['params'])
    log = _log(work_dir)
    assert 'WARNING' in log and 'No candidate of the search met the budget' in log


def _budget(metric: str = 'flops', network: str = 'cifar', limit: str = '1') -> list:
    return [
        f'search.budget.metric={metric}', f'search.budget.network={network}',
        f'search.budget.max={limit}'
    ]


@pytest.mark.parametrize('options, error, message', [
    (['search.budget.metric=flops'], KeyError, r"search\.budget: .*\(missing \['max'\]\)"),
    (_budget(metric='energy'), ValueError, r"search\.budget\.metric: expected one of \("),
    (['search.budget.network=cifar', 'search.budget.energy=(None,1)'
      ], ValueError, r"search\.budget: unknown metric\(s\) \['energy'\]"),
    (['search.budget.network=cifar', 'search.budget.flops=(7e8,6e8)'
      ], ValueError, r'search\.budget\.flops: flops: min 7e\+08 > max 6e\+08'),
    (_budget(network='resnet'), ValueError,
     r"search\.budget\.network: expected one of \['cifar', 'imagenet_mobile'\]"),
    (_budget(limit='-1'), ValueError, r'search\.budget\.max: flops: bound -1 is negative'),
    (_budget(network='configs/nowhere.py'), FileNotFoundError,
     r"config file 'configs/nowhere\.py' not found"),
    (['search.supernet.num_classes=7'
      ], ValueError, r'num_classes is 7 but the search data \(cifar10 in .*\) has 10 classes'),
    (['search.data.label_type=coarse'
      ], ValueError, r"search\.data\.label_type applies to dataset='cifar100' only"),
])
def test_bad_settings_fail_before_the_search(monkeypatch, data_root, tmp_path, options, error,
                                             message):
    with pytest.raises(error, match=message):
        _in_process(monkeypatch, 'bad', 'relnas_cifar.py', str(tmp_path / 'w'), data_root, *options)
    assert not glob.glob(str(tmp_path / 'w' / '*.pth'))


# ----------------------------------------------------------------------------- own data
def _train_one_epoch(config: str, data_root: str, work_dir: str, best: str,
                     num_classes: int) -> str:
    return check_ok(
        run_tool('tools/train.py', config,
                 '--work-dir', work_dir, '--data-root', data_root, '--cfg-options',
                 *cli_options(SMALL_NET), *LOADER_OPTIONS, 'train_cfg.max_epochs=1',
                 f'model.num_classes={num_classes}', f'model.backbone.genotype={best}'))


@pytest.mark.e2e
def test_cifar100_search_result_trains(tmp_path):
    data = make_cifar100_like(str(tmp_path / 'c100'), n_train=48, n_test=6, num_fine=8)
    work_dir = str(tmp_path / 'search')
    # num_classes=None: from the data (8 fine classes)
    _search('relnas_cifar100.py', work_dir, data, 'search.supernet.num_classes=None',
            'search.algorithm.pop_size=2', 'search.algorithm.generations=2')
    state = load_search_state(osp.join(work_dir, 'search_state_gen_002.pth'))
    assert state['algorithm']['config']['model']['num_classes'] == 8
    assert 'cost' not in _best(work_dir) and not osp.exists(osp.join(work_dir, 'pareto.json'))
    out = _train_one_epoch('configs/cifar/relnas_cifar100.py', data, str(tmp_path / 'train'),
                           osp.join(work_dir, 'best_genotype.json'), 8)
    assert 'Epoch(train) [1]' in out and 'accuracy/top1' in out


@pytest.mark.e2e
def test_image_folder_search_result_trains(tmp_path):
    folder = make_image_folder(
        str(tmp_path / 'images'), classes=('ant', 'bee', 'cow'), per_class=10, size=(40, 48))
    work_dir = str(tmp_path / 'search')
    log = _search('relnas_image_folder.py', work_dir, folder, 'search.data.image_size=16',
                  'search.algorithm.pop_size=2', 'search.algorithm.generations=2')
    assert 'Loading the search images: 30/30' in log
    assert 'search.supernet.num_classes' not in log
    state = load_search_state(osp.join(work_dir, 'search_state_gen_002.pth'))
    assert state['algorithm']['config']['model']['num_classes'] == 3
    root = str(tmp_path / 'retrain')
    for split in ('train', 'val'):
        make_image_folder(osp.join(root, split), classes=('ant', 'bee', 'cow'), per_class=2)
    out = _train_one_epoch('configs/cifar/relnas_image_folder.py', root, str(tmp_path / 'train'),
                           osp.join(work_dir, 'best_genotype.json'), 3)
    assert 'Epoch(train) [1]' in out and 'accuracy/top1' in out


def test_an_image_folder_with_one_class_is_refused(monkeypatch, tmp_path):
    folder = make_image_folder(str(tmp_path / 'images'), classes=('ant', ), per_class=4)
    with pytest.raises(ImageFolderError, match='two at least'):
        _in_process(monkeypatch, 'one_class', 'relnas_image_folder.py', str(tmp_path / 'w'), folder)
    assert not glob.glob(str(tmp_path / 'w' / '*.pth'))
