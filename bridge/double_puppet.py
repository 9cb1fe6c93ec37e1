"""Double puppeting: what a linked user does on the remote network appears in Matrix as their
own Matrix account instead of their ghost.

The bridge acts as the user either with the as_token of a second appservice whose namespace
covers their homeserver's users (``bridge.double_puppet.secrets``, the mautrix convention), or
with an access token the user gave with ``login-matrix``. Tokens are secrets: kept out of every
log line, and the stored ones only in the database.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import cast

from aiohttp import ClientSession
from mautrix.api import HTTPAPI, Method, Path
from mautrix.appservice import IntentAPI
from mautrix.errors import MatrixRequestError
from mautrix.types import UserID
from yarl import URL

from .config.model import Config
from .db.accounts import AccountStore
from .matrix.client import MatrixClient

log = logging.getLogger("bridge.double_puppet")


class PuppetLoginFailed(Exception):
    """An access token the bridge cannot act with; the text says why."""


class DoublePuppets:
    def __init__(
        self,
        config: Config,
        matrix: MatrixClient,
        store: AccountStore,
        http: ClientSession,
        keep_secret: Callable[[str], None] = lambda _: None,
    ) -> None:
        self._config = config
        self._matrix = matrix
        self._store = store
        self._http = http
        # Adds a value to what the log never shows.
        self._keep_secret = keep_secret
        # Matrix user -> (their access token, their homeserver's URL), from login-matrix.
        self._tokens: dict[str, tuple[str, str]] = {}
        for server in config.bridge.double_puppet.secrets:
            as_token = config.bridge.double_puppet.as_token_for(server)
            if as_token:
                keep_secret(as_token)

    async def load(self) -> None:
        for mxid, token, url in await self._store.matrix_tokens():
            self._keep_secret(token)
            self._tokens[mxid] = (token, url)

    async def intent(self, mxid: str) -> IntentAPI | None:
        """An intent acting as the Matrix user; None when the bridge has no way to."""
        intent = self._intent(mxid)
        if intent is not None:
            # A real user exists: the intent must not try to register them.
            await intent.state_store.registered(UserID(mxid))
        return intent

    def _intent(self, mxid: str) -> IntentAPI | None:
        own = self._tokens.get(mxid)
        if own is not None:
            token, url = own
            return self._matrix.bot.user(UserID(mxid), token, cast(str, URL(url)))
        server = _server_of(mxid)
        as_token = self._config.bridge.double_puppet.as_token_for(server)
        server_url = self._server_url(server)
        if as_token is None or server_url is None:
            return None
        # mautrix takes the URL as a yarl URL, though its annotation says str.
        base_url = cast(str, URL(server_url))
        return self._matrix.bot.user(UserID(mxid), as_token, base_url, as_token=True)

    def method(self, mxid: str) -> str | None:
        """How the bridge acts as the user, in words; None if it cannot."""
        if mxid in self._tokens:
            return "with the access token you gave (login-matrix)"
        if self._config.bridge.double_puppet.as_token_for(_server_of(mxid)) is not None:
            return "set up for your homeserver by the bridge admin"
        return None

    async def login(self, mxid: str, token: str) -> None:
        """Keep ``token`` to act as ``mxid``, once the homeserver says it is theirs."""
        server = _server_of(mxid)
        url = self._server_url(server)
        if url is None:
            raise PuppetLoginFailed(
                f"the bridge does not know the address of {server}: a bridge admin can add it "
                "under bridge.double_puppet.servers"
            )
        api = HTTPAPI(base_url=URL(url), token=token, client_session=self._http)
        try:
            whoami = await api.request(Method.GET, Path.v3.account.whoami)
        except MatrixRequestError as error:
            raise PuppetLoginFailed(
                f"{server} did not accept the token ({error.errcode})"
            ) from None
        if whoami.get("user_id") != mxid:
            raise PuppetLoginFailed("that token belongs to another Matrix user")
        self._keep_secret(token)
        await self._store.set_matrix_token(mxid, token, url)
        self._tokens[mxid] = (token, url)
        log.info("%s gave an access token for double puppeting", mxid)

    async def logout(self, mxid: str) -> bool:
        """Forget the user's access token; False if they gave none."""
        if self._tokens.pop(mxid, None) is None:
            return False
        await self._store.set_matrix_token(mxid, None, None)
        return True

    async def check(self, mxid: str) -> str:
        """Whether acting as the user works now, in words (for ping-matrix)."""
        intent = await self.intent(mxid)
        method = self.method(mxid)
        if intent is None or method is None:
            return (
                "Double puppeting is not set up for you: a bridge admin can set it up for your "
                "homeserver, or you can give the bridge an access token with login-matrix."
            )
        try:
            found = await intent.whoami()
        except MatrixRequestError as error:
            return f"Double puppeting ({method}) does not work now: {error.errcode}."
        if found.user_id != mxid:
            return f"Double puppeting ({method}) acts as {found.user_id}, not as you."
        return (
            f"Double puppeting works ({method}): what you send from your linked account "
            f"appears as {mxid}."
        )

    def _server_url(self, server: str) -> str | None:
        if server == self._config.homeserver.domain:
            return self._config.homeserver.address
        return self._config.bridge.double_puppet.servers.get(server)


def _server_of(mxid: str) -> str:
    return mxid.split(":", 1)[1] if ":" in mxid else ""
