"""Low-fidelity estimation of a candidate: one epoch from the weight set, then validate.

``CandidateEvaluator`` is the one interface the search calls (through a plain
``evaluate(jobs) -> results`` function); ``SuperNetEvaluator`` holds what every
evaluator of SuperNet candidates shares (settings, device and data, numerics, label
check, result assembly); ``EagerEvaluator`` is the plain PyTorch reference, and a
faster engine (``FastEvaluator``) can replace it without touching the search.

With an evaluator ``ev``, the search's evaluate function is simply
``lambda jobs: [ev.evaluate(job) for job in jobs]``.
"""
import contextlib
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ContextManager, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from ..models.supernet import SuperNet, candidate_keys, supernet_config
from ..space.genotype import Genotype
from .augment import augment_batch, normalize
from .numerics import Device, set_numerics

#: what ``precision`` of an evaluator accepts
PRECISIONS = ('fp32', 'bf16')


@dataclass
class CandidateJob:
    """One candidate to estimate.

    ``weights`` is the weight-set snapshot to start from (read-only); ``seed`` drives
    every random choice of the evaluation, so any process gives the same result.
    """

    index: int
    genotype: Genotype
    weights: Mapping[str, torch.Tensor]
    lr: float
    drop_prob: float
    seed: int


@dataclass
class CandidateResult:
    """The outcome of a job: validation loss/accuracy, mean training loss, trained state.

    ``state`` holds what the candidate trained: the SuperNet's shared keys and the
    candidate's own op modules (``candidate_keys``), on any device; the rest of the
    weight set is unchanged by a candidate, so results (and the traffic between ranks)
    carry only this. ``finite`` is False when a loss is NaN/inf, in which case the
    search ranks the candidate last and ignores ``state``.

    ``capture_failures`` (CUDA graph captures of this candidate that failed) and
    ``cuda_graphs`` (its steps were replayed from CUDA graphs) travel with the result,
    so that rank 0 can log a rank that fell back to eager steps: several times
    slower, and every rank waits for it at the gather.
    """

    index: int
    loss: float
    acc: float
    train_loss: float
    state: Dict[str, torch.Tensor]
    finite: bool
    capture_failures: int = 0
    cuda_graphs: bool = False


def result_differences(reference: Sequence[CandidateResult],
                       other: Sequence[CandidateResult]) -> Dict[str, float]:
    """Largest relative differences between two evaluations of the same jobs: validation
    loss, training loss, and trained state (per tensor, against its largest magnitude;
    an integer tensor that differs counts as inf). What the tools compare engines by."""

    def rel(a: float, b: float) -> float:
        return abs(a - b) / max(abs(a), 1e-12)

    state = 0.0
    for a, b in zip(reference, other):
        for key, value in a.state.items():
            theirs = b.state[key].to(value.device)
            if value.is_floating_point():
                diff = float((value - theirs).abs().max()) / max(float(value.abs().max()), 1e-12)
            else:
                diff = 0.0 if torch.equal(value, theirs) else math.inf
            state = max(state, diff)
    return dict(
        loss=max(rel(a.loss, b.loss) for a, b in zip(reference, other)),
        train_loss=max(rel(a.train_loss, b.train_loss) for a, b in zip(reference, other)),
        state=state)


class CandidateEvaluator(ABC):
    """Trains a candidate from its job's weights and scores it on the validation half."""

    @abstractmethod
    def evaluate(self, job: CandidateJob) -> CandidateResult:
        """Run one job; must not modify ``job.weights`` in place."""

    def evaluate_many(self, jobs: Sequence[CandidateJob]) -> List[CandidateResult]:
        """Results of ``jobs`` in their order; an evaluator that runs several candidates
        at once overrides this (a job's result must not depend on the others)."""
        return [self.evaluate(job) for job in jobs]


