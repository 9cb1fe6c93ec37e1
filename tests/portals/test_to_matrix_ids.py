"""The marker in what the bridge sends into Matrix: it names the bridge, and only this bridge's
name (or the older marker without a name) makes an event its own. Table-driven."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.network.events import MessageContent
from bridge.network.ids import PortalKey, RemoteChatID
from portals.to_matrix import caption_replacement
from portals.to_matrix_ids import (
    BRIDGE_KEY,
    SOURCE_KEY,
    bridge_name,
    carries_marker,
    mark,
    transaction_id,
)

THIS = bridge_name("telegram", "example.com")
TXN = "bridge-0123"


@pytest.mark.parametrize(
    ("content", "own"),
    [
        # What this bridge writes now: with the transaction id (messages, edits, reactions)
        # or without (a double puppet's redaction).
        ({"body": "hi", BRIDGE_KEY: THIS, SOURCE_KEY: TXN}, True),
        ({"redacts": "$e", BRIDGE_KEY: THIS}, True),
        # Another bridge's, on this homeserver (another registration) or on another one (the
        # same default id, another instance): a user's doing, to be carried.
        ({"body": "hi", BRIDGE_KEY: bridge_name("signal", "example.com"), SOURCE_KEY: TXN}, False),
        ({"body": "hi", BRIDGE_KEY: bridge_name("telegram", "other.org"), SOURCE_KEY: TXN}, False),
        ({"body": "hi", BRIDGE_KEY: "telegram", SOURCE_KEY: TXN}, False),  # the id alone
        # A name that is no name is nobody's, even with a transaction id beside it.
        ({"body": "hi", BRIDGE_KEY: None, SOURCE_KEY: TXN}, False),
        ({"body": "hi", BRIDGE_KEY: [THIS], SOURCE_KEY: TXN}, False),
        ({"body": "hi", BRIDGE_KEY: {"id": "telegram"}}, False),
        # Written by a release before the name: taken as this bridge's, as it was then (see
        # carries_marker for why); whatever the transaction id's value.
        ({"body": "hi", SOURCE_KEY: TXN}, True),
        ({"body": "hi", SOURCE_KEY: None}, True),
        # No marker: a user's.
        ({"body": "hi"}, False),
        ({}, False),
        # Marker-like keys elsewhere do not count.
        ({"body": "hi", "m.new_content": {BRIDGE_KEY: THIS, SOURCE_KEY: TXN}}, False),
        ({"body": "hi", "fi.mau.double_puppet_source": "telegram"}, False),
    ],
)
def test_whose_event(content: dict[str, Any], own: bool) -> None:
    event = {"type": "m.room.message", "sender": "@alice:example.com", "content": content}
    assert carries_marker(event, THIS) is own


@pytest.mark.parametrize(
    "event",
    [{}, {"content": None}, {"content": "text"}, {"content": [BRIDGE_KEY, SOURCE_KEY]}],
)
def test_an_event_without_content_is_nobodys(event: dict[str, Any]) -> None:
    assert carries_marker(event, THIS) is False


@pytest.mark.parametrize(
    ("content", "txn_id", "expected"),
    [
        ({"body": "hi"}, TXN, {"body": "hi", BRIDGE_KEY: THIS, SOURCE_KEY: TXN}),
        ({"body": "hi"}, None, {"body": "hi", BRIDGE_KEY: THIS}),
        ({}, None, {BRIDGE_KEY: THIS}),
        # Marking again (a resend) replaces, never keeps another's name.
        (
            {BRIDGE_KEY: "old:example.com", SOURCE_KEY: "x"},
            TXN,
            {BRIDGE_KEY: THIS, SOURCE_KEY: TXN},
        ),
    ],
)
def test_mark(content: dict[str, Any], txn_id: str | None, expected: dict[str, Any]) -> None:
    marked = mark(content, THIS, txn_id)
    assert marked == expected
    assert marked is content


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (("telegram", "example.com"), ("signal", "example.com")),
        (("telegram", "example.com"), ("telegram", "example.org")),
        (("telegram", "example.com"), ("telegram2", "example.com")),
        (("telegram", "example.com:8448"), ("telegram", "example.com")),
    ],
)
def test_bridges_are_told_apart(one: tuple[str, str], other: tuple[str, str]) -> None:
    assert bridge_name(*one) != bridge_name(*other)
    sent = {"content": mark({"body": "hi"}, bridge_name(*one), TXN)}
    assert carries_marker(sent, bridge_name(*one))
    assert not carries_marker(sent, bridge_name(*other))


# Registration ids as the config allows them (appservice.id), and server names.
IDS = st.from_regex(r"[A-Za-z0-9_.\-]{1,20}", fullmatch=True)
DOMAINS = st.from_regex(r"[a-z0-9.\-]{1,20}(:[0-9]{1,5})?", fullmatch=True)


@given(IDS, DOMAINS, IDS, DOMAINS, st.one_of(st.none(), st.just(TXN)))
def test_only_the_sending_bridge_takes_an_event_for_its_own(
    own_id: str, own_domain: str, other_id: str, other_domain: str, txn_id: str | None
) -> None:
    own, other = bridge_name(own_id, own_domain), bridge_name(other_id, other_domain)
    sent = {"content": mark({"body": "hi"}, own, txn_id)}
    assert carries_marker(sent, own)
    assert carries_marker(sent, other) is ((own_id, own_domain) == (other_id, other_domain))


def test_a_new_caption_leaves_the_files_marker_behind() -> None:
    # The replacement is marked anew when sent (to_matrix.py); the first event's marker must
    # not ride along inside m.new_content.
    first = mark({"msgtype": "m.image", "body": "cat.jpg", "url": "mxc://x/y"}, THIS, TXN)
    new = caption_replacement(first, MessageContent("a cat"), "$first")["m.new_content"]
    assert BRIDGE_KEY not in new
    assert SOURCE_KEY not in new
    assert new["url"] == "mxc://x/y"


def test_transaction_ids_are_stable_and_per_part() -> None:
    portal = PortalKey(RemoteChatID("chat"))
    assert transaction_id(portal, "1", "0") == transaction_id(portal, "1", "0")
    ids = {transaction_id(portal, "1", part) for part in ("0", "1", "edit:9:0", "react:3:x")}
    assert len(ids) == 4
    assert transaction_id(PortalKey(RemoteChatID("other")), "1", "0") not in ids
