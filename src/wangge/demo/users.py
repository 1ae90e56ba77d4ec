"""Demo accounts, one per default role, printed by `wangge demo`."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from wangge.auth.models import User
from wangge.auth.service import assign_post, create_user, seed_roles
from wangge.common.models import utcnow
from wangge.demo.micro_grids import assign_micro_leader, demo_micro_code
from wangge.departments.models import Department
from wangge.divisions.models import Division

DEMO_PASSWORD = "Wangge-Demo-2026"
# The grid posts are publicly posted (上岗公示) with a name and a work phone.
PUBLIC_POSTS = {
    "jiandu": ("王建国", "010-6288-0101"),
    "wanggezhang": ("李秀英", "010-6288-0102"),
    "weiwangge": ("赵春梅", "010-6288-0103"),  # 微网格长 of the first micro grid
}


# The demo's grid posts serve every grid of their community (网格员配置); the demo month has
# them report, verify, settle and patrol there (demo.simulate reads these assignments).
GRID_KINDS = {"jiandu": "full_time", "wanggezhang": "leader"}


def _assign_grids(session: Session, user: User, community: str, kind: str) -> None:
    from wangge.assignments.service import add_assignment
    from wangge.auth.principal import LOCAL_OPERATOR
    from wangge.demo.grids import active_social_grids
    from wangge.grids.models import Grid

    starts = (utcnow() - timedelta(days=90)).date()  # well before the simulated month
    grids = active_social_grids(session, Grid.community_code == community, Grid.parent_id.is_(None))
    for grid in grids:
        add_assignment(
            session,
            LOCAL_OPERATOR,
            user_id=user.id,
            grid_code=grid.code,
            kind=kind,
            starts_on=starts,
        )


def create_demo_users(session: Session, county: str) -> list[tuple[str, str, str]]:
    """Create the demo users once; return (username, role in Chinese, scope) rows to print."""
    seed_roles(session)
    street = session.scalar(
        select(Division.code)
        .where(Division.county_code == county, Division.level == "street")
        .order_by(Division.code)
    )
    community = session.scalar(
        select(Division.code)
        .where(Division.county_code == county, Division.level == "community")
        .order_by(Division.code)
    )
    department = session.scalar(
        select(Department.code).where(Department.county_code == county).order_by(Department.code)
    )
    plan: list[tuple[str, str, str, str | None, str | None]] = [
        ("admin", "系统管理员", "admin", None, None),
        ("shouli", "受理员", "acceptor", county, None),
        ("zhiban", "值班长", "shift_leader", county, None),
        ("paiqian", "派遣员", "dispatcher", county, None),
        ("jiandu", "监督员/网格员", "supervisor", community, None),
        ("shipin", "视频监督员", "video_supervisor", county, None),
        ("wanggezhang", "网格长", "grid_leader", community, None),
        ("jiedao", "街道派遣员", "dispatcher", street, None),
        ("lingdao", "领导（只读）", "leader", None, None),
        ("shenji", "审计员", "auditor", None, None),
        ("shimin", "公众", "citizen", None, None),
    ]
    if department:
        plan.append(("bumen", "专业部门处置人员", "department", None, department))
    micro = demo_micro_code(session, county)  # 一网多层: a 微网格长 scoped to his micro grid
    if micro:
        plan.append(("weiwangge", "微网格长", "grid_leader", micro, None))
    rows = []
    for username, label, role, scope, dept in plan:
        if session.scalar(select(User.id).where(User.username == username)) is None:
            name, phone = PUBLIC_POSTS.get(username, (label, None))
            user = create_user(
                session, username=username, password=DEMO_PASSWORD, display_name=name, phone=phone
            )
            assign_post(session, user, role, scope=scope, department=dept)
            if username in GRID_KINDS and community:
                _assign_grids(session, user, community, GRID_KINDS[username])
            if username == "weiwangge" and scope:
                assign_micro_leader(session, user.id, scope)
        rows.append(
            (
                username,
                label,
                scope or dept or ("全区" if role in ("admin", "leader", "auditor") else "本人"),
            )
        )
    return rows
