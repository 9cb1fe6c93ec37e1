"""Queries for account links: login tokens (kept as their hashes: a token given here is never
stored), which remote account each Matrix user linked, and the access tokens users gave for
double puppeting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import ColumnElement, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..login_tokens import token_hash
from .database import Database
from .models import LoginToken, User, utcnow

# Used and expired tokens are kept this long, so presenting one again gets the reason.
KEEP_SPENT = timedelta(days=1)

# "not_yours": the token was opened by another remote account (only that one may use it).
Refusal = Literal["unknown", "used", "expired", "not_yours"]


def aware(moment: datetime) -> datetime:
    """A stored time as UTC: SQLite keeps no time zone (the bridge writes UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


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

    async def open(self, token: str, remote_id: str) -> str:
        """Bind a live token to the remote account that presented it (the first to present it;
        that one again may); its Matrix user. Raises TokenRefused with the reason."""
        async with self._db.session() as session:
            await self._spend(
                session,
                token,
                remote_id,
                or_(LoginToken.opened_by.is_(None), LoginToken.opened_by == remote_id),
                {"opened_by": remote_id},
            )
            return await self._owner(session, token)

    async def decline(self, token: str, remote_id: str) -> str:
        """The account that opened the token declines the link: the token is spent, nothing
        linked; its Matrix user. Raises TokenRefused with the reason."""
        async with self._db.session() as session:
            await self._spend(
                session,
                token,
                remote_id,
                LoginToken.opened_by == remote_id,
                {"used_at": utcnow(), "declined": True},
            )
            return await self._owner(session, token)

    async def redeem(self, token: str, remote_id: str, remote_name: str) -> tuple[str, str | None]:
        """Spend ``token`` and link ``remote_id`` (the account that opened it) to its Matrix
        user, in one transaction.

        Returns the Matrix user, and the one the remote account was linked to before (if
        another). Raises TokenRefused with the reason; a token two redeem at once is spent by
        one of them only.
        """
        async with self._db.session() as session:
            await self._spend(
                session, token, remote_id, LoginToken.opened_by == remote_id, {"used_at": utcnow()}
            )
            mxid = await self._owner(session, token)
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

    @staticmethod
    async def _spend(
        session: AsyncSession,
        token: str,
        remote_id: str,
        whose: ColumnElement[bool],
        values: dict[str, object],
    ) -> None:
        """Change a live token that ``whose`` allows (at most once, whoever races); raise
        TokenRefused with the reason when it is not there to change."""
        now = utcnow()
        hashed = token_hash(token)
        changed = await session.execute(
            update(LoginToken)
            .where(
                LoginToken.token_hash == hashed,
                LoginToken.used_at.is_(None),
                LoginToken.expires_at > now,
                whose,
            )
            .values(**values)
        )
        if changed.rowcount == 1:  # type: ignore[attr-defined]
            return
        found = await session.get(LoginToken, hashed)
        if found is None:
            raise TokenRefused("unknown")
        if found.used_at is not None:
            raise TokenRefused("used")
        if aware(found.expires_at) <= now:
            raise TokenRefused("expired")
        # Opened by another account (or, to confirm or decline, not opened at all).
        raise TokenRefused("not_yours")

    @staticmethod
    async def _owner(session: AsyncSession, token: str) -> str:
        mxid = await session.scalar(
            select(LoginToken.mxid).where(LoginToken.token_hash == token_hash(token))
        )
        assert mxid is not None
        return mxid

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
