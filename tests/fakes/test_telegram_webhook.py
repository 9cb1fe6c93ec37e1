"""The fake's webhook: setWebhook's checks and Telegram's delivery (one update at a time, kept
until a 2xx, waiting while the receiver is down), driven by python-telegram-bot and a small
receiving server standing in for the bridge."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio
import telegram
from aiohttp import web
from telegram.error import BadRequest, Conflict

from tests.fakes.telegram import FakeTelegram
from tests.fakes.telegram.pytest_plugin import fake_telegram  # noqa: F401
from tests.fakes.telegram.webhook import SECRET_HEADER
from tests.support.ports import free_port
from tests.support.waiting import eventually

pytestmark = pytest.mark.timeout(30)

URL = "https://bridge.example.test/telegram/hook?x=1"
SECRET = "s3cret_Token-for-the-fake-tests"


@pytest_asyncio.fixture
async def bot(fake_telegram: FakeTelegram) -> AsyncIterator[telegram.Bot]:  # noqa: F811
    async with fake_telegram.make_bot() as bot:
        yield bot


@dataclass
class Receiver:
    """What the fake posted, and the statuses to answer (200 once they run out)."""

    port: int
    answers: list[int] = field(default_factory=list)
    posts: list[tuple[str, str | None, dict[str, Any]]] = field(default_factory=list)
    runner: web.AppRunner | None = None

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._post)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    async def _post(self, request: web.Request) -> web.Response:
        assert request.content_type == "application/json"
        body = json.loads(await request.read())
        self.posts.append((request.path_qs, request.headers.get(SECRET_HEADER), body))
        status = self.answers.pop(0) if self.answers else 200
        return web.Response(status=status)

    def texts(self) -> list[str]:
        return [body["message"]["text"] for _path, _secret, body in self.posts]


@pytest_asyncio.fixture
async def receiver(fake_telegram: FakeTelegram) -> AsyncIterator[Receiver]:  # noqa: F811
    receiver = Receiver(free_port())
    fake_telegram.webhook.route_to = receiver.origin
    fake_telegram.webhook.retry_delay = 0.05
    yield receiver
    await receiver.stop()


async def test_set_webhook_refuses_what_telegram_refuses(bot: telegram.Bot) -> None:
    cases: list[tuple[str, str | None, str]] = [
        ("http://bridge.example.test/hook", None, "An HTTPS URL must be provided for webhook"),
        ("https://bridge.example.test:8080/hook", None, "only on ports 80, 88, 443 or 8443"),
        ("https://127.0.0.1/hook", None, "IP address 127.0.0.1 is reserved"),
        ("https://10.1.2.3:8443/hook", None, "IP address 10.1.2.3 is reserved"),
        (URL, "no spaces", "secret token contains unallowed characters"),
        (URL, "a" * 257, "secret token is too long"),
    ]
    for url, secret, message in cases:
        with pytest.raises(BadRequest, match=f"(?i){message}"):
            await bot.set_webhook(url, secret_token=secret)
    assert (await bot.get_webhook_info()).url == ""
    assert await bot.set_webhook("https://bridge.example.test:8443/hook", secret_token="a" * 256)


async def test_updates_are_posted_in_order_with_the_secret_and_kept_until_accepted(
    fake_telegram: FakeTelegram,  # noqa: F811
    bot: telegram.Bot,
    receiver: Receiver,
) -> None:
    alice = fake_telegram.add_user("Alice")
    chat = fake_telegram.private_chat(alice)
    for text in ("one", "two", "three"):
        fake_telegram.inject_text(chat, alice, text)
    await receiver.start()
    receiver.answers = [503, 500]  # "one" is refused twice
    assert await bot.set_webhook(URL, secret_token=SECRET, allowed_updates=["message"])
    with pytest.raises(Conflict, match="can't use getUpdates method while webhook is active"):
        await bot.get_updates()

    await eventually(lambda: len(receiver.posts) == 5, what="five posts")
    assert receiver.texts() == ["one", "one", "one", "two", "three"]
    assert {path for path, _secret, _body in receiver.posts} == {"/telegram/hook?x=1"}
    assert {secret for _path, secret, _body in receiver.posts} == {SECRET}
    info = await bot.get_webhook_info()
    assert info.pending_update_count == 0
    assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
    assert info.allowed_updates == ("message",)
    assert [d.status for d in fake_telegram.webhook.deliveries] == [503, 500, 200, 200, 200]
    ids = [body["update_id"] for _path, _secret, body in receiver.posts]
    assert fake_telegram.updates.confirmed == ids[2:]


async def test_updates_wait_while_the_receiver_is_down(
    fake_telegram: FakeTelegram,  # noqa: F811
    bot: telegram.Bot,
    receiver: Receiver,
) -> None:
    alice = fake_telegram.add_user("Alice")
    chat = fake_telegram.private_chat(alice)
    assert await bot.set_webhook(URL, secret_token=SECRET)
    fake_telegram.inject_text(chat, alice, "while down")
    await eventually(lambda: len(fake_telegram.webhook.deliveries) >= 2, what="attempts that fail")
    info = await bot.get_webhook_info()
    assert info.pending_update_count == 1
    assert info.last_error_message == "Connection refused"
    assert info.last_error_date is not None

    await receiver.start()
    fake_telegram.inject_text(chat, alice, "after")
    await eventually(lambda: receiver.texts() == ["while down", "after"], what="both, in order")
    assert (await bot.get_webhook_info()).pending_update_count == 0


async def test_deleting_the_webhook_leaves_the_pending_updates_to_get_updates(
    fake_telegram: FakeTelegram,  # noqa: F811
    bot: telegram.Bot,
) -> None:
    # No route to the URL's host: every attempt fails as for a host that does not resolve.
    alice = fake_telegram.add_user("Alice")
    assert await bot.set_webhook(URL, secret_token=SECRET)
    fake_telegram.inject_text(fake_telegram.private_chat(alice), alice, "kept")
    await eventually(lambda: fake_telegram.webhook.deliveries, what="an attempt")
    info = await bot.get_webhook_info()
    assert info.last_error_message == "Failed to resolve host: Name or service not known"

    assert await bot.delete_webhook(drop_pending_updates=False)
    info = await bot.get_webhook_info()
    assert info.url == "" and info.pending_update_count == 1
    [update] = await bot.get_updates()
    assert update.message is not None and update.message.text == "kept"
    attempts = len(fake_telegram.webhook.deliveries)
    fake_telegram.inject_text(fake_telegram.private_chat(alice), alice, "polled")
    [_, polled] = await bot.get_updates()
    assert polled.message is not None and polled.message.text == "polled"
    assert len(fake_telegram.webhook.deliveries) == attempts, "no posts without a webhook"
