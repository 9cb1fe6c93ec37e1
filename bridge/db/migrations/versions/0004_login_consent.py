"""login consent: a login token is bound to the remote account that opened it, which confirms
or declines the link

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("login_token", schema=None) as batch_op:
        batch_op.add_column(sa.Column("opened_by", sa.String(length=255), nullable=True))
        batch_op.add_column(
            sa.Column("declined", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("login_token", schema=None) as batch_op:
        batch_op.drop_column("declined")
        batch_op.drop_column("opened_by")
