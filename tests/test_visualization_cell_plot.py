"""Cell pictures: files written, op names in the SVG, and a legible layout."""
import itertools
import json
import re
from collections import Counter

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.patches import Circle

from relnas_mm.space import GENOTYPES, decode, random_population
from relnas_mm.space.genotype import genotype_to_dict
from relnas_mm.visualization import draw_cell, plot_cell, plot_genotype
from relnas_mm.visualization.cell_plot import NODE_RADIUS, layout_cell

PNG_MAGIC = b'\x89PNG\r\n\x1a\n'


def _svg_labels(path):
    """The texts of the SVG that are operation names, counted."""
    with open(path) as f:
        texts = re.findall(r'<text[^>]*>([^<]+)</text>', f.read())
    return Counter(t.strip() for t in texts if '_' in t)


def test_plot_cell_writes_png_and_svg_with_every_op_label(tmp_path):
    genotype = GENOTYPES['RelativeNAS']
    paths = plot_cell(genotype, 'normal', str(tmp_path / 'normal'))
    assert paths == [str(tmp_path / 'normal.png'), str(tmp_path / 'normal.svg')]
    with open(paths[0], 'rb') as f:
        assert f.read(8) == PNG_MAGIC
    assert all((tmp_path / p).stat().st_size > 1000 for p in paths)
    assert _svg_labels(paths[1]) == Counter(op for op, _ in genotype.normal)


def test_plot_genotype_writes_both_cells(tmp_path):
    genotype = GENOTYPES['DARTS_V2']
    paths = plot_genotype(genotype, str(tmp_path / 'cells'), prefix='best_')
    assert paths == [
        str(tmp_path / 'cells' / f'best_{w}.{e}') for w in ('normal', 'reduce')
        for e in ('png', 'svg')
    ]
    assert _svg_labels(paths[3]) == Counter(op for op, _ in genotype.reduce)


def test_accepts_names_and_json_files_and_single_formats(tmp_path):
    path = tmp_path / 'g.json'
    path.write_text(json.dumps(genotype_to_dict(GENOTYPES['PC_DARTS'])))
    assert plot_cell(str(path), 'reduce', str(tmp_path / 'r.svg')) == [str(tmp_path / 'r.svg')]
    assert _svg_labels(tmp_path / 'r.svg') == Counter(op for op, _ in GENOTYPES['PC_DARTS'].reduce)
    assert plot_cell('RelativeNAS', 'normal', str(tmp_path / 'n'),
                     formats=('pdf', )) == [str(tmp_path / 'n.pdf')]


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match='which must be'):
        plot_cell('RelativeNAS', 'reduction', str(tmp_path / 'x'))
    with pytest.raises(ValueError, match='unsupported picture format'):
        plot_cell('RelativeNAS', 'normal', str(tmp_path / 'x'), formats=('bmp', ))


def _genotypes():
    rng = np.random.default_rng(0)
    return list(GENOTYPES.values()) + [decode(v) for v in random_population(6, rng)]


@pytest.mark.parametrize('index', range(len(_genotypes())))
def test_layout_keeps_edges_off_other_nodes_and_twins_apart(index):
    genotype = _genotypes()[index]
    for which in ('normal', 'reduce'):
        pos, edges, routes = layout_cell(genotype, which)
        assert len(edges) == 8 + 4  # one per (node, slot), plus the concatenation
        for (src, dst, _), route in zip(edges, routes):
            others = np.array([p for k, p in pos.items() if k not in (src, dst)])
            gap = np.linalg.norm(route.curve[:, None] - others[None], axis=2).min()
            assert gap > NODE_RADIUS, f'{which}: edge {src}->{dst} crosses a node'
        twins = {}
        for (src, dst, _), route in zip(edges, routes):
            twins.setdefault((src, dst), []).append(route.rad)
        assert all(len(set(rads)) == len(rads) for rads in twins.values())


@pytest.mark.parametrize('name', sorted(GENOTYPES))
def test_rendered_labels_overlap_neither_each_other_nor_nodes(name):
    for which in ('normal', 'reduce'):
        fig = draw_cell(name, which)
        FigureCanvasAgg(fig).draw()
        renderer = fig.canvas.get_renderer()
        ax = fig.axes[0]
        labels = [
            t.get_bbox_patch().get_window_extent(renderer) for t in ax.texts
            if t.get_bbox_patch() is not None
        ]
        nodes = [p.get_window_extent(renderer) for p in ax.patches if isinstance(p, Circle)]
        assert len(labels) == 8 and len(nodes) == 7
        assert not any(a.overlaps(b) for a, b in itertools.combinations(labels, 2))
        assert not any(a.overlaps(n) for a in labels for n in nodes)
        assert all(
            fig.bbox.contains(b.x0, b.y0) and fig.bbox.contains(b.x1, b.y1) for b in labels + nodes)
