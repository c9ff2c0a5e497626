"""FastEvaluator: the reference's results (losses, trained state) by a faster route.

With the reference's kernels (``channels_last=False``) the fast route must give the
reference's numbers; with its CPU defaults (channels-last kernels, other rounding) it
must compute the reference's training step (equal in float64, the loss within 1e-5 in
float32) and give the reference's ranking of a generation's candidates. The CUDA graph
paths run here with a stand-in graph object; tools/check_cuda.py runs them on a GPU.
"""
import gc
import importlib.util
import logging
import math
import os.path as osp
import weakref
from typing import Dict, Tuple

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from relnas_mm.models.supernet import SuperNet, candidate_keys
from relnas_mm.search import fast_evaluator as fast_module
from relnas_mm.search.augment import normalize
from relnas_mm.search.evaluator import CandidateJob, EagerEvaluator, split_search_data
from relnas_mm.search.fast_evaluator import FastEvaluator
from relnas_mm.space.encoding import decode_population, random_population
from relnas_mm.space.genotype import get_genotype

CFG = dict(channels=8, num_cells=5, num_classes=10)
TINY = dict(channels=4, num_cells=3, num_classes=10)  # for the tests of other paths
BATCH = 16
REL = 1e-4


@pytest.fixture(scope='module')
def data():
    """56 training images (batches 16, 16, 16, 8: a partial last one), 24 validation.

    16x16 pixels keep the test fast; the network and the augmentation take any size.
    """
    rng = np.random.default_rng(0)
    labels = np.arange(80) % 10
    images = rng.integers(0, 120, (80, 16, 16, 3))
    images[:, :, :, 0] += 12 * labels[:, None, None]  # learnable: redness encodes the class
    return split_search_data(images.astype(np.uint8), labels, seed=0, train_portion=0.7)


def _initial_weights(cfg: dict, seed: int) -> dict:
    torch.manual_seed(seed)
    return SuperNet(**cfg).state_dict()


@pytest.fixture(scope='module')
def weights():
    return _initial_weights(CFG, 0)


@pytest.fixture(scope='module')
def jobs(weights):
    """Two random genotypes and the published cell; drop path off, on, and at its maximum."""
    genotypes = decode_population(random_population(2, np.random.default_rng(3)))
    genotypes.append(get_genotype('RelativeNAS'))
    return [
        CandidateJob(index=i, genotype=g, weights=weights, lr=0.05, drop_prob=p, seed=100 + i)
        for i, (g, p) in enumerate(zip(genotypes, (0.0, 0.2, 0.3)))
    ]


@pytest.fixture(scope='module')
def reference(data, jobs):
    evaluator = EagerEvaluator(data, CFG, batch_size=BATCH)
    return [evaluator.evaluate(job) for job in jobs]


@pytest.fixture(scope='module')
def fast_results(data, jobs, weights):
    """The first job alone, the other two at once (two streams; on the CPU in turn)."""
    snapshot = {k: v.clone() for k, v in weights.items()}
    fast = FastEvaluator(data, CFG, batch_size=BATCH, streams=2, channels_last=False)
    assert fast.num_steps() == 4
    results = [fast.evaluate(jobs[0])] + fast.evaluate_many(jobs[1:])
    assert all(torch.equal(weights[k], v) for k, v in snapshot.items())  # jobs left alone
    return results


@pytest.fixture(scope='module')
def tiny_weights():
    return _initial_weights(TINY, 1)


@pytest.fixture(scope='module')
def tiny_job(tiny_weights):
    return CandidateJob(index=4, genotype=get_genotype('DARTS_V2'), weights=tiny_weights, lr=0.05,
                        drop_prob=0.2, seed=9)


@pytest.fixture(scope='module')
def tiny_reference(data, tiny_job):
    return EagerEvaluator(data, TINY, batch_size=BATCH).evaluate(tiny_job)


def assert_same(ref, out, state_rtol=REL):
    assert out.index == ref.index and out.finite and ref.finite
    assert out.loss == pytest.approx(ref.loss, rel=REL)
    assert out.train_loss == pytest.approx(ref.train_loss, rel=REL)
    assert abs(out.acc - ref.acc) <= 1 / 24 + 1e-9  # at most one prediction flips
    assert list(out.state) == list(ref.state)
    for key, value in ref.state.items():
        assert out.state[key].shape == value.shape and out.state[key].dtype == value.dtype
        torch.testing.assert_close(out.state[key], value, rtol=state_rtol, atol=1e-6, msg=key)


