"""The schema checks of the fake Telegram catch what they must (a check that cannot fail is a
defect), and decode request parameters as the Bot API does."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.telegram import Schema, UploadedFile, load_schema
from tests.fakes.telegram.params import decode_params

USER = {"id": 1, "is_bot": False, "first_name": "Ann"}


@pytest.fixture(scope="module")
def schema() -> Schema:
    return load_schema()


def wheres(schema: Schema, value: Any, *types: str) -> list[str]:
    return [issue.where for issue in schema.check(value, types)]


def test_objects_need_their_required_fields_and_no_others(schema: Schema) -> None:
    assert wheres(schema, USER, "User") == []
    assert wheres(schema, {"id": 1, "is_bot": False}, "User") == ["first_name"]
    assert wheres(schema, {**USER, "nick": "a"}, "User") == ["nick"]
    assert wheres(schema, {**USER, "last_name": None}, "User") == ["last_name"]


def test_scalar_types_are_strict(schema: Schema) -> None:
    assert wheres(schema, {**USER, "id": True}, "User") == ["id"]  # a bool is no Integer
    assert wheres(schema, {**USER, "id": 1.0}, "User") == ["id"]
    assert wheres(schema, {**USER, "is_bot": 0}, "User") == ["is_bot"]
    assert wheres(schema, {"latitude": 1, "longitude": 2.5}, "Location") == []  # ints are Floats
    assert wheres(schema, "x", "Integer", "String") == []
    assert wheres(schema, [1], "Integer", "String") == [""]


def test_arrays_are_checked_item_by_item(schema: Schema) -> None:
    photos = {"total_count": 1, "photos": [[{"file_id": "a", "file_unique_id": "b", "width": 1}]]}
    assert wheres(schema, photos, "UserProfilePhotos") == ["photos[0][0].height"]
    assert wheres(schema, {"total_count": 1, "photos": [{}]}, "UserProfilePhotos") == ["photos[0]"]


def test_unions_resolve_by_their_fixed_field(schema: Schema) -> None:
    member = {"status": "member", "user": USER}
    assert wheres(schema, member, "ChatMember") == []
    assert wheres(schema, {**member, "status": "owner"}, "ChatMember") == ["status"]
    # Resolved as ChatMemberMember, the administrator's rights are unknown fields.
    assert wheres(schema, {**member, "can_manage_chat": True}, "ChatMember") == ["can_manage_chat"]
    origin = {"type": "hidden_user", "date": 0, "sender_user_name": "X"}
    assert wheres(schema, origin, "MessageOrigin") == []
    assert wheres(schema, {**origin, "type": "user"}, "MessageOrigin") == [
        "sender_user_name",
        "sender_user",
    ]
    assert wheres(schema, {"type": "paid"}, "ReactionType") == []
    assert wheres(schema, {"type": "emoji"}, "ReactionType") == ["emoji"]


def test_unions_without_a_tag_try_every_member(schema: Schema) -> None:
    inaccessible = {"chat": {"id": 1, "type": "private"}, "message_id": 2, "date": 0}
    assert wheres(schema, inaccessible, "MaybeInaccessibleMessage") == []
    assert wheres(schema, {**inaccessible, "date": 5}, "InaccessibleMessage") == ["date"]
    assert wheres(schema, {"chat": {}}, "MaybeInaccessibleMessage") != []


def test_documented_enumerations_are_enforced(schema: Schema) -> None:
    assert wheres(schema, {"id": 1, "type": "channel"}, "Chat") == []
    assert wheres(schema, {"id": 1, "type": "forum"}, "Chat") == ["type"]
    entity = {"type": "bold", "offset": 0, "length": 1}
    assert wheres(schema, entity, "MessageEntity") == []
    assert wheres(schema, {**entity, "type": "boldface"}, "MessageEntity") == ["type"]
    assert wheres(schema, {"type": "emoji", "emoji": "❤"}, "ReactionType") == []
    assert wheres(schema, {"type": "emoji", "emoji": "❤️"}, "ReactionType") == ["emoji"]


def test_results_are_checked_against_the_methods_return_types(schema: Schema) -> None:
    assert schema.check_result("setMyCommands", True) == []
    assert [i.where for i in schema.check_result("getChat", {"id": 1, "type": "group"})] == [
        "result.accent_color_id",
        "result.max_reaction_count",
        "result.accepted_gift_types",
    ]
    message = {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}}
    assert schema.check_result("editMessageText", message) == []
    assert schema.check_result("editMessageText", True) == []


def test_form_values_decode_per_parameter_type(schema: Schema) -> None:
    raw = {
        "chat_id": "-100123",
        "text": "123",
        "disable_notification": "true",
        "reply_parameters": '{"message_id": 5}',
        "entities": '[{"type": "bold", "offset": 0, "length": 1}]',
    }
    params, issues = decode_params(schema, "sendMessage", raw)
    assert issues == []
    assert params["chat_id"] == -100123
    assert params["text"] == "123"  # a String stays a string
    assert params["disable_notification"] is True
    assert params["reply_parameters"] == {"message_id": 5}
    params, issues = decode_params(schema, "sendMessage", {**raw, "chat_id": "@channel"})
    assert (params["chat_id"], issues) == ("@channel", [])


def test_form_and_upload_mistakes_are_issues(schema: Schema) -> None:
    upload = UploadedFile("photo", "a.png", "image/png", b"...")
    cases: list[tuple[str, dict[str, object], str]] = [
        (
            "sendMessage",
            {"chat_id": "1", "text": "x", "disable_notification": "yes"},
            "disable_notification",
        ),
        ("sendMessage", {"chat_id": "1", "text": "x", "entities": "{not json"}, "entities"),
        ("sendMessage", {"chat_id": "1", "text": upload}, "text"),
        ("sendMessage", {"chat_id": "1"}, "text"),
        ("sendPhoto", {"chat_id": "1", "photo": upload, "stray": upload}, "stray"),
        ("getUpdates", {"limit": "ten"}, "limit"),
    ]
    for method, raw, where in cases:
        _, issues = decode_params(schema, method, raw)
        assert [i.where for i in issues] == [where], (method, raw)
    _, issues = decode_params(schema, "sendPhoto", {"chat_id": "1", "photo": upload})
    assert issues == []


def test_documented_lists_are_read_from_descriptions(schema: Schema) -> None:
    actions = schema.chat_actions()
    assert {"typing", "upload_photo", "upload_document", "record_video_note"} <= actions
    assert len(actions) == 11 and "messages" not in actions and "for" not in actions
    emoji = schema.reaction_emoji()
    assert {"❤", "👍", "🔥"} <= emoji and "❤️" not in emoji
