"""Pictures of the search results: DARTS-style cells, the search curves, the Pareto front
(matplotlib only)."""
from .cell_plot import OP_COLORS, draw_cell, layout_cell, plot_cell, plot_genotype, save_figure
from .curves import draw_search_curves, plot_search_curves
from .pareto import draw_pareto, plot_pareto

__all__ = ['OP_COLORS', 'draw_cell', 'layout_cell', 'plot_cell', 'plot_genotype', 'save_figure',
           'draw_search_curves', 'plot_search_curves', 'draw_pareto', 'plot_pareto']
