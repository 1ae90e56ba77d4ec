"""response rules: reserved for issue 13 work (empty unless that part needs a schema change)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 21:15:00
"""

from __future__ import annotations

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
