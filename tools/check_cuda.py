"""CUDA self-check of the search engine: every GPU path once, PASS/FAIL per path.

    PYTHONPATH=. python tools/check_cuda.py [--device cuda:0] [--only NAME ...]
        [--break FAULT]

Needs torch and numpy only (no mmengine/mmcv) and exits non-zero if any check fails.
Without CUDA it says so and exits 0; ``--device cpu`` runs the checks that need no GPU
(CI does). On a GPU it prints the PASS/FAIL table, the memory trace and the paper-scale
projection for fp32/TF32 and bf16. The checks (``docs/en/fast_evaluation.md`` says what
each proves):

  precision      after set_numerics every old and new precision getter reads the regime
  tf32_kernels   IEEE conv and matmul within 1e-6 of float64, TF32 ones not (CUDA)
  eager          EagerEvaluator trains and validates on the device
  fast           deterministic FastEvaluator (CUDA graphs on CUDA) equals eager within
                 1e-6 on the losses and the trained state, with a clipping that binds
  streams        two candidates at once on two streams equal one at a time (1e-6)
  sgd            fused (1e-5) and foreach (1e-6) SGD equal eager
  augment_valid  validation augmentation drawn inside the validation graph (1e-6)
  channels_last  channels-last kernels stay close to eager (losses 1e-2: other kernels)
  bf16           precision='bf16' equals eager bf16 (1e-6), differs from fp32, keeps
                 fp32 master weights
  deterministic  deterministic=True gives bit-equal results twice (bit-equal resume)
  workers        two worker processes sharing the device equal one process
  memory         30 candidates at search size, twice: pool references = live graphs,
                 no growth of used device memory in the second run (CUDA)
  capture_fail   a capture forced to fail: the replica's stream not capturing, the pool
                 released, the generator's draws unchanged, the eager result, one log
                 line, the next candidate captured (CUDA)
  checkpoint     search state with the RNG states saved and loaded (weights_only=True)
  nccl           all_gather_object of a packed result in a one-process NCCL group (CUDA)
  speed          candidates per minute and the paper-scale search time, fp32/TF32 and
                 bf16 (tools/benchmark_search.py at 25k/25k images; CUDA)

``--break FAULT`` injects one fault into the path under test and runs the checks that
must catch it (``FAULTS``); they must print FAIL, and the exit status is non-zero.
"""
import argparse
import contextlib
import importlib.util
import logging
import os
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from relnas_mm.models.supernet import SuperNet
from relnas_mm.search import fast_evaluator, numerics
from relnas_mm.search.algorithm import RelativeNAS
from relnas_mm.search.checkpoint import (load_search_state, make_search_state, restore_rng,
                                         save_search_state)
from relnas_mm.search.evaluator import (CandidateJob, CandidateResult, EagerEvaluator, SearchData,
                                        result_differences, split_search_data)
from relnas_mm.search.fast_evaluator import CaptureFailed, FastEvaluator
from relnas_mm.search.fast_parallel import PackedResult, make_evaluate
from relnas_mm.search.numerics import precision_mismatches, set_numerics
from relnas_mm.space.encoding import decode_population, random_population

CFG = dict(channels=8, num_cells=5, num_classes=10)  # the equality checks' network (default)
SEARCH_CFG = dict(channels=16, num_cells=8, num_classes=10)  # the search's proxy network
BATCH = 64
TOLERANCE = 1e-6  # deterministic fast vs eager: the same kernels, as good as bitwise
FUSED_TOLERANCE = 1e-5  # fused SGD rounds its update differently
GRAD_CLIP = 0.5  # below the gradient norms of these candidates (about 2-3): it binds
MEMORY_CANDIDATES, MEMORY_STEPS = 30, 4
MEMORY_SLACK = 32 * 2**20  # bytes the second run may use beyond the first


