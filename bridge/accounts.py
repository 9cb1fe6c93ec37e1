"""Matrix users' links to their remote accounts.

``login`` gives a Matrix user a single-use token (random, ten minutes; see login_tokens.py for
how it is kept out of the database and the logs). The remote account that presents it first
(for Telegram: by opening the bot's deep link) is asked whether to link itself to that user, and
only that account's yes links it: a link sent to someone else (a chat admin, say) links nobody
unless they agree, and cannot be taken over. A remote account is linked to one Matrix user at a
time and a Matrix user to one remote account: a new link replaces the old one. Links are stored;
which remote account belongs to whom is kept in memory too, since every remote event asks.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from .db.accounts import AccountStore, TokenRefused, aware
from .db.models import utcnow
from .login_tokens import new_login_token
from .network.events import RemoteUser
from .network.ids import RemoteUserID
from .network.interface import LinkRefused

log = logging.getLogger("bridge.accounts")

TOKEN_LIFETIME = timedelta(minutes=10)

_REFUSALS = {
    "unknown": "This login link is not known. Send login to the bridge bot in Matrix for a new "
    "one.",
    "used": "This login link was used already: each works once. Send login in Matrix for a "
    "new one.",
    "expired": "This login link has expired (they last ten minutes). Send login in Matrix for "
    "a new one.",
    "not_yours": "This login link was opened by another account: only that one may use it. "
    "Send login in Matrix for a new one.",
}


LoginStage = Literal["waiting", "linked", "declined", "expired"]


@dataclass(frozen=True, slots=True)
class LoginState:
    """Where a login token is: waiting to be presented (or confirmed), spent on a link or
    declined, or expired."""

    stage: LoginStage
    expires_at: datetime


class AccountLinks:
    def __init__(
        self,
        store: AccountStore,
        tell: Callable[[str, str], Awaitable[None]] | None = None,
    ) -> None:
        self._store = store
        # Tells a Matrix user something (a notice in their management room).
        self._tell = tell
        self._by_remote: dict[RemoteUserID, str] = {}

    async def load(self) -> None:
        self._by_remote = {RemoteUserID(remote): mxid for mxid, remote in await self._store.links()}
        log.info("%d linked accounts", len(self._by_remote))

    async def new_token(self, mxid: str) -> str:
        """A single-use token that links whoever presents it to ``mxid``."""
        token = new_login_token()
        await self._store.add_token(token, mxid, utcnow() + TOKEN_LIFETIME)
        return token

    async def login_state(self, mxid: str, token: str) -> LoginState | None:
        """The state of a token made for ``mxid``; None for a token that is not theirs or is
        forgotten (a day after it expired)."""
        found = await self._store.token(token)
        if found is None or found.mxid != mxid:
            return None
        expires_at = aware(found.expires_at)
        if found.used_at is not None:
            stage: LoginStage = "declined" if found.declined else "linked"
        elif expires_at <= utcnow():
            stage = "expired"
        else:
            stage = "waiting"
        return LoginState(stage, expires_at)

    async def open(self, token: str, user: RemoteUser) -> str:
        """``user`` presents the token: bound to them from now on, for them to confirm or
        decline. The Matrix user it would link them to. Raises LinkRefused (why, in words for
        the remote user)."""
        try:
            return await self._store.open(token, str(user.id))
        except TokenRefused as refused:
            raise LinkRefused(_REFUSALS[refused.reason]) from None

    async def decline(self, token: str, user: RemoteUser) -> str:
        """The account that opened the token says no: spent, nothing linked; the Matrix user,
        who is told. Raises LinkRefused."""
        try:
            mxid = await self._store.decline(token, str(user.id))
        except TokenRefused as refused:
            raise LinkRefused(_REFUSALS[refused.reason]) from None
        log.info("Remote account %s declined the link to %s", user.id, mxid)
        await self.tell(
            mxid,
            f"The account {user.displayname} ({user.id}) opened your login link and declined "
            "it: nothing was linked. If that was not you, your link went to someone else.",
        )
        return mxid

    async def link(self, token: str, user: RemoteUser) -> str:
        """Link ``user``, who opened the token, to the Matrix user it was made for; that user.
        Raises LinkRefused (why, in words for the remote user) for a token that links nothing
        (or that another account opened)."""
        try:
            mxid, before = await self._store.redeem(token, str(user.id), user.displayname)
        except TokenRefused as refused:
            raise LinkRefused(_REFUSALS[refused.reason]) from None
        for remote, owner in list(self._by_remote.items()):
            if owner == mxid:
                del self._by_remote[remote]
        self._by_remote[user.id] = mxid
        log.info("Linked %s to remote account %s", mxid, user.id)
        if self._tell is not None:
            await self._tell(mxid, f"Your account {user.displayname} ({user.id}) is now linked.")
            if before is not None:
                await self._tell(
                    before,
                    f"Your linked account {user.displayname} ({user.id}) was linked to "
                    f"{mxid} instead.",
                )
        return mxid

    async def unlink(self, mxid: str) -> RemoteUserID | None:
        remote = await self._store.unlink(mxid)
        if remote is None:
            return None
        self._by_remote.pop(RemoteUserID(remote), None)
        log.info("Unlinked %s from remote account %s", mxid, remote)
        return RemoteUserID(remote)

    async def link_of(self, mxid: str) -> tuple[RemoteUserID, str | None] | None:
        """The user's remote account and its name when linked."""
        found = await self._store.link_of(mxid)
        return (RemoteUserID(found[0]), found[1]) if found is not None else None

    def matrix_user_of(self, remote: RemoteUserID) -> str | None:
        return self._by_remote.get(remote)

    async def tell(self, mxid: str, text: str) -> None:
        """A notice to the Matrix user in their management room."""
        if self._tell is not None:
            await self._tell(mxid, text)
