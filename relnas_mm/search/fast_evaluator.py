"""Fast candidate evaluation: the reference's computation with the host overheads removed.

``FastEvaluator`` computes what ``EagerEvaluator`` computes — the same operations in the
same order from the same generator draws — and differs only in how the work reaches the
device. On a GPU the search network is so small (16 channels) that the eager loop is
bound by the host: thousands of kernel launches per step, each a few microseconds of
Python and driver time. So:

* only the candidate's own modules are loaded, optimised and copied out: the SuperNet
  holds every (edge, operation) module, about 5,000 tensors, of which a candidate
  trains about a fifth (the reference loads and clones all of them);
* SGD and gradient clipping run as multi-tensor (foreach) kernels;
* on CUDA the whole training step (gather, augmentation, forward, backward, clipping,
  SGD step, loss sum) is captured once per candidate as a CUDA graph and replayed, and
  so is the validation forward: two launches per step, no host sync until the end;
* ``evaluate_many`` runs several candidates at once, each on its own replica of the
  network and its own CUDA stream, so that their small kernels share the GPU;
* on the CPU the network runs in channels-last memory format (faster convolution
  kernels; other rounding, so results match the reference closely, not bitwise).

GPU memory stays bounded over a search of any length by construction: all graphs of a
replica are captured into the replica's one memory pool, and a replica drops its
previous candidate's graphs before it captures the next, so the pool is reused, not
grown. A capture that fails leaves nothing behind (the graph object, and with it its
generator and allocator registrations, is destroyed; the candidate restarts eagerly
from its job with a fresh generator); a second failure turns graphs off for the run.

No mmengine here: the search core runs where only torch is installed.
"""
import contextlib
import functools
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, ContextManager, Dict, Generator, List, Mapping, Optional

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import clip_grad_norm_  # by name: check_cuda --break clip skips it here

from ..models.supernet import SuperNet, candidate_keys, op_module_of
from .augment import augment_batch, normalize
from .evaluator import (CandidateJob, CandidateResult, Device, PendingResult, SearchData,
                        SuperNetEvaluator)

logger = logging.getLogger('relnas_mm')

SGD_IMPLS = ('foreach', 'fused', 'loop')
NORM_IMPLS = ('cudnn', 'native', 'compiled')
#: candidates at once on one GPU by default: a pair, what writeback='pair' (the authors'
#: order) hands over per call; more pay only with writeback='generation' (see
#: docs/en/fast_evaluation.md, "Streams")
CUDA_STREAMS = 2

StepFn = Callable[[torch.Tensor], None]


# ----------------------------------------------------------------------------- batch norm
def _native_batch_norm(x: torch.Tensor, running_mean: torch.Tensor, running_var: torch.Tensor,
                       weight: torch.Tensor, bias: torch.Tensor, training: bool, momentum: float,
                       eps: float) -> torch.Tensor:
    # PyTorch's own kernels (what batch_norm dispatches to when cuDNN is not used)
    return torch.native_batch_norm(x, weight, bias, running_mean, running_var, training, momentum,
                                   eps)[0]


_COMPILED_BN: Optional[Callable[..., torch.Tensor]] = None


def _compiled_batch_norm(*args: Any) -> torch.Tensor:
    global _COMPILED_BN
    if _COMPILED_BN is None:
        # one specialisation per (shape, training) pair; the search net has about a dozen
        torch._dynamo.config.cache_size_limit = max(torch._dynamo.config.cache_size_limit, 64)
        _COMPILED_BN = torch.compile(F.batch_norm, dynamic=False)
    return _COMPILED_BN(*args)


BATCH_NORMS = {'native': _native_batch_norm, 'compiled': _compiled_batch_norm}


class KernelBatchNorm2d(nn.BatchNorm2d):
    """nn.BatchNorm2d (momentum set, running stats tracked) through another kernel."""

    def __init__(self, num_features: int, impl: str, **kwargs: Any) -> None:
        super().__init__(num_features, **kwargs)
        self.impl = impl

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.num_batches_tracked.add_(1)
        return BATCH_NORMS[self.impl](x, self.running_mean, self.running_var, self.weight,
                                      self.bias, self.training, self.momentum, self.eps)


