"""initial schema

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "appservice_txn",
        sa.Column("txn_id", sa.String(length=255), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("txn_id", name=op.f("pk_appservice_txn")),
    )
    op.create_table(
        "bridge_user",
        sa.Column("mxid", sa.String(length=255), nullable=False),
        sa.Column("management_room", sa.String(length=255), nullable=True),
        sa.Column("remote_id", sa.String(length=255), nullable=True),
        sa.Column("remote_name", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("mxid", name=op.f("pk_bridge_user")),
        sa.UniqueConstraint("management_room", name=op.f("uq_bridge_user_management_room")),
    )
    op.create_table(
        "ghost",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("network", sa.String(length=32), nullable=False),
        sa.Column("remote_id", sa.String(length=255), nullable=False),
        sa.Column("mxid", sa.String(length=255), nullable=False),
        sa.Column("displayname", sa.Text(), nullable=True),
        sa.Column("avatar_id", sa.String(length=255), nullable=True),
        sa.Column("avatar_mxc", sa.String(length=255), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ghost")),
        sa.UniqueConstraint("mxid", name=op.f("uq_ghost_mxid")),
        sa.UniqueConstraint("network", "remote_id", name=op.f("uq_ghost_network_remote_id")),
    )
    op.create_table(
        "kv_store",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_kv_store")),
    )
    op.create_table(
        "matrix_inbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("room_id", sa.String(length=255), nullable=True),
        sa.Column("txn_id", sa.String(length=255), nullable=False),
        sa.Column("event", sa.JSON(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_matrix_inbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_matrix_inbox_event_id")),
    )
    with op.batch_alter_table("matrix_inbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_matrix_inbox_handled_at_id"), ["handled_at", "id"], unique=False
        )

    op.create_table(
        "portal",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("network", sa.String(length=32), nullable=False),
        sa.Column("remote_id", sa.String(length=255), nullable=False),
        sa.Column("receiver", sa.String(length=255), nullable=False),
        sa.Column("mxid", sa.String(length=255), nullable=True),
        sa.Column("room_version", sa.String(length=32), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("topic", sa.Text(), nullable=True),
        sa.Column("avatar_id", sa.String(length=255), nullable=True),
        sa.Column("avatar_mxc", sa.String(length=255), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal")),
        sa.UniqueConstraint("mxid", name=op.f("uq_portal_mxid")),
        sa.UniqueConstraint(
            "network", "remote_id", "receiver", name=op.f("uq_portal_network_remote_id_receiver")
        ),
    )
    op.create_table(
        "remote_inbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("network", sa.String(length=32), nullable=False),
        sa.Column("dedup_key", sa.String(length=255), nullable=False),
        sa.Column("portal_remote_id", sa.String(length=255), nullable=False),
        sa.Column("portal_receiver", sa.String(length=255), nullable=False),
        sa.Column("event", sa.JSON(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remote_inbox")),
        sa.UniqueConstraint("dedup_key", name=op.f("uq_remote_inbox_dedup_key")),
    )
    with op.batch_alter_table("remote_inbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_remote_inbox_handled_at_id"), ["handled_at", "id"], unique=False
        )

    op.create_table(
        "message",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "portal_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("remote_id", sa.String(length=255), nullable=False),
        sa.Column("part_id", sa.String(length=64), nullable=False),
        sa.Column("mxid", sa.String(length=255), nullable=False),
        sa.Column("room_id", sa.String(length=255), nullable=False),
        sa.Column("sender_remote_id", sa.String(length=255), nullable=True),
        sa.Column("sender_mxid", sa.String(length=255), nullable=True),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["portal_id"],
            ["portal.id"],
            name=op.f("fk_message_portal_id_portal"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message")),
        sa.UniqueConstraint("mxid", "part_id", name=op.f("uq_message_mxid_part_id")),
        sa.UniqueConstraint(
            "portal_id", "remote_id", "part_id", name=op.f("uq_message_portal_id_remote_id_part_id")
        ),
    )
    op.create_table(
        "outgoing_intent",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "portal_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("mxid", sa.String(length=255), nullable=False),
        sa.Column("part_id", sa.String(length=64), nullable=False),
        sa.Column("after_remote_id", sa.String(length=255), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["portal_id"],
            ["portal.id"],
            name=op.f("fk_outgoing_intent_portal_id_portal"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outgoing_intent")),
        sa.UniqueConstraint("mxid", "part_id", name=op.f("uq_outgoing_intent_mxid_part_id")),
    )
    op.create_table(
        "reaction",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "portal_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("message_remote_id", sa.String(length=255), nullable=False),
        sa.Column("sender_remote_id", sa.String(length=255), nullable=False),
        sa.Column("emoji_id", sa.String(length=255), nullable=False),
        sa.Column("emoji", sa.Text(), nullable=False),
        sa.Column("mxid", sa.String(length=255), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["portal_id"],
            ["portal.id"],
            name=op.f("fk_reaction_portal_id_portal"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reaction")),
        sa.UniqueConstraint("mxid", name=op.f("uq_reaction_mxid")),
        sa.UniqueConstraint(
            "portal_id",
            "message_remote_id",
            "sender_remote_id",
            "emoji_id",
            name=op.f("uq_reaction_portal_id_message_remote_id_sender_remote_id_emoji_id"),
        ),
    )


def downgrade() -> None:

    op.drop_table("reaction")
    op.drop_table("outgoing_intent")
    op.drop_table("message")
    with op.batch_alter_table("remote_inbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_remote_inbox_handled_at_id"))

    op.drop_table("remote_inbox")
    op.drop_table("portal")
    with op.batch_alter_table("matrix_inbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_matrix_inbox_handled_at_id"))

    op.drop_table("matrix_inbox")
    op.drop_table("kv_store")
    op.drop_table("ghost")
    op.drop_table("bridge_user")
    op.drop_table("appservice_txn")
