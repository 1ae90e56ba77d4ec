"""What an administrator may do to other accounts: grants within his own area and rights.

A scoped administrator (an admin post with a scope prefix) manages only the accounts whose
posts all lie in his area and can grant neither more territory nor more rights than he has.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from wangge.audit.service import record_for
from wangge.auth.models import Post, Role, User
from wangge.auth.passwords import hasher
from wangge.auth.principal import Principal
from wangge.auth.service import check_password_rules, manages
from wangge.common.models import utcnow
from wangge.departments.models import Department
from wangge.errors import Conflict, Forbidden, NotFound

# Every permission the code checks, with a label for the role editor.
PERMISSIONS: dict[str, tuple[str, str]] = {
    "*": ("全部权限", "everything"),
    "divisions.read": ("查看区划", "read divisions"),
    "grids.read": ("查看网格", "read grids"),
    "grids.manage": ("管理网格（导入、生成、划分、启用）", "manage grids"),
    "cases.read": ("查看案卷", "read cases"),
    "cases.act": ("办理案卷", "act on cases"),
    "cases.report": ("上报问题", "report problems"),
    "patrol.*": ("巡查", "patrols"),
    "registry.read": ("查看基础数据", "read the registry"),
    "registry.write": ("维护基础数据", "edit the registry"),
    "personal.unmask": ("查看完整个人信息（留痕）", "unmask personal data (audited)"),
    "personal.special": ("查看特殊人群标签", "see special-group labels"),
    "departments.read": ("查看部门", "read departments"),
    "departments.manage": ("管理部门（新建、修改、停用、导入）", "manage departments"),
    "categories.manage": ("管理案件类别与派遣路由", "manage case categories and routing"),
    "evaluation.read": ("查看综合评价", "read evaluations"),
    "lines.manage": ("管理业务条线（启用、停用、地方条线）", "manage business lines"),
    "users.manage": ("管理用户与岗位", "manage users and posts"),
    "roles.manage": ("设置角色权限", "edit role permissions"),
    "audit.read": ("查看审计日志", "read the audit log"),
    "rules.manage": ("设置答复时限规则", "edit response rules by channel"),
}


def get_user(session: Session, user_id: int) -> User:
    """Return a user or raise NotFound."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"用户 {user_id} 不存在", f"user {user_id} does not exist")
    return user


def _outside(actor: Principal, scope: str | None, layer: str | None = None) -> bool:
    return actor.scope_prefixes is not None and (
        scope is None or not actor.contains(scope, layer or "social")
    )


def check_grant(
    session: Session,
    actor: Principal,
    role: str,
    *,
    scope: str | None,
    department: str | None,
    layer: str | None = None,
) -> None:
    """Refuse a post that would reach beyond the actor's area or rights."""
    row = session.get(Role, role)
    if row is None:
        raise NotFound(f"角色 {role} 不存在", f"role {role} does not exist", field="role")
    missing = [p for p in row.permissions or [] if not actor.can(p)]
    if missing:
        raise Forbidden(
            f"不能授予超出本人权限的角色 {role}（{', '.join(missing)}）",
            f"cannot grant role {role}: it has rights you lack ({', '.join(missing)})",
            code="grant_exceeds_rights",
            field="role",
        )
    if department is not None and actor.scope_prefixes is not None:
        dept = session.get(Department, department)
        counties = actor.county_codes() or set()
        if dept is not None and dept.county_code not in counties:
            raise Forbidden(
                f"部门 {department} 不在您的管辖范围内",
                f"department {department} is outside your area",
                code="out_of_scope",
                field="department",
            )
        return
    if _outside(actor, scope, layer):
        where = scope or "全区"
        raise Forbidden(
            f"范围 {where} 超出您的管辖范围（{'、'.join(sorted(actor.scope_prefixes or []))}）",
            f"scope {scope or '(whole territory)'} is outside your own "
            f"({', '.join(sorted(actor.scope_prefixes or []))})",
            code="out_of_scope",
            field="scope",
        )


def require_manageable(session: Session, actor: Principal, user: User) -> None:
    """A scoped administrator manages only accounts whose every post lies in his area."""
    if not manages(session, actor, user):
        raise Forbidden(
            f"用户 {user.username} 不在您的管辖范围内",
            f"user {user.username} is outside your area",
            code="out_of_scope",
        )


def visible_user_ids(session: Session, actor: Principal) -> set[int] | None:
    """The accounts a scoped administrator may list and whose acts he may read (None: all)."""
    if actor.scope_prefixes is None:
        return None
    posts = session.execute(
        select(Post.user_id, Post.scope_prefix, Post.scope_layer, Post.department_code)
    ).all()
    outside = {
        uid
        for uid, scope, layer, dept in posts
        if dept is None and not (scope and actor.contains(scope, layer or "social"))
    }
    return set(session.scalars(select(User.id))) - outside


def reset_password(session: Session, actor: Principal, user: User, new_password: str) -> None:
    """Set a new password for someone else; his sessions and tokens end. Audited, not logged."""
    require_manageable(session, actor, user)
    check_password_rules(new_password, user.username)
    user.password_hash = hasher().hash(new_password)
    user.password_changed_at = utcnow()
    user.token_epoch += 1
    user.failed_logins, user.locked_until = 0, None
    record_for(session, actor, "user.password_reset", object_type="user", object_id=user.id)


def set_active(session: Session, actor: Principal, user: User, active: bool) -> None:
    """Deactivate (every session and token ends at once) or reactivate an account."""
    require_manageable(session, actor, user)
    if not active and user.id == actor.user_id:
        raise Conflict("不能停用自己的账号", "you cannot deactivate your own account")
    if user.is_active == active:
        return
    user.is_active = active
    if not active:
        user.token_epoch += 1
    record_for(
        session,
        actor,
        "user.reactivate" if active else "user.deactivate",
        object_type="user",
        object_id=user.id,
    )
