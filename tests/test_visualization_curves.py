"""Search curves: the plotted values are the history's, files are written, bad input named."""
import numpy as np
import pytest

from relnas_mm.visualization import draw_search_curves, plot_search_curves


def _history(n=6, with_acc=True):
    history = []
    for g in range(n):
        entry = dict(generation=g, best_loss=2.0 - 0.2 * g, mean_loss=2.5 - 0.2 * g, lr=0.1)
        if with_acc:
            entry['best_acc'] = 0.1 + 0.1 * g
        history.append(entry)
    return history


def test_plots_best_and_mean_loss_and_accuracy():
    history = _history()
    history[2]['mean_loss'] = None  # a non-finite mean (a NaN candidate) is a gap
    fig = draw_search_curves(history)
    loss_ax, acc_ax = fig.axes
    best, mean = loss_ax.get_lines()
    np.testing.assert_allclose(best.get_xdata(), range(6))
    np.testing.assert_allclose(best.get_ydata(), [2.0 - 0.2 * g for g in range(6)])
    assert np.isnan(mean.get_ydata()[2]) and mean.get_ydata()[3] == pytest.approx(1.9)
    np.testing.assert_allclose(acc_ax.get_lines()[0].get_ydata(), [10 + 10 * g for g in range(6)])
    assert 'loss' in loss_ax.get_ylabel() and '%' in acc_ax.get_ylabel()


def test_without_accuracy_there_is_one_panel():
    assert len(draw_search_curves(_history(with_acc=False)).axes) == 1


def test_writes_the_files_asked_for(tmp_path):
    path = str(tmp_path / 'search_curves.png')
    assert plot_search_curves(_history(), path) == [path]
    with open(path, 'rb') as f:
        assert f.read(4) == b'\x89PNG'
    paths = plot_search_curves(_history(), str(tmp_path / 'curves'), formats=('png', 'svg'))
    assert paths == [str(tmp_path / 'curves.png'), str(tmp_path / 'curves.svg')]
    assert 'validation loss' in (tmp_path / 'curves.svg').read_text()


@pytest.mark.parametrize('history, message', [
    ([], 'empty'),
    ([dict(generation=0, best_loss=1.0)], r"history\[0\] lacks key 'mean_loss'"),
    ([dict(generation=0, best_loss='x', mean_loss=1.0)], r"history\[0\]\['best_loss'\] must be"),
    ([dict(generation=0, best_loss=1.0, mean_loss=1.0, best_acc=93.0)
      ], r'best_acc.*expected a fraction'),
])
def test_bad_history_is_refused(tmp_path, history, message):
    with pytest.raises(ValueError, match=message):
        plot_search_curves(history, str(tmp_path / 'c.png'))


def test_one_outlier_is_marked_and_the_rest_stays_readable():
    """The demo's first mean loss of 254 must not flatten the later generations."""
    history = _history()
    history[0]['mean_loss'] = 254.0
    loss_ax, acc_ax = draw_search_curves(history).axes
    low, high = loss_ax.get_ylim()
    assert low <= 1.0 and 2.3 <= high < 3.0  # every other loss (1.0..2.3) fills the panel
    assert min(ax.get_position().height for ax in (loss_ax, acc_ax)) > 0.3  # layout intact
    marked = [line for line in loss_ax.get_lines() if line.get_marker() == '^']
    assert len(marked) == 1 and list(marked[0].get_xdata()) == [0]
    assert [t.get_text() for t in loss_ax.texts] == ['254']
    assert 'off the scale (value beside it)' in [t.get_text() for t in loss_ax.get_legend().texts]


def test_without_an_outlier_the_axis_shows_every_value():
    loss_ax = draw_search_curves(_history()).axes[0]
    assert len(loss_ax.get_lines()) == 2 and not loss_ax.texts
    low, high = loss_ax.get_ylim()
    assert low <= 1.0 and high >= 2.5
