"""relnas_mm.engine.drop_path_hook.DropPathRampHook: the linear drop-path ramp."""
from types import SimpleNamespace

import pytest

import relnas_mm  # noqa: F401
from relnas_mm.engine.drop_path_hook import DropPathRampHook
from relnas_mm.models.classifiers import cifar_network
from relnas_mm.registry import HOOKS


def runner_at(model, epoch, max_epochs=10):
    return SimpleNamespace(model=model, epoch=epoch, max_epochs=max_epochs)


def test_ramps_from_zero_to_the_backbone_rate():
    model = cifar_network(channels=4, num_cells=3, num_classes=2, drop_path_rate=0.3)
    hook = HOOKS.build(dict(type='relnas_mm.DropPathRampHook'))
    seen = []
    for epoch in range(10):
        hook.before_train_epoch(runner_at(model, epoch))
        seen.append(model.backbone.drop_path_prob)
    assert seen[0] == 0.0
    assert seen == pytest.approx([0.3 * e / 10 for e in range(10)])


def test_explicit_rate_and_errors():
    model = cifar_network(channels=4, num_cells=3, num_classes=2)
    DropPathRampHook(rate=0.2).before_train_epoch(runner_at(model, 5))
    assert model.backbone.drop_path_prob == pytest.approx(0.1)
    with pytest.raises(ValueError, match='rate'):
        DropPathRampHook(rate=1.5)
    with pytest.raises(AttributeError, match='drop_path_prob'):
        DropPathRampHook().before_train_epoch(runner_at(SimpleNamespace(), 1))
