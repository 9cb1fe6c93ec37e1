"""Queries for account links: login tokens (kept as their hashes: a token given here is never
stored), which remote account each Matrix user linked, and the access tokens users gave for
double puppeting."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import delete, select, update

from ..login_tokens import token_hash
from .database import Database
from .models import LoginToken, User, utcnow

# Used and expired tokens are kept this long, so presenting one again gets the reason.
KEEP_SPENT = timedelta(days=1)

Refusal = Literal["unknown", "used", "expired"]


class TokenRefused(Exception):
    def __init__(self, reason: Refusal) -> None:
        super().__init__(reason)
        self.reason: Refusal = reason


class AccountStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add_token(self, token: str, mxid: str, expires_at: datetime) -> None:
        async with self._db.session() as session:
            await session.execute(
                delete(LoginToken).where(LoginToken.expires_at < utcnow() - KEEP_SPENT)
            )
            session.add(LoginToken(token_hash=token_hash(token), mxid=mxid, expires_at=expires_at))

    async def token(self, token: str) -> LoginToken | None:
        async with self._db.session() as session:
            return await session.get(LoginToken, token_hash(token))

    async def redeem(self, token: str, remote_id: str, remote_name: str) -> tuple[str, str | None]:
        """Spend ``token`` and link ``remote_id`` to its Matrix user, in one transaction.

        Returns the Matrix user, and the one the remote account was linked to before (if
        another). Raises TokenRefused with the reason; a token two redeem at once is spent by
        one of them only.
        """
        now = utcnow()
        hashed = token_hash(token)
        async with self._db.session() as session:
            spent = await session.execute(
                update(LoginToken)
                .where(
                    LoginToken.token_hash == hashed,
                    LoginToken.used_at.is_(None),
                    LoginToken.expires_at > now,
                )
                .values(used_at=now)
            )
            if spent.rowcount != 1:  # type: ignore[attr-defined]
                found = await session.get(LoginToken, hashed)
                if found is None:
                    raise TokenRefused("unknown")
                raise TokenRefused("used" if found.used_at is not None else "expired")
            mxid = await session.scalar(
                select(LoginToken.mxid).where(LoginToken.token_hash == hashed)
            )
            assert mxid is not None
            before = await session.scalar(select(User.mxid).where(User.remote_id == remote_id))
            if before is not None and before != mxid:
                await session.execute(
                    update(User).where(User.mxid == before).values(remote_id=None, remote_name=None)
                )
                await session.flush()
            user = await session.get(User, mxid)
            if user is None:
                user = User(mxid=mxid)
                session.add(user)
            user.remote_id, user.remote_name = remote_id, remote_name
        return mxid, before if before != mxid else None

    async def unlink(self, mxid: str) -> str | None:
        """Forget the user's remote account; the one it was, if any."""
        async with self._db.session() as session:
            user = await session.get(User, mxid)
            if user is None or user.remote_id is None:
                return None
            remote_id, user.remote_id, user.remote_name = user.remote_id, None, None
            return remote_id

    async def links(self) -> list[tuple[str, str]]:
        """Every (Matrix user, remote account) link."""
        async with self._db.session() as session:
            rows = await session.execute(
                select(User.mxid, User.remote_id).where(User.remote_id.is_not(None))
            )
            return [(mxid, str(remote_id)) for mxid, remote_id in rows]

    async def link_of(self, mxid: str) -> tuple[str, str | None] | None:
        """The user's remote account and the name it had when linked."""
        async with self._db.session() as session:
            user = await session.get(User, mxid)
        if user is None or user.remote_id is None:
            return None
        return user.remote_id, user.remote_name

    async def set_matrix_token(self, mxid: str, token: str | None, homeserver: str | None) -> None:
        async with self._db.session() as session:
            user = await session.get(User, mxid)
            if user is None:
                user = User(mxid=mxid)
                session.add(user)
            user.matrix_token, user.matrix_homeserver = token, homeserver

    async def matrix_tokens(self) -> list[tuple[str, str, str]]:
        """(Matrix user, access token, homeserver URL) of every user who gave one."""
        async with self._db.session() as session:
            rows = await session.execute(
                select(User.mxid, User.matrix_token, User.matrix_homeserver).where(
                    User.matrix_token.is_not(None)
                )
            )
            return [(mxid, str(token), str(url or "")) for mxid, token, url in rows]
