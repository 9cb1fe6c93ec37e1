"""The fake's webhook: setWebhook's checks and Telegram's delivery (each queue one update at a
time, kept until a 2xx, waiting while the receiver is down; several queues at once, up to
max_connections), driven by python-telegram-bot and a small receiving server standing in for
the bridge."""

from __future__ import annotations

import asyncio
import itertools
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
    answer_after: float = 0.0  # seconds each answer takes
    refuse: dict[str, int] = field(default_factory=dict)  # text: times to answer it 503
    retry_after: int | None = None  # the Retry-After of those answers
    busy: int = 0
    most_busy: int = 0  # the most requests in hand at once

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
        text = body.get("message", {}).get("text")
        headers = {}
        if self.refuse.get(text, 0) > 0:
            self.refuse[text] -= 1
            status = 503
            if self.retry_after is not None:
                headers["Retry-After"] = str(self.retry_after)
        self.busy += 1
        self.most_busy = max(self.most_busy, self.busy)
        try:
            await asyncio.sleep(self.answer_after)
        finally:
            self.busy -= 1
        return web.Response(status=status, headers=headers)

    def texts(self) -> list[str]:
        return [body["message"]["text"] for _path, _secret, body in self.posts]

    def texts_in(self, chat_id: int) -> list[str]:
        return [
            body["message"]["text"]
            for _path, _secret, body in self.posts
            if "message" in body and body["message"]["chat"]["id"] == chat_id
        ]


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


async def test_chats_are_posted_at_once_each_chat_in_order(
    fake_telegram: FakeTelegram,  # noqa: F811
    bot: telegram.Bot,
    receiver: Receiver,
) -> None:
    """Telegram's WebhookActor: one update in flight per chat's queue, up to max_connections
    queues at once; connections that differ in speed do not reorder a chat."""
    users = [fake_telegram.add_user(f"User{n}") for n in range(4)]
    chats = [fake_telegram.private_chat(user) for user in users]
    slow_chat = chats[0].id
    # The first chat's connection is slow: its posts take longer to arrive.
    fake_telegram.webhook.latency = lambda u: 0.15 if u["message"]["chat"]["id"] == slow_chat else 0
    for number in range(5):
        for chat, user in zip(chats, users, strict=True):
            fake_telegram.inject_text(chat, user, f"{number}")
    await receiver.start()
    receiver.answer_after = 0.05
    assert await bot.set_webhook(URL, secret_token=SECRET)

    await eventually(lambda: len(receiver.posts) == 20, what="every update posted")
    for chat in chats:
        assert receiver.texts_in(chat.id) == ["0", "1", "2", "3", "4"]
    assert receiver.most_busy == 4, "the four chats at once"
    ids = [body["update_id"] for _path, _secret, body in receiver.posts]
    assert ids != sorted(ids), "across chats, arrival is not Telegram's order"
    assert (await bot.get_webhook_info()).max_connections == 40


async def test_one_connection_posts_one_update_at_a_time(
    fake_telegram: FakeTelegram,  # noqa: F811
    bot: telegram.Bot,
    receiver: Receiver,
) -> None:
    users = [fake_telegram.add_user(f"User{n}") for n in range(3)]
    for number in range(3):
        for user in users:
            fake_telegram.inject_text(fake_telegram.private_chat(user), user, f"{number}")
    await receiver.start()
    receiver.answer_after = 0.02
    assert await bot.set_webhook(URL, secret_token=SECRET, max_connections=1)
    await eventually(lambda: len(receiver.posts) == 9, what="every update posted")
    assert receiver.most_busy == 1
    ids = [body["update_id"] for _path, _secret, body in receiver.posts]
    assert ids == sorted(ids)
    assert (await bot.get_webhook_info()).max_connections == 1


