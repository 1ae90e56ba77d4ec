"""Validating, activating and comparing grid versions; re-assigning located records."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from wangge.common.hooks import require_wired
from wangge.common.models import utcnow
from wangge.db import Base
from wangge.divisions.codes import check_grid_code
from wangge.divisions.models import Division
from wangge.errors import Conflict, DomainError, ValidationFailed
from wangge.grids.diff import diff_layers
from wangge.grids.layer_validation import Problem, validate_layer
from wangge.grids.locating import clear_cache, index_for
from wangge.grids.micro_locate import relocate_micro
from wangge.grids.models import Grid, GridVersion, LocatedPoint
from wangge.grids.service import TILING_KINDS, active_version, get_version, version_grids


@dataclass(frozen=True)
class LocatedSpec:
    """A table whose rows carry a position and the id of their grid in each layer."""

    model: type[Base]
    label_zh: str
    grid_columns: dict[str, str]  # layer -> column name
    # called with the ids of moved rows (e.g. the evaluation facts follow their cases)
    on_moved: list[Callable[[Session, list[int]], None]] = field(default_factory=list)


# The located tables. Those of higher packages (registry, cases) and their hooks are
# registered by the composition root (`wangge.wiring.wire`), not by this module importing them.
LOCATED: list[LocatedSpec] = [
    LocatedSpec(LocatedPoint, "点图层", {"social": "grid_id", "unit": "unit_grid_id"}),
]


def register_located(*specs: LocatedSpec) -> None:
    """Add located tables (once each): re-divisions then move their rows too."""
    LOCATED.extend(spec for spec in specs if spec not in LOCATED)


def located_spec(model: type[Base]) -> LocatedSpec:
    """Return the registered spec of a table (to add an `on_moved` hook to it)."""
    return next(spec for spec in LOCATED if spec.model is model)


def validate_version(session: Session, version_id: int, *, width: int) -> list[Problem]:
    """Return every geometry and code problem of a version (empty list: clean)."""
    version = get_version(session, version_id)
    grids = version_grids(session, version.id)
    communities = {
        d.code: d
        for d in session.scalars(
            select(Division).where(
                Division.county_code == version.county_code, Division.level == "community"
            )
        )
    }
    problems: list[Problem] = []
    tiling = TILING_KINDS[version.layer]
    by_community: dict[str, dict[str, Any]] = defaultdict(dict)
    for grid in grids:
        try:
            check_grid_code(grid.code, grid.community_code, width, micro=grid.kind == "micro")
        except DomainError as exc:
            problems.append(
                Problem("bad_code", (grid.code,), None, None, exc.message_zh, exc.message_en)
            )
        if grid.kind in tiling and grid.geom is not None:
            by_community[grid.community_code][grid.code] = grid.geom
    for code, community in sorted(communities.items()):
        children = by_community.get(code, {})
        if not children:
            continue
        problems.extend(validate_layer(community.geom, children))
    return problems


# Problems named in a refusal or an override's report (a broken import may have thousands).
MAX_LISTED = 100


def _activation_problems(
    session: Session, version: GridVersion, width: int, reason: str
) -> list[Problem]:
    """Validation problems of a version that may go in force (only with a reason if any)."""
    if version.status == "active":
        raise ValidationFailed(
            f"版本 {version.number} 已经是现行版本",
            f"version {version.number} is already active",
            code="already_active",
        )
    if not version_grids(session, version.id, kinds=TILING_KINDS[version.layer]):
        raise ValidationFailed(
            f"版本 {version.number} 没有网格，不能启用",
            f"version {version.number} has no grids",
            code="empty_version",
        )
    problems = validate_version(session, version.id, width=width)
    if problems and not reason:
        raise _has_problems(version, problems)
    return problems


def activate_version(
    session: Session,
    version_id: int,
    *,
    width: int = 3,
    override_reason: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Put a version in force: retire the current one, move located records, report the diff.

    A version with validation problems (gaps, overlaps, bad codes …) is refused unless an
    `override_reason` is given; the reason and the problems then go into the activation report
    (and from there into the audit entry), so putting a flawed division in force is a decision
    someone signed.
    """
    version = get_version(session, version_id)
    reason = (override_reason or "").strip()
    problems = _activation_problems(session, version, width, reason)
    tiling = TILING_KINDS[version.layer]
    previous = active_version(session, version.county_code, version.layer)
    old_grids = version_grids(session, previous.id, kinds=tiling) if previous else []
    new_grids = version_grids(session, version.id, kinds=tiling)
    diff = diff_layers({g.code: g.geom for g in old_grids}, {g.code: g.geom for g in new_grids})
    now = utcnow()
    if previous is not None:
        previous.status = "retired"
        previous.retired_at = now
    version.status = "active"
    version.activated_at = now
    version.retired_at = None
    session.flush()
    clear_cache()
    moved = reassign(session, version, progress=progress)
    report = {
        "version": version.number,
        "previous": previous.number if previous else None,
        "diff": diff.to_dict(),
        "moved": moved,
    }
    micro = relocate_micro(session, version, LOCATED)  # after the base grids: micro lie in them
    if micro:
        report["micro_moved"] = micro
    if problems:
        report["override"] = {
            "reason": reason,
            "problems": len(problems),
            "listed": problem_dicts(problems[:MAX_LISTED]),
        }
    version.activation_report = report
    session.flush()
    return report