def batch_norm_cfg(impl: str) -> Optional[Dict[str, Any]]:
    """The SuperNet ``norm_cfg`` of batch-norm kernels ``impl`` ('cudnn', 'native', 'compiled').

    'cudnn' is PyTorch's default dispatch (cuDNN on CUDA; None: plain BatchNorm2d);
    'native' calls PyTorch's own kernels (``torch.native_batch_norm``), which split few
    channels over many pixels differently; 'compiled' uses a ``torch.compile``d batch
    norm (Triton kernels on CUDA; the first calls compile, minutes). Same maths and
    state keys, other kernels. On the CPU 'native' is what the default runs anyway.
    """
    if impl not in NORM_IMPLS:
        raise ValueError(f'norm must be one of {NORM_IMPLS}, got {impl!r}')
    return None if impl == 'cudnn' else dict(type=functools.partial(KernelBatchNorm2d, impl=impl))


# ----------------------------------------------------------------------------- replicas
@dataclass
class _Replica:
    """One copy of the search network with the stream its candidates run on.

    ``pool`` is the one memory pool every graph of this replica is captured into, and
    ``graphs`` holds the graphs of its current candidate only (the invariant that keeps
    GPU memory flat: a new candidate clears them before capturing its own; CUDA frees
    a graph still in flight when it completes, and the pool's blocks are reused in
    stream order by the next capture on the same stream).
    """

    model: SuperNet
    tensors: Dict[str, torch.Tensor]  # state_dict(keep_vars=True): the live tensors
    stream: Optional[Any]  # torch.cuda.Stream on CUDA
    shared_modules: List[nn.Module]  # every module outside the per-(edge, op) ones
    op_modules: Dict[str, List[nn.Module]]  # op-module prefix -> its modules
    pool: Optional[Any] = None  # torch.cuda.MemPool on CUDA
    graphs: List[Any] = field(default_factory=list)

    def set_training(self, used: List[str], mode: bool) -> None:
        """``model.train(mode)`` for the modules a candidate runs only (5,000 -> ~300)."""
        for module in self.shared_modules:
            module.training = mode
        for prefix in used:
            for module in self.op_modules[prefix]:
                module.training = mode


class CaptureFailed(RuntimeError):
    """A CUDA graph capture did not succeed; the candidate is rerun eagerly."""


def _on(stream: Optional[Any]) -> ContextManager:
    return torch.cuda.stream(stream) if stream is not None else contextlib.nullcontext()


def new_graph_pool(device: torch.device) -> Any:
    """A memory pool that lives as long as its replica (graphs come and go inside it).

    A ``MemPool`` holds one reference to its pool and every graph captured into it one
    more, until the graph is destroyed: ``pool.use_count() == 1 + live graphs``.
    """
    with torch.cuda.device(device):
        return torch.cuda.MemPool()


def default_streams(device: Device) -> int:
    """``streams`` when not given: ``CUDA_STREAMS`` on CUDA, 1 elsewhere (on the CPU
    candidates on several replicas are only interleaved)."""
    return CUDA_STREAMS if device is not None and torch.device(device).type == 'cuda' else 1


def new_graph() -> Any:
    """An empty CUDA graph (a function, so that CPU tests can stand in a fake)."""
    return torch.cuda.CUDAGraph()


