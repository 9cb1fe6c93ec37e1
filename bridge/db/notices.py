"""Queries for notices to management rooms: kept from the moment they are due until the
homeserver took them."""

from __future__ import annotations

import secrets

from sqlalchemy import delete, select

from .database import Database
from .models import UserNotice


class NoticeStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, room_id: str, text: str) -> UserNotice:
        async with self._db.session() as session:
            txn_id = f"user-notice-{secrets.token_hex(12)}"
            notice = UserNotice(room_id=room_id, text=text, txn_id=txn_id)
            session.add(notice)
            await session.flush()
        return notice

    async def pending(self) -> list[UserNotice]:
        """Every notice not sent yet, oldest first."""
        async with self._db.session() as session:
            return list(await session.scalars(select(UserNotice).order_by(UserNotice.id)))

    async def sent(self, notice_id: int) -> None:
        async with self._db.session() as session:
            await session.execute(delete(UserNotice).where(UserNotice.id == notice_id))
