"""closing_process_group: every tool destroys its process group when its work ends.

A group left alive meets interpreter shutdown, where gloo's threads can abort a
rank after a successful run (SIGABRT, and torchrun fails the job). One-process
gloo groups stand in for torchrun's here.
"""
import sys
from types import SimpleNamespace

import pytest
import torch
import torch.distributed as dist
from fixtures_data import make_cifar_like
from fixtures_tools import load_tool

pytest.importorskip('mmengine')

from relnas_mm.apis import closing_process_group

CIFAR = 'configs/cifar/relnas_cifar10.py'


@pytest.fixture
def make_group(tmp_path):
    """A function that makes a one-process gloo group; the test leaves none behind."""

    def make() -> None:
        dist.init_process_group('gloo', init_method=f"file://{tmp_path / 'store'}", rank=0,
                                world_size=1)

    yield make
    if dist.is_initialized():
        dist.destroy_process_group()
        raise AssertionError('the process group outlived the test')


def test_the_group_is_destroyed_when_the_block_ends(make_group):
    with closing_process_group():
        make_group()
        assert dist.is_initialized()
        dist.barrier()
    assert not dist.is_initialized()


def test_the_group_is_destroyed_when_the_block_fails(make_group):
    with pytest.raises(ValueError, match='boom'):
        with closing_process_group():
            make_group()
            raise ValueError('boom')
    assert not dist.is_initialized()


def test_without_a_group_nothing_happens():
    with closing_process_group():
        pass
    assert not dist.is_initialized()


class _Runner:
    """What the tools use of a runner; records which work it was asked to do."""

    def __init__(self) -> None:
        self.model = torch.nn.Identity()
        self.logger = SimpleNamespace(warning=print)
        self.done = []

    def train(self) -> None:
        self.done.append('train')

    def test(self) -> None:
        self.done.append('test')


@pytest.mark.parametrize('name', ['train', 'test', 'search'])
def test_each_tool_closes_the_group_its_runner_made(name, make_group, tmp_path, monkeypatch):
    root = make_cifar_like(str(tmp_path / 'cifar'), n_train=2, n_test=2)
    checkpoint = tmp_path / 'epoch_1.pth'
    torch.save({}, checkpoint)
    argv = {
        'train': [CIFAR, '--data-root', root],
        'test': [CIFAR, str(checkpoint), '--data-root', root],
        'search': ['configs/search/relnas_cifar.py', '--data-root', root],
    }[name]
    tool = load_tool(name)
    runner = _Runner()

    def build_runner(cfg) -> _Runner:  # as mmengine's Runner does for --launcher pytorch
        make_group()
        return runner

    monkeypatch.setattr(sys, 'argv', [f'{name}.py', *argv, '--work-dir', str(tmp_path / 'w')])
    monkeypatch.setattr(tool, 'build_runner', build_runner)
    if name == 'search':
        monkeypatch.setattr(tool, 'run_search', lambda r: r.done.append('search'))
    tool.main()
    assert runner.done == [name]
    assert not dist.is_initialized()