class FastEvaluator(SuperNetEvaluator):
    """The reference estimation (``EagerEvaluator``), engineered for speed.

    Same arguments (``SuperNetEvaluator``) and results as ``EagerEvaluator``, plus:

    Args:
        cuda_graph: capture each candidate's training step and validation forward as
            CUDA graphs (CUDA only; elsewhere steps run eagerly). A failed capture is
            logged to the 'relnas_mm' logger and its candidate rerun eagerly; after a
            second failure graphs are off for the rest of the run.
        channels_last: run the network in channels-last memory format: other kernels,
            so results differ from the reference by rounding (close, not bitwise).
            None (default): on for the CPU, where it is faster, off on CUDA and for
            bf16 on the CPU (refused there: NaN gradients, see the error).
        precision: 'fp32' or 'bf16', see ``SuperNetEvaluator``.
        sgd: 'foreach' (multi-tensor kernels, bitwise the same as ``torch.optim.SGD``'s
            default), 'fused' (one kernel; may differ in the last bits) or 'loop'
            (one tensor at a time).
        norm: batch-norm kernels, see ``batch_norm_cfg``.
        streams: candidates run at once by ``evaluate_many`` (each on its own network
            replica and CUDA stream; on the CPU they are only interleaved). Default:
            ``default_streams(device)``.
        warmup_steps: eager steps before a capture (cuDNN/cuBLAS set-up, SGD buffers).
        valid_batch_size: validation batch (default ``batch_size``); eval-mode results
            do not depend on it beyond rounding. Must equal ``batch_size`` with
            ``augment_valid``, whose draws are per batch.

    The state of a result holds copies of the tensors the candidate trained (its op
    modules and everything shared), as the reference's does; its ``capture_failures``
    and ``cuda_graphs`` say whether it ran from graphs. ``graph_steps`` counts the steps
    (training and validation) replayed from graphs so far.
    """

    def __init__(self, data: SearchData, model_cfg: Optional[Mapping[str, Any]] = None,
                 batch_size: int = 256, momentum: float = 0.9, weight_decay: float = 3e-4,
                 grad_clip: float = 5.0, augment_valid: bool = False, device: Device = None,
                 cuda_graph: bool = True, channels_last: Optional[bool] = None,
                 sgd: str = 'foreach', norm: str = 'cudnn', streams: Optional[int] = None,
                 warmup_steps: int = 1, valid_batch_size: Optional[int] = None,
                 deterministic: bool = False, precision: str = 'fp32') -> None:
        super().__init__(data, model_cfg, batch_size=batch_size, momentum=momentum,
                         weight_decay=weight_decay, grad_clip=grad_clip,
                         augment_valid=augment_valid, device=device, deterministic=deterministic,
                         precision=precision)
        streams = default_streams(self.device) if streams is None else streams
        _check_settings(batch_size, valid_batch_size, augment_valid, sgd, streams, warmup_steps)
        self.valid_batch_size = valid_batch_size or batch_size
        on_cuda = self.device.type == 'cuda'
        self.cuda_graph = bool(cuda_graph) and on_cuda
        if cuda_graph and not on_cuda:
            logger.info('FastEvaluator: CUDA graphs need a CUDA device; %s runs eagerly',
                        self.device)
        cpu_bf16 = self.device.type == 'cpu' and precision == 'bf16'
        if channels_last and cpu_bf16:
            raise ValueError(
                'FastEvaluator: channels_last with precision="bf16" on the CPU gives NaN weight '
                'gradients of depthwise 5x5 convolutions now and then (torch 2.14.1, measured); '
                'leave channels_last at None (off for bf16 on the CPU)')
        self.channels_last = (not on_cuda and not cpu_bf16) if channels_last is None \
            else bool(channels_last)
        self.sgd, self.norm, self.warmup_steps = sgd, norm, warmup_steps
        self.capture_failures = 0
        self.graph_steps = 0
        self.streams = streams
        self._replicas = [self._replica() for _ in range(streams)]
        self._keys = list(self._replicas[0].tensors)
        self._param_names = [n for n, _ in self._replicas[0].model.named_parameters()]

    def _replica(self) -> _Replica:
        model = SuperNet(**self.model_cfg, norm_cfg=batch_norm_cfg(self.norm)).to(self.device)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        on_cuda = self.device.type == 'cuda'
        stream = torch.cuda.Stream(self.device) if on_cuda else None
        pool = new_graph_pool(self.device) if self.cuda_graph else None
        shared: List[nn.Module] = []
        ops: Dict[str, List[nn.Module]] = {}
        for name, module in model.named_modules():
            prefix = op_module_of(f'{name}.x')
            if prefix is None:
                shared.append(module)
            else:
                ops.setdefault(prefix, []).append(module)
        return _Replica(model, dict(model.state_dict(keep_vars=True)), stream, shared, ops, pool)

    # ------------------------------------------------------------------------- API
    def evaluate(self, job: CandidateJob) -> CandidateResult:
        return self.evaluate_many([job])[0]

    def evaluate_many(self, jobs: List[CandidateJob]) -> List[CandidateResult]:
        """Evaluate ``jobs`` (results in the same order), up to ``streams`` at once.

        Each candidate is a coroutine that yields after every enqueued step; running
        them round-robin keeps every stream fed. Results are those of one-by-one
        evaluation: a job's outcome depends on its own seed and weights only.
        """
        main = torch.cuda.current_stream(self.device) if self.device.type == 'cuda' else None
        waiting = list(enumerate(jobs))
        free = list(self._replicas)
        running: List[list] = []
        pending: List[Optional[PendingResult]] = [None] * len(jobs)
        while waiting or running:
            while free and waiting:
                pos, job = waiting.pop(0)
                replica = free.pop(0)
                running.append([pos, replica, self._candidate(replica, job, main)])
            for entry in list(running):
                pos, replica, coroutine = entry
                with _on(replica.stream):
                    try:
                        next(coroutine)
                    except StopIteration as done:
                        pending[pos] = done.value
                        running.remove(entry)
                        free.append(replica)
        return self._results(pending)

    # ------------------------------------------------------------------------- one candidate
    def _candidate(self, replica: _Replica, job: CandidateJob,
                   main: Optional[Any]) -> Generator[None, None, PendingResult]:
        """Enqueue one job on ``replica``'s stream, yielding after every step; rerun it
        eagerly, from its job, if a capture fails."""
        if replica.stream is not None:
            replica.stream.wait_stream(main)  # the job's weights and the replica are free
        replica.graphs.clear()  # the previous candidate's graphs: their pool is reused
        try:
            return (yield from self._enqueue(replica, job, main, self.cuda_graph))
        except CaptureFailed as failure:
            replica.graphs.clear()
            self._capture_failed(job, failure)
            pending = yield from self._enqueue(replica, job, main, False)
            pending.capture_failures = 1
            return pending

    def _capture_failed(self, job: CandidateJob, failure: CaptureFailed) -> None:
        self.capture_failures += 1
        if self.capture_failures == 1:
            logger.warning(
                'FastEvaluator: CUDA graph capture failed for candidate %d (%s); '
                'it runs eagerly', job.index, str(failure))
        else:
            self.cuda_graph = False
            logger.warning(
                'FastEvaluator: CUDA graph capture failed again (candidate %d: '
                '%s); CUDA graphs are off for the rest of the run', job.index, str(failure))

    def _enqueue(self, replica: _Replica, job: CandidateJob, main: Optional[Any],
                 graphs: bool) -> Generator[None, None, PendingResult]:
        model, tensors = replica.model, replica.tensors
        used = model.used_modules(job.genotype)
        keys = self._trained_keys(used, job)
        with torch.no_grad():
            for key in keys:
                tensors[key].copy_(job.weights[key])
        generator = torch.Generator(device=self.device)
        generator.manual_seed(int(job.seed))
        model.set_genotype(job.genotype)
        model.drop_prob = float(job.drop_prob)
        model.generator = generator
        key_set = set(keys)
        params = [tensors[n] for n in self._param_names if n in key_set]
        sums = torch.zeros(3, device=self.device)
        capture = self._capturer(replica) if graphs else None
        replica.set_training(used, True)
        yield from self._train(model, params, float(job.lr), generator, sums[0], capture)
        replica.set_training(used, False)
        yield from self._validate(model, generator, sums[1], sums[2], capture)
        model.generator = None
        with _on(main):
            if main is not None:
                main.wait_stream(replica.stream)
            trained = {
                k: tensors[k].detach().clone(memory_format=torch.contiguous_format)
                for k in keys
            }
            sums = sums.clone()
        return PendingResult(job, sums, trained, cuda_graphs=bool(replica.graphs))

    def _trained_keys(self, used_modules: List[str], job: CandidateJob) -> List[str]:
        """The state keys a candidate reads and trains: shared ones and its op modules'."""
        keys = candidate_keys(self._keys, used_modules)
        missing = [k for k in keys if k not in job.weights]
        if missing:
            raise KeyError(f'CandidateJob {job.index}: weights lack {len(missing)} key(s) of '
                           f'the SuperNet {dict(self.model_cfg)}, e.g. {missing[0]!r}')
        return keys

    def _optimizer(self, params: List[torch.Tensor], lr: float) -> torch.optim.SGD:
        impl = dict(foreach=dict(foreach=True), fused=dict(fused=True),
                    loop=dict(foreach=False))[self.sgd]
        return torch.optim.SGD(params, lr=lr, momentum=self.momentum,
                               weight_decay=self.weight_decay, **impl)

    def _inputs(self, images: torch.Tensor) -> torch.Tensor:
        return images.contiguous(memory_format=torch.channels_last) if self.channels_last \
            else images

    def _train(self, model: SuperNet, params: List[torch.Tensor], lr: float,
               generator: torch.Generator, total: torch.Tensor,
               capture: Optional['Capture']) -> Generator[None, None, None]:
        data, optimizer = self.data, self._optimizer(params, lr)

        def step(idx: torch.Tensor) -> None:
            for p in params:
                p.grad = None
            inputs = augment_batch(data.train_images.index_select(0, idx), generator)
            with self.training_autocast():
                loss = F.cross_entropy(
                    model(self._inputs(inputs)).float(), data.train_labels.index_select(0, idx))
            loss.backward()
            clip_grad_norm_(params, self.grad_clip)
            optimizer.step()
            total.add_(loss.detach() * idx.numel())

        n = data.train_images.shape[0]
        order = torch.randperm(n, generator=generator, device=self.device)
        yield from self._steps(step, order, self.batch_size, generator, capture)
        for p in params:
            p.grad = None  # also frees the graph's gradient buffers

    def _validate(self, model: SuperNet, generator: torch.Generator, total: torch.Tensor,
                  correct: torch.Tensor,
                  capture: Optional['Capture']) -> Generator[None, None, None]:
        data = self.data

        @torch.no_grad()
        def step(idx: torch.Tensor) -> None:
            images = data.valid_images.index_select(0, idx)
            labels = data.valid_labels.index_select(0, idx)
            inputs = augment_batch(images, generator) if self.augment_valid else normalize(images)
            logits = model(self._inputs(inputs))
            total.add_(F.cross_entropy(logits, labels, reduction='sum'))
            correct.add_((logits.argmax(dim=1) == labels).sum())

        order = torch.arange(data.valid_images.shape[0], device=self.device)
        yield from self._steps(step, order, self.valid_batch_size, generator, capture)

    # ------------------------------------------------------------------------- steps and graphs
    def _steps(self, step: StepFn, order: torch.Tensor, batch: int, generator: torch.Generator,
               capture: Optional['Capture']) -> Generator[None, None, None]:
        """Run ``step`` over ``order`` in batches: a few eagerly, then a replayed graph
        (when ``capture`` is given). The last partial batch (another shape) runs eagerly."""
        full = order.numel() // batch
        graph, static_idx = None, None
        for i in range(full):
            idx = order[i * batch:(i + 1) * batch]
            if graph is not None:
                static_idx.copy_(idx)
                graph.replay()
                self.graph_steps += 1
            elif capture is not None and i == self.warmup_steps and full > i + 1:
                static_idx = idx.clone()
                graph = capture(step, static_idx, generator)
                graph.replay()
                self.graph_steps += 1
            else:
                step(idx)
            yield
        if order.numel() > full * batch:
            step(order[full * batch:])
            yield

    def _capturer(self, replica: _Replica) -> 'Capture':
        """``capture(step, static_idx, generator)`` into ``replica``'s pool and graph list."""

        def capture(step: StepFn, static_idx: torch.Tensor, generator: torch.Generator) -> Any:
            graph = capture_graph(step, static_idx, generator, replica.pool)
            replica.graphs.append(graph)
            return graph

        return capture