class Context:
    """Data, weights and jobs shared by the checks (small: 8 training steps a candidate)."""

    def __init__(self, device: torch.device, num_images: int = 768,
                 cfg: Optional[Dict[str, int]] = None) -> None:
        self.device = device
        self.cfg = dict(cfg or CFG)
        rng = np.random.default_rng(0)
        labels = np.arange(num_images) % 10
        images = rng.integers(0, 160, (num_images, 32, 32, 3))
        images[..., 0] += 9 * labels[:, None, None]  # learnable: redness encodes the class
        self.data = split_search_data(
            images.astype(np.uint8), labels, seed=0, train_portion=2 / 3, device=device)
        torch.manual_seed(0)
        self.weights = {k: v.to(device) for k, v in SuperNet(**self.cfg).state_dict().items()}
        self.jobs = make_jobs(12, self.weights, seed=1)
        self._eager: Dict[tuple, List[CandidateResult]] = {}

    def eager(self, n: int = 2, **options: Any) -> List[CandidateResult]:
        """Eager results of the first ``n`` jobs (cached): deterministic, binding clip."""
        options = {'grad_clip': GRAD_CLIP, **options}
        key = (n, tuple(sorted(options.items())))
        if key not in self._eager:
            evaluator = EagerEvaluator(self.data, self.cfg, batch_size=BATCH, device=self.device,
                                       deterministic=True, **options)
            self._eager[key] = [evaluator.evaluate(j) for j in self.jobs[:n]]
        return self._eager[key]

    def fast(self, **options: Any) -> FastEvaluator:
        for key, value in dict(channels_last=False, deterministic=True,
                               grad_clip=GRAD_CLIP).items():
            options.setdefault(key, value)
        return FastEvaluator(self.data, self.cfg, batch_size=BATCH, device=self.device, **options)


def make_jobs(n: int, weights: Dict[str, torch.Tensor], seed: int) -> List[CandidateJob]:
    genotypes = decode_population(random_population(n, np.random.default_rng(seed)))
    return [
        CandidateJob(index=i, genotype=g, weights=weights, lr=0.05, drop_prob=0.1, seed=10 + i)
        for i, g in enumerate(genotypes)
    ]


def differences(reference: List[CandidateResult],
                results: List[CandidateResult]) -> Dict[str, float]:
    """Largest relative differences of the losses (validation and training) and of the
    trained state, after checking that the results are of the same candidates."""
    for ref, out in zip(reference, results):
        if out.index != ref.index or not out.finite or list(out.state) != list(ref.state):
            raise AssertionError(f'candidate {ref.index}: got candidate {out.index}, finite '
                                 f'{out.finite}, {len(out.state)} of {len(ref.state)} keys')
    worst = result_differences(reference, results)
    return dict(loss=max(worst['loss'], worst['train_loss']), state=worst['state'])


def _close(reference: List[CandidateResult], results: List[CandidateResult],
           tolerance: float = TOLERANCE, state: bool = True) -> str:
    """Losses (and, with ``state``, the trained state) within ``tolerance``."""
    worst = differences(reference, results)
    figures = f'max rel. diff loss {worst["loss"]:.1e}, trained state {worst["state"]:.1e}'
    if worst['loss'] > tolerance or (state and worst['state'] > tolerance):
        raise AssertionError(f'{figures} > {tolerance:.0e}')
    return figures


# ----------------------------------------------------------------------------- checks
def check_precision(ctx: Context) -> str:
    for deterministic, regime in ((True, 'ieee'), (False, 'tf32'), (True, 'ieee')):
        set_numerics(torch.device('cuda'), deterministic)  # process flags: no GPU needed
        problems = precision_mismatches(regime)
        if problems:
            raise AssertionError(f'deterministic={deterministic}: ' + '; '.join(problems))
    return f'{len(numerics.PRECISION_GETTERS)} getters read back ieee, tf32, ieee'