def test_fast_equals_eager_over_several_steps(fast_results, reference, weights):
    for ref, out in zip(reference, fast_results):
        assert_same(ref, out)
    assert [r.index for r in fast_results] == [0, 1, 2]
    assert len({r.train_loss for r in fast_results}) == 3  # three different candidates
    assert not torch.equal(fast_results[2].state['stem.0.weight'], weights['stem.0.weight'])


def test_results_hold_exactly_what_the_candidate_trained(fast_results, reference, jobs, weights):
    """Shared keys and the candidate's op modules: what the write-back takes, and all a
    result carries between processes."""
    for job, out, ref in zip(jobs, fast_results, reference):
        expected = candidate_keys(list(weights), SuperNet(**CFG).used_modules(job.genotype))
        assert list(out.state) == list(ref.state) == expected
        assert len(expected) < len(weights) / 2
        assert all(out.state[k] is not weights[k] for k in expected)  # trained copies


class FakeGraph:
    """Stands in for torch.cuda.CUDAGraph on the CPU: records the capture's pool and
    runs the step on replay (the step also runs once while "capturing", which a real
    capture does not do, so results are not compared here)."""

    live = weakref.WeakSet()
    pools = []
    fail = 0  # captures left to fail in capture_end

    def __init__(self):
        FakeGraph.live.add(self)

    def register_generator_state(self, generator):
        self.generator = generator

    def capture_begin(self, pool=None):
        FakeGraph.pools.append(pool)
        FakePool.by_id[pool].graphs.add(self)

    def capture_end(self):
        if FakeGraph.fail:
            FakeGraph.fail -= 1
            raise RuntimeError('CUDA error: operation not permitted when stream is capturing')

    def replay(self):
        self.step(self.static_idx)


class FakePool:
    """Counts references as torch 2.14's MemPool does: its own, and one per graph
    captured into it until the graph is destroyed."""

    by_id = weakref.WeakValueDictionary()

    def __init__(self, device):
        self.id = (0, id(self))
        self.graphs = weakref.WeakSet()
        FakePool.by_id[self.id] = self

    def use_count(self):
        return 1 + len(self.graphs)


@pytest.fixture
def fake_cuda_graphs(monkeypatch):
    """FastEvaluator's graph path on the CPU with FakeGraph and FakePool."""
    real_capture = fast_module.capture_graph

    def capture(step, static_idx, generator, pool):
        graph = real_capture(step, static_idx, generator, pool)
        graph.step, graph.static_idx = step, static_idx
        return graph

    monkeypatch.setattr(fast_module, 'new_graph', FakeGraph)
    monkeypatch.setattr(fast_module, 'new_graph_pool', FakePool)
    monkeypatch.setattr(fast_module, 'capture_graph', capture)
    FakeGraph.live, FakeGraph.pools, FakeGraph.fail = weakref.WeakSet(), [], 0

    def build(**options):
        fast = FastEvaluator(
            data=options.pop('data'), model_cfg=TINY, batch_size=BATCH, channels_last=False,
            **options)
        fast.cuda_graph = True  # as on CUDA
        fast._replicas = [fast._replica() for _ in fast._replicas]  # with their pools
        return fast

    return build


def test_graphs_share_the_replica_pool_and_are_released_per_candidate(data, tiny_job,
                                                                      fake_cuda_graphs):
    fast = fake_cuda_graphs(data=data, valid_batch_size=8, streams=2)
    pools = {r.pool.id for r in fast._replicas}
    assert len(pools) == 2  # one pool per replica
    for _ in range(3):
        results = fast.evaluate_many([tiny_job, tiny_job])
        assert [(r.cuda_graphs, r.capture_failures) for r in results] == [(True, 0)] * 2
        gc.collect()
        # training (3 full batches: capture after 1 warm-up) and validation (3 of 8):
        # two graphs per candidate, and only the last candidate's are alive
        assert len(FakeGraph.live) == 4
        assert sorted(len(r.graphs) for r in fast._replicas) == [2, 2]
    assert set(FakeGraph.pools) == pools and len(FakeGraph.pools) == 12


