"""FastEvaluator: the reference's results (losses, trained state) by a faster route."""
import logging
import math

import numpy as np
import pytest
import torch

from relnas_mm.models.supernet import SuperNet, op_module_of
from relnas_mm.search.evaluator import CandidateJob, EagerEvaluator, split_search_data
from relnas_mm.search.fast_evaluator import FastEvaluator
from relnas_mm.space.encoding import decode_population, random_population
from relnas_mm.space.genotype import get_genotype

CFG = dict(channels=8, num_cells=5, num_classes=10)
TINY = dict(channels=4, num_cells=3, num_classes=10)  # for the tests of other paths
BATCH = 16
REL = 1e-4


@pytest.fixture(autouse=True, scope='module')
def _one_thread():
    """Tiny tensors on a shared 2-core machine run far faster without intra-op threads."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


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


@pytest.fixture(scope='module')
def weights():
    torch.manual_seed(0)
    return SuperNet(**CFG).state_dict()


@pytest.fixture(scope='module')
def jobs(weights):
    """Two random genotypes and the published cell; drop path off, on, and at its maximum."""
    genotypes = decode_population(random_population(2, np.random.default_rng(3)))
    genotypes.append(get_genotype('RelativeNAS'))
    return [CandidateJob(index=i, genotype=g, weights=weights, lr=0.05, drop_prob=p,
                         seed=100 + i)
            for i, (g, p) in enumerate(zip(genotypes, (0.0, 0.2, 0.3)))]


@pytest.fixture(scope='module')
def reference(data, jobs):
    evaluator = EagerEvaluator(data, CFG, batch_size=BATCH)
    return [evaluator.evaluate(job) for job in jobs]


@pytest.fixture(scope='module')
def fast_results(data, jobs, weights):
    """The first job alone, the other two at once (two streams; on the CPU in turn)."""
    snapshot = {k: v.clone() for k, v in weights.items()}
    fast = FastEvaluator(data, CFG, batch_size=BATCH, streams=2)
    assert fast.num_steps() == 4
    results = [fast.evaluate(jobs[0])] + fast.evaluate_many(jobs[1:])
    assert all(torch.equal(weights[k], v) for k, v in snapshot.items())  # jobs left alone
    return results


@pytest.fixture(scope='module')
def tiny_weights():
    torch.manual_seed(1)
    return SuperNet(**TINY).state_dict()


@pytest.fixture(scope='module')
def tiny_job(tiny_weights):
    return CandidateJob(index=4, genotype=get_genotype('DARTS_V2'), weights=tiny_weights,
                        lr=0.05, drop_prob=0.2, seed=9)


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
        torch.testing.assert_close(out.state[key], value, rtol=state_rtol, atol=1e-6,
                                   msg=key)


def test_fast_equals_eager_over_several_steps(fast_results, reference, weights):
    for ref, out in zip(reference, fast_results):
        assert_same(ref, out)
    assert [r.index for r in fast_results] == [0, 1, 2]
    assert len({r.train_loss for r in fast_results}) == 3  # three different candidates
    assert not torch.equal(fast_results[2].state['stem.0.weight'], weights['stem.0.weight'])


def test_untrained_entries_are_the_jobs_own_tensors(fast_results, jobs, weights):
    out = fast_results[2]
    used = set(SuperNet(**CFG).used_modules(jobs[2].genotype))
    for key, value in out.state.items():
        module = op_module_of(key)
        if module is None or module in used:
            assert value is not weights[key], key  # a trained copy
        else:
            assert value is weights[key], key


class ReplayOnCPU:
    """Stands in for a captured CUDA graph: replay runs the step on the static input."""

    captures = []

    def __init__(self, step, static_idx):
        self.step, self.static_idx = step, static_idx
        ReplayOnCPU.captures.append(static_idx.numel())

    def replay(self):
        self.step(self.static_idx)


def test_warmup_capture_replay_schedule_gives_the_same_results(data, tiny_job, tiny_reference,
                                                               monkeypatch):
    """The graph path's bookkeeping (static index buffer, warm-up, partial batch)."""
    fast = FastEvaluator(data, TINY, batch_size=BATCH, valid_batch_size=8)
    fast.cuda_graph = True
    monkeypatch.setattr(fast, '_capture', lambda step, idx, gen: ReplayOnCPU(step, idx))
    ReplayOnCPU.captures.clear()
    out = fast.evaluate(tiny_job)
    # training: 3 full batches (capture after 1 warm-up), validation: 3 batches of 8
    assert ReplayOnCPU.captures == [16, 8]
    assert_same(tiny_reference, out)


def test_failed_capture_falls_back_to_eager_with_one_log_line(data, tiny_job, tiny_reference,
                                                              caplog):
    fast = FastEvaluator(data, TINY, batch_size=BATCH)
    fast.cuda_graph = True  # on the CPU, capture fails: no CUDA graphs here
    with caplog.at_level(logging.WARNING, logger='relnas_mm'):
        out = fast.evaluate(tiny_job)
        again = fast.evaluate(tiny_job)
    lines = [r for r in caplog.records if 'capture failed' in r.getMessage()]
    assert len(lines) == 1 and not fast.cuda_graph
    assert_same(tiny_reference, out)
    assert_same(tiny_reference, again)


def test_cuda_graph_on_cpu_is_logged_and_eager(data, caplog):
    with caplog.at_level(logging.INFO, logger='relnas_mm'):
        fast = FastEvaluator(data, dict(channels=4, num_cells=3), batch_size=BATCH)
    assert not fast.cuda_graph
    assert any('CUDA graphs need a CUDA device' in r.getMessage() for r in caplog.records)


def test_other_kernels_give_close_results(data, tiny_job, tiny_reference):
    """Loop and fused SGD, PyTorch's native batch norm: same maths, other kernels."""
    for options in (dict(sgd='loop'), dict(sgd='fused', norm='native')):
        out = FastEvaluator(data, TINY, batch_size=BATCH, **options).evaluate(tiny_job)
        assert_same(tiny_reference, out)


def test_channels_last_runs_and_stays_close_at_first(data, tiny_job):
    """Channels-last changes rounding only: one step matches closely, no more promised."""
    small = split_search_data(data.train_images[:16].permute(0, 2, 3, 1).numpy(),
                              data.train_labels[:16].numpy(), seed=0)  # 8 + 8 images
    ref = EagerEvaluator(small, TINY, batch_size=BATCH).evaluate(tiny_job)
    out = FastEvaluator(small, TINY, batch_size=BATCH, channels_last=True).evaluate(tiny_job)
    assert out.loss == pytest.approx(ref.loss, rel=1e-4)
    assert out.train_loss == pytest.approx(ref.train_loss, rel=1e-5)
    stride = out.state['stem.0.weight'].stride()
    assert stride == ref.state['stem.0.weight'].stride()  # results in the usual layout


def test_validation_augmentation_switch_matches(data, tiny_job, tiny_reference):
    ref = EagerEvaluator(data, TINY, batch_size=BATCH, augment_valid=True).evaluate(tiny_job)
    out = FastEvaluator(data, TINY, batch_size=BATCH, augment_valid=True).evaluate(tiny_job)
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
    job = CandidateJob(index=0, genotype=tiny_job.genotype, weights=broken, lr=0.1,
                       drop_prob=0.0, seed=1)
    out = FastEvaluator(data, TINY, batch_size=32).evaluate(job)
    assert not out.finite and math.isnan(out.loss)
