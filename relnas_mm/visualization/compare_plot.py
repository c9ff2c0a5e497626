"""Test accuracy against parameters: random cells in grey, the named cells highlighted.

Draws the summary of ``relnas_mm.analysis.summarize``: each cell at its mean over
seeds, with a vertical bar over its seeds' range, so that both the size confounder
(x) and the seed noise (bar) are visible next to the searched cells. Plain matplotlib.
"""
from typing import Any, List, Mapping, Sequence

from matplotlib.figure import Figure

from .cell_plot import save_figure

NAMED_COLORS = ('#d62728', '#1f77b4', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2')


def draw_comparison(summary: Mapping[str, Any], title: str = '') -> Figure:
    """The accuracy-vs-parameters figure of a comparison summary."""
    rows = summary['cells']
    if not rows:
        raise ValueError('the comparison has no finished run: nothing to plot')
    fig = Figure(figsize=(7.0, 4.6))
    ax = fig.subplots()
    random = [r for r in rows if r['kind'] == 'random']
    if random:
        ax.errorbar([r['params'] / 1e6 for r in random], [r['mean'] for r in random],
                    yerr=_spread(random), fmt='o', color='#8c8c8c', ecolor='#c4c4c4', markersize=5,
                    capsize=2, label=f'random cells ({len(random)})')
        ax.axhline(summary['random']['median'], color='#8c8c8c', linestyle=':', linewidth=1,
                   label='median of random cells')
    for i, r in enumerate(x for x in rows if x['kind'] == 'named'):
        color = NAMED_COLORS[i % len(NAMED_COLORS)]
        ax.errorbar([r['params'] / 1e6], [r['mean']], yerr=_spread([r]), fmt='*', color=color,
                    markersize=13, capsize=3, label=r['name'], zorder=3)
    ax.set_xlabel('parameters (M)')
    ax.set_ylabel('test top-1 accuracy (%), mean over seeds')
    ax.set_title(title or 'Named cells vs random cells (bars: range over seeds)')
    ax.grid(True, alpha=0.3)
    ax.legend(loc='best', fontsize=8, framealpha=0.85)
    fig.tight_layout()
    return fig


def _spread(rows: Sequence[Mapping[str, Any]]) -> List[List[float]]:
    """Error bars from each cell's mean down to its worst and up to its best seed."""
    return [[r['mean'] - r['min'] for r in rows], [r['max'] - r['mean'] for r in rows]]


def plot_comparison(summary: Mapping[str, Any], path: str, title: str = '') -> List[str]:
    """Draw and save the figure (``path`` with its extension, e.g. ``compare.png``)."""
    return save_figure(draw_comparison(summary, title), path)
