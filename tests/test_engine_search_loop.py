"""relnas_mm.engine.search_loop.SearchLoop: the generation loop and how it gets its search."""
from types import SimpleNamespace

import pytest

pytest.importorskip('mmengine')

from relnas_mm.engine.search_loop import SearchLoop


class FakeRunner:

    def __init__(self):
        self.calls = []

    def call_hook(self, name):
        self.calls.append(name)


class FakeSearch:
    """Stands in for RelativeNASSearchHook: three generations, then finished."""

    def __init__(self):
        self.algorithm = SimpleNamespace(generation=0, generations=3)

    @property
    def finished(self):
        return self.algorithm.generation == self.algorithm.generations

    def run_generation(self, runner):
        runner.calls.append('generation')
        self.algorithm.generation += 1


def test_runs_the_attached_search_generation_by_generation():
    runner, search = FakeRunner(), FakeSearch()
    loop = SearchLoop(runner)
    assert (loop.epoch, loop.max_epochs) == (0, 0)
    loop.attach(search)
    loop.attach(search)  # the same hook again (a second before_run) is harmless
    assert loop.run() is search.algorithm
    epoch = ['before_train_epoch', 'generation', 'after_train_epoch']
    assert runner.calls == ['before_train'] + 3 * epoch + ['after_train']
    assert (loop.epoch, loop.max_epochs) == (3, 3)


def test_a_resumed_search_runs_only_the_generations_left():
    runner, search = FakeRunner(), FakeSearch()
    search.algorithm.generation = 2
    loop = SearchLoop(runner)
    loop.attach(search)
    loop.run()
    assert runner.calls.count('generation') == 1


def test_without_a_search_or_with_two_it_says_what_to_configure():
    loop = SearchLoop(FakeRunner())
    with pytest.raises(RuntimeError, match='add dict\\(type="relnas_mm.RelativeNASSearchHook"\\)'):
        loop.run()
    loop.attach(FakeSearch())
    with pytest.raises(RuntimeError, match='keep one in custom_hooks'):
        loop.attach(FakeSearch())
