"""Matrix files into Telegram through a real Synapse and the fake Bot API: each kind by the
Bot API method that shows it best, the bytes unchanged, the caption (with the relayed
sender's name) beside it, and the sender told when a file cannot go."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from tests.connectors.telegram.conftest import StartTelegramBridge
from tests.connectors.telegram.test_messages import portal_with_reader
from tests.fakes.telegram import FakeTelegram, Sent, make_png
from tests.support.fixtures import MakeMatrixUser
from tests.support.hs_proxy import HomeserverProxy
from tests.support.matrix_client import MatrixTestClient
from tests.support.synapse import SynapseServer
from tests.support.waiting import eventually

OGG = b"OggS\x00\x02" + bytes(range(256)) * 4
MP3 = b"ID3\x03\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 4
MP4 = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4
PDF = b"%PDF-1.4\n" + b"y" * 2000


async def send_file(
    user: MatrixTestClient,
    room_id: str,
    msgtype: str | None,
    data: bytes,
    mimetype: str,
    name: str,
    caption: str | None = None,
    **extra: Any,
) -> str:
    url = await user.upload(data, mimetype, name)
    content: dict[str, Any] = {
        "body": caption or name,
        "url": url,
        "info": {"mimetype": mimetype, "size": len(data)},
    }
    if caption:
        content["filename"] = name
    if msgtype is not None:
        content["msgtype"] = msgtype
    content |= extra
    event_type = "m.sticker" if msgtype is None else "m.room.message"
    return await user.send_event(room_id, event_type, content)


def stored_bytes(fake: FakeTelegram, sent: Sent, field: str) -> bytes:
    value = sent.message[field]
    item = value[-1] if isinstance(value, list) else value
    return fake.files[item["file_id"]].data


CASES: list[tuple[str, bytes, str, str, dict[str, Any], str, str]] = [
    # msgtype, data, type, name, extra content, Bot API method, Message field
    ("m.image", make_png(30, 20), "image/png", "pic.png", {}, "sendPhoto", "photo"),
    ("m.file", PDF, "application/pdf", "doc.pdf", {}, "sendDocument", "document"),
    ("m.video", MP4, "video/mp4", "clip.mp4", {}, "sendVideo", "video"),
    ("m.audio", MP3, "audio/mpeg", "song.mp3", {}, "sendAudio", "audio"),
    (
        "m.audio",
        OGG,
        "audio/ogg",
        "voice.ogg",
        {"org.matrix.msc3245.voice": {}},
        "sendVoice",
        "voice",
    ),
]


@pytest.mark.parametrize(
    ("msgtype", "data", "mimetype", "name", "extra", "method", "field"),
    CASES,
    ids=["image", "file", "video", "audio", "voice"],
)
async def test_each_kind_of_file_reaches_telegram_with_its_caption(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    msgtype: str,
    data: bytes,
    mimetype: str,
    name: str,
    extra: dict[str, Any],
    method: str,
    field: str,
) -> None:
    _, _alice, group, user, room_id = await portal_with_reader(
        telegram_bridge, fake_telegram, make_matrix_user
    )
    await send_file(user, room_id, msgtype, data, mimetype, name, "see <this>", **extra)
    (sent,) = await eventually(lambda: fake_telegram.sent_to(group))
    assert sent.method == method
    assert stored_bytes(fake_telegram, sent, field) == data, "the bytes cross unchanged"
    assert sent.message["caption"] == "Reader R: see <this>"
    assert {"type": "bold", "offset": 0, "length": 8} in sent.message["caption_entities"]
    if field == "document":
        assert sent.message["document"]["file_name"] == name

    # Without a caption: the relayed sender's name alone.
    await send_file(user, room_id, msgtype, data, mimetype, name, **extra)
    second = await eventually(
        lambda: len(fake_telegram.sent_to(group)) == 2 and fake_telegram.sent_to(group)[1]
    )
    assert second.method == method and second.message["caption"] == "Reader R"


async def test_a_sticker_goes_as_a_sticker_and_the_name_after_it(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    _, _alice, group, user, room_id = await portal_with_reader(
        telegram_bridge, fake_telegram, make_matrix_user
    )
    webp = make_png(64, 64)  # the fake reads the size; Telegram would want real WEBP
    await send_file(user, room_id, None, webp, "image/webp", "sticker.webp")
    sticker, name = await eventually(
        lambda: len(fake_telegram.sent_to(group)) == 2 and fake_telegram.sent_to(group)
    )
    assert sticker.method == "sendSticker"
    assert stored_bytes(fake_telegram, sticker, "sticker") == webp
    assert name.method == "sendMessage" and name.text == "Reader R"

    # A sticker in a type Telegram takes no sticker in goes as a photo.
    png = make_png(32, 32)
    await send_file(user, room_id, None, png, "image/png", "sticker.png")
    photo = await eventually(
        lambda: len(fake_telegram.sent_to(group)) == 4 and fake_telegram.sent_to(group)[2]
    )
    assert photo.method == "sendPhoto"


async def test_a_picture_telegram_will_not_take_as_a_photo_goes_as_a_file(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    _, _alice, group, user, room_id = await portal_with_reader(
        telegram_bridge, fake_telegram, make_matrix_user
    )
    panorama = make_png(2100, 100)  # more than 20 times as wide as high
    await send_file(user, room_id, "m.image", panorama, "image/png", "wide.png", "the view")
    (sent,) = await eventually(lambda: fake_telegram.sent_to(group))
    assert sent.method == "sendDocument"
    assert stored_bytes(fake_telegram, sent, "document") == panorama
    assert sent.message["caption"] == "Reader R: the view"
    refused = [c for c in fake_telegram.calls_to("sendPhoto") if c.status != 200]
    assert len(refused) == 1, "Telegram was asked for a photo first"


async def test_a_file_over_telegrams_limit_is_told_and_never_downloaded(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    _, _alice, group, user, room_id = await portal_with_reader(
        telegram_bridge, fake_telegram, make_matrix_user
    )
    url = await user.upload(b"small really", "video/mp4", "huge.mp4")
    sent = await user.send_event(
        room_id,
        "m.room.message",
        {
            "msgtype": "m.video",
            "body": "huge.mp4",
            "url": url,
            "info": {"mimetype": "video/mp4", "size": 60 * 1024 * 1024},
        },
    )
    notice = await user.wait_for_event(
        room_id, lambda e: "not bridged" in e["content"].get("body", ""), after=sent
    )
    body = notice["content"]["body"]
    assert "huge.mp4 is 60.0 MB" in body and "50 MB" in body
    assert fake_telegram.sent_to(group) == []
    # A long caption does not fit beside the file: the file first, the text after it.
    caption = "word " * 300
    await send_file(user, room_id, "m.file", PDF, "application/pdf", "long.pdf", caption.strip())
    document, text = await eventually(
        lambda: len(fake_telegram.sent_to(group)) == 2 and fake_telegram.sent_to(group)
    )
    assert document.method == "sendDocument" and "caption" not in document.message
    assert text.text == "Reader R: " + caption.strip()


@pytest_asyncio.fixture
async def proxy(synapse: SynapseServer) -> AsyncIterator[HomeserverProxy]:
    """Between the bridge and Synapse: counts what media downloads send the bridge."""
    proxy = HomeserverProxy(synapse.url)
    await proxy.start()
    yield proxy
    await proxy.stop()


@pytest.mark.parametrize("length", ["told", "untold"])
async def test_a_file_larger_than_its_event_says_is_cut_off_at_the_limit(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    proxy: HomeserverProxy,
    monkeypatch: pytest.MonkeyPatch,
    length: str,
) -> None:
    # Telegram's 50 MB, made 1 MB so that a file many times the limit is quick to upload.
    limit = 1024 * 1024
    monkeypatch.setattr("connectors.telegram.connector.UPLOAD_LIMIT", limit)
    proxy.hide_media_length = length == "untold"
    _, _alice, group, user, room_id = await portal_with_reader(
        telegram_bridge, fake_telegram, make_matrix_user, {"homeserver.address": proxy.url}
    )
    big = os.urandom(16 * limit)
    url = await user.upload(big, "video/mp4", "clip.mp4")
    # The event says 1 kB; the file is 16 MB. The sender goes on writing at once.
    content = {"msgtype": "m.video", "body": "clip.mp4", "url": url,
               "info": {"mimetype": "video/mp4", "size": 1000}}  # fmt: skip
    sent = await user.send_event(room_id, "m.room.message", content)
    await user.send_message(room_id, "and then this")

    notice = await user.wait_for_event(
        room_id, lambda e: "not bridged" in e["content"].get("body", ""), after=sent
    )
    (text,) = await eventually(lambda: fake_telegram.sent_to(group), what="the next message")
    assert text.method == "sendMessage" and text.text == "Reader R: and then this"
    # What crossed: the bridge hung up at the limit (at once when told the length); the rest
    # of the 16 MB never left the proxy, beyond what the sockets' buffers took in meanwhile.
    assert proxy.stats.media_cut_off == 1
    assert proxy.stats.media_bytes_sent < 4 * limit, proxy.stats
    size = "is 16.0 MB" if length == "told" else "is larger than that"
    assert notice["content"]["body"] == (
        "Your video was not bridged: Telegram takes files of at most 1 MB from the bridge, "
        f"and clip.mp4 {size}."
    )


async def test_a_file_the_homeserver_does_not_have_is_told_and_the_chat_moves_on(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    _, _alice, group, user, room_id = await portal_with_reader(
        telegram_bridge, fake_telegram, make_matrix_user
    )
    content = {"msgtype": "m.file", "body": "gone.pdf", "url": "mxc://synapse.test/NoSuchFile"}
    sent = await user.send_event(room_id, "m.room.message", content)
    await user.send_message(room_id, "and then this")
    notice = await user.wait_for_event(
        room_id, lambda e: "not bridged" in e["content"].get("body", ""), after=sent
    )
    assert notice["content"]["body"] == (
        "Your file was not bridged: the homeserver would not hand it over."
    )
    (text,) = await eventually(lambda: fake_telegram.sent_to(group), what="the next message")
    assert text.text == "Reader R: and then this"


async def test_a_location_goes_as_a_location_and_the_name_after_it(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    _, _alice, group, user, room_id = await portal_with_reader(
        telegram_bridge, fake_telegram, make_matrix_user
    )
    await user.send_event(
        room_id,
        "m.room.message",
        {"msgtype": "m.location", "body": "Here", "geo_uri": "geo:48.8584,2.2945;u=35"},
    )
    place, name = await eventually(
        lambda: len(fake_telegram.sent_to(group)) == 2 and fake_telegram.sent_to(group)
    )
    assert place.method == "sendLocation"
    assert place.message["location"] == {"latitude": 48.8584, "longitude": 2.2945}
    assert name.text == "Reader R"

    # MSC3488 alone is read too; a location without a readable URI is told to the sender.
    await user.send_event(
        room_id,
        "m.room.message",
        {
            "msgtype": "m.location",
            "body": "There",
            "org.matrix.msc3488.location": {"uri": "geo:-33.8568,151.2153"},
        },
    )
    await eventually(lambda: len(fake_telegram.sent_to(group)) == 4, what="the second location")
    assert fake_telegram.sent_to(group)[2].message["location"]["latitude"] == -33.8568
    bad = await user.send_event(
        room_id, "m.room.message", {"msgtype": "m.location", "body": "?", "geo_uri": "nowhere"}
    )
    notice = await user.wait_for_event(
        room_id, lambda e: "location was not bridged" in e["content"].get("body", ""), after=bad
    )
    assert "geo: URI" in notice["content"]["body"]


async def test_an_edit_of_a_files_caption_edits_the_caption(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    _, _alice, group, user, room_id = await portal_with_reader(
        telegram_bridge, fake_telegram, make_matrix_user
    )
    original = await send_file(user, room_id, "m.file", PDF, "application/pdf", "a.pdf", "frist")
    (sent,) = await eventually(lambda: fake_telegram.sent_to(group))
    (first,) = [e for e in await user.room_messages(room_id) if e["event_id"] == original]
    url = first["content"]["url"]

    async def edit_caption(caption: str | None) -> None:
        new = {"msgtype": "m.file", "body": caption or "a.pdf", "url": url}
        if caption:
            new["filename"] = "a.pdf"
        await user.send_event(
            room_id,
            "m.room.message",
            {
                **new,
                "body": f"* {new['body']}",
                "m.new_content": new,
                "m.relates_to": {"rel_type": "m.replace", "event_id": original},
            },
        )

    await edit_caption("first")
    await eventually(lambda: sent.message.get("caption") == "Reader R: first", what="the edit")
    assert len(sent.edits) == 1
    assert stored_bytes(fake_telegram, sent, "document") == PDF, "the file stays"
    await edit_caption(None)
    await eventually(lambda: sent.message.get("caption") == "Reader R", what="caption removed")
    assert len(fake_telegram.sent_to(group)) == 1, "edits send nothing new"
