"""uploads.case_id: the case a photo belongs to, so its original follows that case's scope

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 18:00:00
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_REF = re.compile(r"/api/v1/uploads/([0-9a-f]{32})")


def upgrade() -> None:
    with op.batch_alter_table("uploads") as batch_op:
        batch_op.add_column(sa.Column("case_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_uploads_case_id"), ["case_id"], unique=False)
    _backfill()


def _backfill() -> None:
    """Link photos already referenced by a case (its report or an action) to that case."""
    conn = op.get_bind()
    cases = sa.table("cases", sa.column("id", sa.Integer), sa.column("photos", sa.JSON))
    events = sa.table(
        "case_events", sa.column("case_id", sa.Integer), sa.column("attachments", sa.JSON)
    )
    owner: dict[str, int] = {}
    for query in (
        sa.select(cases.c.id, cases.c.photos),
        sa.select(events.c.case_id, events.c.attachments),
    ):
        for case_id, refs in conn.execute(query, execution_options={"stream_results": True}):
            for ref in refs or ():
                found = _REF.search(str(ref))
                if found:
                    owner.setdefault(found.group(1), case_id)
    if owner:
        uploads = sa.table("uploads", sa.column("id", sa.String), sa.column("case_id", sa.Integer))
        conn.execute(
            uploads.update().where(uploads.c.id == sa.bindparam("uid")),
            [{"uid": uid, "case_id": cid} for uid, cid in owner.items()],
        )


def downgrade() -> None:
    with op.batch_alter_table("uploads") as batch_op:
        batch_op.drop_index(batch_op.f("ix_uploads_case_id"))
        batch_op.drop_column("case_id")