def _has_problems(version: GridVersion, problems: list[Problem]) -> Conflict:
    first_zh = "；".join(p.message_zh for p in problems[:3])
    first_en = "; ".join(p.message_en for p in problems[:3])
    more = len(problems) > 3
    return Conflict(
        f"第 {version.number} 版校验发现 {len(problems)} 个问题（{first_zh}{' 等' if more else ''}），"
        "不能启用；确需启用请填写理由（override_reason），理由和问题清单将记入审计",
        f"version {version.number} has {len(problems)} validation problems ({first_en}"
        f"{' …' if more else ''}); to activate it anyway give an override_reason, which is"
        " audited with the list of problems",
        code="validation_problems",
        field="override_reason",
        details={"count": len(problems), "problems": problem_dicts(problems[:MAX_LISTED])},
    )


def reassign(
    session: Session, version: GridVersion, *, progress: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Re-locate every located record of the county in `version`; return what moved where."""
    require_wired("re-locating records")
    index = index_for(session, version)
    # Looked up with None too: an unlocated record has no grid.
    codes: dict[int | None, str] = dict(
        session.execute(
            select(Grid.id, Grid.code).where(Grid.county_code == version.county_code)
        ).all()
    )
    result: dict[str, Any] = {}
    for spec in LOCATED:
        column = spec.grid_columns.get(version.layer)
        if column is None:
            continue
        model: Any = spec.model
        rows = session.execute(
            select(model.id, model.lon, model.lat, getattr(model, column)).where(
                model.county_code == version.county_code
            )
        ).all()
        if progress:
            progress(f"{spec.label_zh}: {len(rows)}")
        if not rows:
            continue
        data = np.array([(r[1], r[2]) for r in rows], dtype=float)
        new_ids = index.locate_many(data[:, 0], data[:, 1])
        changes = []
        # A record "moves" when its grid code changes; same code in the new version is
        # only a new row id for the same grid.
        transitions: Counter[tuple[str | None, str | None]] = Counter()
        for row, new_id in zip(rows, new_ids.tolist(), strict=True):
            new = new_id if new_id >= 0 else None
            if new != row[3]:
                changes.append({"id": row[0], column: new})
                old_code, new_code = codes.get(row[3]), codes.get(new)
                if old_code != new_code:
                    transitions[(old_code, new_code)] += 1
        if changes:
            session.execute(update(model), changes)
            for hook in spec.on_moved:
                hook(session, [c["id"] for c in changes])
        result[spec.model.__tablename__] = {
            "total": len(rows),
            "moved": sum(transitions.values()),
            "unlocated": int((new_ids < 0).sum()),
            "transitions": [
                {"from": a, "to": b, "count": n} for (a, b), n in transitions.most_common()
            ],
        }
    return result


def problem_dicts(problems: list[Problem]) -> list[dict[str, Any]]:
    """Serialise problems for JSON output."""
    return [asdict(p) for p in problems]


def compare_versions(session: Session, old: GridVersion, new: GridVersion) -> dict[str, Any]:
    """Return the geometry diff between two versions of the same layer."""
    if (old.county_code, old.layer) != (new.county_code, new.layer):
        raise ValidationFailed(
            "只能比较同一区县、同一图层的两个版本",
            "only versions of the same county and layer can be compared",
            code="incomparable_versions",
        )
    tiling = TILING_KINDS[old.layer]
    a = {g.code: g.geom for g in version_grids(session, old.id, kinds=tiling)}
    b = {g.code: g.geom for g in version_grids(session, new.id, kinds=tiling)}
    return {"old": old.number, "new": new.number, "diff": diff_layers(a, b).to_dict()}