def test_failed_capture_reruns_the_candidate_eagerly(data, tiny_job, tiny_reference,
                                                     fake_cuda_graphs, caplog):
    """The failed attempt ran steps on the CPU (a real capture would not have): the
    rerun starts again from the job, with a fresh generator, so it equals the reference."""
    fast = fake_cuda_graphs(data=data)
    FakeGraph.fail = 2
    with caplog.at_level(logging.WARNING, logger='relnas_mm'):
        out = fast.evaluate(tiny_job)
        gc.collect()
        assert len(FakeGraph.live) == 0  # the failed graph is destroyed (unregistered)
        assert fast.cuda_graph and fast.capture_failures == 1
        second = fast.evaluate(tiny_job)
        assert not fast.cuda_graph  # a second failure turns graphs off for the run
        captures = len(FakeGraph.pools)
        third = fast.evaluate(tiny_job)
    # what rank 0 logs the fallbacks from: every result says what happened to it
    assert [(r.capture_failures, r.cuda_graphs) for r in (out, second, third)] == [(1, False),
                                                                                   (1, False),
                                                                                   (0, False)]
    assert len(FakeGraph.pools) == captures  # no capture tried any more
    lines = [r.getMessage() for r in caplog.records if 'capture failed' in r.getMessage()]
    assert len(lines) == 2
    assert 'candidate 4' in lines[0] and 'runs eagerly' in lines[0]
    assert 'off for the rest of the run' in lines[1]
    for out in (out, second, third):
        assert_same(tiny_reference, out)


def test_cuda_graph_on_cpu_is_logged_and_eager(data, caplog):
    with caplog.at_level(logging.INFO, logger='relnas_mm'):
        fast = FastEvaluator(data, dict(channels=4, num_cells=3), batch_size=BATCH)
    assert not fast.cuda_graph
    assert any('CUDA graphs need a CUDA device' in r.getMessage() for r in caplog.records)


def test_other_kernels_give_close_results(data, tiny_job, tiny_reference):
    """Loop and fused SGD, PyTorch's native batch norm: same maths, other kernels."""
    for options in (dict(sgd='loop'), dict(sgd='fused', norm='native')):
        out = FastEvaluator(data, TINY, batch_size=BATCH, channels_last=False,
                            **options).evaluate(tiny_job)
        assert_same(tiny_reference, out)


def _one_step(model: SuperNet, inputs: torch.Tensor, labels: torch.Tensor, weights: dict, genotype,
              dtype: torch.dtype) -> Tuple[float, Dict[str, torch.Tensor]]:
    """Loss and gradients of one training step of ``model`` in ``dtype``."""
    model.load_state_dict(weights)
    model.set_genotype(genotype)
    model.to(dtype).train()
    model.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(inputs.to(dtype)), labels)
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.float()
    return loss.item(), grads


def test_cpu_defaults_compute_the_reference_training_step(data, weights, jobs):
    """The fast engine's CPU network (channels-last, as configured by default) against
    the reference network, from the same weights and batch.

    In float64 the loss and every gradient agree to 1e-10: the same computation. In
    float32 (what the engines run) the loss agrees to 1e-5; single gradients are not
    compared there, as the near-zero batch-norm gradients of this small network lose
    up to 1e-2 relative to rounding in either engine (both measured against float64)."""
    fast = FastEvaluator(data, CFG, batch_size=BATCH)
    assert fast.channels_last  # the CPU default
    images = normalize(data.train_images[:BATCH])
    labels = data.train_labels[:BATCH]
    for job in jobs:
        for dtype, rel in ((torch.float64, 1e-10), (torch.float32, 1e-5)):
            ref_loss, ref_grads = _one_step(
                SuperNet(**CFG), images, labels, weights, job.genotype, dtype)
            loss, grads = _one_step(fast._replicas[0].model, fast._inputs(images), labels, weights,
                                    job.genotype, dtype)
            assert loss == pytest.approx(ref_loss, rel=rel)
            assert list(grads) == list(ref_grads) and len(grads) > 50
            if dtype == torch.float64:
                for name, ref in ref_grads.items():
                    assert float((grads[name] - ref).norm()) <= rel * float(ref.norm()), name