def check_tf32_kernels(ctx: Context) -> str:
    """A 1x1 convolution (no Winograd or FFT algorithm, whose own rounding would blur
    IEEE's 1e-6) large enough for tensor-core kernels, and a matmul."""
    gen = torch.Generator(ctx.device).manual_seed(0)
    x = torch.randn(32, 128, 32, 32, device=ctx.device, generator=gen)
    w = torch.randn(128, 128, 1, 1, device=ctx.device, generator=gen)
    a = torch.randn(1024, 1024, device=ctx.device, generator=gen)
    b = torch.randn(1024, 1024, device=ctx.device, generator=gen)
    references = (F.conv2d(x.double(), w.double()), a.double() @ b.double())

    def errors() -> List[float]:
        outs = (F.conv2d(x, w), a @ b)
        return [
            float((o.double() - r).abs().max() / r.abs().max()) for o, r in zip(outs, references)
        ]

    set_numerics(ctx.device, deterministic=True)
    ieee = errors()
    set_numerics(ctx.device, deterministic=False)
    tf32 = errors()
    figures = (f'rel. error vs float64, conv/matmul: IEEE {ieee[0]:.1e}/{ieee[1]:.1e}, '
               f'TF32 {tf32[0]:.1e}/{tf32[1]:.1e}')
    if max(ieee) > TOLERANCE:
        raise AssertionError(f'IEEE mode is not IEEE in the kernels: {figures}')
    if torch.cuda.get_device_capability(ctx.device) < (8, 0):
        return figures + ' (no TF32 before Ampere)'
    if min(tf32) < 10 * TOLERANCE:
        raise AssertionError(f'TF32 mode does not reach the kernels: {figures}')
    return figures


def check_eager(ctx: Context) -> str:
    out = ctx.eager()
    if not all(r.finite for r in out):
        raise AssertionError(f'non-finite losses: {[r.loss for r in out]}')
    return f'val losses {[round(r.loss, 4) for r in out]}'


def check_fast(ctx: Context) -> str:
    unclipped = differences(ctx.eager(), ctx.eager(grad_clip=1e9))['state']
    if unclipped < 1e3 * TOLERANCE:
        raise AssertionError(f'grad_clip={GRAD_CLIP} does not bind (unclipped state differs '
                             f'by {unclipped:.1e}): skipped clipping would pass')
    fast = ctx.fast()
    out = [fast.evaluate(j) for j in ctx.jobs[:2]]
    graphs = ''
    if ctx.device.type == 'cuda':
        if fast.capture_failures or not all(r.cuda_graphs for r in out):
            raise AssertionError(f'no graphs replayed (capture failures: {fast.capture_failures})')
        graphs = f'; {fast.graph_steps} steps from CUDA graphs'
    return _close(ctx.eager(), out) + graphs + f'; clipping binds ({unclipped:.0e} without)'


def check_streams(ctx: Context) -> str:
    out = ctx.fast(streams=2).evaluate_many(ctx.jobs[:4])
    return _close(ctx.eager(4), out)


def check_sgd(ctx: Context) -> str:
    figures = []
    for impl, tolerance in (('fused', FUSED_TOLERANCE), ('foreach', TOLERANCE)):
        out = [ctx.fast(sgd=impl).evaluate(j) for j in ctx.jobs[:2]]
        figures.append(f'{impl}: ' + _close(ctx.eager(), out, tolerance))
    return '; '.join(figures)


def check_augment_valid(ctx: Context) -> str:
    out = [ctx.fast(augment_valid=True).evaluate(j) for j in ctx.jobs[:2]]
    return _close(ctx.eager(augment_valid=True), out)


def check_channels_last(ctx: Context) -> str:
    out = [ctx.fast(channels_last=True).evaluate(j) for j in ctx.jobs[:2]]
    return _close(ctx.eager(), out, tolerance=1e-2, state=False)  # near-zero tensors drift


def check_bf16(ctx: Context) -> str:
    out = [ctx.fast(precision='bf16').evaluate(j) for j in ctx.jobs[:2]]
    figures = _close(ctx.eager(precision='bf16'), out)
    off = max(differences(ctx.eager(), out).values())
    if off < 10 * TOLERANCE:
        raise AssertionError(f'bf16 results within {off:.1e} of fp32: autocast is not on')
    dtypes = {v.dtype for r in out for v in r.state.values() if v.is_floating_point()}
    if dtypes != {torch.float32}:
        raise AssertionError(f'trained state in {dtypes}: the master weights must stay fp32')
    return f'{figures}; {off:.1e} from fp32; fp32 master weights'


