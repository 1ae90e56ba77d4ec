"""Grid use cases: versions, adding grids with their codes, queries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date

import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wangge.auth.principal import LOCAL_OPERATOR, Principal
from wangge.auth.scope import scope_clause
from wangge.common.geo import areas_m2
from wangge.common.shapes import as_multipolygon, require_valid
from wangge.common.spatial import bbox_columns
from wangge.divisions.codes import (
    check_grid_code,
    community_of,
    grid_code,
    grid_sequence,
    micro_grid_code,
    parent_grid_of,
    parse_division_code,
)
from wangge.divisions.models import Division
from wangge.errors import DomainError, NotFound, ValidationFailed
from wangge.grids.geometry import area_outside_m2, order_west_east_north_south
from wangge.grids.models import DutyGridMember, Grid, GridVersion

KIND_ZH = {
    "basic": "基础网格",
    "exclusive": "专属网格",
    "micro": "微网格",
    "unit": "万米单元网格",
    "duty": "责任网格",
}
LAYER_OF_KIND = {
    "basic": "social",
    "exclusive": "social",
    "micro": "social",
    "unit": "unit",
    "duty": "unit",
}
LAYER_ZH = {"social": "社会治理网格", "unit": "城市管理单元网格"}
# Below this a grid "outside" its community is digitising noise, not a crossing.
CROSSING_TOLERANCE_M2 = 1.0
# The kinds that tile a community without gaps or overlaps; points are located in these.
TILING_KINDS = {"social": ("basic", "exclusive"), "unit": ("unit",)}


@dataclass
class GridIn:
    """A grid to add: everything optional that can be derived (code, community, name)."""

    kind: str
    geom: BaseGeometry | None = None
    code: str | None = None
    name: str | None = None
    community_code: str | None = None
    parent_code: str | None = None  # micro grids: the grid they lie in
    members: list[str] = field(default_factory=list)  # duty grids: unit-grid codes
    households: int | None = None
    population: int | None = None
    land_use: str | None = None
    responsible_party: str | None = None
    valid_from: date | None = None
    valid_to: date | None = None


def check_kind(kind: str) -> str:
    """Return the layer of a grid kind, refusing unknown kinds."""
    if kind not in KIND_ZH:
        raise ValidationFailed(
            f"网格类型 {kind} 无效，应为 {'/'.join(KIND_ZH)}",
            f"grid kind {kind} is invalid; use one of {', '.join(KIND_ZH)}",
            code="bad_kind",
            field="kind",
        )
    return LAYER_OF_KIND[kind]


def new_version(
    session: Session, county_code: str, layer: str, name: str, *, note: str | None = None
) -> GridVersion:
    """Create a draft version numbered after the county's last one of this layer."""
    check_county(session, county_code)
    if layer not in LAYER_ZH:
        raise ValidationFailed(f"图层 {layer} 无效", f"layer {layer} is invalid", field="layer")
    last = session.scalar(
        select(func.max(GridVersion.number)).where(
            GridVersion.county_code == county_code, GridVersion.layer == layer
        )
    )
    active = active_version(session, county_code, layer)
    version = GridVersion(
        county_code=county_code,
        layer=layer,
        number=(last or 0) + 1,
        name=name,
        note=note,
        status="draft",
        based_on_id=active.id if active else None,
    )
    session.add(version)
    session.flush()
    return version


def check_county(session: Session, county_code: str) -> None:
    """Refuse a code that is not a loaded county."""
    if parse_division_code(county_code).level != "county":
        raise ValidationFailed(
            f"{county_code} 不是区县编码", f"{county_code} is not a county code", field="county"
        )
    if session.get(Division, county_code) is None:
        raise NotFound(f"区县 {county_code} 尚未导入", f"county {county_code} has not been loaded")


def active_version(session: Session, county_code: str, layer: str) -> GridVersion | None:
    """Return the version in force for a county and layer, if any."""
    return session.scalar(
        select(GridVersion).where(
            GridVersion.county_code == county_code,
            GridVersion.layer == layer,
            GridVersion.status == "active",
        )
    )


def get_version(session: Session, version_id: int) -> GridVersion:
    """Return a version or raise NotFound."""
    version = session.get(GridVersion, version_id)
    if version is None:
        raise NotFound(f"网格版本 {version_id} 不存在", f"grid version {version_id} does not exist")
    return version