@dataclass
class SearchData:
    """The two halves of the search data, resident on one device.

    Images are uint8 NCHW with 3 channels, labels int64.
    """

    train_images: torch.Tensor
    train_labels: torch.Tensor
    valid_images: torch.Tensor
    valid_labels: torch.Tensor

    def __post_init__(self) -> None:
        for name in ('train', 'valid'):
            images, labels = getattr(self, f'{name}_images'), getattr(self, f'{name}_labels')
            if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
                raise ValueError(f'SearchData.{name}_images: expected uint8 (N, 3, H, W), '
                                 f'got {images.dtype} {tuple(images.shape)}')
            if labels.dtype != torch.int64 or labels.shape != (images.shape[0], ):
                raise ValueError(f'SearchData.{name}_labels: expected int64 ({images.shape[0]},), '
                                 f'got {labels.dtype} {tuple(labels.shape)}')
            if images.shape[0] == 0:
                raise ValueError(f'SearchData: the {name} half is empty')

    @property
    def device(self) -> torch.device:
        return self.train_images.device

    def to(self, device: Device) -> 'SearchData':
        """A copy of the data on ``device``."""
        return SearchData(*(t.to(device) for t in (self.train_images, self.train_labels,
                                                   self.valid_images, self.valid_labels)))


def _as_nchw_uint8(images: Any) -> torch.Tensor:
    images = torch.as_tensor(np.asarray(images) if not torch.is_tensor(images) else images)
    if images.dtype != torch.uint8 or images.ndim != 4:
        raise ValueError(f'images: expected a uint8 array of 4 dims (NHWC or NCHW), '
                         f'got {images.dtype} {tuple(images.shape)}')
    if images.shape[1] == 3:
        return images.contiguous()
    if images.shape[3] == 3:
        return images.permute(0, 3, 1, 2).contiguous()
    raise ValueError(f'images: expected 3 channels (NHWC or NCHW), got shape '
                     f'{tuple(images.shape)}')


def _group_split(groups: np.ndarray, n: int, seed: int,
                 train_portion: float) -> Tuple[int, np.ndarray]:
    """(training size, order of the images) for a split by whole groups."""
    if groups.shape != (n, ):
        raise ValueError(f'groups: expected one per image ({n}), got shape {groups.shape}')
    names, inverse = np.unique(groups, return_inverse=True)
    if len(names) < 2:
        raise ValueError(f'the {n} images come from {len(names)} source image(s); a split '
                         f'by source image needs two at least')
    perm = np.random.default_rng(seed).permutation(len(names))
    place = np.empty(len(names), np.int64)
    place[perm] = np.arange(len(names))
    order = np.argsort(place[inverse], kind='stable')
    ends = np.cumsum(np.bincount(inverse, minlength=len(names))[perm])
    taken = min(max(int(np.searchsorted(ends, train_portion * n)) + 1, 1), len(names) - 1)
    return int(ends[taken - 1]), order


def split_search_data(images: Any, labels: Any, seed: int, train_portion: float = 0.5,
                      device: Device = None, groups: Any = None) -> SearchData:
    """Split labelled images into the candidates' training and validation halves.

    The split is a permutation seeded by ``seed`` (the authors' is unseeded), so every
    process and every resumed run sees the same halves. ``groups`` (one integer per
    image, e.g. the source image of an object crop) splits whole groups instead: the
    groups are permuted and taken until ``train_portion`` of the images is reached,
    so no group lies on both sides.
    """
    images = _as_nchw_uint8(images)
    labels = torch.as_tensor(np.asarray(labels) if not torch.is_tensor(labels) else labels)
    labels = labels.to(torch.int64)
    if labels.shape != (images.shape[0], ):
        raise ValueError(f'labels: expected shape ({images.shape[0]},) to match the images, '
                         f'got {tuple(labels.shape)}')
    n = images.shape[0]
    if groups is None:
        n_train = int(math.floor(train_portion * n))
        order = np.random.default_rng(seed).permutation(n)
    else:
        n_train, order = _group_split(np.asarray(groups), n, seed, train_portion)
    if not 0 < n_train < n:
        raise ValueError(f'train_portion={train_portion} of {n} images leaves an empty half')
    order = torch.from_numpy(order)
    train, valid = order[:n_train], order[n_train:]
    return SearchData(images[train], labels[train], images[valid], labels[valid]).to(device)


