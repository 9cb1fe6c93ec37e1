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
from typing import Any
from urllib.parse import quote

import aiohttp
from sqlalchemy import make_url

from bridge.config.loader import ConfigFile
from tests.fakes.telegram import FakeChat, FakeTelegram, FakeUser
from tests.faults.measure import Tally, tally
from tests.faults.process import BridgeProcess
from tests.support.as_proxy import AppserviceProxy
from tests.support.bridge_harness import AppserviceSetup
from tests.support.hs_proxy import HomeserverProxy
from tests.support.matrix_client import MatrixError, MatrixTestClient
from tests.support.synapse import SynapseServer
from tests.support.tcp_proxy import TcpProxy

DOMAIN = "synapse.test"
_TG = re.compile(r"^tg (\d+) (\d+)$")
_MX = re.compile(r"^Writer: mx (\d+) (\d+)( \(edited\))?$")
_TG_EDITED = re.compile(r"^tg (\d+) (\d+) \(edited\)$")
PDF = b"%PDF-1.4\n" + b"fault" * 200


def is_file(number: int) -> bool:
    """Some messages of the flow are files with a caption, not texts."""
    return number % 6 == 3


def is_edited(number: int) -> bool:
    """Some messages of the flow are edited just after they were sent."""
    return number % 5 == 4


_ID_BASES = itertools.count(500_000, 1000)


