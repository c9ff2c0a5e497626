"""CUDA self-check of the search engine: every GPU path once, PASS/FAIL per path.

    PYTHONPATH=. python tools/check_cuda.py [--device cuda:0] [--only NAME ...]

Needs torch and numpy only (no mmengine/mmcv), runs in a few minutes on one GPU and
exits non-zero if any path fails. Without CUDA it says so and exits 0 (``--device cpu``
runs the checks that need no GPU, a smoke test of this script). The paths:

  eager          EagerEvaluator trains and validates on the GPU
  graphs         FastEvaluator with CUDA graphs equals eager (losses within 1e-3, IEEE
                 fp32) and really replayed graphs
  streams        two candidates at once on two streams equal one at a time
  sgd            fused and foreach SGD equal eager
  augment_valid  the validation augmentation drawn inside the validation graph
  channels_last  channels-last kernels on CUDA stay close to eager (1e-2: other kernels)
  deterministic  deterministic=True gives bit-equal results twice (bit-equal resume)
  workers        two worker processes sharing the GPU equal one process
  memory         reserved GPU memory flat (within 5%) after the 3rd of 12 candidates
  capture_fail   a capture forced to fail (a synchronize inside the step): one log line,
                 the candidate rerun eagerly with the eager result, RNG and allocator usable
  checkpoint     search state with the CUDA RNG state saved and loaded (weights_only=True)
  nccl           all_gather_object of a packed result in a one-process NCCL group
"""
import argparse
import logging
import os
import sys
import tempfile
import time
import traceback
from typing import Callable, Dict, List

import numpy as np
import torch

from relnas_mm.models.supernet import SuperNet
from relnas_mm.search import fast_evaluator
from relnas_mm.search.algorithm import RelativeNAS
from relnas_mm.search.checkpoint import (load_search_state, make_search_state, restore_rng,
                                         save_search_state)
from relnas_mm.search.evaluator import (CandidateJob, CandidateResult, EagerEvaluator,
                                        split_search_data)
from relnas_mm.search.fast_evaluator import FastEvaluator
from relnas_mm.search.fast_parallel import PackedResult, make_evaluate
from relnas_mm.search.numerics import set_numerics
from relnas_mm.space.encoding import decode_population, random_population

CFG = dict(channels=8, num_cells=5, num_classes=10)
BATCH = 64
TOLERANCE = 1e-3


class Context:
    """Data, weights and jobs shared by the checks (small: 8 training steps a candidate)."""

    def __init__(self, device: torch.device, num_images: int = 768) -> None:
        self.device = device
        rng = np.random.default_rng(0)
        labels = np.arange(num_images) % 10
        images = rng.integers(0, 160, (num_images, 32, 32, 3))
        images[..., 0] += 9 * labels[:, None, None]  # learnable: redness encodes the class
        self.data = split_search_data(
            images.astype(np.uint8), labels, seed=0, train_portion=2 / 3, device=device)
        torch.manual_seed(0)
        self.weights = {k: v.to(device) for k, v in SuperNet(**CFG).state_dict().items()}
        genotypes = decode_population(random_population(12, np.random.default_rng(1)))
        self.jobs = [
            CandidateJob(index=i, genotype=g, weights=self.weights, lr=0.05, drop_prob=0.1,
                         seed=10 + i) for i, g in enumerate(genotypes)
        ]
        self._eager: Dict[tuple, List[CandidateResult]] = {}

    def eager(self, n: int = 2, **options) -> List[CandidateResult]:
        key = (n, tuple(sorted(options.items())))
        if key not in self._eager:
            evaluator = EagerEvaluator(self.data, CFG, batch_size=BATCH, device=self.device,
                                       deterministic=True, **options)
            self._eager[key] = [evaluator.evaluate(j) for j in self.jobs[:n]]
        return self._eager[key]

    def fast(self, **options) -> FastEvaluator:
        options.setdefault('channels_last', False)
        options.setdefault('deterministic', True)
        return FastEvaluator(self.data, CFG, batch_size=BATCH, device=self.device, **options)


def _close(reference: List[CandidateResult], results: List[CandidateResult],
           tolerance: float = TOLERANCE) -> str:
    worst = 0.0
    for ref, out in zip(reference, results):
        if out.index != ref.index or not out.finite:
            raise AssertionError(f'candidate {ref.index}: got {out}')
        for a, b in ((ref.loss, out.loss), (ref.train_loss, out.train_loss)):
            worst = max(worst, abs(a - b) / max(abs(a), 1e-12))
    if worst > tolerance:
        raise AssertionError(f'max relative loss difference {worst:.2e} > {tolerance:.0e}')
    return f'max rel. loss diff {worst:.1e}'


