"""The demo district's employer reference lists (两网化): two imports three months apart, so the
coverage page shows a trend and a list of employers still to visit."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date, timedelta

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from wangge.auth.principal import LOCAL_OPERATOR
from wangge.common.ids import credit_check_char, org_code_check_char
from wangge.registry.employer_list import import_list
from wangge.registry.models_organisations import Organisation

HEAD = ["统一社会信用代码", "企业名称", "住所", "社区代码"]


def _unregistered(
    rng: np.random.Generator, county: str, communities: list[str], n: int
) -> list[list[str]]:
    rows = []
    for i in range(n):
        body = "".join(str(d) for d in rng.integers(0, 10, size=8))
        first17 = f"91{county}{body}{org_code_check_char(body)}"
        community = communities[int(rng.integers(0, len(communities)))]
        rows.append([first17 + credit_check_char(first17), f"未登记商户{i + 1:03d}有限公司",
                     f"待核实地址{i + 1}号", community])  # fmt: skip
    return rows


def _csv(rows: Sequence[Sequence[str | None]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows([HEAD, *rows])
    return out.getvalue().encode("gbk")  # as the market-regulation office sends it


def build_employer_demo(session: Session, county: str, *, seed: int, today: date) -> int:
    """Import two reference lists (three months ago and this month's first day); return the
    employers listed now. Most registered enterprises are listed, plus some never registered."""
    rng = np.random.default_rng(seed + 17)
    orgs = session.execute(
        select(Organisation.credit_code, Organisation.name, Organisation.address,
               Organisation.community_code)
        .where(Organisation.county_code == county, Organisation.kind == "enterprise",
               Organisation.credit_code.is_not(None))
        .order_by(Organisation.id)
    ).all()  # fmt: skip
    if not orgs:
        return 0
    registered = [[o[0], o[1], o[2] or "", o[3] or ""] for o in orgs]
    communities = sorted({o[3] for o in orgs if o[3]})
    extra = _unregistered(rng, county, communities, max(10, len(orgs) // 5))
    first = (today.replace(day=1) - timedelta(days=80)).replace(day=1)
    earlier = [r for i, r in enumerate(registered) if i % 10 < 7] + extra[: len(extra) // 2]
    import_list(session, LOCAL_OPERATOR, county, first, _csv(earlier), file_name="名录.csv",
                source="市场监管登记（演示）")  # fmt: skip
    now_rows = registered + extra
    import_list(session, LOCAL_OPERATOR, county, today.replace(day=1), _csv(now_rows),
                file_name="名录.csv", source="市场监管登记（演示）")  # fmt: skip
    return len(now_rows)
