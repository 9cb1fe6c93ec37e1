"""Database tables. Unique constraints make a duplicate mapping impossible, not just unlikely."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Matrix IDs are at most 255 bytes; remote IDs are kept as text of the same bound.
ID = String(255)

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL wants BIGINT for long-lived queues.
SERIAL = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Portal(Base):
    """A remote chat and the Matrix room that stands for it."""

    __tablename__ = "portal"
    __table_args__ = (UniqueConstraint("network", "remote_id", "receiver"),)

    id: Mapped[int] = mapped_column(SERIAL, primary_key=True, autoincrement=True)
    network: Mapped[str] = mapped_column(String(32))
    remote_id: Mapped[str] = mapped_column(ID)
    # The login that sees this chat, or "" for chats every login shares (groups).
    receiver: Mapped[str] = mapped_column(ID, default="")
    mxid: Mapped[str | None] = mapped_column(ID, unique=True)
    room_version: Mapped[str | None] = mapped_column(String(32))
    name: Mapped[str | None] = mapped_column(Text)
    topic: Mapped[str | None] = mapped_column(Text)
    avatar_id: Mapped[str | None] = mapped_column(ID)
    avatar_mxc: Mapped[str | None] = mapped_column(ID)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Ghost(Base):
    """A Matrix user standing for a remote user."""

    __tablename__ = "ghost"
    __table_args__ = (UniqueConstraint("network", "remote_id"),)

    id: Mapped[int] = mapped_column(SERIAL, primary_key=True, autoincrement=True)
    network: Mapped[str] = mapped_column(String(32))
    remote_id: Mapped[str] = mapped_column(ID)
    mxid: Mapped[str] = mapped_column(ID, unique=True)
    displayname: Mapped[str | None] = mapped_column(Text)
    avatar_id: Mapped[str | None] = mapped_column(ID)
    avatar_mxc: Mapped[str | None] = mapped_column(ID)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class User(Base):
    """A Matrix user of the bridge."""

    __tablename__ = "bridge_user"

    mxid: Mapped[str] = mapped_column(ID, primary_key=True)
    management_room: Mapped[str | None] = mapped_column(ID, unique=True)
    # The remote account linked to this Matrix user (one each way at a time).
    remote_id: Mapped[str | None] = mapped_column(ID, unique=True)
    remote_name: Mapped[str | None] = mapped_column(Text)
    # Double puppeting with the user's own access token (login-matrix): a secret, never
    # logged; and the homeserver it is for.
    matrix_token: Mapped[str | None] = mapped_column(Text)
    matrix_homeserver: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LoginToken(Base):
    """A single-use token that links a remote account to a Matrix user, kept as its hash (see
    bridge/login_tokens.py): the first account that presents it is bound to it (``opened_by``)
    and only that account may confirm the link or decline it, which spends it (``used_at``;
    ``declined`` tells which). Used and expired tokens stay a while, so that presenting one
    again is refused with the reason."""

    __tablename__ = "login_token"

    token_hash: Mapped[str] = mapped_column(ID, primary_key=True)
    mxid: Mapped[str] = mapped_column(ID, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    opened_by: Mapped[str | None] = mapped_column(ID)
    declined: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Message(Base):
    """One bridged message part: (portal, remote message id, part) <-> Matrix event id."""

    __tablename__ = "message"
    __table_args__ = (
        UniqueConstraint("portal_id", "remote_id", "part_id"),
        UniqueConstraint("mxid", "part_id"),
    )

    id: Mapped[int] = mapped_column(SERIAL, primary_key=True, autoincrement=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portal.id", ondelete="CASCADE"))
    remote_id: Mapped[str] = mapped_column(ID)
    # One message may become several on the other side (an album; a Matrix text too long for one
    # Telegram message): one row per part, numbered from "0".
    part_id: Mapped[str] = mapped_column(String(64), default="0")
    mxid: Mapped[str] = mapped_column(ID)
    room_id: Mapped[str] = mapped_column(ID)
    sender_remote_id: Mapped[str | None] = mapped_column(ID)
    sender_mxid: Mapped[str | None] = mapped_column(ID)
    timestamp: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class OutgoingIntent(Base):
    """A message part the bridge is about to send to the network; gone once it is recorded in
    the message map. One still here after a crash is a part that may or may not have arrived."""

    __tablename__ = "outgoing_intent"
    __table_args__ = (UniqueConstraint("mxid", "part_id"),)

    id: Mapped[int] = mapped_column(SERIAL, primary_key=True, autoincrement=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portal.id", ondelete="CASCADE"))
    mxid: Mapped[str] = mapped_column(ID)
    part_id: Mapped[str] = mapped_column(String(64))
    # The newest remote message the portal knew when sending began: where a look for the part
    # starts (messages mapped later may be newer than it).
    after_remote_id: Mapped[str | None] = mapped_column(ID)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Reaction(Base):
    """One reaction by one sender to one message, on both sides."""

    __tablename__ = "reaction"
    __table_args__ = (
        UniqueConstraint("portal_id", "message_remote_id", "sender_remote_id", "emoji_id"),
    )

    id: Mapped[int] = mapped_column(SERIAL, primary_key=True, autoincrement=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portal.id", ondelete="CASCADE"))
    message_remote_id: Mapped[str] = mapped_column(ID)
    sender_remote_id: Mapped[str] = mapped_column(ID)
    emoji_id: Mapped[str] = mapped_column(ID)
    emoji: Mapped[str] = mapped_column(Text)
    mxid: Mapped[str] = mapped_column(ID, unique=True)
    timestamp: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AppserviceTransaction(Base):
    """Transaction ids the homeserver has sent, answered only once their events were stored."""

    __tablename__ = "appservice_txn"

    txn_id: Mapped[str] = mapped_column(ID, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MatrixInbox(Base):
    """Matrix events, stored before the transaction is answered and handled from here.

    The event id is the key that deduplicates: Synapse may reuse a transaction id after a restart,
    but an event id is unique.
    """

    __tablename__ = "matrix_inbox"
    __table_args__ = (Index(None, "handled_at", "id"), Index(None, "lane", "handled_at", "id"))

    id: Mapped[int] = mapped_column(SERIAL, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(ID, unique=True)
    room_id: Mapped[str | None] = mapped_column(ID)
    # The ordered queue that handles the event, decided on arrival (see portals/lanes.py): a
    # queue whose memory is full reads the rest of its events from here.
    lane: Mapped[str | None] = mapped_column(ID)
    txn_id: Mapped[str] = mapped_column(ID)
    event: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    handled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)


class RemoteInbox(Base):
    """Remote events, stored before the network is told they arrived, and handled from here."""

    __tablename__ = "remote_inbox"
    __table_args__ = (Index(None, "handled_at", "id"), Index(None, "lane", "handled_at", "id"))

    id: Mapped[int] = mapped_column(SERIAL, primary_key=True, autoincrement=True)
    network: Mapped[str] = mapped_column(String(32))
    # The network's own idempotency key (for Telegram, the update id): a redelivered update is
    # stored once.
    dedup_key: Mapped[str] = mapped_column(ID, unique=True)
    portal_remote_id: Mapped[str] = mapped_column(ID)
    portal_receiver: Mapped[str] = mapped_column(ID, default="")
    lane: Mapped[str | None] = mapped_column(ID)
    event: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    handled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)


class UserNotice(Base):
    """A notice for a Matrix user's management room (a link made, a business account
    connected), kept until the homeserver took it: the network's update that caused it is
    confirmed before the homeserver is asked."""

    __tablename__ = "user_notice"

    id: Mapped[int] = mapped_column(SERIAL, primary_key=True, autoincrement=True)
    room_id: Mapped[str] = mapped_column(ID)
    text: Mapped[str] = mapped_column(Text)
    # Sent with this transaction id, so a repeat is no second notice. Random: ids of deleted
    # rows come back (SQLite), and the homeserver remembers transaction ids per sender.
    txn_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class KeyValue(Base):
    """Small pieces of bridge state (for example a network's update offset)."""

    __tablename__ = "kv_store"

    key: Mapped[str] = mapped_column(ID, primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)


__all__ = [
    "AppserviceTransaction",
    "Base",
    "Ghost",
    "KeyValue",
    "MatrixInbox",
    "Message",
    "OutgoingIntent",
    "Portal",
    "Reaction",
    "RemoteInbox",
    "User",
    "UserNotice",
]
