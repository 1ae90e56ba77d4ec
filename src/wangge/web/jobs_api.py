"""Long work still running (`wangge.ops.jobs`): the progress note every page shows."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from wangge.api.deps import PrincipalDep, SessionDep
from wangge.ops.jobs import running_jobs

router = APIRouter(prefix="/web/api", include_in_schema=False)


@router.get("/jobs")
def jobs_in_progress(session: SessionDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    """Long work still running (the demo month): the pages show it as a progress note."""
    if principal.via == "anonymous":
        return []
    return [
        {
            "kind": j.kind,
            "state": j.state,
            "done": j.done,
            "total": j.total,
            "title_zh": j.title_zh,
            "title_en": j.title_en,
            "updated_at": j.updated_at.isoformat(),
        }
        for j in running_jobs(session)
    ]
