"""Who is published for a grid (上岗公示): the people a citizen's "我的网格员" page and the
console map's grid card show, with their work phones."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wangge.assignments.models import KINDS
from wangge.assignments.service import people_of_grid
from wangge.auth.models import Post, User
from wangge.cases.labels import label
from wangge.common.localtime import SHANGHAI
from wangge.common.models import utcnow
from wangge.grids.models import Grid


def posted_workers(
    session: Session, grid: Grid, *, micro: Grid | None = None, public: bool = False
) -> tuple[list[dict[str, Any]], str]:
    """Return the people published for a social grid (上岗公示: name, work phone) and the source.

    The people assigned to the grid (and its micro grids) today; a grid without any assignment
    falls back to the supervisor/grid-leader posts scoped to it or its community. `public`
    (the citizens' "我的网格员"): the grid's own people, plus the published leaders of the
    micro grid `micro` where the citizen stands (一网多层), not every micro grid's.
    """
    served = people_of_grid(session, grid.code, utcnow().astimezone(SHANGHAI).date())
    if public:
        served = [
            s
            for s in served
            if s.assignment.grid_code == grid.code
            or (
                micro is not None
                and s.assignment.grid_code == micro.code
                # grid workers serve the public anyway; a 微网格长 only when published
                and (s.assignment.published or s.assignment.kind != "micro_leader")
            )
        ]
    if served:
        workers = []
        for s in served:
            zh, en = KINDS.get(s.assignment.kind, (s.assignment.kind, s.assignment.kind))
            if micro is not None and s.assignment.grid_code == micro.code:
                zh, en = f"{zh}（{micro.name}）", f"{en} ({micro.code})"
            workers.append({"name": s.name, "phone": s.phone, "post": zh, "post_en": en})
        return workers, "assignments"
    prefixes = [grid.code[:n] for n in range(12, len(grid.code) + 1)]
    rows = session.execute(
        select(User.display_name, User.phone, Post.role_code)
        .join(Post, Post.user_id == User.id)
        .where(
            Post.role_code.in_(("supervisor", "grid_leader")),
            Post.scope_prefix.in_(prefixes),
            User.is_active.is_(True),
        )
        .order_by(Post.role_code.desc(), User.id)
    ).all()
    workers = [
        {"name": n, "phone": p, "post": label("role", r), "post_en": label("role", r, "en")}
        for n, p, r in rows
    ]
    return workers, "posts"
