"""Searched cells against random cells of the same space, trained alike, over several seeds.

    python tools/analysis/compare_cells.py CONFIG --cells SPEC [SPEC ...] --random N --seeds K
        [--match-size] [--work-dir DIR] [--data-root DIR] [--cfg-options KEY=VALUE ...]
        [--workers W] [--threads T] [--runs-per-gpu R] [--launcher {none,pytorch,slurm}]

CONFIG is a classification config (``configs/cifar/relnas_cifar10.py``); ``--cfg-options``
sets the budget (width, cells, epochs), the same for every cell. SPEC is anything
``genotype=`` accepts (a shipped name, DARTS text, a search's ``best_genotype.json``),
optionally labelled ``LABEL=SPEC``. Random cells come from the search's initial
distribution (seeded by ``--sample-seed``); ``--match-size`` keeps only random cells
within ±10% of the first named cell's parameters.

Every (cell, seed) is one run of the config through tools/train.py's checks and Runner,
then one test, in its own process under ``WORK_DIR/runs/<cell>/seed<k>/``. Runs go to
``--workers`` CPU processes (``--threads`` each), or with GPUs to ``--runs-per-gpu``
processes per GPU; with ``--launcher pytorch|slurm`` each launched process (one per
GPU) takes its share of the runs and rank 0 writes the outputs. Finished runs are
never trained again, so a killed comparison resumes by running the same command.

Outputs in WORK_DIR: compare.json (setup, cells, and per run: cell, seed, test top-1,
params, FLOPs, seconds), compare.md (the statistics) and compare.png (accuracy vs
parameters).
"""
import argparse
import copy
import json
import os
import os.path as osp
import signal
import sys
import time
from typing import Any, Dict, List, Sequence, Tuple

import torch
from mmengine.config import Config, DictAction

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))  # tools/analysis/get_flops.py
from get_flops import TensorMode, build_model, complexity, inference_params, input_hw

import relnas_mm
from relnas_mm.analysis.compare import (SIZE_TOLERANCE, Cell, draw_random_cells, format_report,
                                        named_cells, sampling_rng, summarize)
from relnas_mm.analysis.runs import (Job, Progress, Slot, cpu_slots, gpu_slots, read_result,
                                     run_dir, run_jobs, write_json)
from relnas_mm.analysis.train_run import CONFIG_FILE
from relnas_mm.apis import set_data_root, set_num_classes
from relnas_mm.space.genotype import Genotype, format_genotype
from relnas_mm.visualization.compare_plot import plot_comparison

FAILED_FILE = 'FAILED'
#: how long a launched rank other than 0 waits for rank 0 to write its run configs
RANK0_TIMEOUT_S = 600.0


def parse_args(argv: Sequence[str] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Train named cells and random cells alike over seeds and compare them')
    parser.add_argument('config', help='classification config (its model.backbone takes '
                        'genotype=)')
    parser.add_argument(
        '--cells', nargs='+', required=True, metavar='SPEC',
        help='cells to compare: a shipped name, DARTS "Genotype(...)" text '
        'or a genotype JSON file, optionally as LABEL=SPEC')
    parser.add_argument('--random', type=int, default=10, metavar='N',
                        help='number of random cells (default 10)')
    parser.add_argument('--seeds', type=int, default=3, metavar='K',
                        help='training seeds 0..K-1 per cell (default 3)')
    parser.add_argument(
        '--match-size', action='store_true',
        help='keep only random cells within --size-tolerance of the first '
        "--cells entry's parameters")
    parser.add_argument('--size-tolerance', type=float, default=SIZE_TOLERANCE,
                        help='relative tolerance of --match-size (default 0.1 = ±10%%)')
    parser.add_argument('--max-draws', type=int, default=2000,
                        help='give up --match-size after this many random draws (default 2000)')
    parser.add_argument('--sample-seed', type=int, default=0,
                        help='seed of the random cells (default 0)')
    parser.add_argument(
        '--work-dir', help='where runs and outputs go (default '
        'work_dirs/compare_<config name>)')
    parser.add_argument('--data-root', help='dataset root for every dataloader')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='budget settings applied to every run, e.g. '
        'model.backbone.base_channels=16 train_cfg.max_epochs=20')
    parser.add_argument('--metric', default='accuracy/top1',
                        help='test metric to compare (default accuracy/top1)')
    parser.add_argument('--workers', type=int, default=1,
                        help='CPU only: runs at a time, one process each (default 1)')
    parser.add_argument('--threads', type=int,
                        help='CPU only: math threads per run (default: cores / workers)')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm'], default='none',
        help='started once per GPU by torchrun / srun: each process trains '
        'its share of the runs, rank 0 writes the outputs')
    parser.add_argument('--runs-per-gpu', type=int, default=1,
                        help='GPU: runs at a time on each GPU (default 1)')
    parser.add_argument('--bootstrap', type=int, default=10000,
                        help='bootstrap samples of the 95%% intervals (default 10000)')
    return parser.parse_args(argv)