Capture = Callable[[StepFn, torch.Tensor, torch.Generator], Any]


def capture_graph(step: StepFn, static_idx: torch.Tensor, generator: torch.Generator,
                  pool: Any) -> Any:
    """``step`` on ``static_idx`` captured (not run) as a CUDA graph in ``pool``.

    Captures on the current (the replica's, non-default) stream, which has run the
    warm-up steps; ``torch.cuda.graph`` is not used because it synchronises the whole
    device, which would stall the other candidates' streams. On failure raises
    ``CaptureFailed`` after dropping the graph: ``capture_end`` ends the stream's capture
    and the pool's allocation routing even for a failed capture (torch 2.14), and the
    graph's destruction releases its reference to ``pool`` and its capture state in
    ``generator``, so nothing stays in capture state (tools/check_cuda.py, capture_fail).
    """
    graph = new_graph()
    try:
        graph.register_generator_state(generator)
        graph.capture_begin(pool=pool.id)
        try:
            step(static_idx)
        finally:
            graph.capture_end()
    except RuntimeError as err:
        reason = str(err).splitlines()[0] if str(err) else repr(err)
    else:
        return graph
    del graph  # the error and its traceback (which refer to the graph) are gone here
    raise CaptureFailed(reason)


def _check_settings(batch_size: int, valid_batch_size: Optional[int], augment_valid: bool, sgd: str,
                    streams: int, warmup_steps: int) -> None:
    for name, value, low in (('streams', streams, 1), ('warmup_steps', warmup_steps, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f'FastEvaluator: {name} must be an integer >= {low}, '
                             f'got {value!r}')
    if valid_batch_size is not None and (not isinstance(valid_batch_size, int)
                                         or valid_batch_size < 1):
        raise ValueError(f'FastEvaluator: valid_batch_size must be a positive integer or None, '
                         f'got {valid_batch_size!r}')
    if augment_valid and valid_batch_size not in (None, batch_size):
        raise ValueError(f'FastEvaluator: with augment_valid the validation batch must equal '
                         f'batch_size ({batch_size}), got valid_batch_size={valid_batch_size} '
                         f'(the augmentation draws per batch)')
    if sgd not in SGD_IMPLS:
        raise ValueError(f'FastEvaluator: sgd must be one of {SGD_IMPLS}, got {sgd!r}')
