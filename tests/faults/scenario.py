"""One fault-injection scenario: a bridge process, several portals, messages both ways while a
fault is on, then a count of what arrived."""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import aiohttp
from sqlalchemy import make_url

from bridge.config.loader import ConfigFile
from tests.fakes.telegram import FakeChat, FakeTelegram, FakeUser
from tests.faults.measure import Tally, tally
from tests.faults.process import BridgeProcess
from tests.support.bridge_harness import AppserviceSetup
from tests.support.hs_proxy import HomeserverProxy
from tests.support.matrix_client import MatrixError, MatrixTestClient
from tests.support.synapse import SynapseServer
from tests.support.tcp_proxy import TcpProxy

DOMAIN = "synapse.test"
_TG = re.compile(r"^tg (\d+) (\d+)$")
_MX = re.compile(r"^Writer: mx (\d+) (\d+)$")
_ID_BASES = itertools.count(500_000, 1000)


@dataclass
class Result:
    scenario: str
    database: str
    telegram_to_matrix: Tally
    matrix_to_telegram: Tally
    seconds: float
    notes: list[str] = field(default_factory=list)


@dataclass
class Setup:
    synapse: SynapseServer
    appservice: AppserviceSetup
    database_url: str
    directory: Path
    portals: int = 4
    telegram_messages: int = 60  # per portal
    matrix_messages: int = 40  # per portal
    traffic_seconds: float = 15.0


class Scenario:
    def __init__(self, setup: Setup) -> None:
        self.setup = setup
        self.fake = FakeTelegram(can_read_all_group_messages=True, id_base=next(_ID_BASES))
        self.proxy = HomeserverProxy(setup.synapse.url)
        # PostgreSQL is reached through a proxy that can play a server restart.
        self.database_url = setup.database_url
        self.db_proxy: TcpProxy | None = None
        url = make_url(setup.database_url)
        if url.get_backend_name() == "postgresql":
            self.db_proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
            proxied = url.set(host="127.0.0.1", port=self.db_proxy.port)
            self.database_url = proxied.render_as_string(hide_password=False)
        self.bridge = BridgeProcess(
            setup.directory / "config.yaml", setup.appservice.port, setup.directory / "bridge.log"
        )
        self.groups: list[tuple[FakeChat, FakeUser]] = []
        self.rooms: list[str] = []
        self.writer: MatrixTestClient | None = None
        self.sent_telegram: dict[str, list[int]] = {}
        self.sent_matrix: dict[str, list[int]] = {}

    async def __aenter__(self) -> Scenario:
        await self.fake.start()
        await self.proxy.start()
        if self.db_proxy is not None:
            await self.db_proxy.start()
        self._write_config()
        await self.bridge.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            if self.bridge.returncode is None:
                await self.bridge.terminate()
        finally:
            if self.writer is not None:
                await self.writer.close()
            await self.proxy.stop()
            await self.fake.stop()
            if self.db_proxy is not None:
                await self.db_proxy.stop()

    def _write_config(self) -> None:
        setup = self.setup
        config_file = ConfigFile.load(setup.appservice.config_template)
        config_file.path = setup.directory / "config.yaml"
        config_file.set("homeserver.address", self.proxy.url)
        config_file.set("appservice.database", self.database_url)
        config_file.set("bridge.permissions", {DOMAIN: "user"})
        config_file.set("telegram.bot_token", self.fake.token)
        config_file.set("telegram.api_url", self.fake.url)
        config_file.set("telegram.poll_timeout", 1)
        config_file.set("telegram.request_timeout", 3)
        config_file.set(
            "telegram.rate_limits",
            {"overall_per_second": 200, "group_per_minute": 6000, "private_per_second": 50},
        )
        config_file.set("logging.root.level", "INFO")
        config_file.save()

    async def open_portals(self) -> None:
        """Groups on Telegram, each joined from Matrix through its alias (which creates it)."""
        self.writer = await MatrixTestClient.register(
            self.setup.synapse, f"writer-{time.monotonic_ns()}", displayname="Writer"
        )
        for index in range(self.setup.portals):
            sender = self.fake.add_user(f"Sender{index}")
            group = self.fake.add_supergroup(
                f"Group {index}", members=[sender], username=f"group{index}"
            )
            self.groups.append((group, sender))
            self.rooms.append(await self.writer.join(f"#telegram_{group.id}:{DOMAIN}"))

    async def traffic(self) -> None:
        """Messages both ways, spread over ``traffic_seconds``, every portal at once."""
        await asyncio.gather(self._telegram_side(), self._matrix_side())

    async def _telegram_side(self) -> None:
        count = self.setup.telegram_messages
        pause = self.setup.traffic_seconds / count
        for number in range(count):
            for index, (group, sender) in enumerate(self.groups):
                self.fake.inject_text(group, sender, f"tg {index} {number}")
                self.sent_telegram.setdefault(str(index), []).append(number)
            await asyncio.sleep(pause)

    async def _matrix_side(self) -> None:
        assert self.writer is not None
        count = self.setup.matrix_messages
        pause = self.setup.traffic_seconds / count

        async def room_traffic(index: int, room_id: str) -> None:
            for number in range(count):
                await self._send_patiently(room_id, f"mx {index} {number}")
                self.sent_matrix.setdefault(str(index), []).append(number)
                await asyncio.sleep(pause)

        await asyncio.gather(*(room_traffic(i, room) for i, room in enumerate(self.rooms)))

    async def _send_patiently(self, room_id: str, body: str) -> None:
        """Send as a Matrix user would, trying again while the homeserver is away (with one
        transaction id, so a retry cannot post twice)."""
        assert self.writer is not None
        txn_id = f"fault-{time.monotonic_ns()}"
        path = f"/_matrix/client/v3/rooms/{quote(room_id, safe='')}/send/m.room.message/{txn_id}"
        while True:
            try:
                await self.writer.request("PUT", path, {"msgtype": "m.text", "body": body})
                return
            except (aiohttp.ClientError, OSError, TimeoutError):
                await asyncio.sleep(0.5)
            except MatrixError as error:
                if error.status < 500:
                    raise
                await asyncio.sleep(0.5)

    async def received(self) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
        assert self.writer is not None
        in_matrix: dict[str, list[int]] = {}
        for index, room_id in enumerate(self.rooms):
            events = await self.writer.room_messages(room_id, limit=2000)
            for event in events:
                if event.get("type") != "m.room.message":
                    continue
                match = _TG.match(event.get("content", {}).get("body", ""))
                if match and int(match.group(1)) == index:
                    in_matrix.setdefault(str(index), []).append(int(match.group(2)))
        in_telegram: dict[str, list[int]] = {}
        for index, (group, _) in enumerate(self.groups):
            for sent in self.fake.sent_to(group):
                match = _MX.match(sent.text or "")
                if match and int(match.group(1)) == index:
                    in_telegram.setdefault(str(index), []).append(int(match.group(2)))
        return in_matrix, in_telegram

    async def notices(self, text: str) -> list[int]:
        """How many bot notices containing ``text`` each portal room got."""
        assert self.writer is not None
        counts = []
        for room_id in self.rooms:
            events = await self.writer.room_messages(room_id, limit=2000)
            counts.append(
                sum(
                    1
                    for event in events
                    if event.get("content", {}).get("msgtype") == "m.notice"
                    and text in event.get("content", {}).get("body", "")
                )
            )
        return counts

    async def settle(self, timeout: float = 180) -> tuple[Tally, Tally]:
        """Wait until everything sent arrived (or the time is up), then count once more after
        a pause, so late duplicates are counted too."""
        deadline = time.monotonic() + timeout
        while True:
            in_matrix, in_telegram = await self.received()
            to_matrix = tally(self.sent_telegram, in_matrix)
            to_telegram = tally(self.sent_matrix, in_telegram)
            complete = to_matrix.lost == 0 and to_telegram.lost == 0
            if complete or time.monotonic() > deadline:
                break
            await asyncio.sleep(1)
        await asyncio.sleep(2)
        in_matrix, in_telegram = await self.received()
        return tally(self.sent_telegram, in_matrix), tally(self.sent_matrix, in_telegram)


