"""Candidate evaluation: data split, one training epoch from the weight set, validation."""
import math

import numpy as np
import pytest
import torch

from relnas_mm.models.supernet import SuperNet, op_module_of
from relnas_mm.search.evaluator import CandidateJob, EagerEvaluator, SearchData, split_search_data
from relnas_mm.space.genotype import make_genotype

CFG = dict(channels=4, num_cells=3, num_classes=2)


def learnable_images(n, seed):
    """Class 1 images are much redder than class 0 ones: easy to learn, NHWC uint8."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    images = rng.integers(0, 90, (n, 32, 32, 3))
    images[labels == 1, :, :, 0] += 150
    return images.astype(np.uint8), labels


NORMAL = [('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('skip_connect', 0), ('max_pool_3x3', 2),
          ('avg_pool_3x3', 3), ('dil_conv_3x3', 1), ('skip_connect', 4), ('sep_conv_5x5', 0)]
REDUCE = [('dil_conv_5x5', 0), ('max_pool_3x3', 1), ('skip_connect', 0), ('sep_conv_3x3', 2),
          ('avg_pool_3x3', 1), ('dil_conv_3x3', 3), ('skip_connect', 2), ('sep_conv_5x5', 4)]
GENOTYPE = make_genotype(NORMAL, REDUCE)


@pytest.fixture(scope='module')
def data():
    images, labels = learnable_images(64, 0)
    return split_search_data(images, labels, seed=0)


@pytest.fixture(scope='module')
def weights():
    torch.manual_seed(0)
    return SuperNet(**CFG).state_dict()


def _job(weights, seed=1, lr=0.1, drop_prob=0.2):
    return CandidateJob(index=3, genotype=GENOTYPE, weights=weights, lr=lr, drop_prob=drop_prob,
                        seed=seed)


def test_split_is_seeded_disjoint_and_complete():
    images, labels = learnable_images(20, 1)
    images[:, 0, 0, :] = np.arange(20)[:, None]  # tag each image by its first pixel
    a = split_search_data(images, labels, seed=4)
    b = split_search_data(images, labels, seed=4)
    c = split_search_data(images, labels, seed=5)
    assert torch.equal(a.train_images, b.train_images)
    assert not torch.equal(a.train_images, c.train_images)
    tags = torch.cat([a.train_images[:, 0, 0, 0], a.valid_images[:, 0, 0, 0]]).tolist()
    assert sorted(tags) == list(range(20)) and a.train_images.shape[0] == 10
    # NHWC in, NCHW out, labels follow their images
    assert a.train_images.shape[1:] == (3, 32, 32)
    tag = int(a.train_images[0, 0, 0, 0])
    assert torch.equal(a.train_images[0], torch.from_numpy(images[tag]).permute(2, 0, 1))
    assert int(a.train_labels[0]) == labels[tag]
    nchw = split_search_data(images.transpose(0, 3, 1, 2), labels, seed=4)
    assert torch.equal(nchw.train_images, a.train_images)


def test_split_by_group_keeps_each_group_on_one_side():
    images, labels = learnable_images(20, 1)
    groups = np.repeat(np.arange(7), [5, 1, 4, 2, 3, 1, 4])  # 7 source images
    images[:, 0, 0, :] = groups[:, None]  # tag each image by its group
    a = split_search_data(images, labels, seed=4, groups=groups)
    train, valid = ({int(t) for t in d[:, 0, 0, 0]} for d in (a.train_images, a.valid_images))
    assert not train & valid and train | valid == set(range(7))
    assert a.train_images.shape[0] >= 10  # groups are taken until half the images are
    b = split_search_data(images, labels, seed=4, groups=groups)
    assert torch.equal(a.train_images, b.train_images)
    with pytest.raises(
            ValueError, match=r'the 20 images come from 1 source image\(s\); a split '
            r'by source image needs two at least'):
        split_search_data(images, labels, seed=0, groups=np.zeros(20))
    with pytest.raises(ValueError, match=r'groups: expected one per image \(20\)'):
        split_search_data(images, labels, seed=0, groups=groups[:5])


def test_split_rejects_bad_input():
    images, labels = learnable_images(8, 0)
    with pytest.raises(ValueError, match='uint8'):
        split_search_data(images.astype(np.float32), labels, seed=0)
    with pytest.raises(ValueError, match='3 channels'):
        split_search_data(images[..., :2], labels, seed=0)
    with pytest.raises(ValueError, match=r'labels: expected shape \(8,\)'):
        split_search_data(images, labels[:5], seed=0)
    with pytest.raises(ValueError, match='empty half'):
        split_search_data(images, labels, seed=0, train_portion=1.0)
    with pytest.raises(ValueError, match='train_labels: expected int64'):
        SearchData(
            torch.zeros(2, 3, 4, 4, dtype=torch.uint8), torch.zeros(2),
            torch.zeros(2, 3, 4, 4, dtype=torch.uint8), torch.zeros(2, dtype=torch.int64))


def test_labels_outside_num_classes_are_refused(data):
    with pytest.raises(ValueError, match=r'train_labels span 0\.\.1, outside 0\.\.0'):
        EagerEvaluator(data, dict(CFG, num_classes=1))


@pytest.fixture(scope='module')
def evaluator(data):
    return EagerEvaluator(data, CFG, batch_size=8)


@pytest.fixture(scope='module')
def reference(evaluator, weights):
    """One evaluated job that several tests compare against."""
    rng_before = torch.get_rng_state()
    result = evaluator.evaluate(_job(weights, seed=11))
    assert torch.equal(torch.get_rng_state(), rng_before)  # the global RNG is untouched
    return result


def test_same_seed_same_result_other_seed_differs(data, weights, evaluator, reference):
    # a fresh evaluator (its own SuperNet, as in another process) reproduces the job exactly
    again = EagerEvaluator(data, CFG, batch_size=8).evaluate(_job(weights, seed=11))
    other = evaluator.evaluate(_job(weights, seed=12))
    assert again.loss == reference.loss and again.acc == reference.acc
    assert again.train_loss == reference.train_loss
    assert all(torch.equal(again.state[k], reference.state[k]) for k in reference.state)
    assert other.train_loss != reference.train_loss and other.loss != reference.loss
    assert reference.index == 3 and reference.finite
    assert 0.0 <= reference.acc <= 1.0


def test_training_learns_a_learnable_problem(evaluator, weights):
    untrained = evaluator.evaluate(_job(weights, lr=0.0, drop_prob=0.0))
    state = weights
    for seed in range(2):
        result = evaluator.evaluate(_job(state, seed=seed, lr=0.1, drop_prob=0.0))
        state = dict(state, **result.state)  # what it trained, over what it left alone
    assert untrained.loss > 0.6  # about ln 2 before training
    assert result.loss < 0.5 * untrained.loss
    assert result.acc == 1.0


def test_one_epoch_keeps_the_last_partial_batch(weights):
    images, labels = learnable_images(72, 2)
    data = split_search_data(images, labels, seed=0)  # 36 training images
    evaluator = EagerEvaluator(data, CFG, batch_size=16)
    batches = []
    evaluator.model.register_forward_pre_hook(lambda module, args: batches.append(
        (module.training, args[0].shape[0])))
    assert evaluator.num_steps() == 3
    evaluator.evaluate(_job(weights))
    assert [b for train, b in batches if train] == [16, 16, 4]
    assert [b for train, b in batches if not train] == [16, 16, 4]


def test_only_the_candidates_ops_change_and_job_weights_stay(weights, reference):
    torch.manual_seed(0)
    assert all(torch.equal(weights[k], v) for k, v in SuperNet(**CFG).state_dict().items())
    result = reference
    used = set(SuperNet(**CFG).used_modules(GENOTYPE))
    for key, value in result.state.items():
        module = op_module_of(key)
        if module is not None and module not in used:
            assert torch.equal(value, weights[key]), key
    changed = [k for k in result.state if not torch.equal(result.state[k], weights[k])]
    assert 'stem.0.weight' in changed and 'classifier.weight' in changed
    assert 'cells.0.ops.3.0.dw.weight' in changed  # normal node 0: (sep_conv_3x3, 0)
    assert 'stem.1.running_mean' in changed and 'cells.0.ops.3.1.bn.running_var' in changed


def test_validation_augmentation_switch(data, weights, reference):
    authors = EagerEvaluator(data, CFG, batch_size=8,
                             augment_valid=True).evaluate(_job(weights, seed=11))
    assert authors.train_loss == reference.train_loss  # training is the same
    assert authors.loss != reference.loss


def test_non_finite_training_is_flagged(evaluator, weights):
    broken = dict(weights)
    broken['classifier.bias'] = torch.full_like(weights['classifier.bias'], math.nan)
    result = evaluator.evaluate(_job(broken))
    assert not result.finite and math.isnan(result.loss)