@dataclass
class PendingResult:
    """A candidate whose work is done or enqueued: its sums still on the device
    (training loss sum, validation loss sum, correct predictions) and its trained state."""

    job: CandidateJob
    sums: torch.Tensor
    state: Dict[str, torch.Tensor]
    capture_failures: int = 0
    cuda_graphs: bool = False


class SuperNetEvaluator(CandidateEvaluator):
    """What every evaluator of SuperNet candidates shares; subclasses do the training.

    Args:
        data: the search halves (moved to ``device`` if needed).
        model_cfg: SuperNet keyword arguments (channels, num_cells, num_classes,
            stem_multiplier).
        batch_size, momentum, weight_decay, grad_clip: the training settings.
        augment_valid: apply the training augmentation to the validation half too
            (the authors' behaviour); off by default.
        device: where to train; defaults to the data's device.
        deterministic: IEEE fp32 and deterministic kernels (see ``set_numerics``).
        precision: 'fp32' (default) or 'bf16': the training forward and backward under
            bf16 autocast (CUDA and CPU), with fp32 master weights, SGD and losses; the
            validation pass, whose loss ranks the candidates, stays fp32.
    """

    def __init__(self, data: SearchData, model_cfg: Optional[Mapping[str, Any]] = None,
                 batch_size: int = 256, momentum: float = 0.9, weight_decay: float = 3e-4,
                 grad_clip: float = 5.0, augment_valid: bool = False, device: Device = None,
                 deterministic: bool = False, precision: str = 'fp32') -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f'{type(self).__name__}: batch_size must be an integer >= 1, '
                             f'got {batch_size!r}')
        if precision not in PRECISIONS:
            raise ValueError(f'{type(self).__name__}: precision must be one of {PRECISIONS}, '
                             f'got {precision!r}')
        self.precision = precision
        self.device = torch.device(device) if device is not None else data.device
        self.numerics = set_numerics(self.device, deterministic)
        self.data = data if data.device == self.device else data.to(self.device)
        self.model_cfg = supernet_config(**(model_cfg or {}))
        self._check_labels()
        self.batch_size = batch_size
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.grad_clip = grad_clip
        self.augment_valid = augment_valid

    def training_autocast(self) -> ContextManager:
        """The context of a training forward (and loss): bf16 autocast or nothing.

        The autocast cache is off: the weights change every step, and a cache inside a
        CUDA graph capture would be replayed stale.
        """
        if self.precision == 'fp32':
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16, cache_enabled=False)

    def _check_labels(self) -> None:
        num_classes = self.model_cfg['num_classes']
        for name in ('train', 'valid'):
            labels = getattr(self.data, f'{name}_labels')
            lo, hi = int(labels.min()), int(labels.max())
            if lo < 0 or hi >= num_classes:
                raise ValueError(f'SearchData.{name}_labels span {lo}..{hi}, outside '
                                 f'0..{num_classes - 1} (num_classes={num_classes})')

    def num_steps(self) -> int:
        """Training steps per candidate: ceil(n_train / batch_size)."""
        return math.ceil(self.data.train_images.shape[0] / self.batch_size)

    def _results(self, pending: Sequence[PendingResult]) -> List[CandidateResult]:
        """Turn finished candidates into results with one host sync for all of them."""
        values = torch.stack([p.sums for p in pending]).tolist()
        n_train, n_valid = self.data.train_images.shape[0], self.data.valid_images.shape[0]
        results = []
        for p, (train_sum, valid_sum, correct) in zip(pending, values):
            loss, train_loss = valid_sum / n_valid, train_sum / n_train
            finite = math.isfinite(loss) and math.isfinite(train_loss)
            results.append(
                CandidateResult(index=p.job.index, loss=loss, acc=correct / n_valid,
                                train_loss=train_loss, state=p.state, finite=finite,
                                capture_failures=p.capture_failures, cuda_graphs=p.cuda_graphs))
        return results


