"""How a failed request into a chat is told to the core: the real python-telegram-bot client
against the fake Bot API (and a port nobody listens on). Only an unknown outcome is "in doubt"
(the part is then looked for before it is sent again); a refusal or a connection never made is
a clear "not sent"."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from telegram import Bot, Message

from bridge.network.capabilities import MediaUnavailable
from bridge.network.events import MediaFile
from bridge.network.interface import DeliveryError, TemporaryFailure
from connectors.telegram.calls import telegram_call
from connectors.telegram.http import AiohttpRequest
from connectors.telegram.media import download
from connectors.telegram.pacing import Limits, Pacer
from tests.fakes.telegram import FakeChat, FakeTelegram
from tests.support.ports import free_port


@contextlib.asynccontextmanager
async def running(bot: Bot) -> AsyncIterator[Bot]:
    async with bot:
        yield bot


def make_bot(
    fake: FakeTelegram,
    *,
    read_timeout: float = 5,
    pool_timeout: float = 1,
    connection_pool_size: int = 1,
) -> Bot:
    request = AiohttpRequest(
        fake.client_token(),
        connection_pool_size=connection_pool_size,
        read_timeout=read_timeout,
        pool_timeout=pool_timeout,
    )
    return fake.make_bot(request=request)


async def send(bot: Bot, chat: FakeChat | int, text: str = "hello") -> Message:
    chat_id = chat.id if isinstance(chat, FakeChat) else chat
    return await telegram_call(
        Pacer(Limits()), chat_id, lambda target: bot.send_message(target, text)
    )


async def failure_of(bot: Bot, chat: FakeChat | int) -> TemporaryFailure:
    with pytest.raises(TemporaryFailure) as raised:
        await send(bot, chat)
    return raised.value


@pytest.fixture
def group(fake_telegram: FakeTelegram) -> FakeChat:
    return fake_telegram.add_supergroup("Outcomes", members=[fake_telegram.add_user("Alice")])


async def test_a_flood_limit_is_not_in_doubt_and_keeps_its_wait(
    fake_telegram: FakeTelegram, group: FakeChat
) -> None:
    fake_telegram.faults.retry_after("sendMessage", seconds=7)
    async with running(make_bot(fake_telegram)) as bot:
        failure = await failure_of(bot, group)
    assert (failure.in_doubt, failure.retry_after) == (False, 7.0)


async def test_a_refusal_is_a_delivery_error(fake_telegram: FakeTelegram, group: FakeChat) -> None:
    fake_telegram.set_bot_member(group, "kicked")
    async with running(make_bot(fake_telegram)) as bot:
        with pytest.raises(DeliveryError, match="bot was kicked"):
            await send(bot, group)


@pytest.mark.parametrize("as_html", [False, True], ids=["json", "nginx-page"])
async def test_a_body_too_large_for_the_front_end_is_a_delivery_error(
    fake_telegram: FakeTelegram, group: FakeChat, as_html: bool
) -> None:
    """Telegram's front end answers 413 before the Bot API sees the request: python-telegram-bot
    has no class for it and raises a NetworkError, which would read as passing trouble."""
    fake_telegram.max_request_body = 1024
    fake_telegram.too_large_as_html = as_html
    async with running(make_bot(fake_telegram)) as bot:
        with pytest.raises(DeliveryError) as refused:
            await send(bot, group, "x" * 2000)
    assert str(refused.value) == (
        "Telegram refused it as too large (Request Entity Too Large (HTTP 413))"
    )
    assert [call.status for call in fake_telegram.calls_to("sendMessage")] == [413]


async def test_a_download_refused_with_such_a_status_is_unavailable_not_passing(
    fake_telegram: FakeTelegram,
) -> None:
    """The same for a file the bridge fetches: a notice takes its place at once."""
    fake_telegram.faults.server_error("getFile", status=414)
    async with running(make_bot(fake_telegram)) as bot:
        with pytest.raises(MediaUnavailable, match=r"Telegram refused it \(.*HTTP 414\)"):
            await download(bot, MediaFile("a-file-id"))


async def test_a_refused_connection_is_not_in_doubt(fake_telegram: FakeTelegram) -> None:
    # A port nobody listens on (a Bot API that is down): the connection is refused.
    nobody = f"http://127.0.0.1:{free_port()}/bot"
    token = fake_telegram.client_token()
    async with AiohttpRequest(token) as request:
        bot = Bot(token, base_url=nobody, request=request)
        failure = await failure_of(bot, -1001234567890)
    assert failure.in_doubt is False
    assert "ClientConnectorError" in str(failure)


async def test_no_free_connection_is_not_in_doubt(
    fake_telegram: FakeTelegram, group: FakeChat
) -> None:
    # The only connection of the pool hangs in a request Telegram never answers.
    fake_telegram.faults.hang("sendMessage", times=1)
    async with running(
        make_bot(fake_telegram, connection_pool_size=1, pool_timeout=0.3, read_timeout=10)
    ) as bot:
        hanging = asyncio.create_task(send(bot, group, "first"))
        await asyncio.sleep(0.3)
        failure = await failure_of(bot, group)
        hanging.cancel()
        with contextlib.suppress(asyncio.CancelledError, TemporaryFailure):
            await hanging
    assert failure.in_doubt is False
    assert "Timed out" in str(failure)
    assert [c.params.get("text") for c in fake_telegram.calls_to("sendMessage")] == ["first"]


async def test_an_answer_that_never_comes_is_in_doubt(
    fake_telegram: FakeTelegram, group: FakeChat
) -> None:
    fake_telegram.faults.hang("sendMessage", times=1)
    async with running(make_bot(fake_telegram, read_timeout=0.5)) as bot:
        failure = await failure_of(bot, group)
    assert failure.in_doubt is True


@pytest.mark.parametrize("carried_out", [False, True])
async def test_a_connection_lost_after_the_request_is_in_doubt(
    fake_telegram: FakeTelegram, group: FakeChat, carried_out: bool
) -> None:
    fake_telegram.faults.drop("sendMessage", carried_out=carried_out)
    async with running(make_bot(fake_telegram)) as bot:
        failure = await failure_of(bot, group)
    assert failure.in_doubt is True
    assert "ServerDisconnectedError" in str(failure)
    assert len(fake_telegram.sent_to(group)) == int(carried_out)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_a_server_error_is_in_doubt(
    fake_telegram: FakeTelegram, group: FakeChat, status: int
) -> None:
    fake_telegram.faults.server_error("sendMessage", status)
    async with running(make_bot(fake_telegram)) as bot:
        failure = await failure_of(bot, group)
    assert failure.in_doubt is True