# ----------------------------------------------------------------------------- configs
def base_config(args: argparse.Namespace) -> Config:
    """The config with the budget applied; a clear error if it cannot take a cell."""
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.data_root is not None:
        set_data_root(cfg, args.data_root)
    set_num_classes(cfg)
    backbone = cfg.get('model', {}).get('backbone')
    if not isinstance(backbone, dict) or 'genotype' not in backbone:
        raise ValueError(f'{args.config}: model.backbone has no "genotype" key; '
                         'compare_cells.py needs a classification config whose backbone takes '
                         'a cell (e.g. configs/cifar/relnas_cifar10.py)')
    if cfg.get('test_dataloader') is None or cfg.get('test_evaluator') is None:
        raise ValueError(f'{args.config}: no test_dataloader/test_evaluator; the runs are '
                         'compared on their test metric')
    cfg.launcher = 'none'
    return cfg


def cell_config(cfg: Config, genotype: Genotype) -> Config:
    """A copy of ``cfg`` whose backbone uses ``genotype``."""
    cfg = copy.deepcopy(cfg)
    cfg.model.backbone.genotype = format_genotype(genotype)
    return cfg


def cell_records(cfg: Config, cells: Sequence[Cell], known: Dict[str, dict]) -> List[dict]:
    """name, kind, spec, genotype text, params (test-time network) and FLOPs per cell;
    sizes already in compare.json (same genotype) are not measured again."""
    hw = input_hw(cfg, None)
    records = []
    for cell in cells:
        text = format_genotype(cell.genotype)
        old = known.get(cell.name)
        if old is not None and old['genotype'] == text:
            size = dict(params=old['params'], flops=old['flops'])
        else:
            size = complexity(build_model(cell_config(cfg, cell.genotype)), hw)
            size = dict(params=size['params_inference'], flops=size['flops'])
        records.append(dict(name=cell.name, kind=cell.kind, spec=cell.spec, genotype=text, **size))
    return records


def params_counter(cfg: Config):
    """Parameters of a cell's test-time network under ``cfg`` (as get_flops.py counts them)."""
    inputs = torch.randn(1, 3, *input_hw(cfg, None))

    def count(genotype: Genotype) -> int:
        return inference_params(TensorMode(build_model(cell_config(cfg, genotype))), inputs)

    return count


# -------------------------------------------------------------------------- bookkeeping
def setup_of(args: argparse.Namespace) -> Dict[str, Any]:
    """What makes runs comparable: a work dir holds runs of one setup only."""
    return json.loads(
        json.dumps(
            dict(
                config=osp.abspath(args.config), cfg_options=args.cfg_options or {},
                data_root=args.data_root, metric=args.metric)))


