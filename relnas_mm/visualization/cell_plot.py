"""DARTS-style pictures of a cell with plain matplotlib (no graphviz binary, no mmengine).

Inputs ``c_{k-2}``, ``c_{k-1}`` on the left, intermediate nodes 0..3, the output
``c_{k}`` (the concatenation) on the right; one arrow per (node, slot) pair,
labelled with its operation. Arrows that would cross a node, and duplicate edges
(a node may take the same input twice), are bent: each edge takes the least
curvature that keeps it clear of other nodes and its label clear of other labels.
"""
import os
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
from matplotlib import rc_context
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch

from ..space.genotype import GenotypeLike, get_genotype
from ..space.operations import PRIMITIVES

Point = Tuple[float, float]
Edge = Tuple[object, object, str]  # (source node, target node, op name; '' for concat)

NODE_RADIUS = 0.42
INCH_PER_UNIT = 0.85  # figure scale: data units are the same size in every picture
LABEL_FONTSIZE = 9
OP_COLORS = dict(
    zip(PRIMITIVES, ('#1f77b4', '#17becf', '#7f7f7f', '#d62728', '#ff7f0e', '#2ca02c', '#9467bd')))
NODE_COLORS = {'input': '#cdeccd', 'inner': '#cfe2f3', 'output': '#f6edb0'}
BENDS = (0.0, 0.3, -0.3, 0.6, -0.6, 0.9, -0.9, 1.2, -1.2, 1.6, -1.6)  # mid-curve offsets
LABEL_TS = (0.5, 0.4, 0.6, 0.3, 0.7)
FORMATS = ('png', 'svg', 'pdf')


def _positions(num_nodes: int) -> Dict[object, Point]:
    """Node centres: inputs stacked left, intermediates zig-zag left to right, output right."""
    pos: Dict[object, Point] = {0: (0.0, 1.5), 1: (0.0, -1.5)}
    for j in range(num_nodes):
        pos[2 + j] = (2.8 + 2.3 * j, 1.0 if j % 2 == 0 else -1.0)
    pos['out'] = (2.8 + 2.3 * num_nodes, 0.0)
    return pos


def _bezier(a: Point, b: Point, rad: float, ts: np.ndarray) -> np.ndarray:
    """Points of matplotlib's ``arc3`` curve (valid because the axes have equal aspect)."""
    a, b = np.asarray(a), np.asarray(b)
    mid, d = (a + b) / 2, b - a
    ctrl = mid + rad * np.array([d[1], -d[0]])
    ts = ts[:, None]
    return (1 - ts)**2 * a + 2 * (1 - ts) * ts * ctrl + ts**2 * b


def _label_box(center: np.ndarray, text: str) -> np.ndarray:
    """Approximate (x0, y0, x1, y1) of an edge label (with its frame) in data units."""
    em = LABEL_FONTSIZE / 72 / INCH_PER_UNIT
    half_w, half_h = 0.31 * em * len(text) + 0.6 * em, 0.95 * em  # with a margin
    return np.array(
        [center[0] - half_w, center[1] - half_h, center[0] + half_w, center[1] + half_h])


def _overlap(box: np.ndarray, other: np.ndarray) -> float:
    w = min(box[2], other[2]) - max(box[0], other[0])
    h = min(box[3], other[3]) - max(box[1], other[1])
    return max(w, 0.0) * max(h, 0.0)


class Route(NamedTuple):
    """An edge's curve: matplotlib ``arc3`` curvature, sampled points, label frame or None."""

    rad: float
    curve: np.ndarray
    label_box: Optional[np.ndarray]


def _inside(box: np.ndarray, points: np.ndarray) -> int:
    return int(
        np.sum((points[:, 0] > box[0]) & (points[:, 0] < box[2])
               & (points[:, 1] > box[1]) & (points[:, 1] < box[3])))


def _box_distance(box: np.ndarray, points: np.ndarray) -> float:
    """Smallest distance from any of ``points`` to the rectangle ``box``."""
    dx = np.maximum.reduce([box[0] - points[:, 0], np.zeros(len(points)), points[:, 0] - box[2]])
    dy = np.maximum.reduce([box[1] - points[:, 1], np.zeros(len(points)), points[:, 1] - box[3]])
    return float(np.hypot(dx, dy).min())


