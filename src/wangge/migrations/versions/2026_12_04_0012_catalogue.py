"""catalogue: one routing rule per (county, category, area class, area prefix, business line)

Revision 0011 dropped the old unique constraint because NULL ("any area", "any line") is
distinct from NULL in a plain unique index on both databases; an index over the coalesced
values enforces the rule the service keeps, also against two administrators saving at once.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 21:12:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_KEY = (
    "county_code, category_code, coalesce(area_class, ''), coalesce(area_prefix, ''), "
    "coalesce(business_line, '')"
)


def upgrade() -> None:
    # The old constraint made duplicates impossible; drop any anyway, keeping the first rule
    # (the one dispatch used to pick).
    op.execute(
        "DELETE FROM case_routing_rules WHERE id NOT IN "
        f"(SELECT min(id) FROM case_routing_rules GROUP BY {_KEY})"
    )
    op.create_index(
        "uq_case_routing_rules_key",
        "case_routing_rules",
        [
            "county_code",
            "category_code",
            sa.text("coalesce(area_class, '')"),
            sa.text("coalesce(area_prefix, '')"),
            sa.text("coalesce(business_line, '')"),
        ],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("uq_case_routing_rules_key", table_name="case_routing_rules")
