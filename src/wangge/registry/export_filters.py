"""The filters of a registry list export, read from the query (direct and background exports)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends

from wangge.registry.people_search import refuse_identifier_in_url
from wangge.registry.sheets import sheet_for


def export_filters(
    kind: str,
    community: str | None = None,
    grid_id: int | None = None,
    q: str | None = None,
    residence_kind: str | None = None,
    class_code: str | None = None,
    major: str | None = None,
    state: str | None = None,
    network: str | None = None,
    org_kind: str | None = None,
    integrity_grade: str | None = None,
    use: str | None = None,
) -> dict[str, Any]:
    """Return the filters given (422 for an unknown kind, or an ID number or phone in q)."""
    refuse_identifier_in_url(q, sheet_for(kind).kind)
    filters: dict[str, Any] = {
        "community": community, "grid_id": grid_id, "q": q, "residence_kind": residence_kind,
        "class_code": class_code, "major": major, "state": state, "network": network,
        "kind": org_kind, "integrity_grade": integrity_grade, "use": use,
    }  # fmt: skip
    return {k: v for k, v in filters.items() if v is not None}


ExportFiltersDep = Annotated[dict[str, Any], Depends(export_filters)]