def check_deterministic(ctx: Context) -> str:
    first = ctx.fast().evaluate_many(ctx.jobs[:2])
    second = ctx.fast().evaluate_many(ctx.jobs[:2])
    for a, b in zip(first, second):
        if (a.loss, a.train_loss) != (b.loss, b.train_loss) or any(
                not torch.equal(a.state[k], b.state[k]) for k in a.state):
            raise AssertionError(f'candidate {a.index}: runs differ ({a.loss} vs {b.loss})')
    return 'two runs bit-equal (losses and trained states)'


def check_workers(ctx: Context) -> str:
    options = dict(model_cfg=ctx.cfg, batch_size=BATCH, device=str(ctx.device), channels_last=False,
                   deterministic=True, grad_clip=GRAD_CLIP)
    with make_evaluate(ctx.data, 'fast', workers=2, **options) as evaluate:
        out = evaluate(ctx.jobs[:4])
    return _close(ctx.fast().evaluate_many(ctx.jobs[:4]), out)


def check_memory(ctx: Context) -> str:
    """Search size, 30 candidates twice: a graph kept alive holds a pool reference (its
    blocks go back to the pool's free list, so reserved memory does not show it), and
    instantiated graphs are outside ``memory_reserved``: ``mem_get_info`` sees them.
    The second run of the same jobs needs no memory the first did not (a late, larger
    genotype grows the first run, not the second)."""
    gen = torch.Generator(ctx.device).manual_seed(1)

    def half(steps: int) -> Tuple[torch.Tensor, torch.Tensor]:
        images = torch.randint(0, 256, (steps * BATCH, 3, 32, 32), generator=gen, device=ctx.device,
                               dtype=torch.uint8)
        return images, torch.randint(0, 10, (steps * BATCH, ), generator=gen, device=ctx.device)

    data = SearchData(*half(MEMORY_STEPS), *half(3))  # graphs for training and validation
    torch.manual_seed(1)
    weights = {k: v.to(ctx.device) for k, v in SuperNet(**SEARCH_CFG).state_dict().items()}
    jobs = make_jobs(MEMORY_CANDIDATES, weights, seed=2)
    fast = FastEvaluator(data, SEARCH_CFG, batch_size=BATCH, device=ctx.device)
    total = torch.cuda.mem_get_info(ctx.device)[1]
    used: List[List[int]] = [[], []]
    for run in used:
        for start in range(0, len(jobs), fast.streams):
            out = fast.evaluate_many(jobs[start:start + fast.streams])
            torch.cuda.synchronize(ctx.device)
            stray = stray_pool_references(fast)
            if stray:
                raise AssertionError(f'after candidate {start + 1}: {stray}: a graph outlives '
                                     f'its candidate')
            if not all(r.cuda_graphs for r in out):
                raise AssertionError(f'candidates {start}..: ran eagerly, not from graphs')
            run.append(total - torch.cuda.mem_get_info(ctx.device)[0])
    growth = max(used[1]) - max(used[0])
    trace = ' | '.join(' '.join(f'{u / 2**20:.0f}' for u in run) for run in used)
    figures = (f'used MiB after each call, run 1 | run 2: {trace}; second run '
               f'{growth / 2**20:+.1f} MiB')
    if growth > MEMORY_SLACK or used[1][-1] - used[0][-1] > MEMORY_SLACK:
        raise AssertionError(f'device memory grew in the second run: {figures}')
    return figures


def stray_pool_references(fast: FastEvaluator) -> List[str]:
    """Replicas whose pool has more references than its own and its live graphs'
    (``new_graph_pool``): a graph, failed or finished, kept alive somewhere."""
    return [
        f'replica {i}: {r.pool.use_count()} pool references, 1 + {len(r.graphs)} live graphs '
        f'expected' for i, r in enumerate(fast._replicas) if r.pool.use_count() != 1 + len(r.graphs)
    ]


