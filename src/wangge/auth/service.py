"""Accounts: passwords, lockout, sessions, bearer tokens, API keys, posts → principals."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from wangge.audit.service import record
from wangge.auth.models import ApiToken, Post, Role, User, WebSession
from wangge.auth.passwords import hasher
from wangge.auth.principal import Principal, Unauthenticated
from wangge.auth.roles import DEFAULT_ROLES
from wangge.common.models import utcnow
from wangge.departments.models import Department
from wangge.departments.service import require_assignable
from wangge.divisions.codes import parse_division_code
from wangge.errors import Conflict, Forbidden, NotFound, ValidationFailed

DEFAULT_KEY_PERMISSIONS = ("cases.read", "cases.act")  # a department's handling system
LOCKOUT_THRESHOLD = 5
LOCKOUT_MINUTES = 15
SESSION_HOURS = 12
MIN_PASSWORD_LENGTH = 10
WHOLE_TERRITORY_ROLES = {"admin", "leader", "auditor"}
_COMMON = {"password", "1234567890", "qwertyuiop", "wangge12345", "admin12345", "abc123456789"}


def hash_token(token: str) -> str:
    """Tokens are stored only as SHA-256: they are long and random, so no salt is needed."""
    return hashlib.sha256(token.encode()).hexdigest()


def check_password_rules(password: str, username: str) -> None:
    """Refuse weak passwords with the reason."""
    classes = sum(
        bool(re.search(p, password)) for p in (r"[a-z]", r"[A-Z]", r"\d", r"[^A-Za-z0-9]")
    )
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(
            (f"长度至少 {MIN_PASSWORD_LENGTH} 位", f"at least {MIN_PASSWORD_LENGTH} characters")
        )
    if classes < 3:
        problems.append(
            ("须包含大写、小写、数字、符号中的至少三类", "use 3 of: upper, lower, digit, symbol")
        )
    if username and username.lower() in password.lower():
        problems.append(("不能包含用户名", "must not contain the user name"))
    if password.lower() in _COMMON:
        problems.append(("过于常见", "too common"))
    if problems:
        raise ValidationFailed(
            "密码不符合要求：" + "；".join(z for z, _ in problems),
            "password rejected: " + "; ".join(e for _, e in problems),
            code="weak_password",
            field="password",
        )


def seed_roles(session: Session) -> None:
    """Insert the default roles that are missing (existing ones are left as admins set them)."""
    existing = set(session.scalars(select(Role.code)))
    for code, (name_zh, perms) in DEFAULT_ROLES.items():
        if code not in existing:
            session.add(Role(code=code, name_zh=name_zh, permissions=perms, builtin=True))
    session.flush()


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    display_name: str,
    phone: str | None = None,
    actor: Principal | None = None,
) -> User:
    """Create a user with an argon2id password hash."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]{3,64}", username):
        raise ValidationFailed(
            "用户名只能包含字母、数字、_ . -，长度 3-64",
            "user name: 3-64 of A-Z a-z 0-9 _ . -",
            field="username",
        )
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(
            f"用户名 {username} 已存在", f"user name {username} is taken", field="username"
        )
    check_password_rules(password, username)
    user = User(
        username=username,
        display_name=display_name,
        phone=phone,
        password_hash=hasher().hash(password),
        password_changed_at=utcnow(),
    )
    session.add(user)
    session.flush()
    _audit(session, actor, "user.create", "user", user.id, detail={"username": username})
    return user


def assign_post(
    session: Session,
    user: User,
    role: str,
    *,
    scope: str | None = None,
    department: str | None = None,
    layer: str | None = None,
    actor: Principal | None = None,
) -> Post:
    """Give a user a role in an area (a division/grid code prefix) or for a department.

    A grid-level scope names a social grid unless `layer="unit"` (a unit or duty grid).
    """
    if session.get(Role, role) is None:
        raise NotFound(f"角色 {role} 不存在", f"role {role} does not exist", field="role")
    if scope is not None:
        parse_division_code(scope[:12] if len(scope) > 12 else scope)
    if layer not in (None, "social", "unit") or (layer == "unit" and len(scope or "") <= 12):
        raise ValidationFailed(
            "网格层只能是 social 或 unit，且 unit 须配合网格编码范围",
            "layer must be social or unit, and unit needs a grid code as scope",
            field="layer",
        )
    if department is not None:  # exists and is active (a deactivated one gets no new posts)
        require_assignable(session, department)
    post = Post(
        user_id=user.id,
        role_code=role,
        scope_prefix=scope,
        scope_layer="unit" if layer == "unit" else None,
        department_code=department,
    )
    session.add(post)
    session.flush()
    _audit(
        session,
        actor,
        "post.assign",
        "user",
        user.id,
        detail={"role": role, "scope": scope, "layer": layer, "department": department},
    )
    return post