def _ranking_generation():
    """8 candidates of a generation on a 2-class task they learn in one epoch."""
    cfg = dict(TINY, num_classes=2)
    rng = np.random.default_rng(0)
    labels = np.arange(80) % 2
    images = rng.integers(0, 120, (80, 16, 16, 3))
    images[:, :, :, 0] += 60 * labels[:, None, None]  # redness encodes the class
    data = split_search_data(images.astype(np.uint8), labels, seed=0, train_portion=0.7)
    torch.manual_seed(0)
    weights = SuperNet(**cfg).state_dict()
    genotypes = decode_population(random_population(8, np.random.default_rng(11)))
    jobs = [
        CandidateJob(index=i, genotype=g, weights=weights, lr=0.1, drop_prob=0.1, seed=50 + i)
        for i, g in enumerate(genotypes)
    ]
    return data, cfg, jobs


def test_cpu_defaults_keep_the_ranking_of_a_generation():
    """Over 8 candidates of a generation on a 2-class task they learn in one epoch, the
    fast engine's ranking by validation loss is the reference's, except swaps of
    candidates whose losses differ by less than 1%."""
    data, cfg, jobs = _ranking_generation()
    eager = EagerEvaluator(data, cfg, batch_size=BATCH)
    ref = [eager.evaluate(job).loss for job in jobs]
    out = [r.loss for r in FastEvaluator(data, cfg, batch_size=BATCH).evaluate_many(jobs)]
    decided = [(i, j) for i in range(8) for j in range(8)
               if ref[i] < ref[j] and (ref[j] - ref[i]) >= 0.01 * ref[i]]
    assert len(decided) >= 20  # the candidates differ: most pairs are decided
    assert all(out[i] < out[j] for i, j in decided), (ref, out)


def test_results_are_in_the_usual_memory_format(data, tiny_job, tiny_reference):
    out = FastEvaluator(data, TINY, batch_size=BATCH, channels_last=True).evaluate(tiny_job)
    for key, value in out.state.items():
        assert value.stride() == tiny_reference.state[key].stride(), key


def test_validation_augmentation_switch_matches(data, tiny_job, tiny_reference):
    ref = EagerEvaluator(data, TINY, batch_size=BATCH, augment_valid=True).evaluate(tiny_job)
    out = FastEvaluator(data, TINY, batch_size=BATCH, augment_valid=True,
                        channels_last=False).evaluate(tiny_job)
    assert_same(ref, out)
    assert ref.loss != tiny_reference.loss  # the switch did change validation


def test_bad_settings_are_refused(data, weights):
    cases = [(dict(batch_size=0), 'batch_size must be an integer >= 1'),
             (dict(streams=0), 'streams must be an integer >= 1'),
             (dict(sgd='adam'), r"sgd must be one of \('foreach', 'fused', 'loop'\)"),
             (dict(norm='layer'), 'norm must be one of'),
             (dict(valid_batch_size=0), 'valid_batch_size must be a positive integer'),
             (dict(augment_valid=True, valid_batch_size=8),
              'with augment_valid the validation batch must equal batch_size')]
    for options, message in cases:
        with pytest.raises(ValueError, match=message):
            FastEvaluator(data, dict(channels=4, num_cells=3), **options)
    with pytest.raises(ValueError, match=r'train_labels span 0\.\.9, outside 0\.\.1'):
        FastEvaluator(data, dict(channels=4, num_cells=3, num_classes=2))
    partial = {k: v for k, v in weights.items() if k != 'classifier.bias'}
    job = CandidateJob(index=7, genotype=get_genotype('DARTS_V2'), weights=partial, lr=0.1,
                       drop_prob=0.0, seed=0)
    with pytest.raises(KeyError, match="CandidateJob 7: weights lack 1 key.*classifier.bias"):
        FastEvaluator(data, CFG).evaluate(job)


def test_non_finite_training_is_flagged(data, tiny_job):
    broken = dict(tiny_job.weights)
    broken['classifier.bias'] = torch.full_like(broken['classifier.bias'], math.nan)
    job = CandidateJob(index=0, genotype=tiny_job.genotype, weights=broken, lr=0.1, drop_prob=0.0,
                       seed=1)
    out = FastEvaluator(data, TINY, batch_size=32).evaluate(job)
    assert not out.finite and math.isnan(out.loss)


