"""What the provisioning API reads from the database, on SQLite and PostgreSQL: a login's
state (waiting, linked, declined, expired; only for its own user) and every portal that has a
room."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text, update

from bridge.accounts import TOKEN_LIFETIME, AccountLinks
from bridge.db.accounts import AccountStore
from bridge.db.database import Database
from bridge.db.models import LoginToken, utcnow
from bridge.db.stores import PortalStore
from bridge.logging_setup import REDACTED, SecretFilter
from bridge.login_tokens import new_login_token, token_hash
from bridge.network.events import RemoteUser
from bridge.network.ids import RemoteUserID


async def test_a_login_is_waiting_then_linked_declined_or_expired(db: Database) -> None:
    accounts = AccountLinks(AccountStore(db))
    before = utcnow()
    token = await accounts.new_token("@alice:x")
    waiting = await accounts.login_state("@alice:x", token)
    assert waiting is not None and waiting.stage == "waiting"
    assert before + TOKEN_LIFETIME <= waiting.expires_at <= utcnow() + TOKEN_LIFETIME
    assert await accounts.login_state("@bob:x", token) is None  # not Bob's
    assert await accounts.login_state("@alice:x", "unknown") is None

    alice = RemoteUser(RemoteUserID("42"), "Alice")
    await accounts.open(token, alice)
    opened = await accounts.login_state("@alice:x", token)
    assert opened is not None and opened.stage == "waiting"  # for Alice to confirm
    await accounts.link(token, alice)
    linked = await accounts.login_state("@alice:x", token)
    assert linked is not None and linked.stage == "linked"

    refused = await accounts.new_token("@alice:x")
    await accounts.open(refused, alice)
    await accounts.decline(refused, alice)
    declined = await accounts.login_state("@alice:x", refused)
    assert declined is not None and declined.stage == "declined"

    late = await accounts.new_token("@alice:x")
    async with db.session() as session:
        await session.execute(
            update(LoginToken)
            .where(LoginToken.token_hash == token_hash(late))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    expired = await accounts.login_state("@alice:x", late)
    assert expired is not None and expired.stage == "expired"


async def test_portals_with_rooms_and_their_names(db: Database) -> None:
    store = PortalStore(db, "telegram")
    group = await store.get_or_create("-100123")
    await store.update(group.id, mxid="!group:x", name="Group")
    direct = await store.get_or_create("42", receiver="@alice:x")
    await store.update(direct.id, mxid="!direct:x")
    await store.get_or_create("-100999")  # no room yet
    await PortalStore(db, "other").get_or_create("-100123")  # another network's
    assert await store.with_rooms() == [
        ("!group:x", "-100123", "", "Group"),
        ("!direct:x", "42", "@alice:x", None),
    ]


async def test_a_login_token_is_kept_as_its_hash_only(db: Database) -> None:
    """A copy of the database (a backup, a dump) must link nobody."""
    accounts = AccountLinks(AccountStore(db))
    token = await accounts.new_token("@alice:x")
    async with db.engine.connect() as connection:
        rows = [tuple(row) for row in await connection.execute(text("SELECT * FROM login_token"))]
    assert len(rows) == 1
    assert not any(token in str(value) for value in rows[0]), rows
    assert token_hash(token) in rows[0]
    # The token itself still links, once.
    alice = RemoteUser(RemoteUserID("7"), "Alice")
    assert await accounts.open(token, alice) == "@alice:x"
    assert await accounts.link(token, alice) == "@alice:x"
    state = await accounts.login_state("@alice:x", token)
    assert state is not None and state.stage == "linked"


def test_a_login_token_is_redacted_by_a_log_filter_never_told_of_it() -> None:
    """After a restart nothing knows a waiting token (only its hash is kept), yet its /start
    update may be logged: the filter knows tokens by their shape, and keeps no list of them."""
    token = new_login_token()
    secret_filter = SecretFilter([])
    line = f"Update {{'message': {{'text': '/start {token}'}}}} https://t.me/bot?start={token}"
    assert secret_filter.redact(line) == (
        f"Update {{'message': {{'text': '/start {REDACTED}'}}}} https://t.me/bot?start={REDACTED}"
    )
    # Words that merely start alike stay.
    assert secret_filter.redact("login-matrix and login-state") == "login-matrix and login-state"
