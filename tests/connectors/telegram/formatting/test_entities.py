"""UTF-16 arithmetic and the python-telegram-bot adapter."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from telegram import MessageEntity, User

from connectors.telegram.formatting import Entity, EntityType, Utf16Index, utf16_len
from connectors.telegram.formatting.ptb import entities_from_ptb


@pytest.mark.parametrize(
    ("text", "units"),
    [("", 0), ("abc", 3), ("é", 1), ("😀", 2), ("a😀b𝄞", 6), ("👨‍👩‍👧", 8), ("\ud800", 1)],
)
def test_utf16_len(text: str, units: int) -> None:
    assert utf16_len(text) == units


CLIP_CASES = [
    # (text, offset, length, expected code point range)
    ("abc", 0, 3, (0, 3)),
    ("abc", 1, 1, (1, 2)),
    ("a😀b", 1, 2, (1, 2)),
    ("a😀b", 3, 1, (2, 3)),
    ("a😀b", 2, 1, (1, 2)),  # starts inside the pair: widened to the whole emoji
    ("a😀b", 0, 2, (0, 2)),  # ends inside the pair: widened too
    ("abc", -5, 7, (0, 2)),
    ("abc", 2, 100, (2, 3)),
    ("abc", 3, 1, None),
    ("abc", 1, 0, None),
    ("abc", 1, -4, None),
    ("abc", -9, 2, None),
    ("", 0, 1, None),
]


@pytest.mark.parametrize(("text", "offset", "length", "expected"), CLIP_CASES)
def test_clip(text: str, offset: int, length: int, expected: tuple[int, int] | None) -> None:
    assert Utf16Index(text).clip(Entity(EntityType.BOLD, offset, length)) == expected


def test_index_round_trip() -> None:
    text = "a😀b𝄞c"
    index = Utf16Index(text)
    assert index.units == 7
    assert [index.offset(i) for i in range(len(text) + 1)] == [0, 1, 3, 4, 6, 7]
    assert [index.floor(o) for o in range(-1, 9)] == [0, 0, 1, 1, 2, 3, 3, 4, 5, 5]
    assert [index.ceil(o) for o in range(-1, 9)] == [0, 0, 1, 2, 2, 3, 4, 4, 5, 5]


def test_every_bot_api_entity_type_is_known() -> None:
    from telegram.constants import MessageEntityType

    assert {t.value for t in MessageEntityType} == {t.value for t in EntityType}


def test_entities_from_ptb() -> None:
    user = User(id=5, first_name="A", is_bot=False)
    moment = datetime(2026, 1, 2, tzinfo=UTC)
    converted = entities_from_ptb(
        [
            MessageEntity("bold", 0, 2),
            MessageEntity("text_link", 1, 2, url="https://e.org"),
            MessageEntity("text_mention", 2, 3, user=user),
            MessageEntity("pre", 0, 4, language="go"),
            MessageEntity("custom_emoji", 4, 2, custom_emoji_id="99"),
            MessageEntity("date_time", 6, 3, unix_time=moment, date_time_format="wD"),
            MessageEntity("some_future_type", 0, 1),
        ]
    )
    assert converted == [
        Entity(EntityType.BOLD, 0, 2),
        Entity(EntityType.TEXT_LINK, 1, 2, url="https://e.org"),
        Entity(EntityType.TEXT_MENTION, 2, 3, user_id=5),
        Entity(EntityType.PRE, 0, 4, language="go"),
        Entity(EntityType.CUSTOM_EMOJI, 4, 2, custom_emoji_id="99"),
        Entity(
            EntityType.DATE_TIME, 6, 3, unix_time=int(moment.timestamp()), date_time_format="wD"
        ),
    ]