async def test_a_failing_update_holds_its_chat_not_the_others(
    fake_telegram: FakeTelegram,  # noqa: F811
    bot: telegram.Bot,
    receiver: Receiver,
) -> None:
    """It stays at the front of its chat's queue, posted again at once, then after 2, 4 ...
    units; the other chats go on meanwhile."""
    alice, bob = fake_telegram.add_user("Alice"), fake_telegram.add_user("Bob")
    held, free = fake_telegram.private_chat(alice), fake_telegram.private_chat(bob)
    fake_telegram.webhook.retry_delay = 0.2
    fake_telegram.webhook.max_retry_delay = 0.4
    fake_telegram.inject_text(held, alice, "a1")
    fake_telegram.inject_text(held, alice, "a2")
    for number in range(3):
        fake_telegram.inject_text(free, bob, f"b{number}")
    await receiver.start()
    receiver.refuse = {"a1": 3}
    assert await bot.set_webhook(URL, secret_token=SECRET, max_connections=2)

    await eventually(lambda: receiver.texts_in(held.id) == ["a1"] * 4 + ["a2"], what="a1, a2")
    assert receiver.texts_in(free.id) == ["b0", "b1", "b2"]
    a1 = fake_telegram.updates.created[0]["update_id"]
    tries = [d for d in fake_telegram.webhook.deliveries if d.update_id == a1]
    assert [d.status for d in tries] == [503, 503, 503, 200]
    pauses = [later.time - earlier.time for earlier, later in itertools.pairwise(tries)]
    assert pauses[0] < 0.15 and pauses[1] > 0.35 and pauses[2] > 0.35, pauses
    b_ids = {u["update_id"] for u in fake_telegram.updates.created[2:]}
    b_done = max(d.time for d in fake_telegram.webhook.deliveries if d.update_id in b_ids)
    assert b_done < tries[1].time + 0.2 < tries[-1].time, "the other chat did not wait for a1"


async def test_with_one_connection_a_failed_update_lets_the_next_queue_go_first(
    fake_telegram: FakeTelegram,  # noqa: F811
    bot: telegram.Bot,
    receiver: Receiver,
) -> None:
    """WebhookActor puts a failed update back with a wake-up time of now, behind a queue that
    has waited since it was loaded: one connection keeps each queue's order, not the order of
    update ids across queues."""
    alice, bob = fake_telegram.add_user("Alice"), fake_telegram.add_user("Bob")
    fake_telegram.inject_text(fake_telegram.private_chat(alice), alice, "a1")
    fake_telegram.inject_text(fake_telegram.private_chat(bob), bob, "b1")
    await receiver.start()
    receiver.refuse = {"a1": 1}
    assert await bot.set_webhook(URL, secret_token=SECRET, max_connections=1)
    await eventually(lambda: len(receiver.posts) == 3, what="three posts")
    assert receiver.texts() == ["a1", "b1", "a1"]


async def test_retry_after_holds_the_queue_that_long_and_no_other(
    fake_telegram: FakeTelegram,  # noqa: F811
    bot: telegram.Bot,
    receiver: Receiver,
) -> None:
    """WebhookActor waits the answer's Retry-After seconds (up to an hour) before it posts a
    refused update again, instead of its own back-off; the other queues go on meanwhile."""
    alice, bob = fake_telegram.add_user("Alice"), fake_telegram.add_user("Bob")
    fake_telegram.inject_text(fake_telegram.private_chat(alice), alice, "a1")
    fake_telegram.inject_text(fake_telegram.private_chat(bob), bob, "b1")
    await receiver.start()
    receiver.refuse, receiver.retry_after = {"a1": 2}, 1
    assert await bot.set_webhook(URL, secret_token=SECRET, max_connections=1)
    await eventually(lambda: len(receiver.posts) == 4, what="four posts")
    assert receiver.texts() == ["a1", "b1", "a1", "a1"]
    a1 = fake_telegram.updates.created[0]["update_id"]
    tries = [d for d in fake_telegram.webhook.deliveries if d.update_id == a1]
    assert [d.status for d in tries] == [503, 503, 200]
    pauses = [later.time - earlier.time for earlier, later in itertools.pairwise(tries)]
    assert all(0.95 < pause < 1.5 for pause in pauses), pauses


async def test_a_post_the_proxy_fails_never_reaches_the_receiver_and_comes_again(
    fake_telegram: FakeTelegram,  # noqa: F811
    bot: telegram.Bot,
    receiver: Receiver,
) -> None:
    alice = fake_telegram.add_user("Alice")
    chat = fake_telegram.private_chat(alice)
    await receiver.start()
    fault = fake_telegram.webhook.fail(lambda update: update["message"]["text"] == "once")
    fake_telegram.inject_text(chat, alice, "once")
    fake_telegram.inject_text(chat, alice, "after")
    assert await bot.set_webhook(URL, secret_token=SECRET)
    await eventually(lambda: receiver.texts() == ["once", "after"], what="both, in order")
    once = fake_telegram.updates.created[0]["update_id"]
    tries = [d for d in fake_telegram.webhook.deliveries if d.update_id == once]
    assert [d.status for d in tries] == [502, 200]
    assert fault.hits == 1 and fault.times == 0
    info = await bot.get_webhook_info()
    assert info.last_error_message == "Wrong response from the webhook: 502 Bad Gateway"
