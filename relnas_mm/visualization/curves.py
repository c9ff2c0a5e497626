"""Search progress over generations: best and mean validation loss, best accuracy.

Plain matplotlib (no pyplot, no mmengine). The history is what the search records per
generation (``GenerationRecord.to_dict()``); a non-finite value is stored as None and
shows as a gap.
"""
import math
from typing import Any, List, Mapping, Optional, Sequence

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