def add_grids(
    session: Session,
    version: GridVersion,
    rows: Sequence[GridIn],
    *,
    width: int,
    micro_in_force: bool = False,
) -> list[Grid]:
    """Add grids to a draft version, deriving community, code, name and area; all or nothing.

    With `micro_in_force`, micro grids may also be added to the active version: they do not
    change its tiling (the caller re-locates records into them, see grids.micro_locate).
    """
    micro_only = (
        micro_in_force and version.status == "active" and all(r.kind == "micro" for r in rows)
    )
    if version.status != "draft" and not micro_only:
        raise ValidationFailed(
            f"版本 {version.number} 已启用或已停用，不能再修改；请新建版本",
            f"version {version.number} is {version.status}; create a new version to change grids",
            code="version_frozen",
        )
    communities = _communities(session, version.county_code)
    number = {id(row): i for i, row in enumerate(rows, 1)}
    for row in rows:
        with _row_context(number[id(row)]):
            _prepare(row, number[id(row)], version, communities)
    existing = {
        g.code: g for g in session.scalars(select(Grid).where(Grid.version_id == version.id))
    }
    _assign_codes(rows, existing, width)
    grids: list[Grid] = []
    ordered = sorted(rows, key=lambda r: r.kind in ("micro", "duty"))  # parents and members first
    for row in ordered:
        with _row_context(number[id(row)]):
            assert row.code is not None and row.community_code is not None
            check_grid_code(row.code, row.community_code, width, micro=row.kind == "micro")
            if row.code in existing:
                raise ValidationFailed(
                    f"网格编码 {row.code} 在本版本中重复",
                    f"grid code {row.code} appears twice in this version",
                    code="duplicate_code",
                    field="code",
                )
            grid = _build(session, version, row, existing, communities)
        existing[row.code] = grid
        grids.append(grid)
    session.flush()
    return grids


def check_rows(session: Session, version: GridVersion, rows: Sequence[GridIn]) -> list[DomainError]:
    """Check every row as add_grids would (kind, geometry, community) and return all errors.

    add_grids stops at the first bad row; an import page wants the whole list at once.
    """
    communities = _communities(session, version.county_code)
    errors: list[DomainError] = []
    for number, row in enumerate(rows, 1):
        try:
            with _row_context(number):
                _prepare(row, number, version, communities)
        except DomainError as exc:
            errors.append(exc)
    return errors


@contextmanager
def _row_context(number: int) -> Iterator[None]:
    """Tag an error with the 1-based row it came from, so imports can name the feature."""
    try:
        yield
    except DomainError as exc:
        exc.details.setdefault("row", number)
        raise


def _communities(session: Session, county_code: str) -> Communities:
    q = select(Division).where(Division.county_code == county_code, Division.level == "community")
    return Communities((d.code, d) for d in session.scalars(q))


def _prepare(row: GridIn, number: int, version: GridVersion, communities: Communities) -> None:
    layer = check_kind(row.kind)
    if layer != version.layer:
        raise ValidationFailed(
            f"第 {number} 个网格的类型 {KIND_ZH[row.kind]} 不属于图层 {LAYER_ZH[version.layer]}",
            f"grid {number}: kind {row.kind} does not belong to the {version.layer} layer",
            field="kind",
        )
    if row.geom is not None:
        require_valid(row.geom, f"第 {number} 个网格", f"grid {number}")
        row.geom = as_multipolygon(row.geom)
    elif row.kind != "duty":
        raise ValidationFailed(
            f"第 {number} 个网格缺少几何", f"grid {number} has no geometry", field="geometry"
        )
    if row.community_code is None and row.code:
        row.community_code = community_of(row.code)
    if row.community_code is None and row.geom is not None:
        row.community_code = communities.containing(row.geom)
    if row.community_code is None or row.community_code not in communities:
        raise ValidationFailed(
            f"第 {number} 个网格找不到所属社区（{row.community_code or '位置不在任何社区内'}）",
            f"grid {number}: community {row.community_code or '(none contains it)'} not found "
            f"in county {version.county_code}",
            code="community_missing",
            field="community_code",
        )
    community = communities[row.community_code]
    if row.geom is not None and community.geom is not None:
        outside = area_outside_m2(row.geom, community.geom)
        if outside > CROSSING_TOLERANCE_M2:
            raise ValidationFailed(
                f"第 {number} 个网格有 {outside:.1f} 平方米超出所属社区 {community.code}，网格不得跨社区",
                f"grid {number} has {outside:.1f} m² outside its community {community.code}; "
                "a grid must not cross its community",
                code="crosses_community",
                field="geometry",
            )


class Communities(dict[str, Division]):
    """The communities of a county by code, with a lazily built spatial index."""

    _tree: tuple[shapely.STRtree, list[str]] | None = None

    def containing(self, geom: BaseGeometry) -> str | None:
        """Return the code of the community covering the geometry's representative point."""
        if self._tree is None:
            items = [(c, d.geom) for c, d in self.items() if d.geom is not None]
            self._tree = (shapely.STRtree([g for _, g in items]), [c for c, _ in items])
        tree, codes = self._tree
        hits = tree.query(geom.representative_point(), predicate="covered_by")
        return codes[int(hits[0])] if len(hits) else None


