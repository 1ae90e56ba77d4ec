"""The web pages (Jinja2, server-rendered, a little JavaScript over the /api/v1 routes)."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from wangge.api.deps import SessionDep, get_principal
from wangge.auth.principal import Principal
from wangge.basemap.sources import page_basemap
from wangge.cases.labels import label, labels
from wangge.common.localtime import local_time
from wangge.common.models import utcnow
from wangge.errors import DomainError
from wangge.web.i18n import LANG_COOKIE, LANGS, N_, pick_language, translator

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.filters["local"] = local_time

router = APIRouter(include_in_schema=False)

# Role → the queue it works first (the console opens there).
NAV = [
    ("/console/map", N_("地图"), "cases.read"),
    ("/console/cases", N_("案卷"), "cases.read"),
    ("/console/intake", N_("受理登记"), "cases.intake"),
    ("/console/disputes", N_("矛盾纠纷"), "cases.read"),
    ("/console/resident-services", N_("代办服务"), "cases.read"),
    ("/console/grids", N_("网格管理"), "grids.read"),
    ("/console/registry", N_("基础数据"), "registry.read"),
    ("/console/employers", N_("用人单位覆盖率"), "registry.read"),
    ("/console/departments", N_("部门"), "departments.manage"),
    ("/console/rules", N_("答复时限"), "rules.manage"),
    ("/console/evaluation", N_("考核评价"), "evaluation.read"),
    ("/console/notifications", N_("通知投递"), "notifications.manage"),
    ("/console/categories", N_("案件类别"), "categories.manage"),
    ("/console/users", N_("用户"), "users.manage"),
    ("/console/audit", N_("审计日志"), "audit.read"),
    ("/dashboard", N_("大屏"), "cases.read"),
]


def static_files() -> StaticFiles:
    """The vendored libraries and the pages' own CSS/JS, served at /static."""
    return StaticFiles(directory=str(STATIC_DIR))


def page_principal(request: Request, session: SessionDep) -> Principal | None:
    """The logged-in user of a page, or None (pages then redirect to the login page)."""
    try:
        p = get_principal(request, session)
    except DomainError:
        return None
    return None if p.via == "anonymous" else p


MeDep = Annotated[Principal | None, Depends(page_principal)]


def render(
    request: Request, name: str, principal: Principal | None = None, **ctx: Any
) -> HTMLResponse:
    """Render a page with the language, the translator and the settings it needs."""
    from wangge.web.department_phone import phone_link  # it imports this module

    settings = request.app.state.settings
    lang = pick_language(
        request.cookies.get(LANG_COOKIE),
        request.query_params.get("lang"),
        settings.default_language,
    )
    nav = [
        (href, text) for href, text, perm in NAV if principal is not None and principal.can(perm)
    ]
    # The address the language switch comes back to; a page answering a POST, or one that
    # refuses its own query, names it (`here=`).
    here = ctx.pop("here", None)
    response = templates.TemplateResponse(
        request,
        name,
        {
            "lang": lang,
            "t": translator(lang),
            "me": principal,
            "nav": nav,
            "path": request.url.path,
            "lang_switch": switch_language_href(request, lang, here),
            "phone_link": phone_link(principal),  # /m, or /m/department for a handler
            # label('state', 'handled') → 已处置待核查 / Handled, to check; the scripts get
            # the same table as WG.labels (base.html).
            "label": lambda kind, code: label(kind, code, lang),
            "labels": page_labels(lang),
            "basemap_url": settings.basemap_url or "",
            # What WG.addBasemap draws (static/basemap.js); a 天地图 key only when logged in.
            "basemap": page_basemap(settings, logged_in=principal is not None),
            "basemap_crs": settings.basemap_crs,
            "basemap_attribution": settings.basemap_attribution,
            **ctx,
        },
    )
    if request.query_params.get("lang") in LANGS:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax")
    return response


def refuse(request: Request, me: Principal, permission: str, title: str) -> HTMLResponse:
    """Render the page that tells a logged-in user he lacks `permission`."""
    message = f"没有权限 / permission required: {permission}"
    return render(request, "message.html", me, title=title, message=message)


@lru_cache(maxsize=len(LANGS))
def page_labels(lang: str) -> dict[str, dict[str, str]]:
    """Return the labels the pages' scripts read as WG.labels (case vocabulary, assignment kinds)."""
    from wangge.assignments.models import KINDS

    i = 1 if lang == "en" else 0
    return {**labels(lang), "assignment_kind": {k: pair[i] for k, pair in KINDS.items()}}


