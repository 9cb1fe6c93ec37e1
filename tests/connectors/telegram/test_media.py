"""Telegram files into Matrix through a real Synapse and the fake Bot API: each kind as the
Matrix event clients expect, its bytes equal after crossing, its caption kept with it, and a
file Telegram will not hand over named in a notice instead of vanishing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.connectors.telegram.conftest import StartTelegramBridge
from tests.connectors.telegram.sticker_samples import make_tgs, make_webm
from tests.connectors.telegram.test_messages import body_is, portal_with_reader
from tests.fakes.telegram import FakeTelegram, make_png
from tests.fakes.telegram.objects import photo_object
from tests.support.fixtures import MakeMatrixUser

AUDIO = b"ID3\x03\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 8
VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(range(255, -1, -1)) * 8
OGG = b"OggS\x00\x02" + bytes(200)
PDF = b"%PDF-1.4\n" + b"x" * 3000


@dataclass(frozen=True)
class Case:
    """A file kind as Telegram sends it, and what Matrix should show."""

    kind: str
    data: bytes
    params: dict[str, Any]
    event_type: str
    msgtype: str | None
    body: str
    mimetype: str
    info: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


CASES = [
    Case(
        "document",
        PDF,
        {"file_name": "report.pdf", "mime_type": "application/pdf"},
        "m.room.message",
        "m.file",
        "report.pdf",
        "application/pdf",
    ),
    # What a sticker is made of, sent as a file: Telegram says Document, so it stays a file
    # (never converted, whatever its type).
    Case(
        "document",
        make_webm(),
        {"file_name": "clip.webm", "mime_type": "video/webm"},
        "m.room.message",
        "m.file",
        "clip.webm",
        "video/webm",
    ),
    Case(
        "document",
        make_tgs(),
        {"file_name": "cat.tgs", "mime_type": "application/x-tgsticker"},
        "m.room.message",
        "m.file",
        "cat.tgs",
        "application/x-tgsticker",
    ),
    Case(
        "video",
        VIDEO,
        {"file_name": "clip.mp4", "mime_type": "video/mp4", "width": 640, "height": 360},
        "m.room.message",
        "m.video",
        "clip.mp4",
        "video/mp4",
        {"w": 640, "h": 360, "duration": 7000},
    ),
    Case(
        "audio",
        AUDIO,
        {"file_name": "song.mp3", "mime_type": "audio/mpeg", "title": "Song"},
        "m.room.message",
        "m.audio",
        "song.mp3",
        "audio/mpeg",
        {"duration": 7000},
    ),
    Case(
        "voice",
        OGG,
        {"mime_type": "audio/ogg"},
        "m.room.message",
        "m.audio",
        "audio.ogg",
        "audio/ogg",
        {"duration": 7000},
        {"org.matrix.msc3245.voice": {}, "org.matrix.msc1767.audio": {"duration": 7000}},
    ),
    Case(
        "animation",
        VIDEO,
        {"file_name": "funny.gif.mp4", "mime_type": "video/mp4", "width": 320, "height": 240},
        "m.room.message",
        "m.video",
        "funny.gif.mp4",
        "video/mp4",
        {"w": 320, "h": 240, "duration": 7000, "fi.mau.loop": True, "fi.mau.no_audio": True},
    ),
    Case(
        "video_note",
        VIDEO,
        {"mime_type": "video/mp4", "length": 240},
        "m.room.message",
        "m.video",
        "video.mp4",
        "video/mp4",
        {"w": 240, "h": 240, "duration": 7000},
    ),
    Case(
        "sticker",
        make_png(64, 64),
        {"file_name": "sticker.webp", "mime_type": "image/webp", "emoji": "😀"},
        "m.sticker",
        None,
        "😀",
        "image/webp",
        {"w": 64, "h": 64},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{case.kind}-{case.mimetype}" for case in CASES])
async def test_each_kind_of_file_arrives_as_matrix_shows_it(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    case: Case,
) -> None:
    _, alice, group, user, room_id = await portal_with_reader(
        telegram_bridge, fake_telegram, make_matrix_user
    )
    params = {key: value for key, value in case.params.items() if key not in ("file_name",)}
    mime_type = params.pop("mime_type")
    if case.kind in ("video", "audio", "voice", "animation", "video_note"):
        params["duration"] = 7
    fake_telegram.inject_media(
        group, alice, case.kind, case.data, file_name=case.params.get("file_name"),
        mime_type=mime_type, **params,
    )  # fmt: skip
    event = await user.wait_for_event(room_id, lambda e: e["type"] == case.event_type)
    content = event["content"]
    assert event["sender"] == f"@telegram_{alice.id}:synapse.test"
    assert content.get("msgtype") == case.msgtype
    assert content["body"] == case.body
    assert "filename" not in content, "no caption: the body is the name"
    info = content["info"]
    assert info["mimetype"] == case.mimetype
    assert info["size"] == len(case.data)
    for key, value in case.info.items():
        assert info[key] == value, key
    for key, value in case.extra.items():
        assert content[key] == value, key
    data, content_type = await user.download(content["url"])
    assert data == case.data, "the bytes cross unchanged"
    assert content_type.startswith(case.mimetype)


async def test_a_photo_keeps_its_caption_in_one_event(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    _, alice, group, user, room_id = await portal_with_reader(
        telegram_bridge, fake_telegram, make_matrix_user
    )
    picture = make_png(40, 30)
    fake_telegram.inject_photo(group, alice, picture, caption="look at this")
    event = await user.wait_for_event(room_id, body_is("look at this"))
    content = event["content"]
    assert content["msgtype"] == "m.image"
    assert content["filename"] == "image.jpg"
    assert content["info"]["w"] == 40 and content["info"]["h"] == 30
    data, _type = await user.download(content["url"])
    assert data == picture

    fake_telegram.inject_photo(group, alice, picture)
    plain = await user.wait_for_event(
        room_id,
        lambda e: e["content"].get("msgtype") == "m.image" and "filename" not in e["content"],
    )
    assert plain["content"]["body"] == "image.jpg"


async def test_a_video_brings_its_thumbnail_and_a_caption_edit_keeps_the_file(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    _, alice, group, user, room_id = await portal_with_reader(
        telegram_bridge, fake_telegram, make_matrix_user
    )
    thumbnail = make_png(32, 18)
    message = fake_telegram.inject_media(
        group, alice, "video", VIDEO, file_name="trip.mp4", mime_type="video/mp4",
        caption="our <trip>", thumbnail=thumbnail, width=320, height=180, duration=3,
    )  # fmt: skip
    event = await user.wait_for_event(room_id, body_is("our <trip>"))
    info = event["content"]["info"]
    assert info["thumbnail_info"] == {
        "mimetype": "image/jpeg",
        "size": len(thumbnail),
        "w": 32,
        "h": 18,
    }
    data, _type = await user.download(info["thumbnail_url"])
    assert data == thumbnail

    fake_telegram.inject_edit(group, message["message_id"], "our trip, day 1")
    edit = await user.wait_for_event(room_id, body_is("* our trip, day 1"))
    new = edit["content"]["m.new_content"]
    assert edit["content"]["m.relates_to"]["event_id"] == event["event_id"]
    assert new["msgtype"] == "m.video"
    assert new["url"] == event["content"]["url"], "the file stays"
    assert new["body"] == "our trip, day 1" and new["filename"] == "trip.mp4"


async def test_a_file_too_large_for_the_bot_api_is_named_in_a_notice(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    _, alice, group, user, room_id = await portal_with_reader(
        telegram_bridge, fake_telegram, make_matrix_user
    )
    big = bytes(21 * 1024 * 1024)
    fake_telegram.inject_media(
        group, alice, "document", big, file_name="dump.tar", mime_type="application/x-tar",
        caption="the backup",
    )  # fmt: skip
    fake_telegram.inject_text(group, alice, "after the file")
    notice = await user.wait_for_event(
        room_id, lambda e: "dump.tar" in e["content"].get("body", "")
    )
    body = notice["content"]["body"]
    assert notice["content"]["msgtype"] == "m.notice"
    assert "dump.tar (21.0 MB)" in body and "20 MB" in body and "the backup" in body
    await user.wait_for_event(room_id, body_is("after the file"), after=notice["event_id"])


async def test_an_album_arrives_item_by_item_in_order_with_its_caption(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    _, alice, group, user, room_id = await portal_with_reader(
        telegram_bridge, fake_telegram, make_matrix_user
    )
    pictures = [make_png(10 + n, 10) for n in range(3)]
    for index, picture in enumerate(pictures):
        caption: dict[str, Any] = {"caption": "holiday"} if index == 0 else {}
        fake_telegram.inject_message(
            group,
            alice,
            photo=photo_object(fake_telegram.store_photo(picture)),
            media_group_id="album-1",
            **caption,
        )
    fake_telegram.inject_text(group, alice, "after the album")
    await user.wait_for_event(room_id, body_is("after the album"))
    images = [
        event
        for event in await user.room_messages(room_id)
        if event.get("content", {}).get("msgtype") == "m.image"
    ]
    assert [event["content"]["info"]["w"] for event in images] == [10, 11, 12], "in order"
    assert images[0]["content"]["body"] == "holiday"
    assert [event["content"]["body"] for event in images[1:]] == ["image.jpg", "image.jpg"]
    for event, picture in zip(images, pictures, strict=True):
        data, _type = await user.download(event["content"]["url"])
        assert data == picture
