"""Fill the address of cases reported without one (`wangge cases fill-addresses`)."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import ColumnElement, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from wangge.cases.models import Case
from wangge.grids.locating import locate_refs
from wangge.places.service import address_at

CHUNK = 500


def _missing() -> ColumnElement[bool]:
    return or_(Case.address.is_(None), func.trim(Case.address) == "")


def count_missing(session: Session) -> int:
    """Return how many cases have no address."""
    return int(session.scalar(select(func.count()).select_from(Case).where(_missing())) or 0)


def fill_addresses(session: Session, *, chunk: int = CHUNK) -> Iterator[tuple[int, int]]:
    """Give every case without an address the one of its position; yield (seen, filled) per chunk.

    The caller commits between chunks (a long fill keeps no transaction open). The version is
    not bumped: an address is not a step of the case, and a concurrent action never writes it;
    the UPDATE keeps its own guard so an address typed meanwhile is not overwritten.
    """
    last = 0
    stmt = (
        update(Case)
        .where(Case.id == bindparam("b_id"), _missing())
        .values(address=bindparam("b_address"))
        .execution_options(synchronize_session=False)
    )
    while True:
        rows = session.execute(
            select(Case.id, Case.lon, Case.lat)
            .where(_missing(), Case.id > last)
            .order_by(Case.id)
            .limit(chunk)
        ).all()
        if not rows:
            return
        last = rows[-1].id
        values = []
        for case_id, lon, lat in rows:
            found = locate_refs(session, lon, lat)
            text = address_at(session, lon, lat, found.get("social"), found.get("unit"))
            if text:
                values.append({"b_id": case_id, "b_address": text})
        if values:
            session.connection().execute(stmt, values)
        yield len(rows), len(values)