def _audit(
    session: Session,
    actor: Principal | None,
    action: str,
    object_type: str,
    object_id: object,
    *,
    detail: dict[str, Any] | None = None,
    reason: str | None = None,
) -> None:
    record(
        session,
        actor=actor.name if actor else "system",
        actor_id=actor.user_id if actor else None,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        detail=detail,
        reason=reason,
    )


def authenticate(
    session: Session, username: str, password: str, *, now: datetime | None = None
) -> User:
    """Check a password; lock the account after repeated failures. Failures are audited."""
    now = now or utcnow()
    user = session.scalar(select(User).where(User.username == username))
    # Failed attempts are facts: the lockout counter and the audit entry are committed even
    # though the request answers 401 (keep_writes), or the lockout could never trigger.
    denied = Unauthenticated(
        "用户名或密码错误", "wrong user name or password", code="bad_credentials", keep_writes=True
    )
    if user is None or not user.is_active or user.password_hash is None:
        hasher().hash(password)  # same cost either way, so timing does not reveal which names exist
        record(session, actor=username[:64], action="login.failed", detail={"reason": "unknown"})
        raise denied
    if user.locked_until is not None and _aware(user.locked_until) > now:
        record(session, actor=username, actor_id=user.id, action="login.locked")
        minutes = int((_aware(user.locked_until) - now).total_seconds() // 60) + 1
        raise Unauthenticated(
            f"账号已锁定，请 {minutes} 分钟后再试",
            f"account locked; retry in {minutes} min",
            code="account_locked",
            keep_writes=True,
        )
    try:
        hasher().verify(user.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        user.failed_logins += 1
        if user.failed_logins >= LOCKOUT_THRESHOLD:
            user.locked_until = now + timedelta(minutes=LOCKOUT_MINUTES)
            user.failed_logins = 0
        record(session, actor=username, actor_id=user.id, action="login.failed")
        raise denied from None
    user.failed_logins = 0
    user.locked_until = None
    if hasher().check_needs_rehash(user.password_hash):
        user.password_hash = hasher().hash(password)
    record(session, actor=username, actor_id=user.id, action="login.ok")
    return user


def _aware(dt: datetime) -> datetime:
    # SQLite gives naive datetimes back; everything is stored in UTC.
    from datetime import UTC

    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def change_password(session: Session, user: User, old: str, new: str) -> None:
    """Change one's own password; every other session and token ends."""
    authenticate(session, user.username, old)
    check_password_rules(new, user.username)
    user.password_hash = hasher().hash(new)
    user.password_changed_at = utcnow()
    user.token_epoch += 1
    record(session, actor=user.username, actor_id=user.id, action="password.change")


@dataclass(frozen=True)
class NewSession:
    token: str
    csrf_token: str
    expires_at: datetime


def open_session(session: Session, user: User, *, now: datetime | None = None) -> NewSession:
    """Start a web session; the cookie carries the token, the table its hash."""
    now = now or utcnow()
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    expires = now + timedelta(hours=SESSION_HOURS)
    session.add(
        WebSession(
            token_hash=hash_token(token),
            user_id=user.id,
            csrf_token=csrf,
            epoch=user.token_epoch,
            expires_at=expires,
        )
    )
    session.flush()
    return NewSession(token, csrf, expires)


def close_session(session: Session, token: str) -> None:
    """End one web session."""
    ws = session.get(WebSession, hash_token(token))
    if ws is not None:
        session.delete(ws)
        session.flush()


def logout_everywhere(session: Session, user: User) -> None:
    """End every session and bearer token of a user at once."""
    session.execute(update(User).where(User.id == user.id).values(token_epoch=User.token_epoch + 1))
    session.query(WebSession).filter(WebSession.user_id == user.id).delete()
    record(session, actor=user.username, actor_id=user.id, action="logout.everywhere")
    session.flush()


def issue_token(
    session: Session,
    *,
    kind: str,
    name: str,
    user: User | None = None,
    department: str | None = None,
    permissions: list[str] | None = None,
    days: int = 90,
    max_days: int | None = None,
    actor: Principal | None = None,
) -> tuple[str, ApiToken]:
    """Issue a bearer token (for a user) or an API key (for a department or system); shown once.

    Every token expires (`days`, at most `max_days`). An API key never holds a right its issuer
    lacks, and it has no territory of its own: it sees what is shared with its department (or,
    for a reporting app, what it reported), whatever the issuer's scope.
    """
    if kind not in ("bearer", "api_key"):
        raise ValidationFailed(
            f"令牌类型 {kind} 无效", f"token kind {kind} is invalid", field="kind"
        )
    if kind == "bearer" and user is None:
        raise ValidationFailed(
            "个人令牌必须属于用户", "a bearer token belongs to a user", field="user"
        )
    if days < 1 or (max_days is not None and days > max_days):
        raise ValidationFailed(
            f"有效期应为 1 至 {max_days} 天", f"days must be 1 to {max_days}", field="days"
        )
    if department is not None:  # exists and is active (a deactivated one gets no new keys)
        require_assignable(session, department)
    if actor is not None and kind == "api_key":
        _check_key_within_issuer(session, actor, department, permissions)
    token = ("wgb_" if kind == "bearer" else "wgk_") + secrets.token_urlsafe(32)
    row = ApiToken(
        token_hash=hash_token(token),
        kind=kind,
        name=name,
        user_id=user.id if user else None,
        department_code=department,
        permissions=permissions,
        epoch=user.token_epoch if user else 0,
        expires_at=utcnow() + timedelta(days=days),
        meta={"issued_by": actor.user_id} if actor is not None else None,
    )
    session.add(row)
    session.flush()
    _audit(
        session,
        actor,
        f"token.issue.{kind}",
        "token",
        row.id,
        detail={"name": name, "department": department, "days": days},
    )
    return token, row


def _check_key_within_issuer(
    session: Session, actor: Principal, department: str | None, permissions: list[str] | None
) -> None:
    if actor.via == "api_key":
        raise Forbidden(
            "API 密钥不能签发新的密钥", "an API key cannot issue keys", code="key_issues_key"
        )
    wanted = permissions if permissions is not None else list(DEFAULT_KEY_PERMISSIONS)
    missing = [p for p in wanted if not actor.can(p)]
    if missing:
        raise Forbidden(
            f"密钥权限不能超出本人权限（{', '.join(missing)}）",
            f"a key cannot hold rights you lack ({', '.join(missing)})",
            code="grant_exceeds_rights",
            field="permissions",
        )
    counties = actor.county_codes()
    dept = session.get(Department, department) if department else None
    if counties is not None and dept is not None and dept.county_code not in counties:
        raise Forbidden(
            f"部门 {department} 不在您的管辖范围内",
            f"department {department} is outside your area",
            code="out_of_scope",
            field="department",
        )


def may_revoke(session: Session, principal: Principal, row: ApiToken) -> bool:
    """One's own tokens, or (administrators) keys and tokens inside one's own area."""
    if row.user_id is not None and row.user_id == principal.user_id:
        return True
    if principal.via == "api_key" or not principal.can("users.manage"):
        return False
    if principal.scope_prefixes is None:
        return True
    if row.user_id is not None:
        owner = session.get(User, row.user_id)
        return owner is not None and manages(session, principal, owner)
    issued_by = (row.meta or {}).get("issued_by")
    dept = session.get(Department, row.department_code) if row.department_code else None
    counties = principal.county_codes() or set()
    return issued_by == principal.user_id or (dept is not None and dept.county_code in counties)


def manages(session: Session, actor: Principal, user: User) -> bool:
    """Return True when every area post of the user lies inside the actor's area.

    An account without posts yet (just created) is anybody's to equip.
    """
    if actor.scope_prefixes is None:
        return True
    posts = session.scalars(select(Post).where(Post.user_id == user.id)).all()
    return all(
        p.department_code is not None
        or (p.scope_prefix and actor.contains(p.scope_prefix, p.scope_layer or "social"))
        for p in posts
    )


def revoke_token(session: Session, token_id: int, *, actor: Principal | None = None) -> None:
    """Revoke a token or API key."""
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"令牌 {token_id} 不存在", f"token {token_id} does not exist")
    row.revoked_at = utcnow()
    _audit(session, actor, "token.revoke", "token", token_id)


def principal_for_user(
    session: Session, user: User, *, via: str, csrf: str | None = None
) -> Principal:
    """Combine a user's posts into one principal (permissions, roles, scope, departments)."""
    rows = session.execute(
        select(Post, Role).join(Role, Role.code == Post.role_code).where(Post.user_id == user.id)
    ).all()
    perms: set[str] = set()
    roles: set[str] = set()
    depts: set[str] = set()
    scopes: set[str] = set()
    unit_scopes: set[str] = set()
    whole = False
    for post, role in rows:
        perms.update(role.permissions or [])
        roles.add(role.code)
        if post.department_code:
            depts.add(post.department_code)
        if post.scope_prefix and post.scope_layer == "unit":
            unit_scopes.add(post.scope_prefix)
        elif post.scope_prefix:
            scopes.add(post.scope_prefix)
        elif role.code in WHOLE_TERRITORY_ROLES or "*" in (role.permissions or []):
            whole = True  # other roles without an area (citizens, departments) see no territory
    return Principal(
        name=user.username,
        permissions=frozenset(perms),
        roles=frozenset(roles),
        department_codes=frozenset(depts),
        scope_prefixes=None if whole else frozenset(scopes),
        unit_grid_scopes=frozenset(unit_scopes),
        user_id=user.id,
        via=via,
        csrf_token=csrf,
    )


def principal_from_session(
    session: Session, token: str, *, now: datetime | None = None
) -> Principal | None:
    """Resolve a session cookie to a principal, or None when it is unknown or expired."""
    now = now or utcnow()
    ws = session.get(WebSession, hash_token(token))
    if ws is None or _aware(ws.expires_at) <= now:
        return None
    user = session.get(User, ws.user_id)
    if user is None or not user.is_active or user.token_epoch != ws.epoch:
        return None
    return principal_for_user(session, user, via="session", csrf=ws.csrf_token)


# A user's posts change rarely; caching the principal built from them saves three queries
# per request. Validity (revoked, expired, logged out everywhere, deactivated) is still
# checked on every request with one query, so only permission changes wait up to this long.
POSTS_CACHE_SECONDS = 5.0
_principal_cache: dict[str, tuple[float, Principal]] = {}


def principal_from_token(
    session: Session, token: str, *, now: datetime | None = None
) -> Principal | None:
    """Resolve a bearer token or an API key to a principal, or None."""
    now = now or utcnow()
    digest = hash_token(token)
    # Columns, not the ORM entity: this runs on every API request (the entity is loaded only
    # when the principal has to be built).
    t = ApiToken
    row = session.execute(
        select(t.id, t.revoked_at, t.expires_at, t.user_id, t.epoch, User.token_epoch,
               User.is_active)
        .outerjoin(User, User.id == t.user_id)
        .where(t.token_hash == digest)
    ).first()  # fmt: skip
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and _aware(row.expires_at) <= now:
        return None
    if row.user_id is not None and (not row.is_active or row.token_epoch != row.epoch):
        return None
    cached = _principal_cache.get(digest)
    if cached is not None and time.monotonic() - cached[0] < POSTS_CACHE_SECONDS:
        return cached[1]
    entity = session.get(ApiToken, row.id)
    principal = None if entity is None else _token_principal(session, entity)
    if principal is not None:
        if len(_principal_cache) > 10_000:
            _principal_cache.clear()
        _principal_cache[digest] = (time.monotonic(), principal)
    return principal


def _token_principal(session: Session, row: ApiToken) -> Principal | None:
    if row.user_id is not None:
        user = session.get(User, row.user_id)
        if user is None:
            return None
        base = principal_for_user(session, user, via=row.kind)
        if row.permissions is not None:  # a token can narrow, never widen, its user's rights
            base = replace(base, permissions=base.permissions & frozenset(row.permissions))
        return base
    # A department's API key sees only what is shared with that department.
    return Principal(
        name=f"api-key:{row.name}",
        permissions=frozenset(row.permissions or DEFAULT_KEY_PERMISSIONS),
        # A department's key acts as that department; an outside reporting app as a citizen.
        roles=frozenset({"department"})
        if row.department_code
        else frozenset({"citizen"})
        if "cases.report" in (row.permissions or [])
        else frozenset(),
        department_codes=frozenset({row.department_code}) if row.department_code else frozenset(),
        scope_prefixes=frozenset(),
        via="api_key",
    )
