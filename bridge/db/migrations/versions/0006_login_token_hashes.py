"""login tokens kept as their SHA-256, never as given

Revision ID: 0006
Revises: 0005

Tokens stored before are hashed in place, so one still waiting links as before. Going back
cannot recover them: the downgrade forgets every login token (they last ten minutes).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("login_token", schema=None) as batch_op:
        batch_op.alter_column(
            "token",
            new_column_name="token_hash",
            existing_type=sa.String(length=255),
            existing_nullable=False,
        )
    table = sa.table("login_token", sa.column("token_hash", sa.String(length=255)))
    connection = op.get_bind()
    for (token,) in connection.execute(sa.select(table.c.token_hash)).all():
        # Written out here, not imported: a migration must hash as it did when written.
        hashed = hashlib.sha256(str(token).encode()).hexdigest()
        connection.execute(
            table.update().where(table.c.token_hash == token).values(token_hash=hashed)
        )


def downgrade() -> None:
    op.execute("DELETE FROM login_token")
    with op.batch_alter_table("login_token", schema=None) as batch_op:
        batch_op.alter_column(
            "token_hash",
            new_column_name="token",
            existing_type=sa.String(length=255),
            existing_nullable=False,
        )