def _assign_codes(rows: Sequence[GridIn], existing: dict[str, Grid], width: int) -> None:
    """Give uncoded grids the next sequences of their community, west→east, north→south."""
    used: dict[str, set[int]] = defaultdict(set)
    for code in [*existing, *(r.code for r in rows if r.code and r.kind != "micro")]:
        used[community_of(code)].add(grid_sequence(code, width))
    todo: dict[str, list[GridIn]] = defaultdict(list)
    for row in rows:
        if row.code is None and row.kind != "micro":
            todo[row.community_code or ""].append(row)
    for community, pending in todo.items():
        # Grids with a shape in code order, then those without one (duty grids) as given.
        shaped = [(i, r.geom) for i, r in enumerate(pending) if r.geom is not None]
        order = [shaped[k][0] for k in order_west_east_north_south([g for _, g in shaped])]
        order += [i for i, r in enumerate(pending) if r.geom is None]
        seq = max(used[community], default=0)
        for idx in order:
            seq += 1
            pending[idx].code = grid_code(community, seq, width)
    micro_next: dict[str, int] = defaultdict(int)
    for row in rows:
        if row.kind == "micro" and row.code is None:
            if not row.parent_code:
                raise ValidationFailed(
                    "微网格必须指定所属网格",
                    "a micro grid needs its parent grid",
                    field="parent_code",
                )
            micro_next[row.parent_code] += 1
            row.code = micro_grid_code(row.parent_code, micro_next[row.parent_code])


def _build(
    session: Session,
    version: GridVersion,
    row: GridIn,
    existing: dict[str, Grid],
    communities: dict[str, Division],
) -> Grid:
    assert row.code is not None and row.community_code is not None
    parent_id = None
    geom = row.geom
    if row.kind == "micro":
        parent = existing.get(row.parent_code or parent_grid_of(row.code))
        if parent is None:
            raise NotFound(
                f"微网格 {row.code} 的所属网格 {row.parent_code} 不在本版本中",
                f"parent grid {row.parent_code} of micro grid {row.code} is not in this version",
                field="parent_code",
            )
        parent_id = parent.id
    if row.kind == "duty":
        members = [existing.get(code) for code in row.members]
        missing = [
            c for c, m in zip(row.members, members, strict=True) if m is None or m.kind != "unit"
        ]
        if not row.members or missing:
            raise ValidationFailed(
                f"责任网格 {row.code} 的单元网格 {','.join(missing) or '(无)'} 不在本版本中",
                f"duty grid {row.code}: unit grids {', '.join(missing) or '-'} not in this version",
                field="members",
            )
        geom = as_multipolygon(shapely.union_all([m.geom for m in members if m is not None]))
    area = float(areas_m2([geom])[0]) if geom is not None else None
    seq = row.code[12:]
    grid = Grid(
        version_id=version.id,
        county_code=version.county_code,
        community_code=row.community_code,
        code=row.code,
        name=row.name or f"{communities[row.community_code].name}第{int(seq)}{KIND_ZH[row.kind]}",
        kind=row.kind,
        parent_id=parent_id,
        area_m2=area,
        households=row.households,
        population=row.population,
        land_use=row.land_use,
        responsible_party=row.responsible_party,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        geom=geom,
        **bbox_columns(geom),
    )
    session.add(grid)
    session.flush()
    if row.kind == "duty":
        session.add_all(
            DutyGridMember(duty_grid_id=grid.id, unit_grid_id=existing[c].id) for c in row.members
        )
    return grid


def version_grids(
    session: Session,
    version_id: int,
    *,
    kinds: Sequence[str] | None = None,
    prefix: str | None = None,
    principal: Principal = LOCAL_OPERATOR,
) -> list[Grid]:
    """Return the grids of a version in the principal's scope, by kind and division code."""
    q = (
        select(Grid)
        .where(Grid.version_id == version_id, scope_clause(Grid.code, principal))
        .order_by(Grid.code)
    )
    if kinds:
        q = q.where(Grid.kind.in_(list(kinds)))
    if prefix:
        q = q.where(Grid.code.startswith(prefix))
    return list(session.scalars(q))


def get_grid(session: Session, grid_id: int) -> Grid:
    """Return one grid or raise NotFound."""
    grid = session.get(Grid, grid_id)
    if grid is None:
        raise NotFound(f"网格 {grid_id} 不存在", f"grid {grid_id} does not exist")
    return grid


def active_grid_by_code(session: Session, code: str) -> Grid:
    """Return the grid with this code in the active version of its county."""
    q = (
        select(Grid)
        .join(GridVersion, GridVersion.id == Grid.version_id)
        .where(Grid.code == code, GridVersion.status == "active")
    )
    grid = session.scalars(q).first()
    if grid is None:
        raise NotFound(f"现行网格中没有编码 {code}", f"no grid {code} in the active versions")
    return grid
