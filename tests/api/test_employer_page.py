"""The 用人单位覆盖率 console page over HTTP: the centre sees every area of the list, a
community post sees his own (trend included), a bad level is named, anonymous users log in."""

from __future__ import annotations

import re
from datetime import date

from tests.case_factories import COUNTY, DISPATCHER, person
from wangge.auth.principal import ANONYMOUS, LOCAL_OPERATOR
from wangge.common.ids import credit_check_char, org_code_check_char
from wangge.registry.employer_list import import_list

ADMIN = person(90, "admin")
COMMUNITY_POST = person(91, "supervisor", scope={"110108001001"})


def _credit(n: int) -> str:
    body = f"{n:08d}"
    first17 = f"91{COUNTY}{body}{org_code_check_char(body)}"
    return first17 + credit_check_char(first17)


def _list(session) -> None:  # type: ignore[no-untyped-def]
    rows = ["统一社会信用代码,企业名称,住所,社区代码"]
    for n, community in ((1, "110108001001"), (2, "110108001001"), (3, "110108002001")):
        rows.append(f"{_credit(n)},单位{n},某路{n}号,{community}")
    data = "\n".join(rows).encode("gbk")
    import_list(session, LOCAL_OPERATOR, COUNTY, date(2026, 10, 1), data, file_name="名录.csv")


def _areas(html: str) -> dict[str, str]:
    return dict(re.findall(r'<tr data-area="(\d+)".*?data-col="listed">(\d+)<', html, re.S))


def test_the_centre_and_a_community_post_read_their_areas(web, session):
    client, holder = web
    _list(session)
    holder["who"] = ADMIN
    page = client.get("/console/employers", params={"level": "community"})
    assert page.status_code == 200 and "用人单位覆盖率" in page.text
    assert _areas(page.text) == {"110108001001": "2", "110108002001": "1"}
    assert 'id="employer-import"' in page.text  # the whole county: may import
    assert page.text.count('data-credit="') == 3  # none verified yet: all to visit
    holder["who"] = COMMUNITY_POST
    own = client.get("/console/employers", params={"level": "community"})
    assert own.status_code == 200
    assert _areas(own.text) == {"110108001001": "2"}
    assert own.text.count('data-credit="') == 2 and 'id="employer-import"' not in own.text
    assert 'data-month="2026-10"' in own.text  # his community's trend since the first list


def test_a_bad_level_is_named_and_anonymous_users_log_in_first(web, session):
    client, holder = web
    holder["who"] = DISPATCHER
    bad = client.get("/console/employers", params={"level": "building"})
    assert "层级" in bad.text and "level must be one of" in bad.text
    holder["who"] = ANONYMOUS
    r = client.get("/console/employers", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
