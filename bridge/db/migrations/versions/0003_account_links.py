"""account links: login tokens, one remote account per Matrix user, double puppet tokens

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("bridge_user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("matrix_token", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("matrix_homeserver", sa.Text(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_bridge_user_remote_id"), ["remote_id"])
    op.create_table(
        "login_token",
        sa.Column("token", sa.String(length=255), nullable=False),
        sa.Column("mxid", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_login_token")),
    )
    with op.batch_alter_table("login_token", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_token_mxid"), ["mxid"], unique=False)
        batch_op.create_index(batch_op.f("ix_login_token_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("login_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_token_expires_at"))
        batch_op.drop_index(batch_op.f("ix_login_token_mxid"))
    op.drop_table("login_token")
    with op.batch_alter_table("bridge_user", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_bridge_user_remote_id"), type_="unique")
        batch_op.drop_column("matrix_homeserver")
        batch_op.drop_column("matrix_token")
