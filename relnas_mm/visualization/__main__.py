"""Draw cells and search curves (and the Pareto front of a budgeted search) from the command line.

    python -m relnas_mm.visualization RelativeNAS --out-dir cells/
    python -m relnas_mm.visualization work_dirs/x/best_genotype.json --out-dir work_dirs/x/cells \
        --history work_dirs/x/search_history.json
"""
import argparse
import json
import os
from typing import Any, List, Optional

from .cell_plot import FORMATS, plot_genotype
from .curves import plot_search_curves
from .pareto import plot_pareto


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog='python -m relnas_mm.visualization',
        description='Draw the normal and reduction cells of a '
        'genotype (and optionally the search curves).')
    parser.add_argument(
        'genotype', help='shipped name (RelativeNAS, DARTS_V2, PC_DARTS), '
        'DARTS "Genotype(...)" text, or a genotype JSON file')
    parser.add_argument('--out-dir', default='.', help='folder for the pictures')
    parser.add_argument('--prefix', default='', help='file name prefix')
    parser.add_argument('--formats', nargs='+', default=['png', 'svg'], choices=FORMATS)
    parser.add_argument(
        '--history', help='search_history.json written by the search: '
        'also draw search_curves.png (and pareto.png for a search under a '
        'budget)')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> List[str]:
    args = parse_args(argv)
    paths = plot_genotype(args.genotype, args.out_dir, args.prefix, args.formats)
    if args.history:
        with open(args.history) as f:
            history = json.load(f)
        generations = history.get('generations') if isinstance(history, dict) else history
        if not isinstance(generations, list):
            raise SystemExit(f'{args.history}: expected a list of generations or a dict with '
                             f'"generations"')
        paths += plot_search_curves(generations,
                                    os.path.join(args.out_dir, f'{args.prefix}search_curves'),
                                    args.formats)
        if generations and all('costs' in g for g in generations):
            paths += _plot_final_front(generations, history, args)
    print('\n'.join(paths))
    return paths


def _plot_final_front(generations: List[dict], history: Any, args: argparse.Namespace) -> List[str]:
    """pareto.png of the final generation, as the search draws it without reevaluate
    (the budget line from the history's ``search`` fingerprint, if it names one)."""
    from ..search.budget import candidates, pareto_front
    entries = candidates(generations[-1:])
    metrics = list(entries[0]['costs'])
    front = pareto_front([(e['val_loss'], tuple(e['costs'][m] for m in metrics)) for e in entries])
    search = history.get('search', {}) if isinstance(history, dict) else {}
    limit = search.get('budget.max') or (search.get(f'budget.{metrics[0]}') or [None, None])[1]
    return plot_pareto([dict(e, cost=e['costs'][metrics[0]]) for e in entries], front, metrics[0],
                       os.path.join(args.out_dir, f'{args.prefix}pareto'), limit,
                       'Pareto front of the final generation', formats=args.formats)


if __name__ == '__main__':
    main()