class _Router:
    """Greedy edge routing: each edge takes the cheapest bend and label place in turn.

    The costs keep curves off other nodes and off earlier curves, labels off nodes,
    each other and earlier curves, and the picture compact (small bends).
    """

    TS = np.linspace(0.0, 1.0, 41)
    INNER = (TS > 0.15) & (TS < 0.85)  # near their ends, edges of one node must meet

    def __init__(self, pos: Dict[object, Point]) -> None:
        self.pos = pos
        self.centres = np.array(list(pos.values()))
        self.band = max(abs(y) for _, y in pos.values()) + NODE_RADIUS
        self.boxes: List[np.ndarray] = []
        self.drawn = np.empty((0, 2))
        self.bends: Dict[Tuple[object, object], List[float]] = {}

    def _curve_cost(self, curve: np.ndarray, others: np.ndarray, bend: float) -> float:
        gap = np.linalg.norm(curve[:, None] - others[None], axis=2).min()
        close = 0.0
        if len(self.drawn):
            dist = np.linalg.norm(curve[self.INNER][:, None] - self.drawn[None], axis=2).min(1)
            close = float(np.mean(dist < 0.18))
        return (100.0 * max(0.0, 1.5 * NODE_RADIUS - gap) + abs(bend) + 4.0 * close +
                3.0 * max(0.0,
                          np.abs(curve[:, 1]).max() - self.band))

    def _label_cost(self, box: np.ndarray, t: float) -> float:
        near = _box_distance(box, self.centres)
        return (50.0 * sum(_overlap(box, b) for b in self.boxes) + 0.5 * abs(t - 0.5) +
                20.0 * max(0.0, NODE_RADIUS + 0.15 - near) + 0.05 * _inside(box, self.drawn))

    def route(self, src: object, dst: object, text: str) -> Route:
        a, b = self.pos[src], self.pos[dst]
        others = np.array([p for k, p in self.pos.items() if k not in (src, dst)])
        length = float(np.hypot(b[0] - a[0], b[1] - a[1]))
        twins = self.bends.setdefault((src, dst), [])
        best = (np.inf, 0.0, None)
        for bend in BENDS:
            if any(abs(bend - u) < 0.5 for u in twins):
                continue  # a duplicate edge keeps clear of its twin
            rad = 2 * bend / length  # arc3's ``rad`` is relative to the edge length
            curve = _bezier(a, b, rad, self.TS)
            cost = self._curve_cost(curve, others, bend)
            if not text:
                best = min(best, (cost, bend, Route(rad, curve, None)), key=lambda c: c[0])
                continue
            for t in LABEL_TS:
                box = _label_box(_bezier(a, b, rad, np.array([t]))[0], text)
                best = min(best, (cost + self._label_cost(box, t), bend, Route(rad, curve, box)),
                           key=lambda c: c[0])
        _, bend, route = best
        twins.append(bend)
        if route.label_box is not None:
            self.boxes.append(route.label_box)
        self.drawn = np.concatenate([self.drawn, route.curve[self.INNER]])
        return route


def _node_label(key: object) -> str:
    names = {0: '$c_{k-2}$', 1: '$c_{k-1}$', 'out': '$c_{k}$'}
    return names[key] if key in names else str(key - 2)


class CellLayout(NamedTuple):
    """Where everything goes: node centres, edges (ops first, concat last), their routes."""

    positions: Dict[object, Point]
    edges: List[Edge]
    routes: List[Route]


