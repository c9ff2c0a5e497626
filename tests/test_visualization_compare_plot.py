"""relnas_mm.visualization.compare_plot: accuracy vs parameters of a cell comparison."""
import numpy as np
import pytest

from relnas_mm.analysis.compare import summarize
from relnas_mm.visualization.compare_plot import draw_comparison, plot_comparison


def _summary():
    table = {
        'searched': (2.0e6, [80.0, 84.0]),
        'random_00': (1.0e6, [70.0, 72.0]),
        'random_01': (3.0e6, [75.0, 79.0]),
        'random_02': (1.5e6, [60.0, 61.0])
    }
    cells = [
        dict(name=n, kind='named' if n == 'searched' else 'random', params=p, flops=1)
        for n, (p, _) in table.items()
    ]
    runs = [
        dict(cell=n, seed=s, top1=a) for n, (_, accs) in table.items() for s, a in enumerate(accs)
    ]
    return summarize(cells, runs, bootstrap=100)


def test_cells_sit_at_their_size_and_mean_with_the_seed_range():
    fig = draw_comparison(_summary())
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ['median of random cells', 'random cells (3)', 'searched']
    random, named = ax.containers  # one errorbar container each
    np.testing.assert_allclose(random.lines[0].get_xydata(),
                               [[1.0, 71.0], [3.0, 77.0], [1.5, 60.5]])
    np.testing.assert_allclose(named.lines[0].get_xydata(), [[2.0, 82.0]])
    bar = named.lines[2][0].get_segments()[0]  # the seed range of the searched cell
    np.testing.assert_allclose(bar, [[2.0, 80.0], [2.0, 84.0]])


def test_saved_as_png(tmp_path):
    paths = plot_comparison(_summary(), str(tmp_path / 'out' / 'compare.png'))
    assert paths == [str(tmp_path / 'out' / 'compare.png')]
    with open(paths[0], 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_nothing_to_plot_is_a_clear_error():
    with pytest.raises(ValueError, match='no finished run'):
        draw_comparison(dict(cells=[], random={}, named=[]))