def test_bf16_runs_the_training_step_under_autocast_with_fp32_weights(data, tiny_job,
                                                                      tiny_reference):
    """The fast engine computes the bf16 reference (same kernels on the CPU: bitwise);
    master weights, SGD and losses stay fp32, and the result differs from fp32's."""
    ref = EagerEvaluator(data, TINY, batch_size=BATCH, precision='bf16').evaluate(tiny_job)
    fast = FastEvaluator(data, TINY, batch_size=BATCH, precision='bf16')
    assert not fast.channels_last  # refused with bf16 on the CPU (NaN gradients)
    out = fast.evaluate(tiny_job)
    assert (out.loss, out.train_loss) == (ref.loss, ref.train_loss)
    assert all(torch.equal(out.state[k], v) for k, v in ref.state.items())
    assert {v.dtype for v in out.state.values() if v.is_floating_point()} == {torch.float32}
    assert abs(out.train_loss - tiny_reference.train_loss) > 1e-5 * tiny_reference.train_loss
    with pytest.raises(ValueError, match='channels_last with precision="bf16" on the CPU'):
        FastEvaluator(data, TINY, batch_size=BATCH, precision='bf16', channels_last=True)
    with pytest.raises(ValueError, match=r"precision must be one of \('fp32', 'bf16'\)"):
        FastEvaluator(data, TINY, precision='fp16')


def test_bf16_agreement_with_fp32_on_the_ranking_of_a_generation():
    """The equivalence rule of bf16 is ranking: on the 8 candidates of the ranking test
    it orders 26 of the 28 pairs as fp32 does (26 of the 27 pairs whose fp32 losses
    differ by 1% or more; the swapped one is 0.340 vs 0.427 in fp32, 0.455 vs 0.374 in
    bf16). Measured on the CPU (1 thread), stated in docs/en/fast_evaluation.md."""
    data, cfg, jobs = _ranking_generation()
    ref = [r.loss for r in EagerEvaluator(data, cfg, batch_size=BATCH).evaluate_many(jobs)]
    out = [
        r.loss
        for r in FastEvaluator(data, cfg, batch_size=BATCH, precision='bf16').evaluate_many(jobs)
    ]
    pairs = [(i, j) for i in range(8) for j in range(i + 1, 8)]
    decided = [(i, j) for i, j in pairs if abs(ref[i] - ref[j]) >= 0.01 * min(ref[i], ref[j])]
    agree = [(ref[i] < ref[j]) == (out[i] < out[j]) for i, j in decided]
    assert len(decided) == 27 and sum(agree) >= 26, (ref, out)


def test_streams_default_to_a_pair_on_cuda_only(data):
    assert fast_module.default_streams('cpu') == 1 and fast_module.default_streams(None) == 1
    assert fast_module.default_streams('cuda:1') == fast_module.CUDA_STREAMS == 2
    assert FastEvaluator(data, TINY).streams == 1


def test_a_graph_kept_alive_shows_in_the_pool_reference_count(data, tiny_job, fake_cuda_graphs):
    """The invariant tools/check_cuda.py's memory check asserts on a GPU (pool references
    = 1 + live graphs), modelled with the stand-ins: it holds, and its fault
    (``--break graph_alive``) breaks it from the second candidate of a replica on."""
    path = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'tools', 'check_cuda.py')
    spec = importlib.util.spec_from_file_location('check_cuda', path)
    check_cuda = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check_cuda)
    fast = fake_cuda_graphs(data=data, valid_batch_size=8, streams=2)
    for _ in range(2):
        fast.evaluate_many([tiny_job, tiny_job])
        assert check_cuda.stray_pool_references(fast) == []
    with check_cuda.FAULTS['graph_alive'].inject():
        fast.evaluate_many([tiny_job, tiny_job])
        assert check_cuda.stray_pool_references(fast) == []  # the kept graphs are current
        fast.evaluate_many([tiny_job, tiny_job])
        assert check_cuda.stray_pool_references(fast) == [
            f'replica {i}: 5 pool references, 1 + 2 live graphs expected' for i in (0, 1)
        ]
    gc.collect()
    assert check_cuda.stray_pool_references(fast) == []  # released with the fault
