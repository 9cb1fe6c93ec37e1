"""Animated (TGS) and video (WEBM) stickers reach Matrix as animated images clients play,
through a real Synapse and the fake Bot API; one that cannot be converted still arrives."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.connectors.telegram.conftest import StartTelegramBridge
from tests.connectors.telegram.sticker_samples import make_tgs, make_webm
from tests.connectors.telegram.test_messages import portal_with_reader
from tests.fakes.telegram import FakeTelegram, make_png
from tests.support.fixtures import MakeMatrixUser


@pytest.mark.parametrize(
    ("setting", "name", "mimetype"),
    [
        ("webp", "sticker.tgs", "application/x-tgsticker"),
        ("gif", "sticker.tgs", "application/x-tgsticker"),
        ("webp", "sticker.webm", "video/webm"),
    ],
)
async def test_an_animated_sticker_arrives_as_an_animated_image(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    setting: str,
    name: str,
    mimetype: str,
) -> None:
    _, alice, group, user, room_id = await portal_with_reader(
        telegram_bridge,
        fake_telegram,
        make_matrix_user,
        {"telegram.animated_stickers": setting},
    )
    data = make_tgs() if name.endswith(".tgs") else make_webm()
    fake_telegram.inject_media(
        group, alice, "sticker", data, file_name=name, mime_type=mimetype, emoji="🐱"
    )
    event = await user.wait_for_event(room_id, lambda e: e["type"] == "m.sticker")
    content = event["content"]
    assert content["body"] == "🐱"
    assert content["info"]["mimetype"] == f"image/{setting}"
    assert (content["info"]["w"], content["info"]["h"]) == (64, 64)
    converted, content_type = await user.download(content["url"])
    assert content_type.startswith(f"image/{setting}")
    with Image.open(io.BytesIO(converted)) as image:
        assert image.format == setting.upper() and getattr(image, "n_frames", 1) > 1


@pytest.mark.parametrize(
    ("data", "name", "mimetype", "reason"),
    [
        (b"\x1f\x8b\x08\x00 this is no gzip stream", "sticker.tgs", "application/x-tgsticker",
         "it could not be read"),
        (make_webm(side=1280, frames=2), "sticker.webm", "video/webm",
         "it is 1280x1280 pixels; the bridge converts stickers of at most 1024x1024"),
    ],
    ids=["broken", "oversized"],
)  # fmt: skip
async def test_a_sticker_that_cannot_be_converted_arrives_as_its_file(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    data: bytes,
    name: str,
    mimetype: str,
    reason: str,
) -> None:
    _, alice, group, user, room_id = await portal_with_reader(
        telegram_bridge, fake_telegram, make_matrix_user
    )
    fake_telegram.inject_media(
        group, alice, "sticker", data, file_name=name, mime_type=mimetype, emoji="🙃"
    )
    event = await user.wait_for_event(room_id, lambda e: e["content"].get("msgtype") == "m.file")
    content = event["content"]
    assert content["body"].startswith(f"🙃 (sent as a file: it could not be converted: {reason}")
    assert content["filename"] == name
    assert content["info"]["mimetype"] == mimetype
    original, _type = await user.download(content["url"])
    assert original == data, "the original, unchanged"


async def test_with_conversion_off_the_still_picture_stands_in(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    _, alice, group, user, room_id = await portal_with_reader(
        telegram_bridge, fake_telegram, make_matrix_user, {"telegram.animated_stickers": "none"}
    )
    still = make_png(32, 32)
    fake_telegram.inject_media(
        group, alice, "sticker", make_tgs(), file_name="sticker.tgs",
        mime_type="application/x-tgsticker", emoji="🐱", thumbnail=still,
    )  # fmt: skip
    event = await user.wait_for_event(room_id, lambda e: e["type"] == "m.sticker")
    data, _type = await user.download(event["content"]["url"])
    assert data == still
