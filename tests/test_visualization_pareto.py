"""The Pareto picture: grey candidates, the front on top, the budget line, bad input named."""
import json
import os

import numpy as np
import pytest

from relnas_mm.search.budget import pareto_front
from relnas_mm.visualization import draw_pareto, plot_pareto


def _candidates():
    points = [(2.0, 300e6), (1.5, 450e6), (1.8, 350e6), (None, 200e6), (1.6, 500e6), (1.2, 700e6)]
    return [dict(val_loss=loss, cost=cost) for loss, cost in points]


def test_candidates_front_and_budget_are_drawn():
    entries = _candidates()
    front = pareto_front([(e['val_loss'], e['cost']) for e in entries])
    assert front == [0, 2, 1, 5]
    ax = draw_pareto(entries, front, 'flops', limit=600e6).axes[0]
    grey, red = ax.collections
    np.testing.assert_allclose(grey.get_offsets()[:, 0], [300, 450, 350, 500, 700])
    np.testing.assert_allclose(red.get_offsets(), [[300, 2.0], [350, 1.8], [450, 1.5], [700, 1.2]])
    staircase, budget = ax.get_lines()
    np.testing.assert_allclose(staircase.get_xdata(), [300, 350, 450, 700])
    assert list(budget.get_xdata()) == [600, 600]
    assert 'FLOPs' in ax.get_xlabel() and 'loss' in ax.get_ylabel()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ['evaluated candidates (5)', 'Pareto front (4)', 'budget (600)']


def test_latency_in_milliseconds_and_files_written(tmp_path):
    entries = [dict(val_loss=1.0, cost=12.5), dict(val_loss=0.9, cost=20.0)]
    ax = draw_pareto(entries, [0, 1], 'latency').axes[0]
    assert ax.get_xlabel() == 'latency (ms)' and len(ax.get_lines()) == 1  # no budget line
    path = str(tmp_path / 'pareto.png')
    assert plot_pareto(entries, [0, 1], 'latency', path, limit=15.0) == [path]
    with open(path, 'rb') as f:
        assert f.read(4) == b'\x89PNG'


def test_bad_input_is_named():
    with pytest.raises(ValueError, match='metric must be one of'):
        draw_pareto(_candidates(), [0], 'energy')
    with pytest.raises(ValueError, match='no candidate with a finite validation loss'):
        draw_pareto([dict(val_loss=None, cost=1.0)], [], 'flops')


def test_loss_axis_is_logarithmic_only_for_a_wide_range():
    entries = _candidates()
    assert draw_pareto(entries, [0], 'flops').axes[0].get_yscale() == 'linear'
    entries.append(dict(val_loss=150.0, cost=100e6))  # a diverged early candidate
    assert draw_pareto(entries, [0], 'flops').axes[0].get_yscale() == 'log'


def test_command_line_redraws_the_front_from_a_budgeted_history(tmp_path):
    from relnas_mm.visualization.__main__ import main
    genotype = "Genotype(normal=[('sep_conv_3x3', 0)] * 8, normal_concat=[2, 3, 4, 5], " \
               "reduce=[('max_pool_3x3', 1)] * 8, reduce_concat=[2, 3, 4, 5])"
    record = dict(generation=0, best_loss=1.0, mean_loss=1.5, genotypes=[genotype] * 3,
                  losses=[1.0, 2.0, 0.5], accs=[0.5, 0.4, 0.6], costs=dict(params=[1e6, 2e6, 3e6]),
                  feasible=[True, True, False])
    history = tmp_path / 'search_history.json'
    for search, limit in [({
            'budget.metric': 'params',
            'budget.max': 2.5e6
    }, 2.5e6), ({
            'budget.params': [None, 2e6]
    }, 2e6), ({}, None)]:
        history.write_text(json.dumps(dict(search=search, generations=[record])))
        drawn = []
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr('relnas_mm.visualization.__main__.plot_pareto',
                          lambda *args, **kwargs: drawn.append(args) or [])
            main([
                'DARTS_V2', '--out-dir',
                str(tmp_path), '--formats', 'png', '--history',
                str(history)
            ])
        entries, front, metric, _, drawn_limit, _ = drawn[0]
        assert metric == 'params' and drawn_limit == limit and front == [0, 2]
        assert [e['cost'] for e in entries] == [1e6, 2e6, 3e6]
    paths = main(
        ['DARTS_V2', '--out-dir',
         str(tmp_path), '--formats', 'png', '--history',
         str(history)])
    assert paths[-1] == str(tmp_path / 'pareto.png') and os.path.getsize(paths[-1]) > 1000