def check_capture_fail(ctx: Context) -> str:
    fast = ctx.fast()
    replica = fast._replicas[0]
    generator = torch.Generator(ctx.device).manual_seed(5)
    before = generator.get_state()
    idx = torch.arange(BATCH, device=ctx.device)

    def failing(static_idx: torch.Tensor) -> None:
        torch.rand(4, device=ctx.device, generator=generator)  # drawn in the capture
        torch.cuda.synchronize()  # not allowed while the stream is capturing

    replica.stream.wait_stream(torch.cuda.current_stream(ctx.device))
    with torch.cuda.stream(replica.stream):
        try:
            fast_evaluator.capture_graph(failing, idx, generator, replica.pool)
        except CaptureFailed:
            pass
        else:
            raise AssertionError('the capture did not fail')
        if torch.cuda.is_current_stream_capturing():
            raise AssertionError("the replica's stream is still capturing after the failure")
        stray = stray_pool_references(fast)  # no gc.collect(): the engine does not call it
        if stray:
            raise AssertionError(f'after the failure: {stray}')
        after = torch.rand(8, device=ctx.device, generator=generator)
        expected = torch.rand(8, device=ctx.device,
                              generator=torch.Generator(ctx.device).set_state(before))
        if not torch.equal(after, expected):
            raise AssertionError('the generator draws other values after the failed capture')
    torch.cuda.synchronize(ctx.device)
    out, after = _evaluate_with_a_failed_capture(fast, ctx.jobs[:2])
    return _close(ctx.eager(), [out, after]) + '; stream, pool and generator clean'