def check_eager(ctx: Context) -> str:
    out = ctx.eager()
    if not all(r.finite for r in out):
        raise AssertionError(f'non-finite losses: {[r.loss for r in out]}')
    return f'val losses {[round(r.loss, 4) for r in out]}'


def check_graphs(ctx: Context) -> str:
    fast = ctx.fast()
    out = [fast.evaluate(j) for j in ctx.jobs[:2]]
    if fast.capture_failures or not fast._replicas[0].graphs:
        raise AssertionError(f'no graphs replayed (capture failures: {fast.capture_failures})')
    return _close(ctx.eager(), out)


def check_streams(ctx: Context) -> str:
    out = ctx.fast(streams=2).evaluate_many(ctx.jobs[:4])
    return _close(ctx.eager(4), out)


def check_sgd(ctx: Context) -> str:
    return '; '.join(f'{impl}: ' +
                     _close(ctx.eager(), [ctx.fast(sgd=impl).evaluate(j) for j in ctx.jobs[:2]])
                     for impl in ('fused', 'foreach'))


def check_augment_valid(ctx: Context) -> str:
    out = [ctx.fast(augment_valid=True).evaluate(j) for j in ctx.jobs[:2]]
    return _close(ctx.eager(augment_valid=True), out)


def check_channels_last(ctx: Context) -> str:
    out = [ctx.fast(channels_last=True).evaluate(j) for j in ctx.jobs[:2]]
    return _close(ctx.eager(), out, tolerance=1e-2)


def check_deterministic(ctx: Context) -> str:
    first = ctx.fast().evaluate_many(ctx.jobs[:2])
    second = ctx.fast().evaluate_many(ctx.jobs[:2])
    for a, b in zip(first, second):
        if (a.loss, a.train_loss) != (b.loss, b.train_loss) or any(
                not torch.equal(a.state[k], b.state[k]) for k in a.state):
            raise AssertionError(f'candidate {a.index}: runs differ ({a.loss} vs {b.loss})')
    return 'two runs bit-equal (losses and trained states)'


def check_workers(ctx: Context) -> str:
    options = dict(model_cfg=CFG, batch_size=BATCH, device=str(ctx.device), channels_last=False,
                   deterministic=True)
    with make_evaluate(ctx.data, 'fast', workers=2, **options) as evaluate:
        out = evaluate(ctx.jobs[:4])
    return _close(ctx.fast().evaluate_many(ctx.jobs[:4]), out)


def check_memory(ctx: Context) -> str:
    fast = ctx.fast(deterministic=False)
    reserved = []
    for job in ctx.jobs:
        fast.evaluate(job)
        torch.cuda.synchronize(ctx.device)
        reserved.append(torch.cuda.memory_reserved(ctx.device))
    steady = reserved[2:]
    spread = (max(steady) - min(steady)) / min(steady)
    figures = f'reserved MiB per candidate {[round(r / 2**20) for r in reserved]}'
    if spread > 0.05:
        raise AssertionError(f'grew by {100 * spread:.1f}% after the 3rd candidate; {figures}')
    return f'{100 * spread:.1f}% spread after the 3rd; {figures}'


