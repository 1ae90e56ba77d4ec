"""audit log sealed in batches: entries get a MAC on write and their chain place from a sealer

Before, every append locked the single `audit_head` row until commit, which serialised all
writes of the platform. Now a request inserts its entry (id from the table's sequence, `mac`
over its content) and a sealer links entries into the chain shortly after (`chain_pos`,
`prev_hash`, `hash`). Entries already chained keep their hashes: their position is their id.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_POS = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch_op:
        batch_op.add_column(sa.Column("mac", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("chain_pos", _POS, nullable=True))
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=True)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=True)
    op.execute("UPDATE audit_log SET chain_pos = id")
    op.create_index("uq_audit_log_chain_pos", "audit_log", ["chain_pos"], unique=True)
    op.create_index(
        "ix_audit_log_unsealed",
        "audit_log",
        ["id"],
        postgresql_where=sa.text("chain_pos IS NULL"),
        sqlite_where=sa.text("chain_pos IS NULL"),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Ids were given from the head row; from now on the table's own sequence gives them.
        op.execute(
            "SELECT setval(pg_get_serial_sequence('audit_log', 'id'), "
            "coalesce((SELECT max(id) FROM audit_log), 0) + 1, false)"
        )


def downgrade() -> None:
    # Unsealed entries cannot be chained without the key: refuse rather than lose them.
    unsealed = (
        op.get_bind()
        .execute(sa.text("SELECT count(*) FROM audit_log WHERE chain_pos IS NULL"))
        .scalar()
    )
    if unsealed:
        raise RuntimeError(
            f"{unsealed} audit entries are not sealed yet: run `wangge audit seal` first"
        )
    reordered = (
        op.get_bind()
        .execute(sa.text("SELECT count(*) FROM audit_log WHERE chain_pos <> id"))
        .scalar()
    )
    if reordered:  # the old layout knows only id order
        raise RuntimeError(f"{reordered} audit entries were chained out of id order")
    op.drop_index("ix_audit_log_unsealed", table_name="audit_log")
    op.drop_index("uq_audit_log_chain_pos", table_name="audit_log")
    with op.batch_alter_table("audit_log") as batch_op:
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_column("chain_pos")
        batch_op.drop_column("mac")