class EagerEvaluator(SuperNetEvaluator):
    """The plain PyTorch reference estimation (the authors' procedure).

    Builds one SuperNet once and reuses it for every job: load the job's weights, set
    its genotype and drop-path rate, train one epoch over the training half (the last
    partial batch kept) with a fresh SGD and gradient-norm clipping, then one
    eval-mode pass over the validation half. Losses stay on the device until the end,
    so there is one host sync per candidate. Arguments: see ``SuperNetEvaluator``.
    """

    def __init__(self, data: SearchData, model_cfg: Optional[Mapping[str, Any]] = None,
                 **settings: Any) -> None:
        super().__init__(data, model_cfg, **settings)
        self.model = SuperNet(**self.model_cfg).to(self.device)

    def evaluate(self, job: CandidateJob) -> CandidateResult:
        generator = torch.Generator(device=self.device)
        generator.manual_seed(int(job.seed))
        model = self.model
        model.load_state_dict(job.weights)
        model.set_genotype(job.genotype)
        model.drop_prob = float(job.drop_prob)
        model.generator = generator
        train_sum = self._train_epoch(job.lr, generator)
        valid_sum, correct = self._validate(generator)
        trained = model.state_dict()
        state = {
            k: trained[k].detach().clone()
            for k in candidate_keys(list(trained), model.used_modules(job.genotype))
        }
        model.generator = None
        return self._results(
            [PendingResult(job, torch.stack([train_sum, valid_sum, correct]), state)])[0]

    def validate(self, genotype: Genotype, weights: Mapping[str, torch.Tensor],
                 seed: int = 0) -> Tuple[float, float]:
        """Validation loss and accuracy of ``genotype`` with ``weights`` as given, no
        training: cells scored on one weight-set state can be compared (``seed`` draws
        the augmentation, with ``augment_valid`` only)."""
        generator = torch.Generator(device=self.device)
        generator.manual_seed(int(seed))
        model = self.model
        model.load_state_dict(weights)
        model.set_genotype(genotype)
        model.generator = generator
        total, correct = self._validate(generator)
        model.generator = None
        n = self.data.valid_images.shape[0]
        return float(total) / n, float(correct) / n

    def _train_epoch(self, lr: float, generator: torch.Generator) -> torch.Tensor:
        model, data = self.model, self.data
        model.train()
        params = list(model.parameters())
        optimizer = torch.optim.SGD(params, lr=lr, momentum=self.momentum,
                                    weight_decay=self.weight_decay)
        n = data.train_images.shape[0]
        order = torch.randperm(n, generator=generator, device=self.device)
        total = torch.zeros((), device=self.device)
        for start in range(0, n, self.batch_size):
            idx = order[start:start + self.batch_size]
            inputs = augment_batch(data.train_images[idx], generator)
            with self.training_autocast():
                loss = F.cross_entropy(model(inputs).float(), data.train_labels[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, self.grad_clip)
            optimizer.step()
            total += loss.detach() * idx.numel()
        return total

    @torch.no_grad()
    def _validate(self, generator: torch.Generator) -> Tuple[torch.Tensor, torch.Tensor]:
        model, data = self.model, self.data
        model.eval()
        total = torch.zeros((), device=self.device)
        correct = torch.zeros((), device=self.device)
        for start in range(0, data.valid_images.shape[0], self.batch_size):
            images = data.valid_images[start:start + self.batch_size]
            labels = data.valid_labels[start:start + self.batch_size]
            inputs = (augment_batch(images, generator) if self.augment_valid else normalize(images))
            logits = model(inputs)
            total += F.cross_entropy(logits, labels, reduction='sum')
            correct += (logits.argmax(dim=1) == labels).sum()
        return total, correct