def check_capture_fail(ctx: Context) -> str:
    real = fast_evaluator.capture_graph

    def failing_once(step, static_idx, generator, pool):
        fast_evaluator.capture_graph = real

        def synchronizing(idx):
            torch.cuda.synchronize()  # not allowed while the stream is capturing
            step(idx)

        return real(synchronizing, static_idx, generator, pool)

    lines: List[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    logger = logging.getLogger('relnas_mm')
    logger.addHandler(handler)
    fast_evaluator.capture_graph = failing_once
    try:
        fast = ctx.fast()
        out = fast.evaluate(ctx.jobs[0])
    finally:
        fast_evaluator.capture_graph = real
        logger.removeHandler(handler)
    if fast.capture_failures != 1 or not any('capture failed' in m for m in lines):
        raise AssertionError(f'failures {fast.capture_failures}, log {lines}')
    if torch.cuda.is_current_stream_capturing():
        raise AssertionError('the stream is still capturing')
    torch.rand(4, device=ctx.device)  # the default generator is not left in capture state
    torch.rand(4, device=ctx.device, generator=torch.Generator(ctx.device).manual_seed(1))
    after = fast.evaluate(ctx.jobs[1])  # graphs still on: the next candidate captures
    if fast.capture_failures != 1 or not fast._replicas[0].graphs:
        raise AssertionError('the next candidate did not capture')
    return _close(ctx.eager(), [out, after]) + f'; log: {lines[0][:80]}...'


def check_checkpoint(ctx: Context) -> str:
    algorithm = RelativeNAS(pop_size=4, generations=2, model_cfg=CFG, device=ctx.device)
    torch.cuda.manual_seed(123)
    state = make_search_state(algorithm.state_dict(), 0, {}, {})  # with the CUDA RNG
    expected = torch.rand(3, device=ctx.device)
    with tempfile.TemporaryDirectory() as work_dir:
        path = save_search_state(state, work_dir)
        loaded = load_search_state(path)  # weights_only=True inside
    restore_rng(loaded['rng'])
    again = torch.rand(3, device=ctx.device)
    if not torch.equal(expected, again):
        raise AssertionError('the restored CUDA RNG state does not replay the same draws')
    restored = RelativeNAS(pop_size=4, generations=2, model_cfg=CFG, device=ctx.device)
    restored.load_state_dict(loaded['algorithm'])
    if not np.array_equal(restored.population, algorithm.population):
        raise AssertionError('population differs after the round trip')
    return f'{os.path.basename(path)} round trip, CUDA RNG replays'


def check_nccl(ctx: Context) -> str:
    import torch.distributed as dist
    result = ctx.fast().evaluate(ctx.jobs[0])
    with tempfile.TemporaryDirectory() as tmp:
        dist.init_process_group('nccl', init_method=f'file://{tmp}/store', rank=0, world_size=1)
        try:
            gathered: List = [None]
            dist.all_gather_object(gathered, PackedResult.of(result))
        finally:
            dist.destroy_process_group()
    back = gathered[0].unpack(ctx.device)
    if back.loss != result.loss or any(not torch.equal(back.state[k], v)
                                       for k, v in result.state.items()):
        raise AssertionError('the gathered result differs')
    return f'{gathered[0].state.nbytes / 2**20:.2f} MiB per result'


#: paths that exist on CUDA only (skipped with --device cpu)
CUDA_ONLY = ('graphs', 'memory', 'capture_fail', 'nccl')
CHECKS: Dict[str,
             Callable[[Context],
                      str]] = dict(eager=check_eager, graphs=check_graphs, streams=check_streams,
                                   sgd=check_sgd, augment_valid=check_augment_valid,
                                   channels_last=check_channels_last,
                                   deterministic=check_deterministic, workers=check_workers,
                                   memory=check_memory, capture_fail=check_capture_fail,
                                   checkpoint=check_checkpoint, nccl=check_nccl)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--device', default='cuda')
    parser.add_argument('--only', nargs='+', choices=list(CHECKS), help='run these checks')
    parser.add_argument('--images', type=int, default=768,
                        help='synthetic images (2/3 train, batches of 64)')
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == 'cuda':
        if not torch.cuda.is_available():
            print('check_cuda: no CUDA device visible to torch; nothing to check (exit 0)')
            return 0
        torch.cuda.set_device(device)
        print(f'torch {torch.__version__}, CUDA {torch.version.cuda}, '
              f'{torch.cuda.get_device_name(device)}')
    ctx = Context(device, args.images)
    failed = []
    ran = args.only or list(CHECKS)
    for name in ran:
        if device.type != 'cuda' and name in CUDA_ONLY:
            print(f'SKIP {name:<14} needs CUDA')
            continue
        start = time.perf_counter()
        try:
            detail = CHECKS[name](ctx)
            verdict = 'PASS'
        except Exception as exc:  # report every path, then fail
            detail = f'{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=4)}'
            verdict = 'FAIL'
            failed.append(name)
        set_numerics(device, deterministic=True)
        print(f'{verdict} {name:<14} {time.perf_counter() - start:6.1f}s  {detail}', flush=True)
    passed = len(
        [n for n in ran if n not in failed and (device.type == 'cuda' or n not in CUDA_ONLY)])
    print(f'{passed} passed, {len(failed)} failed' + (f': {failed}' if failed else ''))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
