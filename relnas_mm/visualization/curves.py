"""Search progress over generations: best and mean validation loss, best accuracy.

Plain matplotlib (no pyplot, no mmengine). The history is what the search records per
generation (``GenerationRecord.to_dict()``); a non-finite value is stored as None and
shows as a gap. An outlying loss (an early generation's untrained mean) does not set
the loss axis: it is marked on the top edge with its value.
"""
import math
from typing import Any, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .cell_plot import save_figure


def _column(history: Sequence[Mapping[str, Any]], key: str) -> np.ndarray:
    values = []
    for i, entry in enumerate(history):
        if key not in entry:
            raise ValueError(f'history[{i}] lacks key {key!r} (has {sorted(entry)})')
        value = entry[key]
        if value is not None and not isinstance(value, (int, float)):
            raise ValueError(f'history[{i}][{key!r}] must be a number or None, got {value!r}')
        values.append(math.nan if value is None else float(value))
    return np.array(values)


def _accuracy(history: Sequence[Mapping[str, Any]]) -> Optional[np.ndarray]:
    """Best accuracy per generation in percent, or None when the history has none."""
    if not all('best_acc' in entry for entry in history):
        return None
    acc = _column(history, 'best_acc')
    bad = np.flatnonzero((acc < 0) | (acc > 1))
    if bad.size:
        raise ValueError(f'history[{bad[0]}]["best_acc"] = {acc[bad[0]]}: expected a fraction '
                         f'in [0, 1]')
    return 100.0 * acc


#: a loss above the upper quartile by more than this many interquartile ranges (at
#: least 10% of that quartile) is an outlier: the axis stops below it
OUTLIER_SPREAD = 3.0


def loss_axis_top(losses: np.ndarray) -> Optional[float]:
    """The largest loss that is not an outlier, or None when none is (the axis then
    shows every value). One early mean loss of 254 next to 2.3 would otherwise flatten
    every later generation to a line at the bottom."""
    finite = losses[np.isfinite(losses)]
    if finite.size == 0:
        return None
    q25, q75 = np.percentile(finite, [25, 75])
    fence = q75 + OUTLIER_SPREAD * max(q75 - q25, 0.1 * abs(q75))
    if finite.max() <= fence:
        return None
    return float(finite[finite <= fence].max())


def _mark_clipped(ax: Any, gens: np.ndarray, series: Sequence[Tuple[np.ndarray, str]],
                  top: float) -> None:
    """Stop the loss axis just above ``top``; each loss beyond it is a triangle on the
    top edge with its value written beside it."""
    low = float(np.nanmin(np.concatenate([values for values, _ in series])))
    edge = top + 0.1 * max(top - low, 1e-3 * max(abs(top), 1.0))
    ax.set_ylim(low - 0.05 * (edge - low), edge)
    label = 'off the scale (value beside it)'
    for values, color in series:
        above = np.flatnonzero(np.nan_to_num(values, nan=-np.inf) > edge)
        if above.size == 0:
            continue
        ax.plot(gens[above], np.full(above.size, edge), linestyle='none', marker='^', markersize=7,
                color=color, clip_on=False, label=label)
        label = None  # one legend entry for every series
        for i in above:
            ax.annotate(f'{values[i]:.4g}', (gens[i], edge), textcoords='offset points',
                        xytext=(6, -12), color=color, fontsize=8)


def draw_search_curves(history: Sequence[Mapping[str, Any]]) -> Figure:
    """Loss panel (best and mean) above an accuracy panel (when ``best_acc`` is recorded)."""
    if not history:
        raise ValueError('the search history is empty: nothing to plot')
    gens = _column(history, 'generation')
    best, mean = _column(history, 'best_loss'), _column(history, 'mean_loss')
    acc = _accuracy(history)
    panels = 1 if acc is None else 2
    fig = Figure(figsize=(7.0, 2.2 + 2.3 * panels))
    axes = fig.subplots(panels, 1, sharex=True, squeeze=False)[:, 0]
    marker = 'o' if len(gens) <= 60 else None
    axes[0].plot(gens, best, marker=marker, markersize=3, color='#d62728',
                 label='best validation loss')
    axes[0].plot(gens, mean, marker=marker, markersize=3, color='#1f77b4', linestyle='--',
                 label='mean validation loss')
    axes[0].set_ylabel('validation loss')
    top = loss_axis_top(np.concatenate([best, mean]))
    if top is not None:
        _mark_clipped(axes[0], gens, [(best, '#d62728'), (mean, '#1f77b4')], top)
    axes[0].legend(loc='best', frameon=True, framealpha=0.85)
    axes[0].set_title('RelativeNAS search: population per generation')
    if acc is not None:
        axes[1].plot(gens, acc, marker=marker, markersize=3, color='#2ca02c',
                     label='best validation accuracy')
        axes[1].set_ylabel('accuracy (%)')
        axes[1].legend(loc='best', frameon=True, framealpha=0.85)
    for ax in axes:
        ax.grid(True, alpha=0.3)
    axes[-1].set_xlabel('generation')
    axes[-1].xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    return fig


def plot_search_curves(history: Sequence[Mapping[str, Any]], path: str,
                       formats: Sequence[str] = ('png', )) -> List[str]:
    """Plot the search progress and save it; return the written paths.

    ``history`` holds one dict per generation with ``generation``, ``best_loss``,
    ``mean_loss`` and optionally ``best_acc`` (a fraction). ``path`` with an
    extension (``search_curves.png``) is written as given; without one, once per format.
    """
    return save_figure(draw_search_curves(history), path, formats)
