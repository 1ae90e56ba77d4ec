"""A district from an empty database: the one setup path of `wangge init` and `wangge demo`.

`init_county` is idempotent and never overwrites what the district changed: it adds the
county division when missing, the default roles, the standard catalogue (GB/T 30428.2 部件
and 事件 classes, GB/T 31000 social-governance matters) with their default time limits, and
the county's business lines and response rules. Departments, divisions, grids and accounts
are the district's own data, loaded afterwards (README: "From an empty database to the first
closed case").
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from wangge.auth.service import seed_roles
from wangge.cases.standard import upgrade_catalogue
from wangge.divisions.codes import parse_division_code
from wangge.divisions.models import Division
from wangge.divisions.service import DivisionIn, load_divisions
from wangge.errors import ValidationFailed


@dataclass
class InitReport:
    """What `init_county` added (zero everywhere on a second run)."""

    county_code: str
    county_added: bool = False
    categories_added: int = 0
    extra: dict[str, int] = field(default_factory=dict)


def init_county(session: Session, county_code: str, name: str | None = None) -> InitReport:
    """Make the database ready to take a case in `county_code` (idempotent)."""
    code = parse_division_code(county_code)
    if code.level != "county":
        raise ValidationFailed(
            f"{county_code} 不是区县代码（应为 6 位，如 110108）",
            f"{county_code} is not a county code (6 digits, e.g. 110108)",
            field="county",
        )
    report = InitReport(county_code=county_code)
    if session.get(Division, county_code) is None:
        if not name:
            raise ValidationFailed(
                f"区县 {county_code} 尚不存在，请给出名称（--name）",
                f"county {county_code} does not exist yet: give its name (--name)",
                field="name",
            )
        load_divisions(session, [DivisionIn(county_code, name, None)])
        report.county_added = True
    seed_roles(session)
    # The same upgrade as `wangge catalogue upgrade`: new classes added, the district's edits kept.
    catalogue = upgrade_catalogue(session)
    report.categories_added = len(catalogue.added)
    if catalogue.updated:
        report.extra["类别已更新 / categories updated"] = len(catalogue.updated)
    from wangge.lines.service import seed_lines

    report.extra.update(seed_lines(session, county_code))  # the 9 standard business lines
    from wangge.cases.response import seed_rules

    report.extra["答复时限规则 / response rules"] = seed_rules(session, county_code)
    from wangge.resident_services.catalogue import seed_catalogue  # 代办 default services

    report.extra["代办事项 / resident services"] = seed_catalogue(session, county_code)
    session.flush()
    return report
