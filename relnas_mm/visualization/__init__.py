"""Pictures of the search results: DARTS-style cells, the search curves, the Pareto front
and cell comparisons (matplotlib only)."""
from .cell_plot import OP_COLORS, draw_cell, layout_cell, plot_cell, plot_genotype, save_figure
from .compare_plot import draw_comparison, plot_comparison
from .curves import draw_search_curves, plot_search_curves
from .pareto import draw_pareto, plot_pareto

__all__ = [
    'OP_COLORS', 'draw_cell', 'layout_cell', 'plot_cell', 'plot_genotype', 'save_figure',
    'draw_comparison', 'plot_comparison', 'draw_search_curves', 'plot_search_curves', 'draw_pareto',
    'plot_pareto'
]