@dataclass
class Result:
    scenario: str
    database: str
    telegram_to_matrix: Tally
    matrix_to_telegram: Tally
    seconds: float
    notes: list[str] = field(default_factory=list)
    # The edits of the flow: every one arrives once, in order, at the right message.
    edits_to_matrix: Tally | None = None
    edits_to_telegram: Tally | None = None


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
    # A proxy between the homeserver and the bridge's listener (tests/support/as_proxy.py).
    appservice_proxy: bool = False
    # The command that restarts the PostgreSQL server for real (tests/faults/postgres.py).
    postgres_restart: list[str] | None = None


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
        # The homeserver reaches the bridge at the registration's port: with a proxy there,
        # the bridge listens on another one.
        self.as_proxy: AppserviceProxy | None = None
        self.bridge_port = setup.appservice.port
        if setup.appservice_proxy:
            self.as_proxy = AppserviceProxy.in_front_of_a_new_port(setup.appservice.port)
            self.bridge_port = self.as_proxy.bridge_port
        self.bridge = BridgeProcess(
            setup.directory / "config.yaml", self.bridge_port, setup.directory / "bridge.log"
        )
        self.groups: list[tuple[FakeChat, FakeUser]] = []
        self.rooms: list[str] = []
        self.writer: MatrixTestClient | None = None
        self.sent_telegram: dict[str, list[int]] = {}
        self.sent_matrix: dict[str, list[int]] = {}
        self.edited_telegram: dict[str, list[int]] = {}
        self.edited_matrix: dict[str, list[int]] = {}
        self.file_url = ""
        # What arrived not as it should have (a file without its file, an edit elsewhere).
        self.misshapen: list[str] = []

    async def __aenter__(self) -> Scenario:
        await self.fake.start()
        await self.proxy.start()
        if self.db_proxy is not None:
            await self.db_proxy.start()
        if self.as_proxy is not None:
            await self.as_proxy.start()
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
            if self.as_proxy is not None:
                await self.as_proxy.stop()

    def _write_config(self) -> None:
        setup = self.setup
        config_file = ConfigFile.load(setup.appservice.config_template)
        config_file.path = setup.directory / "config.yaml"
        config_file.set("homeserver.address", self.proxy.url)
        config_file.set("appservice.database", self.database_url)
        config_file.set("appservice.port", self.bridge_port)
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
        # What each transaction stored and where portals looked for undelivered events: what
        # a reordering is explained by.
        config_file.set("logging.loggers.portals", {"level": "DEBUG"})
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
        self.file_url = await self.writer.upload(PDF, "application/pdf", "fault.pdf")

    async def traffic(self) -> None:
        """Messages both ways, spread over ``traffic_seconds``, every portal at once."""
        await asyncio.gather(self._telegram_side(), self._matrix_side())

    async def _telegram_side(self) -> None:
        count = self.setup.telegram_messages
        pause = self.setup.traffic_seconds / count
        for number in range(count):
            for index, (group, sender) in enumerate(self.groups):
                text = f"tg {index} {number}"
                if is_file(number):
                    self.fake.inject_media(
                        group, sender, "document", PDF, file_name="fault.pdf",
                        mime_type="application/pdf", caption=text,
                    )  # fmt: skip
                else:
                    message = self.fake.inject_text(group, sender, text)
                    if is_edited(number):
                        self.fake.inject_edit(group, message["message_id"], f"{text} (edited)")
                        self.edited_telegram.setdefault(str(index), []).append(number)
                self.sent_telegram.setdefault(str(index), []).append(number)
            await asyncio.sleep(pause)

    async def _matrix_side(self) -> None:
        assert self.writer is not None
        count = self.setup.matrix_messages
        pause = self.setup.traffic_seconds / count

        async def room_traffic(index: int, room_id: str) -> None:
            for number in range(count):
                body = f"mx {index} {number}"
                content: dict[str, Any] = {"msgtype": "m.text", "body": body}
                if is_file(number):
                    content = {
                        "msgtype": "m.file", "body": body, "filename": "fault.pdf",
                        "url": self.file_url, "info": {"mimetype": "application/pdf"},
                    }  # fmt: skip
                event_id = await self._send_patiently(room_id, content)
                self.sent_matrix.setdefault(str(index), []).append(number)
                if is_edited(number) and not is_file(number):
                    new = {"msgtype": "m.text", "body": f"{body} (edited)"}
                    edit = {
                        **new, "body": f"* {new['body']}", "m.new_content": new,
                        "m.relates_to": {"rel_type": "m.replace", "event_id": event_id},
                    }  # fmt: skip
                    await self._send_patiently(room_id, edit)
                    self.edited_matrix.setdefault(str(index), []).append(number)
                await asyncio.sleep(pause)

        await asyncio.gather(*(room_traffic(i, room) for i, room in enumerate(self.rooms)))

    async def _send_patiently(self, room_id: str, content: dict[str, Any]) -> str:
        """Send as a Matrix user would, trying again while the homeserver is away (with one
        transaction id, so a retry cannot post twice); the event's id."""
        assert self.writer is not None
        txn_id = f"fault-{time.monotonic_ns()}"
        path = f"/_matrix/client/v3/rooms/{quote(room_id, safe='')}/send/m.room.message/{txn_id}"
        while True:
            try:
                return str((await self.writer.request("PUT", path, content))["event_id"])
            except (aiohttp.ClientError, OSError, TimeoutError):
                await asyncio.sleep(0.5)
            except MatrixError as error:
                if error.status < 500:
                    raise
                await asyncio.sleep(0.5)

    async def received(self) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
        assert self.writer is not None
        in_matrix: dict[str, list[int]] = {}
        self.edits_in_matrix: dict[str, list[int]] = {}
        self.misshapen = []
        for index, room_id in enumerate(self.rooms):
            events = await self.writer.room_messages(room_id, limit=4000)
            originals: dict[str, int] = {}
            for event in events:
                if event.get("type") != "m.room.message":
                    continue
                content = event.get("content", {})
                match = _TG.match(content.get("body", ""))
                if match and int(match.group(1)) == index:
                    number = int(match.group(2))
                    in_matrix.setdefault(str(index), []).append(number)
                    originals[event["event_id"]] = number
                    if is_file(number) and content.get("msgtype") != "m.file":
                        self.misshapen.append(f"tg {index} {number} came without its file")
                new = content.get("m.new_content", {})
                edited = _TG_EDITED.match(new.get("body", "") if isinstance(new, dict) else "")
                if edited and int(edited.group(1)) == index:
                    number = int(edited.group(2))
                    self.edits_in_matrix.setdefault(str(index), []).append(number)
                    target = content.get("m.relates_to", {}).get("event_id")
                    if originals.get(target) != number:
                        self.misshapen.append(f"the edit of tg {index} {number} went elsewhere")
        in_telegram: dict[str, list[int]] = {}
        self.edits_in_telegram: dict[str, list[int]] = {}
        for index, (group, _) in enumerate(self.groups):
            for sent in self.fake.sent_to(group):
                match = _MX.match(sent.text or "")
                if match and int(match.group(1)) == index:
                    number = int(match.group(2))
                    in_telegram.setdefault(str(index), []).append(number)
                    if match.group(3):
                        self.edits_in_telegram.setdefault(str(index), []).extend(
                            [number] * sent.content_edits
                        )
                    if is_file(number) and sent.method != "sendDocument":
                        self.misshapen.append(f"mx {index} {number} went as {sent.method}")
        return in_matrix, in_telegram

    def edit_tallies(self) -> tuple[Tally, Tally]:
        return (
            tally(self.edited_telegram, self.edits_in_matrix),
            tally(self.edited_matrix, self.edits_in_telegram),
        )

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
            edits = self.edit_tallies()
            complete = (
                to_matrix.lost == 0
                and to_telegram.lost == 0
                and edits[0].lost == 0
                and edits[1].lost == 0
            )
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
        edits_to_matrix, edits_to_telegram = scenario.edit_tallies()
        notes += scenario.misshapen
        if not (
            to_matrix.perfect
            and to_telegram.perfect
            and edits_to_matrix.perfect
            and edits_to_telegram.perfect
            and not scenario.misshapen
        ):
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
    seconds = time.monotonic() - started
    return Result(
        name, database, to_matrix, to_telegram, seconds, notes, edits_to_matrix, edits_to_telegram
    )


def describe(result: Result) -> list[str]:
    def line(direction: str, t: Tally) -> str:
        return (
            f"{result.scenario:<24} {result.database:<10} {direction:<18} sent {t.sent:>4}  "
            f"delivered {t.delivered:>4}  lost {t.lost}  duplicated {t.duplicated}  "
            f"out of order {t.out_of_order}"
        )

    lines = [
        line("Telegram->Matrix", result.telegram_to_matrix),
        line("Matrix->Telegram", result.matrix_to_telegram),
    ]
    if result.edits_to_matrix is not None and result.edits_to_telegram is not None:
        lines.append(line("  edits T->M", result.edits_to_matrix))
        lines.append(line("  edits M->T", result.edits_to_telegram))
    return lines


# The heading the counts of every scenario are shown under at the end of the run.
SUMMARY_TITLE = "fault injection: sent, delivered, lost, duplicated, out of order"


def summary(result: Result) -> list[str]:
    """The counts, and the notes but the bridge's log."""
    notes = [f"    {note}" for note in result.notes if not note.startswith("bridge log tail")]
    return describe(result) + notes