def switch_language_href(request: Request, lang: str, here: str | None = None) -> str:
    """Return the link to the other language that comes back to this page, query and all."""
    if here is None:
        query = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
        here = request.url.path + (f"?{urlencode(query)}" if query else "")
    return f"/lang/{'en' if lang == 'zh' else 'zh'}?{urlencode({'next': here})}"


def _login_redirect(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/login?next={request.url.path}", status_code=303)


@router.get("/login")
def login_page(request: Request) -> HTMLResponse:
    return render(request, "login.html")


@router.get("/console/map")
def map_page(request: Request, session: SessionDep, me: MeDep) -> Response:
    if me is None:
        return _login_redirect(request)
    from wangge.demo import DEMO_COUNTY
    from wangge.web.area import page_area

    area = page_area(session, me)  # a department handler: the counties his departments serve
    counties = area.county_codes()
    root = sorted(counties)[0] if counties else _first_county(session) or DEMO_COUNTY
    if area.scope_prefixes and len(area.scope_prefixes) == 1:
        root = next(iter(area.scope_prefixes))[:12]
    return render(request, "console_map.html", me, root=root)


def _first_county(session: SessionDep) -> str | None:
    from sqlalchemy import select

    from wangge.divisions.models import Division

    return session.scalar(
        select(Division.code).where(Division.level == "county").order_by(Division.code)
    )


@router.get("/console/cases/{case_id}")
def case_page(case_id: int, request: Request, session: SessionDep, me: MeDep) -> Response:
    if me is None:
        return _login_redirect(request)
    from wangge.cases.views import get_case

    try:
        case = get_case(case_id, session, me, utcnow())
    except DomainError as exc:
        return render(request, "message.html", me, title="案卷详情", message=exc.message_zh)
    from wangge.cases.models import Category
    from wangge.departments.models import Department

    category = session.get(Category, case.category_code)
    departments = []
    if "dispatch" in case.allowed_actions:
        from wangge.departments.service import active_for_county

        # The ones dispatch accepts: active, of the county or city-level serving it.
        departments = active_for_county(session, case.county_code)
    from sqlalchemy import select as _select

    from wangge.auth.models import User
    from wangge.web.place_display import case_place

    ids = {int(e.actor_id) for e in case.timeline if e.actor_id.isdigit()}
    names = dict(session.execute(_select(User.id, User.display_name).where(User.id.in_(ids))).all())
    part_codes = [p.department_code for p in case.parts]
    dept_names = dict(
        session.execute(
            _select(Department.code, Department.name).where(Department.code.in_(part_codes))
        ).all()
    )
    return render(
        request,
        "console_case.html",
        me,
        case=case,
        category=category,
        actions=case.allowed_actions,
        departments=departments,
        dept_names=dept_names,
        original=_original(session, me, case.duplicate_of),
        place_rows=case_place(session, case),  # 街道/社区/网格/单元网格 names and codes
        case_json=case.model_dump(mode="json"),
        names={str(k): v for k, v in names.items()},
    )


def _original(session: SessionDep, me: Principal, case_id: int | None) -> dict[str, Any] | None:
    """The case a duplicate was merged into, with its code when the user may see it."""
    if case_id is None:
        return None
    from wangge.cases.access import get_visible

    try:
        return {"id": case_id, "code": get_visible(session, case_id, me).code}
    except DomainError:
        return {"id": case_id, "code": None}


@router.get("/console/grids")
def grids_page(request: Request, session: SessionDep, me: MeDep) -> Response:
    if me is None:
        return _login_redirect(request)
    from wangge.grids.views import list_versions

    try:
        versions = list_versions(session, me)
    except DomainError as exc:
        return render(request, "message.html", me, title="网格管理", message=exc.message_zh)
    from sqlalchemy import func, select

    from wangge.grids.models import Grid

    counts = dict(
        session.execute(
            select(Grid.version_id, func.count(Grid.id)).group_by(Grid.version_id)
        ).all()
    )
    return render(
        request,
        "console_grids.html",
        me,
        versions=versions,
        counts=counts,
        **_grid_tools(session, me),
    )


def _grid_tools(session: SessionDep, me: Principal) -> dict[str, Any]:
    """What the grid page's write tools offer: the areas and kinds (grid managers only)."""
    if not me.can("grids.manage"):
        return {"can_manage": False}
    from wangge.divisions.service import list_divisions
    from wangge.grids.service import KIND_ZH

    def rows(level: str) -> list[dict[str, str]]:
        return [
            {"code": d.code, "name": d.name}
            for d in list_divisions(session, level=level, principal=me)
        ]

    return {
        "can_manage": True,
        "counties": rows("county"),
        "streets": rows("street"),
        "communities": rows("community"),
        "kinds": KIND_ZH,
    }


@router.get("/console/users")
def users_page(request: Request, session: SessionDep, me: MeDep) -> Response:
    if me is None:
        return _login_redirect(request)
    if not me.can("users.manage"):
        return render(request, "message.html", me, title="用户", message="只有管理员可以查看用户")
    from sqlalchemy import select

    from wangge.auth.admin import visible_user_ids
    from wangge.auth.models import Post, User

    q = select(User).order_by(User.id)
    ids = visible_user_ids(session, me)
    if ids is not None:  # a scoped administrator lists the accounts of his own area
        q = q.where(User.id.in_(ids))
    users = list(session.scalars(q))
    posts: dict[int, list[Post]] = {}
    for p in session.scalars(select(Post).order_by(Post.id)):
        posts.setdefault(p.user_id, []).append(p)
    return render(
        request,
        "console_users.html",
        me,
        users=users,
        posts=posts,
        registry=_registry_present(request),
        **_user_tools(session, me),
    )


def _user_tools(session: SessionDep, me: Principal) -> dict[str, Any]:
    """Roles, departments, areas and permissions the users page offers to choose from."""
    from sqlalchemy import select

    from wangge.auth.admin import PERMISSIONS
    from wangge.auth.models import Role
    from wangge.departments.models import Department
    from wangge.divisions.service import list_divisions

    departments = (
        select(Department.code, Department.name)
        .where(Department.is_active.is_(True))  # posts refuse deactivated departments
        .order_by(Department.code)
    )
    counties = me.county_codes()
    if counties is not None:
        departments = departments.where(Department.county_code.in_(sorted(counties)))
    return {
        "roles": list(session.scalars(select(Role).order_by(Role.code))),
        "departments": list(session.execute(departments)),
        "areas": [
            (d.code, d.name) for d in list_divisions(session, principal=me) if me.contains(d.code)
        ],
        "permissions": PERMISSIONS,
        "can_edit_roles": me.can("roles.manage") and me.scope_prefixes is None,
    }


def _registry_present(request: Request) -> bool:
    return any(getattr(r, "path", "").startswith("/api/v1/registry") for r in request.app.routes)


@router.get("/dashboard")
def dashboard_page(request: Request, session: SessionDep, me: MeDep) -> Response:
    if me is None:
        return _login_redirect(request)
    return render(request, "dashboard.html", me)


@router.get("/m")
@router.get("/m/")
def mobile_page(request: Request, session: SessionDep, me: MeDep) -> Response:
    if me is None:
        return _login_redirect(request)
    from wangge.web.department_phone import PAGE, phone_link

    if phone_link(me)[0] == PAGE:  # a department handler has his own phone page
        return RedirectResponse(PAGE, status_code=303)
    return render(request, "mobile.html", me)


@router.get("/m/manifest.webmanifest")
def manifest() -> Response:
    return FileResponse(STATIC_DIR / "manifest.webmanifest", media_type="application/manifest+json")


@router.get("/m/sw.js")
def service_worker() -> Response:
    # Served under /m/ so that its scope covers the mobile page.
    return FileResponse(
        STATIC_DIR / "sw.js",
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"},
    )


@router.get("/citizen")
def citizen_page(request: Request) -> Response:
    settings = request.app.state.settings
    return render(
        request,
        "citizen.html",
        None,
        public_reporting=settings.public_reporting,
        hotline=settings.public_hotline,
    )


@router.get("/lang/{lang}")
def set_language(lang: str, request: Request) -> Response:
    target = request.query_params.get("next") or "/"
    if not target.startswith("/") or target.startswith(("//", "/\\")):  # no other host
        target = "/"
    response = RedirectResponse(target, status_code=303)
    if lang in LANGS:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax")
    return response


def now_local() -> datetime:
    """Return now (for templates that show it)."""
    return utcnow()