def load_previous(path: str, setup: Dict[str, Any]) -> dict:
    """compare.json of an earlier call with this work dir ({} if none), checked to
    belong to a comparison with the same settings."""
    if not osp.isfile(path):
        return {}
    with open(path) as f:
        previous = json.load(f)
    if previous.get('setup') != setup:
        old = previous.get('setup', {})
        changed = sorted(k for k in set(setup) | set(old) if setup.get(k) != old.get(k))
        raise ValueError(f'{path} holds a comparison with other settings ({", ".join(changed)} '
                         'differ); use another --work-dir, or the same settings to resume')
    return previous


def check_cells(previous: dict, cells: Sequence[dict], path: str) -> None:
    """A cell name must mean the same genotype as in the earlier call."""
    old = {c['name']: c['genotype'] for c in previous.get('cells', [])}
    for cell in cells:
        if cell['name'] in old and old[cell['name']] != cell['genotype']:
            raise ValueError(f'{path}: cell {cell["name"]!r} was {old[cell["name"]]} before and '
                             f'is {cell["genotype"]} now (another --cells entry, --sample-seed '
                             'or --match-size?); use another --work-dir')


def finished_runs(work_dir: str, previous: dict, cells: Sequence[dict],
                  seeds: int) -> Dict[Tuple[str, int], dict]:
    """Runs with a result, from compare.json and from the runs' own result.json."""
    by_name = {c['name']: c for c in cells}
    runs = {
        (r['cell'], r['seed']): r
        for r in previous.get('runs', []) if r['cell'] in by_name and r['seed'] < seeds
    }
    for cell in cells:
        for seed in range(seeds):
            result = read_result(run_dir(work_dir, cell['name'], seed))
            if (cell['name'], seed) not in runs and result is not None:
                runs[cell['name'], seed] = run_record(cell, seed, result)
    return runs


def run_record(cell: dict, seed: int, result: dict) -> dict:
    """compare.json's entry of one finished run."""
    return dict(cell=cell['name'], seed=seed, top1=result['top1'], params=cell['params'],
                flops=cell['flops'], seconds=result['seconds'])


def report_header(args: argparse.Namespace, setup: dict, reference: str) -> List[str]:
    """The settings compare.md states above its tables."""
    data = f', data root `{args.data_root}`' if args.data_root else ''
    matched = (f", within ±{args.size_tolerance:.0%} of {reference}'s parameters"
               if args.match_size else '')
    return [
        f'config: `{args.config}`{data}',
        f'budget (--cfg-options): `{json.dumps(setup["cfg_options"])}`',
        f'seeds: {args.seeds}; random cells: {args.random}, sample seed {args.sample_seed}'
        f'{matched}', f'metric: test {args.metric}; intervals: {args.bootstrap} bootstrap samples'
    ]


def write_outputs(work_dir: str, setup: dict, cells: List[dict], runs: Dict[tuple, dict],
                  args: argparse.Namespace, final: bool) -> None:
    """compare.json after every run; compare.md and compare.png at the end."""
    ordered = [
        runs[c['name'], s] for s in range(args.seeds) for c in cells if (c['name'], s) in runs
    ]
    write_json(osp.join(work_dir, 'compare.json'), dict(setup=setup, cells=cells, runs=ordered))
    if not final or not ordered:
        return
    summary = summarize(cells, ordered, bootstrap=args.bootstrap)
    with open(osp.join(work_dir, 'compare.md'), 'w') as f:
        f.write(format_report(summary, report_header(args, setup, cells[0]['name'])))
    plot_comparison(summary, osp.join(work_dir, 'compare.png'))


# ------------------------------------------------------------------------------ running
def distributed_rank() -> Tuple[int, int, int]:
    """(rank, world size, local rank) of a process started by torchrun or srun."""
    env = os.environ
    if 'SLURM_PROCID' in env and 'RANK' not in env:
        return int(env['SLURM_PROCID']), int(env['SLURM_NTASKS']), int(env['SLURM_LOCALID'])
    return int(env.get('RANK', 0)), int(env.get('WORLD_SIZE', 1)), int(env.get('LOCAL_RANK', 0))


