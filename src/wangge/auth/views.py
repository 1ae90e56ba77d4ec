"""HTTP routes for login, tokens, users, roles, API keys and the audit log."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from wangge.api.deps import SESSION_COOKIE, PrincipalDep, SessionDep, SettingsDep
from wangge.audit.chain import verify_chain
from wangge.audit.models import AuditEntry
from wangge.audit.service import record_for
from wangge.auth import admin, service
from wangge.auth.models import ApiToken, Post, Role, User
from wangge.auth.principal import Principal, Unauthenticated
from wangge.auth.schemas import (
    ApiKeyCreate,
    AuditRead,
    LoginIn,
    MeRead,
    PasswordChange,
    PasswordReset,
    PermissionRead,
    PostCreate,
    PostRead,
    RoleIn,
    RoleRead,
    TokenCreate,
    TokenIssued,
    UserCreate,
    UserRead,
)
from wangge.errors import Conflict, Forbidden, NotFound

router = APIRouter(tags=["auth 账号与权限"])


def _me(principal: Any) -> dict[str, Any]:
    return {
        "name": principal.name,
        "user_id": principal.user_id,
        "roles": sorted(principal.roles),
        "permissions": sorted(principal.permissions),
        "scope_prefixes": None
        if principal.scope_prefixes is None
        else sorted(principal.scope_prefixes),
        "department_codes": sorted(principal.department_codes),
        "via": principal.via,
        "csrf_token": principal.csrf_token,
    }


@router.post("/auth/login", response_model=MeRead, summary="登录 Log in (sets the session cookie)")
def login(
    body: LoginIn, response: Response, session: SessionDep, settings: SettingsDep
) -> dict[str, Any]:
    user = service.authenticate(session, body.username, body.password)
    opened = service.open_session(session, user)
    response.set_cookie(
        SESSION_COOKIE,
        opened.token,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
        max_age=service.SESSION_HOURS * 3600,
        path="/",
    )
    me = service.principal_for_user(session, user, via="session", csrf=opened.csrf_token)
    return _me(me)


@router.post("/auth/logout", status_code=204, summary="退出登录 Log out this session")
def logout(
    request: Request, response: Response, session: SessionDep, principal: PrincipalDep
) -> None:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        service.close_session(session, token)
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.post("/auth/logout-everywhere", status_code=204, summary="所有设备退出 Log out everywhere")
def logout_everywhere(response: Response, session: SessionDep, principal: PrincipalDep) -> None:
    user = _current_user(session, principal)
    service.logout_everywhere(session, user)
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/auth/me", response_model=MeRead, summary="当前用户 Who am I")
def me(principal: PrincipalDep) -> dict[str, Any]:
    return _me(principal)


@router.post("/auth/password", status_code=204, summary="修改密码 Change password")
def password(body: PasswordChange, session: SessionDep, principal: PrincipalDep) -> None:
    service.change_password(
        session, _current_user(session, principal), body.old_password, body.new_password
    )


@router.post(
    "/auth/tokens", response_model=TokenIssued, summary="签发个人令牌 Issue a bearer token"
)
def issue_bearer(
    body: TokenCreate, session: SessionDep, principal: PrincipalDep, settings: SettingsDep
) -> dict[str, Any]:
    user = _current_user(session, principal)
    token, row = service.issue_token(
        session,
        kind="bearer",
        name=body.name,
        user=user,
        days=body.days,
        max_days=settings.token_max_days,
        actor=principal,
    )
    return {"id": row.id, "token": token, "kind": row.kind, "expires_at": row.expires_at}


def _current_user(session: SessionDep, principal: PrincipalDep) -> User:
    user = session.get(User, principal.user_id) if principal.user_id else None
    if user is None:
        raise Unauthenticated("请先登录", "log in first")
    return user


# --- administration -------------------------------------------------------------------


@router.get("/users", response_model=list[UserRead], summary="用户列表 List users")
def list_users(session: SessionDep, principal: PrincipalDep) -> list[Any]:
    principal.require("users.manage")
    q = select(User).order_by(User.id)
    ids = admin.visible_user_ids(session, principal)
    if ids is not None:  # a scoped administrator lists the accounts of his own area
        q = q.where(User.id.in_(ids))
    return list(session.scalars(q))


@router.post("/users", response_model=UserRead, status_code=201, summary="创建用户 Create a user")
def create_user(body: UserCreate, session: SessionDep, principal: PrincipalDep) -> Any:
    principal.require("users.manage")
    for post in body.posts:
        admin.check_grant(
            session,
            principal,
            post.role,
            scope=post.scope,
            department=post.department,
            layer=post.layer,
        )
    user = service.create_user(
        session,
        username=body.username,
        password=body.password,
        display_name=body.display_name,
        phone=body.phone,
        actor=principal,
    )
    for post in body.posts:
        service.assign_post(
            session,
            user,
            post.role,
            scope=post.scope,
            department=post.department,
            layer=post.layer,
            actor=principal,
        )
    return user


@router.get(
    "/users/{user_id}/posts", response_model=list[PostRead], summary="用户岗位 A user's posts"
)
def list_posts(user_id: int, session: SessionDep, principal: PrincipalDep) -> list[Any]:
    principal.require("users.manage")
    admin.require_manageable(session, principal, admin.get_user(session, user_id))
    return list(session.scalars(select(Post).where(Post.user_id == user_id).order_by(Post.id)))


@router.post(
    "/users/{user_id}/posts",
    response_model=PostRead,
    status_code=201,
    summary="分配岗位 Assign a post",
)
def add_post(user_id: int, body: PostCreate, session: SessionDep, principal: PrincipalDep) -> Any:
    principal.require("users.manage")
    user = admin.get_user(session, user_id)
    admin.require_manageable(session, principal, user)
    admin.check_grant(
        session,
        principal,
        body.role,
        scope=body.scope,
        department=body.department,
        layer=body.layer,
    )
    return service.assign_post(
        session,
        user,
        body.role,
        scope=body.scope,
        department=body.department,
        layer=body.layer,
        actor=principal,
    )


@router.delete("/posts/{post_id}", status_code=204, summary="撤销岗位 Remove a post")
def remove_post(post_id: int, session: SessionDep, principal: PrincipalDep) -> None:
    principal.require("users.manage")
    post = session.get(Post, post_id)
    if post is None:
        raise NotFound(f"岗位 {post_id} 不存在", f"post {post_id} does not exist")
    admin.require_manageable(session, principal, admin.get_user(session, post.user_id))
    record_for(
        session,
        principal,
        "post.remove",
        object_type="user",
        object_id=post.user_id,
        detail={"role": post.role_code, "scope": post.scope_prefix},
    )
    session.delete(post)


@router.post("/users/{user_id}/unlock", status_code=204, summary="解锁账号 Unlock an account")
def unlock(user_id: int, session: SessionDep, principal: PrincipalDep) -> None:
    principal.require("users.manage")
    user = admin.get_user(session, user_id)
    admin.require_manageable(session, principal, user)
    user.locked_until, user.failed_logins = None, 0
    record_for(
        session,
        principal,
        "user.unlock",
        object_type="user",
        object_id=user_id,
    )


@router.post(
    "/users/{user_id}/actions/reset-password",
    status_code=204,
    summary="重置密码（结束其所有会话）Reset a user's password",
)
def reset_password(
    user_id: int, body: PasswordReset, session: SessionDep, principal: PrincipalDep
) -> None:
    principal.require("users.manage")
    admin.reset_password(session, principal, admin.get_user(session, user_id), body.new_password)


@router.post(
    "/users/{user_id}/actions/deactivate",
    response_model=UserRead,
    summary="停用账号（立即结束会话）Deactivate a user",
)
def deactivate(user_id: int, session: SessionDep, principal: PrincipalDep) -> Any:
    return _set_active(session, principal, user_id, False)


@router.post(
    "/users/{user_id}/actions/reactivate",
    response_model=UserRead,
    summary="恢复账号 Reactivate a user",
)
def reactivate(user_id: int, session: SessionDep, principal: PrincipalDep) -> Any:
    return _set_active(session, principal, user_id, True)


def _set_active(session: Session, principal: Principal, user_id: int, active: bool) -> User:
    principal.require("users.manage")
    user = admin.get_user(session, user_id)
    admin.set_active(session, principal, user, active)
    return user


@router.get(
    "/permissions", response_model=list[PermissionRead], summary="可授予的权限 Known permissions"
)
def list_permissions(principal: PrincipalDep) -> list[dict[str, str]]:
    principal.require("users.manage")
    perms = admin.PERMISSIONS.items()
    return [{"code": code, "name_zh": zh, "name_en": en} for code, (zh, en) in perms]


@router.get("/roles", response_model=list[RoleRead], summary="角色与权限 Roles and permissions")
def list_roles(session: SessionDep, principal: PrincipalDep) -> list[Any]:
    principal.require("users.manage")
    return list(session.scalars(select(Role).order_by(Role.code)))


@router.put(
    "/roles/{code}", response_model=RoleRead, summary="设置角色权限 Set a role's permissions"
)
def put_role(code: str, body: RoleIn, session: SessionDep, principal: PrincipalDep) -> Any:
    principal.require("roles.manage")
    if principal.scope_prefixes is not None:  # a role means the same everywhere
        raise Forbidden(
            "只有全区管理员可以设置角色权限",
            "only an administrator of the whole territory may edit roles",
            code="out_of_scope",
        )
    if code == "admin" and "*" not in body.permissions:
        raise Conflict(
            "系统管理员角色必须保留全部权限（*），否则无人能再管理系统",
            "the admin role must keep every permission (*), or nobody could manage the system",
            code="admin_role_locked",
            field="permissions",
        )
    role = session.get(Role, code) or Role(code=code, builtin=False)
    before = list(role.permissions or [])
    role.name_zh, role.permissions = body.name_zh, sorted(set(body.permissions))
    session.add(role)
    record_for(
        session,
        principal,
        "role.permissions",
        object_type="role",
        object_id=code,
        detail={"before": before, "after": role.permissions},
    )
    return role


@router.post(
    "/api-keys",
    response_model=TokenIssued,
    status_code=201,
    summary="签发 API 密钥 Issue an API key",
)
def issue_api_key(
    body: ApiKeyCreate, session: SessionDep, principal: PrincipalDep, settings: SettingsDep
) -> dict[str, Any]:
    principal.require("users.manage")
    token, row = service.issue_token(
        session,
        kind="api_key",
        name=body.name,
        department=body.department,
        permissions=body.permissions,
        days=body.days,
        max_days=settings.api_key_max_days,
        actor=principal,
    )
    return {"id": row.id, "token": token, "kind": row.kind, "expires_at": row.expires_at}


@router.delete(
    "/api-keys/{token_id}", status_code=204, summary="吊销密钥或令牌 Revoke a key or token"
)
def revoke(token_id: int, session: SessionDep, principal: PrincipalDep) -> None:
    row = session.get(ApiToken, token_id)
    if row is None or not service.may_revoke(session, principal, row):
        raise NotFound(f"令牌 {token_id} 不存在", f"token {token_id} does not exist")
    service.revoke_token(session, token_id, actor=principal)


@router.get("/audit", response_model=list[AuditRead], summary="审计日志 Audit log")
def audit_log(
    session: SessionDep,
    principal: PrincipalDep,
    action: str | None = None,
    actor: str | None = None,
    limit: int = Query(200, ge=1, le=5000),
    before_id: int | None = None,
) -> list[Any]:
    principal.require("audit.read")
    q = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    ids = admin.visible_user_ids(session, principal)
    if ids is not None:  # a scoped administrator reads what the accounts of his area did
        q = q.where(AuditEntry.actor_id.in_(ids))
    if action:
        q = q.where(AuditEntry.action == action)
    if actor:
        q = q.where(AuditEntry.actor == actor)
    if before_id:
        q = q.where(AuditEntry.id < before_id)
    rows = list(session.scalars(q))
    # Reading the log is itself audited (after the read: the answer does not list itself).
    given = {"action": action, "actor": actor, "before_id": before_id, "limit": limit}
    record_for(
        session, principal, "audit.view", object_type="audit_log",
        detail={"via": "api", "filters": {k: v for k, v in given.items() if v is not None}},
    )  # fmt: skip
    return rows


@router.get("/audit/verify", summary="校验审计链 Verify the audit chain")
def audit_verify(session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    principal.require("audit.read")
    report = verify_chain(session)
    return report.__dict__
