"""Plot a grid division to PNG (matplotlib, Agg backend): grids coloured, roads, buildings."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: used from the CLI and CI without a display

import matplotlib.pyplot as plt
from matplotlib.patches import PathPatch
from matplotlib.path import Path as MplPath
from shapely import LineString, MultiLineString, MultiPolygon, Point, Polygon

from wangge.grids.partition import DivisionPlan


def _patch(poly: Polygon, **kw: object) -> PathPatch:
    """A matplotlib patch for a polygon with holes."""
    verts, codes = [], []
    for ring in (poly.exterior, *poly.interiors):
        xy = list(ring.coords)
        verts += xy
        codes += [MplPath.MOVETO] + [MplPath.LINETO] * (len(xy) - 2) + [MplPath.CLOSEPOLY]
    return PathPatch(MplPath(verts, codes), **kw)


def plot_division(
    division: DivisionPlan,
    roads: Sequence[LineString | MultiLineString],
    out_png: str | Path,
    *,
    labels: bool = True,
    dpi: int = 150,
) -> Path:
    """Draw grids (exclusive ones hatched), roads and buildings sized by households to a PNG."""
    fig, ax = plt.subplots(figsize=(12, 12))
    cmap = plt.get_cmap("tab20")
    for n, g in enumerate(division.grids):
        polys = g.polygon.geoms if isinstance(g.polygon, MultiPolygon) else [g.polygon]
        for p in polys:
            if p.is_empty:
                continue
            ax.add_patch(
                _patch(
                    p,
                    facecolor=cmap(n % 20),
                    alpha=0.55,
                    edgecolor="black",
                    linewidth=0.4,
                    hatch="//" if g.exclusive else None,
                )
            )
        if labels and not g.polygon.is_empty:
            c = g.polygon.representative_point()
            ax.text(c.x, c.y, str(g.sequence), fontsize=4, ha="center", va="center")
    for r in roads:
        for ln in getattr(r, "geoms", [r]):
            x, y = ln.xy
            ax.plot(x, y, color="dimgray", linewidth=1.2)
    hh = {b.key: b for inp in division.inputs for b in inp.buildings}
    xs, ys, ss = [], [], []
    for b in hh.values():
        pt = b.geom if isinstance(b.geom, Point) else b.geom.representative_point()
        xs.append(pt.x)
        ys.append(pt.y)
        ss.append(1 + b.households / 10)
    ax.scatter(xs, ys, s=ss, color="black", linewidths=0)
    ax.set_aspect("equal")
    live = [g.polygon for g in division.grids if not g.polygon.is_empty]
    if live:  # roads usually run past the communities: frame the grids, not the roads
        x0 = min(p.bounds[0] for p in live)
        y0 = min(p.bounds[1] for p in live)
        x1 = max(p.bounds[2] for p in live)
        y1 = max(p.bounds[3] for p in live)
        pad = 0.02 * max(x1 - x0, y1 - y0, 1.0)
        ax.set_xlim(x0 - pad, x1 + pad)
        ax.set_ylim(y0 - pad, y1 + pad)
    ax.set_axis_off()
    out = Path(out_png)
    fig.savefig(out, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return out
