"""An in-process fake Telegram Bot API server for tests, checked against the official schema.

async with FakeTelegram() as fake:
    alice = fake.add_user("Alice")
    group = fake.add_group("Friends", members=[alice])
    fake.inject_text(group, alice, "/start")
    async with fake.make_bot() as bot:
        updates = await bot.get_updates()
    fake.assert_no_violations()
"""

from .errors import ApiError
from .faults import Fault, Faults
from .html_parser import TelegramHTMLError, parse_telegram_html, utf16_len
from .images import make_png
from .params import UploadedFile
from .records import Call, Violation
from .schema import Issue, Schema, load_schema
from .server import FakeTelegram
from .state import BusinessConnection, FakeChat, FakeUser, Member, Photo, Sent, StoredFile
from .updates import Poll, UpdateQueue

__all__ = [
    "ApiError",
    "BusinessConnection",
    "Call",
    "FakeChat",
    "FakeTelegram",
    "FakeUser",
    "Fault",
    "Faults",
    "Issue",
    "Member",
    "Photo",
    "Poll",
    "Schema",
    "Sent",
    "StoredFile",
    "TelegramHTMLError",
    "UpdateQueue",
    "UploadedFile",
    "Violation",
    "load_schema",
    "make_png",
    "parse_telegram_html",
    "utf16_len",
]
