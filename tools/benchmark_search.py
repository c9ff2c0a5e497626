"""Time candidate evaluation: the eager reference against the fast engine, same candidates.

    PYTHONPATH=. python tools/benchmark_search.py [--device cuda|cpu] [--candidates N]
        [--channels 16] [--cells 8] [--batch-size 256] [--train-size 25000]
        [--threads N] [--workers K|auto] [--variant "k=v,k=v" ...] [--group pair|all]
        [--json OUT]

Random candidates (a decoded random population), synthetic uint8 images resident on the
device with learnable labels. Prints seconds per candidate for each engine (a warm-up
pair excluded, the device synchronised around every timed call, the engines taking
turns on each group of jobs), candidates per minute, their ratio, peak memory, the
bytes a result carries between processes, the largest relative loss difference between
engines, and the projected time of the paper's full search (20 candidates x 50
generations at 25k/25k images; scaled linearly from --train-size/--valid-size, which
also scales the per-candidate graph captures: measure at 25k for the exact figure).
Engines get equal cores: the eager reference runs with N torch threads (all cores
unless --threads), the fast engine with its defaults for the device (on the CPU,
workers='auto': N single-threaded processes). Before timing, a same-results check
(--check-steps training steps, 3 by default, so that graphs are captured and replayed
on CUDA; IEEE fp32, deterministic kernels) compares every fast variant with the
reference of its precision: the search's rule is losses within 1e-4. It says how many
steps ran from CUDA graphs, and fails a variant with graphs on CUDA that replayed none.

A ``--variant`` is a comma-separated list of FastEvaluator / make_evaluate options,
e.g. ``--variant "" --variant "channels_last=1" --variant "norm=native,streams=4"``;
the empty string is the defaults. Needs torch only (no mmengine).
"""
import argparse
import contextlib
import json
import resource
import statistics
import time
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch

from relnas_mm.models.supernet import SuperNet
from relnas_mm.search.algorithm import job_seed
from relnas_mm.search.evaluator import CandidateJob, EagerEvaluator, SearchData, result_differences
from relnas_mm.search.fast_parallel import PackedResult, make_evaluate
from relnas_mm.search.numerics import set_numerics
from relnas_mm.space.encoding import decode_population, random_population
from relnas_mm.space.genotype import format_genotype

#: the paper's search: 20 candidates x 50 generations, 25k training / 25k validation images
PAPER_EVALUATIONS = 20 * 50
PAPER_TRAIN = PAPER_VALID = 25000
CHECK_TOLERANCE = 1e-4


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--candidates', type=int, default=4, help='timed candidates')
    parser.add_argument('--channels', type=int, default=16)
    parser.add_argument('--cells', type=int, default=8)
    parser.add_argument('--batch-size', type=int, default=256)
    parser.add_argument('--train-size', type=int, default=PAPER_TRAIN)
    parser.add_argument('--valid-size', type=int, help='default: the train size')
    parser.add_argument(
        '--workers', type=_workers, default='auto',
        help="worker processes for the fast engine (0: in this process; "
        "'auto', the default: as many as --threads on the CPU, 0 on CUDA)")
    parser.add_argument('--variant', action='append',
                        help='fast-engine options "k=v,k=v" (repeatable; default: "")')
    parser.add_argument(
        '--group', choices=('pair', 'all'), default='pair',
        help='jobs per evaluate call: pairs (the faithful per-pair mode) '
        'or all candidates at once (the per-generation mode)')
    parser.add_argument('--lr', type=float, default=0.05)
    parser.add_argument('--drop-prob', type=float, default=0.15)
    parser.add_argument(
        '--check-steps', type=int, default=3,
        help='training steps of the same-results check (0: skip it; at '
        'least warmup_steps + 2 for a graph to be captured and replayed)')
    parser.add_argument('--repeats', type=int, default=1,
                        help='time each engine this many times, report the fastest')
    parser.add_argument('--skip-eager', action='store_true',
                        help='time the fast variants only (no ratio)')
    parser.add_argument('--cudnn-benchmark', action='store_true')
    parser.add_argument('--threads', type=int, help='torch intra-op threads')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--json', help='write the figures to this JSON file')
    args = parser.parse_args(argv)
    args.valid_size = args.valid_size or args.train_size
    args.variant = args.variant or ['']
    for key in ('candidates', 'channels', 'cells', 'batch_size', 'train_size', 'valid_size'):
        if getattr(args, key) < 1:
            parser.error(f'--{key.replace("_", "-")} must be >= 1')
    return args