def make_slots(args: argparse.Namespace, local_rank: int) -> List[Slot]:
    """One slot per launched process, else --runs-per-gpu per GPU, else --workers CPUs."""
    gpus = torch.cuda.device_count()
    if args.launcher != 'none':
        return (gpu_slots([local_rank % gpus], 1) if gpus else cpu_slots(1, args.threads or 1))
    if gpus:
        return gpu_slots(range(gpus), args.runs_per_gpu)
    threads = args.threads or max(1, (os.cpu_count() or 1) // args.workers)
    return cpu_slots(args.workers, threads)


def worker_command(job: Job, metric: str) -> List[str]:
    """The command of one run: relnas_mm's worker module."""
    return [sys.executable, '-m', 'relnas_mm.analysis.train_run', job.run_dir, '--metric', metric]


def with_package_path(slots: Sequence[Slot]) -> List[Slot]:
    """The workers import the same relnas_mm as this tool (a checkout, not only an install)."""
    root = osp.dirname(osp.dirname(osp.abspath(relnas_mm.__file__)))
    path = os.pathsep.join(p for p in (root, os.environ.get('PYTHONPATH')) if p)
    return [Slot(s.name, dict(s.env, PYTHONPATH=path)) for s in slots]


def prepare_jobs(cfg: Config, cells: Sequence[Cell], pending: Sequence[Tuple[str, int]],
                 work_dir: str) -> List[Job]:
    """Write each pending run's complete config into its run directory."""
    genotypes = {c.name: c.genotype for c in cells}
    jobs = []
    for name, seed in pending:
        directory = run_dir(work_dir, name, seed)
        os.makedirs(directory, exist_ok=True)
        run_cfg = cell_config(cfg, genotypes[name])
        run_cfg.randomness = dict(seed=seed, deterministic=False)
        run_cfg.work_dir = directory
        tmp = osp.join(directory, f'tmp_{CONFIG_FILE}')
        run_cfg.dump(tmp)
        os.replace(tmp, osp.join(directory, CONFIG_FILE))  # other ranks never read half a file
        if osp.exists(osp.join(directory, FAILED_FILE)):
            os.remove(osp.join(directory, FAILED_FILE))
        jobs.append(Job(name, seed, directory))
    return jobs


def wait_for_run_configs(jobs: Sequence[Job], timeout_s: float, poll_s: float = 1.0) -> None:
    """Ranks other than 0: wait for rank 0 to write the configs of ``jobs``; a rank 0 that
    failed before writing them is a TimeoutError after ``timeout_s``, not a hang."""
    deadline = time.monotonic() + timeout_s
    while True:
        missing = [j for j in jobs if not osp.isfile(osp.join(j.run_dir, CONFIG_FILE))]
        if not missing:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(
                f'rank 0 has not written {osp.join(missing[0].run_dir, CONFIG_FILE)} (nor '
                f'{len(missing) - 1} other run configs) within {timeout_s:.0f} s: did rank 0 '
                'fail? See its output')
        time.sleep(poll_s)


def wait_for_others(jobs: Sequence[Job]) -> None:
    """Rank 0 of a launched comparison: wait until every run has a result or failed."""
    waiting = list(jobs)
    while waiting:
        waiting = [
            j for j in waiting
            if read_result(j.run_dir) is None and not osp.exists(osp.join(j.run_dir, FAILED_FILE))
        ]
        if waiting:
            time.sleep(5)


def stop_on_sigterm() -> None:
    """Let ``kill`` or a scheduler's preemption stop the run processes too, as Ctrl-C does
    (SystemExit unwinds through run_jobs, which terminates them)."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def main(argv: Sequence[str] = None) -> int:
    args = parse_args(argv)
    if args.seeds < 1:
        raise ValueError(f'--seeds must be >= 1, got {args.seeds}')
    cfg = base_config(args)
    work_dir = args.work_dir or osp.join('work_dirs',
                                         'compare_' + osp.splitext(osp.basename(args.config))[0])
    os.makedirs(work_dir, exist_ok=True)
    rank, world, local_rank = distributed_rank() if args.launcher != 'none' else (0, 1, 0)

    named = named_cells(args.cells)
    reference = None
    if args.match_size:
        count = params_counter(cfg)
        reference = count(named[0].genotype)
        print(
            f'--match-size: random cells within ±{args.size_tolerance:.0%} of '
            f'{named[0].name} ({reference:,} parameters)', flush=True)
    random = draw_random_cells(args.random, sampling_rng(args.sample_seed),
                               count if args.match_size else None, reference, args.size_tolerance,
                               args.max_draws, exclude=[c.genotype for c in named])
    setup, json_path = setup_of(args), osp.join(work_dir, 'compare.json')
    previous = load_previous(json_path, setup)
    cells = cell_records(cfg, named + random, {c['name']: c for c in previous.get('cells', [])})
    check_cells(previous, cells, json_path)
    runs = finished_runs(work_dir, previous, cells, args.seeds)
    # every rank shares the runs out alike, whatever another rank has finished meanwhile
    every = [(c['name'], s) for s in range(args.seeds) for c in cells]
    todo = [key for key in every if key not in runs]
    print(
        f'{len(cells)} cells x {args.seeds} seeds: {len(runs)} runs finished before, '
        f'{len(todo)} to train', flush=True)
    mine = {key for key in every[rank::world] if key not in runs}
    if rank == 0:
        all_jobs = prepare_jobs(cfg, named + random, todo, work_dir)
        my_jobs = [job for job in all_jobs if (job.cell, job.seed) in mine]
    else:  # rank 0 writes the run configs
        my_jobs = [Job(n, s, run_dir(work_dir, n, s)) for n, s in todo if (n, s) in mine]
        wait_for_run_configs(my_jobs, RANK0_TIMEOUT_S)
    by_name = {c['name']: c for c in cells}
    progress, failed = Progress(len(my_jobs)), []

    def on_done(job: Job, returncode: int) -> None:
        result = read_result(job.run_dir) if returncode == 0 else None
        if result is None:
            failed.append(job)
            open(osp.join(job.run_dir, FAILED_FILE), 'w').close()
            text = f'FAILED (exit code {returncode}), see {osp.join(job.run_dir, "run.log")}'
        else:
            runs[job.cell, job.seed] = run_record(by_name[job.cell], job.seed, result)
            text = f"{args.metric} {result['top1']:.2f} in {result['seconds']:.0f} s"
            if rank == 0:
                write_outputs(work_dir, setup, cells, runs, args, final=False)
        print(progress.line(job, text), flush=True)

    slots = with_package_path(make_slots(args, local_rank))
    run_jobs(my_jobs, slots, lambda job: worker_command(job, args.metric), on_done)
    if rank != 0:
        return 1 if failed else 0
    wait_for_others(all_jobs)
    runs = finished_runs(work_dir, {}, cells, args.seeds) | runs
    write_outputs(work_dir, setup, cells, runs, args, final=True)
    missing = [j for j in all_jobs if (j.cell, j.seed) not in runs]
    outputs = (osp.join(work_dir, name) for name in ('compare.json', 'compare.md', 'compare.png'))
    print(f'wrote {", ".join(outputs)}', flush=True)
    if missing:
        failed = ', '.join(f'{j.cell} seed {j.seed}' for j in missing)
        print(f'{len(missing)} run(s) failed: {failed}', flush=True)
        return 1
    return 0


if __name__ == '__main__':
    stop_on_sigterm()
    sys.exit(main())