def layout_cell(genotype: GenotypeLike, which: str = 'normal') -> CellLayout:
    """Place the nodes and route the edges of one cell (pure geometry, no drawing)."""
    if which not in ('normal', 'reduce'):
        raise ValueError(f'which must be "normal" or "reduce", got {which!r}')
    genotype = get_genotype(genotype)
    pairs = genotype.normal if which == 'normal' else genotype.reduce
    concat = genotype.normal_concat if which == 'normal' else genotype.reduce_concat
    pos = _positions(len(pairs) // 2)
    edges = [(inp, 2 + k // 2, op) for k, (op, inp) in enumerate(pairs)]
    # Long edges first: they have the fewest good routes.
    edges.sort(key=lambda e: -abs(pos[e[1]][0] - pos[e[0]][0]))
    edges += [(n, 'out', '') for n in concat]
    router = _Router(pos)
    return CellLayout(pos, edges, [router.route(*edge) for edge in edges])


def draw_cell(genotype: GenotypeLike, which: str = 'normal') -> Figure:
    """A matplotlib Figure of one cell (no pyplot, so no global backend state)."""
    pos, edges, routes = layout_cell(genotype, which)
    points = np.concatenate(
        [r.curve for r in routes] +
        [np.array([r.label_box[:2], r.label_box[2:]])
         for r in routes if r.label_box is not None] + [np.array(list(pos.values()))])
    (x0, y0), (x1, y1) = points.min(0) - NODE_RADIUS - 0.15, points.max(0) + NODE_RADIUS + 0.15
    y1 += 0.6  # room for the title
    fig = Figure(figsize=((x1 - x0) * INCH_PER_UNIT, (y1 - y0) * INCH_PER_UNIT))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect('equal')
    ax.axis('off')
    circles = {}
    for key, (x, y) in pos.items():
        kind = 'input' if key in (0, 1) else 'output' if key == 'out' else 'inner'
        circles[key] = Circle((x, y), NODE_RADIUS, facecolor=NODE_COLORS[kind], edgecolor='#333333',
                              linewidth=1.2, zorder=3)
        ax.add_patch(circles[key])
        ax.text(x, y, _node_label(key), ha='center', va='center', fontsize=12, zorder=4)
    for (src, dst, op), route in zip(edges, routes):
        color = OP_COLORS[op] if op else '#9a9a9a'
        ax.add_artist(
            FancyArrowPatch(  # add_artist: limits are set, skip autoscaling
                pos[src], pos[dst], connectionstyle=f'arc3,rad={route.rad:.4f}', arrowstyle='-|>',
                mutation_scale=14, linewidth=1.6 if op else 1.2, linestyle='-' if op else '--',
                color=color, patchA=circles[src], patchB=circles[dst], zorder=2))
        if op:
            box = route.label_box
            label = dict(boxstyle='round,pad=0.2', facecolor='white', edgecolor=color,
                         linewidth=0.8)
            ax.text((box[0] + box[2]) / 2, (box[1] + box[3]) / 2, op, ha='center', va='center',
                    fontsize=LABEL_FONTSIZE, zorder=5, bbox=label)
    title = 'Normal cell' if which == 'normal' else 'Reduction cell'
    ax.text((x0 + x1) / 2, y1 - 0.4, title, ha='center', va='center', fontsize=13,
            fontweight='bold')
    return fig


def _targets(path: str, formats: Sequence[str]) -> List[str]:
    stem, ext = os.path.splitext(path)
    if ext.lstrip('.').lower() in FORMATS:
        formats, path = (ext.lstrip('.').lower(), ), stem
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ValueError(f'unsupported picture format(s) {bad or formats}; choose from {FORMATS}')
    return [f'{path}.{fmt}' for fmt in formats]


def save_figure(fig: Figure, path: str, formats: Sequence[str] = ('png', 'svg'),
                dpi: int = 150) -> List[str]:
    """Save ``fig`` as ``path.<fmt>`` per format (or just ``path`` if it has an extension).

    SVG text stays text (searchable, e.g. for op names), not outlines.
    """
    targets = _targets(path, formats)
    folder = os.path.dirname(targets[0])
    if folder:
        os.makedirs(folder, exist_ok=True)
    with rc_context({'svg.fonttype': 'none'}):
        for target in targets:
            fig.savefig(target, dpi=dpi, facecolor='white')
    return targets


def plot_cell(genotype: GenotypeLike, which: str = 'normal', path: str = 'cell',
              formats: Sequence[str] = ('png', 'svg')) -> List[str]:
    """Draw the ``which`` ('normal' | 'reduce') cell and save it; return the written paths.

    ``genotype`` is a Genotype or anything :func:`get_genotype` accepts (a shipped
    name, DARTS text, a JSON file). ``path`` without extension gets one file per
    format; with ``.png``/``.svg``/``.pdf`` it is written as given.
    """
    return save_figure(draw_cell(genotype, which), path, formats)


def plot_genotype(genotype: GenotypeLike, out_dir: str, prefix: str = '',
                  formats: Sequence[str] = ('png', 'svg')) -> List[str]:
    """Write ``<prefix>normal.<fmt>`` and ``<prefix>reduce.<fmt>`` to ``out_dir``.

    Returns the written paths, normal cell first.
    """
    return [
        path for which in ('normal', 'reduce')
        for path in plot_cell(genotype, which, os.path.join(out_dir, f'{prefix}{which}'), formats)
    ]


__all__ = [
    'CellLayout', 'Route', 'layout_cell', 'draw_cell', 'plot_cell', 'plot_genotype', 'save_figure',
    'OP_COLORS'
]
