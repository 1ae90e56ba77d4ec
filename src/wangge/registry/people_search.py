"""Searching people (实有人口): by name or address, and by ID number or phone through their
keyed hashes only; a personal identifier is refused in a URL."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from sqlalchemy import Select, or_, select

from wangge.auth.principal import Principal
from wangge.common.ids import parse_id_number
from wangge.common.masking import contains_personal_identifier
from wangge.errors import ValidationFailed
from wangge.registry.access import normalise_phone, personal_hash, visible
from wangge.registry.models_people import Person


def people_query(principal: Principal, **filters: Any) -> Select[Person]:
    """Return the query of people in the principal's area matching the filters."""
    principal.require("registry.read")
    query = select(Person).where(visible(Person, principal), Person.merged_into_id.is_(None))
    if filters.get("community"):
        query = query.where(Person.community_code.startswith(filters["community"], autoescape=True))
    if filters.get("grid_id"):
        query = query.where(Person.grid_id == filters["grid_id"])
    if filters.get("residence_kind"):
        query = query.where(Person.residence_kind == filters["residence_kind"])
    if filters.get("household_id"):
        query = query.where(Person.household_id == filters["household_id"])
    q = (filters.get("q") or "").strip()
    if q:
        query = query.where(_search_clause(q))
    return query.order_by(Person.id)


def _identifier(q: str) -> tuple[str, str] | None:
    """Return ("id", number) or ("phone", digits) when a search text is one of them."""
    # NFKC turns full-width digits into ASCII; separators people type are dropped.
    compact = re.sub(r"[\s\-.]", "", unicodedata.normalize("NFKC", q)).upper()
    if len(compact) in (15, 18) and compact[:-1].isdigit():
        try:
            return "id", parse_id_number(compact).number
        except ValidationFailed:
            return "id", compact
    digits = normalise_phone(compact)
    if compact.lstrip("+").isdigit() and 7 <= len(digits) <= 12:
        return "phone", digits
    return None


def _search_clause(q: str) -> Any:
    # ID numbers and phones are matched by keyed hash, never by LIKE over clear text.
    found = _identifier(q)
    if found is not None:
        kind, value = found
        column = Person.id_hash if kind == "id" else Person.phone_hash
        return column == personal_hash(kind, value)
    return or_(
        Person.name.contains(q, autoescape=True), Person.address.contains(q, autoescape=True)
    )


def is_identifier_query(q: str | None, kind: str = "people") -> bool:
    """Return True when a search text is (or holds) an ID, phone or passport number."""
    text = (q or "").strip()
    if not text:
        return False
    return contains_personal_identifier(text) or (
        kind == "people" and _identifier(text) is not None
    )


def refuse_identifier_in_url(q: str | None, kind: str = "people") -> None:
    """Refuse a GET search by a personal identifier: URLs stay in browser history and logs."""
    if is_identifier_query(q, kind):
        raise ValidationFailed(
            "查询内容像是身份证号、电话或护照号码，不能放在网址里（会留在浏览器历史、代理和服务器日志中）；"
            "请在请求体中提交：POST /api/v1/registry/people/search，网页上直接用搜索框",
            "the query looks like an ID card, phone or passport number, which must not travel in "
            "a URL (browser history, proxy and server logs); send it in the body of POST "
            "/api/v1/registry/people/search, or use the search box of the web page",
            code="identifier_in_url", field="q",
        )  # fmt: skip
