"""Login tokens need the consent of the account that opens them, on SQLite and PostgreSQL: the
first account to open a token is the only one that may confirm or decline it; confirming links,
declining spends it and tells the Matrix user, and either works once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import update

from bridge.accounts import AccountLinks
from bridge.db.accounts import AccountStore
from bridge.db.database import Database
from bridge.db.models import LoginToken, utcnow
from bridge.login_tokens import token_hash
from bridge.network.events import RemoteUser
from bridge.network.ids import RemoteUserID
from bridge.network.interface import LinkRefused

ALICE = RemoteUser(RemoteUserID("42"), "Alice")
MALLORY = RemoteUser(RemoteUserID("66"), "Mallory")


def accounts_telling(db: Database, told: list[tuple[str, str]]) -> AccountLinks:
    async def tell(mxid: str, text: str) -> None:
        told.append((mxid, text))

    return AccountLinks(AccountStore(db), tell)


async def test_only_the_account_that_opened_a_token_confirms_it(db: Database) -> None:
    told: list[tuple[str, str]] = []
    accounts = accounts_telling(db, told)
    token = await accounts.new_token("@bob:x")
    # Confirming what one never opened links nothing (a forged button press).
    with pytest.raises(LinkRefused, match="another account"):
        await accounts.link(token, ALICE)
    assert await accounts.open(token, ALICE) == "@bob:x"
    assert await accounts.open(token, ALICE) == "@bob:x"  # Alice may open it again
    for attempt in (accounts.open, accounts.link, accounts.decline):
        with pytest.raises(LinkRefused, match="another account"):
            await attempt(token, MALLORY)
    assert accounts.matrix_user_of(MALLORY.id) is None and told == []

    assert await accounts.link(token, ALICE) == "@bob:x"
    assert accounts.matrix_user_of(ALICE.id) == "@bob:x"
    assert told == [("@bob:x", "Your account Alice (42) is now linked.")]
    for attempt in (accounts.open, accounts.link, accounts.decline):
        with pytest.raises(LinkRefused, match="used already"):
            await attempt(token, ALICE)


async def test_declining_spends_the_token_and_tells_the_matrix_user(db: Database) -> None:
    told: list[tuple[str, str]] = []
    accounts = accounts_telling(db, told)
    token = await accounts.new_token("@mallory:x")
    await accounts.open(token, ALICE)
    assert await accounts.decline(token, ALICE) == "@mallory:x"
    assert accounts.matrix_user_of(ALICE.id) is None
    [(mxid, text)] = told
    assert mxid == "@mallory:x" and "Alice (42) opened your login link and declined" in text
    with pytest.raises(LinkRefused, match="used already"):
        await accounts.link(token, ALICE)


async def test_an_expired_token_is_refused_at_each_step(db: Database) -> None:
    accounts = AccountLinks(AccountStore(db))
    token = await accounts.new_token("@bob:x")
    await accounts.open(token, ALICE)
    async with db.session() as session:
        await session.execute(
            update(LoginToken)
            .where(LoginToken.token_hash == token_hash(token))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    for attempt in (accounts.open, accounts.link, accounts.decline):
        with pytest.raises(LinkRefused, match="expired"):
            await attempt(token, ALICE)
    with pytest.raises(LinkRefused, match="not known"):
        await accounts.open("no-such-token", ALICE)


async def test_two_accounts_opening_at_once_bind_it_to_one(db: Database) -> None:
    accounts = AccountLinks(AccountStore(db))
    token = await accounts.new_token("@bob:x")
    results = await asyncio.gather(
        accounts.open(token, ALICE), accounts.open(token, MALLORY), return_exceptions=True
    )
    assert sorted(type(result).__name__ for result in results) == ["LinkRefused", "str"]