def _evaluate_with_a_failed_capture(fast: FastEvaluator,
                                    jobs: List[CandidateJob]) -> Tuple[CandidateResult, ...]:
    """The first job with its capture failing (one log line, the eager rerun), the
    second with graphs again."""
    real = fast_evaluator.capture_graph

    def failing_once(step, static_idx, generator, pool):
        fast_evaluator.capture_graph = real

        def synchronizing(idx):
            torch.cuda.synchronize()
            step(idx)

        return real(synchronizing, static_idx, generator, pool)

    lines: List[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    logger = logging.getLogger('relnas_mm')
    logger.addHandler(handler)
    fast_evaluator.capture_graph = failing_once
    try:
        out = fast.evaluate(jobs[0])
    finally:
        fast_evaluator.capture_graph = real
        logger.removeHandler(handler)
    seen = (fast.capture_failures, out.capture_failures, out.cuda_graphs)
    if seen != (1, 1, False) or not any('capture failed' in m for m in lines):
        raise AssertionError(f'failures {fast.capture_failures}, result {out.capture_failures} '
                             f'(graphs {out.cuda_graphs}), log {lines}')
    after = fast.evaluate(jobs[1])  # graphs still on: the next candidate captures
    if fast.capture_failures != 1 or not after.cuda_graphs:
        raise AssertionError('the next candidate did not run from graphs')
    return out, after


def check_checkpoint(ctx: Context) -> str:
    algorithm = RelativeNAS(pop_size=4, generations=2, model_cfg=ctx.cfg, device=ctx.device)
    state = make_search_state(algorithm.state_dict(), 0, {}, {})  # with the RNG states
    expected = torch.rand(3, device=ctx.device)
    with tempfile.TemporaryDirectory() as work_dir:
        path = save_search_state(state, work_dir)
        loaded = load_search_state(path)  # weights_only=True inside
    restore_rng(loaded['rng'])
    again = torch.rand(3, device=ctx.device)
    if not torch.equal(expected, again):
        raise AssertionError('the restored RNG state does not replay the same draws')
    restored = RelativeNAS(pop_size=4, generations=2, model_cfg=ctx.cfg, device=ctx.device)
    restored.load_state_dict(loaded['algorithm'])
    if not np.array_equal(restored.population, algorithm.population):
        raise AssertionError('population differs after the round trip')
    return f'{os.path.basename(path)} round trip, RNG replays'


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
    if back.loss != result.loss or back.cuda_graphs != result.cuda_graphs or any(
            not torch.equal(back.state[k], v) for k, v in result.state.items()):
        raise AssertionError('the gathered result differs')
    return f'{gathered[0].state.nbytes / 2**20:.2f} MiB per result'


def check_speed(ctx: Context) -> str:
    """The benchmark's figures at the paper's image counts (no scaling of fixed costs)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'benchmark_search.py')
    spec = importlib.util.spec_from_file_location('benchmark_search', path)
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    argv = f'--device {ctx.device} --candidates 2 --group all --skip-eager --check-steps 0'
    report = benchmark.main(argv.split() + ['--variant', '', '--variant', 'precision=bf16'])
    return '; '.join(f'{"bf16" if "bf16" in name else "fp32/TF32"}: '
                     f'{row["candidates_per_minute"]:.1f} candidates/min, paper-scale search '
                     f'{row["projected_search_minutes"] / 60:.2f} h'
                     for name, row in report['engines'].items())


CHECKS: Dict[str, Callable[[Context], str]] = {
    check.__name__[len('check_'):]: check
    for check in (check_precision, check_tf32_kernels, check_eager, check_fast, check_streams,
                  check_sgd, check_augment_valid, check_channels_last, check_bf16,
                  check_deterministic, check_workers, check_memory, check_capture_fail,
                  check_checkpoint, check_nccl, check_speed)
}
#: checks that exist on CUDA only (skipped with --device cpu)
CUDA_ONLY = ('tf32_kernels', 'memory', 'capture_fail', 'nccl', 'speed')


# ----------------------------------------------------------------------------- faults
@dataclass
class Fault:
    """A fault ``--break`` injects (``inject`` patches, then undoes) and the checks that
    must then FAIL."""

    what: str
    checks: Tuple[str, ...]
    inject: Callable[[], contextlib.AbstractContextManager]
    cuda_only: bool = False


@contextlib.contextmanager
def _patched(owner: Any, name: str, value: Any) -> Iterator[None]:
    saved = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, saved)


def _no_weight_decay() -> contextlib.AbstractContextManager:
    real = FastEvaluator._optimizer

    def optimizer(self: FastEvaluator, params: List[torch.Tensor], lr: float) -> Any:
        sgd = real(self, params, lr)
        for group in sgd.param_groups:
            group['weight_decay'] = 0.0
        return sgd

    return _patched(FastEvaluator, '_optimizer', optimizer)


def _no_clipping() -> contextlib.AbstractContextManager:
    return _patched(fast_evaluator, 'clip_grad_norm_', lambda params, max_norm: None)


def _stale_draws() -> contextlib.AbstractContextManager:
    """Every step draws what the first one drew (an unregistered graph generator)."""
    real = FastEvaluator._steps

    def steps(self: FastEvaluator, step: Any, order: torch.Tensor, batch: int,
              generator: torch.Generator, capture: Any) -> Iterator[None]:
        first = generator.get_state()
        for _ in real(self, step, order, batch, generator, capture):
            generator.set_state(first)
            yield

    return _patched(FastEvaluator, '_steps', steps)


@contextlib.contextmanager
def _graphs_kept_alive() -> Iterator[None]:
    real, kept = fast_evaluator.capture_graph, []

    def capture(*args: Any) -> Any:
        kept.append(real(*args))
        return kept[-1]

    with _patched(fast_evaluator, 'capture_graph', capture):
        yield
    kept.clear()


@contextlib.contextmanager
def _capture_left_open() -> Iterator[None]:
    """A failed capture that is never ended: its stream stays capturing, its pool
    routing and generator capture state stay in place."""
    open_captures: List[Tuple[Any, Any]] = []

    def capture(step: Any, static_idx: torch.Tensor, generator: torch.Generator, pool: Any) -> Any:
        graph = fast_evaluator.new_graph()
        graph.register_generator_state(generator)
        graph.capture_begin(pool=pool.id)
        try:
            step(static_idx)
        except RuntimeError as err:
            open_captures.append((graph, torch.cuda.current_stream()))
            raise CaptureFailed(str(err).splitlines()[0]) from None
        graph.capture_end()
        return graph

    with _patched(fast_evaluator, 'capture_graph', capture):
        yield
    for graph, stream in open_captures:  # leave the process usable
        with torch.cuda.stream(stream), contextlib.suppress(RuntimeError):
            graph.capture_end()


def _tf32_when_deterministic() -> contextlib.AbstractContextManager:
    real = numerics.set_fp32_precision
    return _patched(numerics, 'set_fp32_precision', lambda precision: real('tf32'))


FAULTS: Dict[str, Fault] = dict(
    weight_decay=Fault('FastEvaluator drops the weight decay', ('fast', 'sgd'), _no_weight_decay),
    clip=Fault('FastEvaluator skips the gradient clipping', ('fast', 'sgd'), _no_clipping),
    stale_draws=Fault('every step of a candidate replays its first random draws',
                      ('fast', 'augment_valid'), _stale_draws),
    tf32=Fault('set_numerics leaves TF32 on in deterministic mode', ('precision', 'tf32_kernels'),
               _tf32_when_deterministic),
    graph_alive=Fault('every captured graph is kept alive after its candidate', ('memory', ),
                      _graphs_kept_alive, cuda_only=True),
    capture_state=Fault(
        'a failed capture is never ended: stream, pool and generator left '
        'in capture state', ('capture_fail', ), _capture_left_open, cuda_only=True),
)


# ----------------------------------------------------------------------------- main
def run_checks(ctx: Context, names: List[str]) -> List[str]:
    """Run ``names`` and print one PASS/FAIL/SKIP line each; returns the failed ones."""
    failed = []
    for name in names:
        if ctx.device.type != 'cuda' and name in CUDA_ONLY:
            print(f'SKIP {name:<14} needs CUDA')
            continue
        start = time.perf_counter()
        try:
            detail = CHECKS[name](ctx)
            verdict = 'PASS'
        except Exception as exc:  # report every check, then fail
            detail = f'{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=4)}'
            verdict = 'FAIL'
            failed.append(name)
        set_numerics(ctx.device, deterministic=True)
        print(f'{verdict} {name:<14} {time.perf_counter() - start:6.1f}s  {detail}', flush=True)
    return failed


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--device', default='cuda')
    parser.add_argument('--only', nargs='+', choices=list(CHECKS), help='run these checks')
    parser.add_argument('--break', dest='fault', choices=list(FAULTS),
                        help='inject this fault; the checks that must catch it run')
    parser.add_argument(
        '--images', type=int, default=768,
        help='synthetic images (2/3 train, batches of 64; at least 192 for '
        'two training steps, which stale draws need to show)')
    parser.add_argument(
        '--channels', type=int, default=CFG['channels'],
        help='channels of the equality checks\' network (memory and speed '
        'run the search\'s, C=16 with 8 cells)')
    parser.add_argument('--cells', type=int, default=CFG['num_cells'])
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    fault = FAULTS.get(args.fault)
    if device.type == 'cuda':
        if not torch.cuda.is_available():
            print('check_cuda: no CUDA device visible to torch; nothing to check (exit 0)')
            return 0
        torch.cuda.set_device(device)
        print(f'torch {torch.__version__}, CUDA {torch.version.cuda}, '
              f'{torch.cuda.get_device_name(device)}')
    elif fault is not None and fault.cuda_only:
        parser.error(f'--break {args.fault} needs CUDA (nothing to inject on {device})')
    ctx = Context(device, args.images, dict(CFG, channels=args.channels, num_cells=args.cells))
    names = args.only or (list(fault.checks) if fault else list(CHECKS))
    with contextlib.ExitStack() as stack:
        if fault is not None:
            print(f'fault injected ({args.fault}): {fault.what}; {list(fault.checks)} must FAIL')
            stack.enter_context(fault.inject())
        failed = run_checks(ctx, names)
    ran = [n for n in names if device.type == 'cuda' or n not in CUDA_ONLY]
    print(f'{len(ran) - len(failed)} passed, {len(failed)} failed' +
          (f': {failed}' if failed else ''))
    if fault is not None:
        missed = [n for n in fault.checks if n in ran and n not in failed]
        print(f'fault {args.fault}: ' + (f'NOT caught by {missed}' if missed else 'caught'))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