async def run_scenario(
    name: str,
    setup: Setup,
    database: str,
    fault: Callable[[Scenario], Awaitable[list[str]]],
    check: Callable[[Scenario], Awaitable[list[str]]] | None = None,
) -> Result:
    """Open the portals, run the traffic with ``fault`` alongside, count, and let ``check``
    look at the scenario afterwards (its findings become notes; problems raise)."""
    started = time.monotonic()
    async with Scenario(setup) as scenario:
        await scenario.open_portals()
        traffic = asyncio.create_task(scenario.traffic())
        notes = await fault(scenario)
        await traffic
        to_matrix, to_telegram = await scenario.settle()
        if not (to_matrix.perfect and to_telegram.perfect):
            in_matrix, in_telegram = await scenario.received()
            for direction, arrived in (("to Matrix", in_matrix), ("to Telegram", in_telegram)):
                for portal, numbers in arrived.items():
                    if numbers != sorted(set(numbers)):
                        notes.append(f"{direction}, portal {portal}, as arrived: {numbers}")
            notes.append("bridge log tail:\n" + scenario.bridge.log_tail(60))
        elif check is not None:
            notes += await check(scenario)
        stop_seconds = await scenario.bridge.terminate()
        notes.append(f"clean stop (SIGTERM) took {stop_seconds:.1f} s")
        scenario.fake.assert_no_violations()
    return Result(name, database, to_matrix, to_telegram, time.monotonic() - started, notes)


def describe(result: Result) -> list[str]:
    def line(direction: str, t: Tally) -> str:
        return (
            f"{result.scenario:<24} {result.database:<10} {direction:<18} sent {t.sent:>4}  "
            f"delivered {t.delivered:>4}  lost {t.lost}  duplicated {t.duplicated}  "
            f"out of order {t.out_of_order}"
        )

    return [
        line("Telegram->Matrix", result.telegram_to_matrix),
        line("Matrix->Telegram", result.matrix_to_telegram),
    ]