def _workers(text: str) -> Any:
    return text if text == 'auto' else int(text)


def parse_variant(text: str) -> Dict[str, Any]:
    """'channels_last=0,norm=native' -> {'channels_last': False, 'norm': 'native'}."""
    options: Dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in text.split(','))):
        key, sep, value = item.partition('=')
        if not sep or not key:
            raise ValueError(f'--variant {text!r}: expected k=v items, got {item!r}')
        options[key.strip()] = _value(value.strip())
    return options


def _value(text: str) -> Any:
    lowered = text.lower()
    if lowered in ('true', 'false', 'none'):
        return {'true': True, 'false': False, 'none': None}[lowered]
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def synthetic_data(n_train: int, n_valid: int, device: str, seed: int) -> SearchData:
    """Random uint8 images around 10 class templates (learnable labels), on the device."""
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)

    def half(n: int) -> tuple:
        templates = torch.randint(0, 256, (10, 3, 32, 32), generator=gen, device=device)
        labels = torch.randint(0, 10, (n, ), generator=gen, device=device)
        noise = torch.randint(0, 256, (n, 3, 32, 32), generator=gen, device=device)
        images = (templates[labels] + noise) // 2
        return images.to(torch.uint8), labels

    return SearchData(*half(n_train), *half(n_valid))


def make_jobs(n: int, weights: Dict[str, torch.Tensor], lr: float, drop_prob: float,
              seed: int) -> List[CandidateJob]:
    genotypes = decode_population(random_population(n, np.random.default_rng(seed)))
    return [
        CandidateJob(index=i, genotype=g, weights=weights, lr=lr, drop_prob=drop_prob,
                     seed=job_seed(seed, 0, i)) for i, g in enumerate(genotypes)
    ]


