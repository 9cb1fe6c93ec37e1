"""Homeserver call paths as metric labels: every id, type and transaction id replaced, so the
series stay few however many rooms and users there are."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.matrix.call_metrics import PATH_WORDS, PLACEHOLDERS, matrix_endpoint

V3 = "/_matrix/client/v3"


@pytest.mark.parametrize(
    ("path", "template"),
    [
        (
            f"{V3}/rooms/!abc:example.com/send/m.room.message/mautrix-1",
            f"{V3}/rooms/{{roomId}}/send/{{eventType}}/{{txnId}}",
        ),
        (
            f"{V3}/rooms/!hashonlyroomv12/state/m.room.member/@ghost:example.com",
            f"{V3}/rooms/{{roomId}}/state/{{eventType}}/{{userId}}",
        ),
        (f"{V3}/rooms/!r:x/state/m.room.name/", f"{V3}/rooms/{{roomId}}/state/{{eventType}}/"),
        (
            f"{V3}/rooms/!r:x/state/m.bridge/telegram-123",
            f"{V3}/rooms/{{roomId}}/state/{{eventType}}/{{stateKey}}",
        ),
        (f"{V3}/rooms/!r:x/redact/$event/txn", f"{V3}/rooms/{{roomId}}/redact/{{eventId}}/{{id}}"),
        (f"{V3}/join/#telegram_-100123:example.com", f"{V3}/join/{{roomAlias}}"),
        (
            f"{V3}/profile/@telegram_42:example.com/avatar_url",
            f"{V3}/profile/{{userId}}/avatar_url",
        ),
        (
            f"{V3}/user/@bot:x/account_data/m.direct",
            f"{V3}/user/{{userId}}/account_data/{{eventType}}",
        ),
        ("/_matrix/media/v3/download/example.com/AbCdEf", "/_matrix/media/v3/download/{id}/{id}"),
        (
            "/_matrix/client/v1/media/download/example.com/AbCdEf",
            "/_matrix/client/v1/media/download/{id}/{id}",
        ),
        (f"{V3}/register", f"{V3}/register"),
        ("/_matrix/client/versions", "/_matrix/client/versions"),
    ],
)
def test_ids_become_placeholders(path: str, template: str) -> None:
    assert matrix_endpoint(path) == template


@given(st.lists(st.text(alphabet=st.characters(blacklist_characters="/")), max_size=8))
def test_a_template_holds_only_known_words_and_placeholders(segments: list[str]) -> None:
    # Whatever the path holds (ids, types, transaction ids), the label comes from a fixed set.
    template = matrix_endpoint("/".join(["", "_matrix", "client", "v3", *segments]))
    assert set(template.split("/")) <= PATH_WORDS | PLACEHOLDERS | {""}
