"""inbox lanes: each stored event names the ordered queue that handles it

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("matrix_inbox", "remote_inbox")


def upgrade() -> None:
    # Events stored before this revision have no lane; the bridge assigns one at start-up.
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("lane", sa.String(length=255), nullable=True))
            batch_op.create_index(
                batch_op.f(f"ix_{table}_lane_handled_at_id"),
                ["lane", "handled_at", "id"],
                unique=False,
            )


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_lane_handled_at_id"))
            batch_op.drop_column("lane")
