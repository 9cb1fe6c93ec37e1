"""A bridge that does nothing but pass text on, as the floor for the latency figures.

``python -m bench.null_bridge -c settings.json`` long-polls the Bot API with python-telegram-bot and
sends each message to its room as the sender's ghost (as_token with ?user_id=); it answers the
homeserver's transactions at once and relays their texts with the bot, one room in order. No
database, no formatting, no checks: whatever latency it shows is the cost of the hops
themselves (HTTP, the proxies, the client libraries), which the bridge pays too.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import signal
import sys
import urllib.parse
from pathlib import Path
from typing import Any

import aiohttp
import telegram
from aiohttp import web


class NullBridge:
    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings
        self.rooms: dict[int, str] = {int(k): v for k, v in settings["chats"].items()}
        self.chats = {room: chat for chat, room in self.rooms.items()}
        self.bot = telegram.Bot(settings["bot_token"], base_url=f"{settings['api_url']}/bot")
        self.queues: dict[str, asyncio.Queue[str]] = {}
        self.workers: list[asyncio.Task[None]] = []
        self.txn = itertools.count()
        self.session: aiohttp.ClientSession | None = None

    async def run(self, stop: asyncio.Event) -> None:
        self.session = aiohttp.ClientSession()
        await self.bot.initialize()
        app = web.Application()
        app.router.add_put("/_matrix/app/v1/transactions/{txn}", self.transaction)
        app.router.add_post("/_matrix/app/v1/ping", self.ok)
        app.router.add_get("/_matrix/mau/ready", self.ok)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.settings["as_port"]).start()
        poller = asyncio.create_task(self.poll())
        await stop.wait()
        poller.cancel()
        for task in [poller, *self.workers]:
            task.cancel()
        await asyncio.gather(poller, *self.workers, return_exceptions=True)
        await runner.cleanup()
        await self.session.close()
        await self.bot.shutdown()

    async def ok(self, _request: web.Request) -> web.Response:
        return web.json_response({})

    # Telegram to Matrix.

    async def poll(self) -> None:
        offset: int | None = None
        while True:
            updates = await self.bot.get_updates(offset=offset, timeout=1)
            for update in updates:
                offset = update.update_id + 1
                message = update.message
                if message is None or message.text is None or message.from_user is None:
                    continue
                room = self.rooms.get(message.chat.id)
                if room is not None:
                    await self.to_matrix(room, message.from_user.id, message.text)

    async def to_matrix(self, room: str, user_id: int, text: str) -> None:
        assert self.session is not None
        s = self.settings
        ghost = f"@{s['ghost_prefix']}{user_id}:{s['domain']}"
        path = (
            f"/_matrix/client/v3/rooms/{urllib.parse.quote(room, safe='')}"
            f"/send/m.room.message/null-{next(self.txn)}"
        )
        async with self.session.put(
            f"{s['hs_url']}{path}",
            params={"user_id": ghost},
            json={"msgtype": "m.text", "body": text},
            headers={"Authorization": f"Bearer {s['as_token']}"},
        ) as response:
            await response.read()

    # Matrix to Telegram.

    async def transaction(self, request: web.Request) -> web.Response:
        body = await request.json()
        prefix = f"@{self.settings['ghost_prefix']}"
        for event in body.get("events", []):
            room = event.get("room_id")
            sender = event.get("sender", "")
            text = event.get("content", {}).get("body")
            if (
                event.get("type") != "m.room.message"
                or room not in self.chats
                or sender.startswith(prefix)
                or not isinstance(text, str)
            ):
                continue
            queue = self.queues.get(room)
            if queue is None:
                queue = self.queues[room] = asyncio.Queue()
                self.workers.append(asyncio.create_task(self.relay(self.chats[room], queue)))
            queue.put_nowait(f"<b>{html.escape(sender)}</b>: {html.escape(text)}")
        return web.json_response({})

    async def relay(self, chat: int, queue: asyncio.Queue[str]) -> None:
        while True:
            text = await queue.get()
            await self.bot.send_message(chat, text, parse_mode="HTML")


async def _main(settings: dict[str, Any]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await NullBridge(settings).run(stop)


def main() -> int:
    settings = json.loads(Path(sys.argv[-1]).read_text())  # -c settings.json
    asyncio.run(_main(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
