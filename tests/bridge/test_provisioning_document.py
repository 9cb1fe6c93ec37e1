"""The provisioning API checks ids with the patterns its OpenAPI document states: a value the
document allows and the code refuses is a schema-valid request rejected (schemathesis found
one: a room ID holding %, read as an escape in the path)."""

from __future__ import annotations

import pytest

from bridge.provisioning.api import CHAT_ID, ROOM_ID, USER_ID
from bridge.provisioning.document import openapi_document

DOCUMENT = openapi_document("/_matrix/provision/v1", "test")


@pytest.mark.parametrize(
    ("schema", "pattern"),
    [
        (DOCUMENT["components"]["schemas"]["RoomId"], ROOM_ID),
        (DOCUMENT["components"]["schemas"]["ChatId"], CHAT_ID),
        (DOCUMENT["components"]["parameters"]["UserId"]["schema"], USER_ID),
    ],
    ids=["room", "chat", "user"],
)
def test_the_code_checks_what_the_document_states(schema: dict[str, str], pattern: object) -> None:
    assert schema["pattern"] == getattr(pattern, "pattern", None)


@pytest.mark.parametrize(
    ("room_id", "valid"),
    [("!abc:example.com", True), ("!0~qA@I4X^V.@jh", True), ("!a%EF%BF%BD", False), ("!", False)],
)
def test_room_ids(room_id: str, valid: bool) -> None:
    assert bool(ROOM_ID.match(room_id)) is valid
