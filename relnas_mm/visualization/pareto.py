"""The search under a budget in one picture: every candidate, the Pareto front, the budget.

Plain matplotlib (no pyplot, no mmengine). ``candidates`` are the entries of
``relnas_mm.search.budget.candidates`` (validation loss and cost per evaluated
candidate) and ``front`` the indices of the non-dominated ones.
"""
import math
from typing import Any, List, Mapping, Optional, Sequence

from matplotlib.figure import Figure

from .cell_plot import save_figure

#: Costs are drawn in these units (FLOPs in millions, parameters in millions).
SCALES = {
    'flops': (1e-6, 'FLOPs (M, get_flops rule)'),
    'multadds': (1e-6, 'multiply-adds (M, conv + linear)'),
    'params': (1e-6, 'parameters (M)'),
    'latency': (1.0, 'latency (ms)')
}


def draw_pareto(candidates: Sequence[Mapping[str, Any]], front: Sequence[int], metric: str,
                limit: Optional[float] = None, title: str = '') -> Figure:
    """Cost on x, validation loss on y: candidates in grey, the front as a red staircase.

    The loss axis is logarithmic when the losses span more than a factor of 10 (the
    first generations of a search can be far worse than the front).
    """
    if metric not in SCALES:
        raise ValueError(f'metric must be one of {sorted(SCALES)}, got {metric!r}')
    scale, label = SCALES[metric]
    usable = [c for c in candidates if c['val_loss'] is not None and math.isfinite(c['val_loss'])]
    if not usable:
        raise ValueError('no candidate with a finite validation loss: nothing to plot')
    fig = Figure(figsize=(7.0, 4.6))
    ax = fig.subplots()
    ax.scatter([c['cost'] * scale for c in usable], [c['val_loss'] for c in usable], s=14,
               color='#9e9e9e', alpha=0.6, label=f'evaluated candidates ({len(usable)})', zorder=2)
    points = [candidates[i] for i in front]
    ax.step([c['cost'] * scale for c in points], [c['val_loss'] for c in points], where='post',
            color='#d62728', linewidth=1.2, zorder=3)
    ax.scatter([c['cost'] * scale for c in points], [c['val_loss'] for c in points], s=30,
               color='#d62728', edgecolor='black', linewidth=0.5, zorder=4,
               label=f'Pareto front ({len(points)})')
    if limit is not None:
        ax.axvline(limit * scale, color='#1f77b4', linestyle='--', linewidth=1.2,
                   label=f'budget ({limit * scale:g})', zorder=1)
    losses = [c['val_loss'] for c in usable]
    if min(losses) > 0 and max(losses) > 10 * min(losses):
        ax.set_yscale('log')
    ax.set_xlabel(label)
    ax.set_ylabel('validation loss')
    ax.set_title(title or 'RelativeNAS search under a budget')
    ax.grid(True, alpha=0.3)
    ax.legend(loc='best', frameon=True, framealpha=0.85)
    fig.tight_layout()
    return fig


def plot_pareto(candidates: Sequence[Mapping[str, Any]], front: Sequence[int], metric: str,
                path: str, limit: Optional[float] = None, title: str = '',
                formats: Sequence[str] = ('png', )) -> List[str]:
    """Draw :func:`draw_pareto` and save it (``path`` with or without an extension)."""
    return save_figure(draw_pareto(candidates, front, metric, limit, title), path, formats)