def sync(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def reset_peak(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.reset_peak_memory_stats()


def peak_memory_mb(device: str) -> float:
    """GPU: peak allocated by this process (worker processes not included); CPU: peak
    resident set of this process plus that of its largest worker (ru_maxrss, never
    reset: the peak so far)."""
    if device.startswith('cuda'):
        return torch.cuda.max_memory_allocated() / 2**20
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (own + children) / 1024


def groups(jobs: List[CandidateJob], group: str) -> List[List[CandidateJob]]:
    size = 2 if group == 'pair' else len(jobs)
    return [jobs[i:i + size] for i in range(0, len(jobs), size)]


def time_engines(engines: Dict[str, Any], warmup: List[CandidateJob], jobs: List[CandidateJob],
                 args: argparse.Namespace) -> Dict[str, Dict[str, Any]]:
    """Seconds per candidate (fastest of ``repeats``), peak memory and results per engine.

    The engines take turns on every group of jobs, so that a load that drifts over the
    run (a shared machine) weighs on all of them alike.
    """
    for evaluate in engines.values():
        evaluate(warmup)
    totals = {name: [0.0] * args.repeats for name in engines}
    calls: Dict[str, List[float]] = {name: [] for name in engines}  # seconds of every call
    peaks = dict.fromkeys(engines, 0.0)
    results: Dict[str, List[Any]] = {name: [] for name in engines}
    for repeat in range(args.repeats):
        for chunk in groups(jobs, args.group):
            for name, evaluate in engines.items():
                reset_peak(args.device)
                sync(args.device)
                start = time.perf_counter()
                out = evaluate(chunk)
                sync(args.device)
                calls[name].append(time.perf_counter() - start)
                totals[name][repeat] += calls[name][-1]
                peaks[name] = max(peaks[name], peak_memory_mb(args.device))
                if repeat == 0:
                    results[name] += out
    return {
        name:
        dict(
            seconds_per_candidate=min(totals[name]) / len(jobs), peak_memory_mb=peaks[name],
            results=results[name], calls=calls[name])
        for name in engines
    }


def same_results_check(args: argparse.Namespace, model_cfg: Dict[str, int],
                       weights: Dict[str, torch.Tensor],
                       variants: Dict[str, Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    """``check_steps`` training steps, every variant against the reference of its
    precision, 2 candidates; with the steps that ran from CUDA graphs.

    IEEE fp32 and deterministic kernels, so that run-to-run noise of the GPU kernels
    does not hide (or fake) a difference between the engines.
    """
    data = synthetic_data(args.check_steps * args.batch_size, 3 * args.batch_size, args.device,
                          args.seed + 1)
    jobs = make_jobs(2, weights, args.lr, args.drop_prob, args.seed + 1)
    jobs[0].drop_prob = 0.0
    common = dict(model_cfg=model_cfg, batch_size=args.batch_size, device=args.device,
                  deterministic=True)
    references: Dict[str, List[Any]] = {}
    try:
        out = {}
        for name, options in variants.items():
            options = {k: v for k, v in options.items() if k != 'workers'}
            precision = options.get('precision', 'fp32')
            if precision not in references:
                eager = EagerEvaluator(data, precision=precision, **common)
                references[precision] = [eager.evaluate(j) for j in jobs]
            with make_evaluate(data, 'fast', workers=0, **common, **options) as evaluate:
                out[name] = result_differences(references[precision], evaluate(jobs))
                fast = evaluate.evaluator
                out[name].update(graph_steps=fast.graph_steps, graphs=fast.cuda_graph,
                                 steps=len(jobs) * (args.check_steps + 3))
        return out
    finally:
        set_numerics(torch.device(args.device))  # the search's default regime


def check_verdict(diff: Dict[str, Any]) -> str:
    """PASS: losses within ``CHECK_TOLERANCE``, and graphs replayed where they are on."""
    if max(diff['loss'], diff['train_loss']) > CHECK_TOLERANCE:
        return 'FAIL'
    return 'FAIL (no step ran from a CUDA graph)' if diff['graphs'] and not diff['graph_steps'] \
        else 'PASS'


def projected_minutes(seconds_per_candidate: float, args: argparse.Namespace) -> float:
    """Seconds per candidate scaled to 25k/25k images (linear in images), x 1000, in min."""
    scale = (PAPER_TRAIN + PAPER_VALID) / (args.train_size + args.valid_size)
    return seconds_per_candidate * scale * PAPER_EVALUATIONS / 60


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.backends.cudnn.benchmark = args.cudnn_benchmark
    model_cfg = dict(channels=args.channels, num_cells=args.cells)
    variants = {name: parse_variant(name) for name in args.variant}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(args.seed)
        weights = {k: v.to(args.device) for k, v in SuperNet(**model_cfg).state_dict().items()}
    print(set_numerics(torch.device(args.device)))
    report: Dict[str, Any] = dict(
        settings={
            k: v
            for k, v in vars(args).items() if k != 'json'
        }, torch=torch.__version__,
        device_name=(torch.cuda.get_device_name() if args.device.startswith('cuda') else
                     f'cpu ({torch.get_num_threads()} threads)'))
    print(f'torch {torch.__version__} on {report["device_name"]}; C={args.channels}, '
          f'{args.cells} cells, batch {args.batch_size}, {args.train_size}/{args.valid_size} '
          f'images, {args.candidates} candidates in {args.group}s')
    if args.check_steps:
        report['check'] = same_results_check(args, model_cfg, weights, variants)
        for name, diff in report['check'].items():
            graphs = (f'{diff["graph_steps"]} of {diff["steps"]} steps from CUDA graphs'
                      if diff['graphs'] else 'CUDA graphs off')
            print(f'same-results check [{name or "defaults"}] ({args.check_steps} training '
                  f'steps, IEEE; {graphs}): max rel. diff loss {diff["loss"]:.2e}, train loss '
                  f'{diff["train_loss"]:.2e}, state {diff["state"]:.2e} -> {check_verdict(diff)}')
    data = synthetic_data(args.train_size, args.valid_size, args.device, args.seed)
    jobs = make_jobs(args.candidates + 2, weights, args.lr, args.drop_prob, args.seed)
    warmup, jobs = jobs[:2], jobs[2:]
    report['genotypes'] = [format_genotype(j.genotype) for j in jobs]
    common = dict(model_cfg=model_cfg, batch_size=args.batch_size, device=args.device)
    with contextlib.ExitStack() as stack:
        engines: Dict[str, Any] = {}
        if not args.skip_eager:
            eager = EagerEvaluator(data, **common)
            engines['eager'] = lambda js: [eager.evaluate(j) for j in js]
        for name, options in variants.items():
            options = dict(options)
            workers = options.pop('workers', args.workers)
            engines[f'fast[{name}]'] = stack.enter_context(
                make_evaluate(data, 'fast', workers=workers, **common, **options))
        timed = time_engines(engines, warmup, jobs, args)
    report['engines'] = _summarise(timed, args)
    report['result_bytes'] = result_traffic(timed, weights)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(report, f, indent=2)
        print(f'figures written to {args.json}')
    return report


def result_traffic(engines: Dict[str, Dict[str, Any]],
                   weights: Dict[str, torch.Tensor]) -> Dict[str, float]:
    """Bytes a packed result carries between processes or ranks (mean over the timed
    candidates of the first fast engine), against the whole weight set."""
    results = next(f['results'] for name, f in engines.items() if name != 'eager')
    per_result = statistics.mean(PackedResult.of(r).state.nbytes for r in results)
    whole = sum(v.numel() * v.element_size() for v in weights.values())
    print(f'result traffic: {per_result / 2**20:.2f} MiB per candidate, packed in one buffer '
          f'per dtype ({100 * per_result / whole:.0f}% of the {whole / 2**20:.2f} MiB weight '
          f'set)')
    return dict(per_result=per_result, weight_set=whole)


def _summarise(engines: Dict[str, Dict[str, Any]],
               args: argparse.Namespace) -> Dict[str, Dict[str, Any]]:
    eager = engines.get('eager')
    summary = {}
    for name, figures in engines.items():
        row = dict(
            seconds_per_candidate=figures['seconds_per_candidate'],
            candidates_per_minute=60 / figures['seconds_per_candidate'],
            peak_memory_mb=figures['peak_memory_mb'],
            projected_search_minutes=projected_minutes(figures['seconds_per_candidate'], args))
        line = (f'{name:<28} {row["seconds_per_candidate"]:8.3f} s/candidate '
                f'({row["candidates_per_minute"]:.1f}/min)  peak {row["peak_memory_mb"]:8.0f} MB'
                f'  paper-scale search (pop 20, 50 generations) '
                f'{row["projected_search_minutes"]:7.1f} min')
        if eager is not None and figures is not eager:
            row['speedup'] = eager['seconds_per_candidate'] / figures['seconds_per_candidate']
            # the same jobs one after the other: robust to a load that drifts
            row['median_call_speedup'] = statistics.median(
                a / b for a, b in zip(eager['calls'], figures['calls']))
            row['max_rel_diff'] = result_differences(eager['results'], figures['results'])
            diff = row['max_rel_diff']
            line += (f'  x{row["speedup"]:.2f} vs eager (median per call '
                     f'x{row["median_call_speedup"]:.2f})  max rel. diff loss '
                     f'{diff["loss"]:.1e} train {diff["train_loss"]:.1e}')
        print(line)
        summary[name] = row
    return summary


if __name__ == '__main__':
    main()
