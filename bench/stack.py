"""Everything a benchmark runs against: Synapse with the bridge's registration, the fake Bot
API server, the two proxies, the Matrix users, and the bridge process itself.

The bridge is configured only through its config file (written from config.example.yaml) and
its command line (``-g`` writes the registration)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from tests.fakes.telegram import FakeChat, FakeUser
from tests.support.matrix_client import MatrixTestClient
from tests.support.ports import free_port
from tests.support.synapse import SynapseServer

from . import procstat
from .bridge_process import ROOT, BridgeProcess
from .fake import TimedTelegram
from .matrix import Reader
from .proxies import AppserviceProxy, HomeserverProxy

DOMAIN = "synapse.test"
GHOST_PREFIX = "telegram_"
# The bridge paces itself under Telegram's limits; the fake has none, so they are raised out of
# the way (the burst's flood limit is the fake's 429s).
RATE_LIMITS = {
    "overall_per_second": 100000,
    "group_per_minute": 6000000,
    "private_per_second": 1000,
}


def _yaml() -> YAML:
    yaml = YAML()
    yaml.default_flow_style = False
    return yaml


def _set(document: Any, dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    node = document
    for key in parents:
        node = node[key]
    node[last] = value


class Stack:
    def __init__(self, directory: Path | None = None, profile: Path | None = None) -> None:
        self.directory = directory or Path(tempfile.mkdtemp(prefix="bench-"))
        self._owns_directory = directory is None
        self.profile = profile
        self.fake = TimedTelegram(can_read_all_group_messages=True)
        self.bridge_port = free_port()
        self.registration = self.directory / "registration.yaml"
        self.synapse = SynapseServer(
            self.directory / "synapse",
            server_name=DOMAIN,
            app_service_config_files=[self.registration],
        )
        # The bridge's way to Synapse (counted), and the same kind of hop for the driver's own
        # appservice clients (the baseline), counted apart.
        self.hs_proxy = HomeserverProxy(self.synapse.url)
        self.driver_proxy = HomeserverProxy(self.synapse.url)
        self.as_proxy = AppserviceProxy(f"http://127.0.0.1:{self.bridge_port}")
        self.config_path = self.directory / "config.yaml"
        self.as_token = ""
        self.hs_token = ""
        self.bridge: BridgeProcess | None = None
        self.reader: Reader | None = None
        self.writer: MatrixTestClient | None = None
        self.senders: list[FakeUser] = []
        self._clients: list[MatrixTestClient] = []
        self._synapse_pid: int | None = None
        self._starts = 0

    async def start(self, database: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        await self.fake.start()
        await self.hs_proxy.start()
        await self.driver_proxy.start()
        await self.as_proxy.start()
        self.write_config(database)
        await asyncio.to_thread(self._generate_registration)
        await asyncio.to_thread(self.synapse.start)
        self.reader = Reader(await self.register_user("reader", "Reader"))
        self.writer = await self.register_user("writer", "Writer")
        self.senders = [self.fake.add_user(f"Sender{n}", last_name="Bench") for n in range(3)]

    async def close(self) -> None:
        if self.reader is not None:
            await self.reader.stop()
        if self.bridge is not None:
            await self.bridge.stop()
        for client in self._clients:
            await client.close()
        await self.as_proxy.stop()
        await self.hs_proxy.stop()
        await self.driver_proxy.stop()
        await self.fake.stop()
        await asyncio.to_thread(self.synapse.stop)
        if self._owns_directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    # -- the bridge's files -----------------------------------------------------------------

    def write_config(self, database: str) -> None:
        """config.yaml from config.example.yaml with the benchmark's values (tokens kept)."""
        yaml = _yaml()
        source = self.config_path if self.config_path.exists() else ROOT / "config.example.yaml"
        document = yaml.load(source.read_text())
        values: dict[str, Any] = {
            "homeserver.address": self.hs_proxy.url,
            "homeserver.domain": DOMAIN,
            "appservice.address": self.as_proxy.url,
            "appservice.hostname": "127.0.0.1",
            "appservice.port": self.bridge_port,
            "appservice.database": database,
            "bridge.permissions": {"*": "relay", DOMAIN: "user"},
            "telegram.bot_token": self.fake.token,
            "telegram.api_url": self.fake.url,
            "telegram.rate_limits": dict(RATE_LIMITS),
        }
        for key, value in values.items():
            _set(document, key, value)
        with self.config_path.open("w") as handle:
            yaml.dump(document, handle)

    def _generate_registration(self) -> None:
        command = [sys.executable, "-m", "bridge", "-c", str(self.config_path)]
        command += ["-g", "-r", str(self.registration)]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"generating the registration failed:\n{done.stderr}")
        document = _yaml().load(self.config_path.read_text())
        self.as_token = str(document["appservice"]["as_token"])
        self.hs_token = str(document["appservice"]["hs_token"])

    # -- processes --------------------------------------------------------------------------

    async def start_bridge(
        self, module: str = "bench.counting_bridge", env: dict[str, str] | None = None
    ) -> float:
        """Start the bridge (or another process in its place), with ``env`` added to its
        environment; returns its start-up seconds."""
        profile = self.profile if module == "bench.counting_bridge" else None
        if profile is not None:
            # Each start writes its own profile: the first (the one under load) gets the name
            # asked for, the start-up ones after it -2, -3 and so on.
            self._starts += 1
            if self._starts > 1:
                profile = profile.with_name(f"{profile.stem}-{self._starts}{profile.suffix}")
        self.bridge = BridgeProcess(
            self.config_path, self.bridge_port, self.directory / "bridge.log",
            profile=profile, module=module, env=env,
        )  # fmt: skip
        return await self.bridge.start()

    async def stop_bridge(self) -> None:
        if self.bridge is not None:
            await self.bridge.stop()
            self.bridge = None

    def synapse_pid(self) -> int:
        """Synapse's process: the child of this process started with its config file."""
        if self._synapse_pid is None or not procstat.alive(self._synapse_pid):
            config = str(self.synapse.config_path).encode()
            for pid in procstat.children(os.getpid()):
                try:
                    if config in Path(f"/proc/{pid}/cmdline").read_bytes():
                        self._synapse_pid = pid
                except OSError:
                    continue
        if self._synapse_pid is None:
            raise RuntimeError("Synapse's process was not found")
        return self._synapse_pid

    def synapse_cpu(self) -> float:
        return procstat.cpu_seconds(self.synapse_pid()).total

    # -- Matrix -----------------------------------------------------------------------------

    async def register_user(self, prefix: str, displayname: str) -> MatrixTestClient:
        localpart = f"{prefix}-{uuid.uuid4().hex[:8]}"
        client = await MatrixTestClient.register(self.synapse, localpart, displayname=displayname)
        self._clients.append(client)
        return client

    async def appservice(self, user_id: str | None = None) -> MatrixTestClient:
        """An as_token client through the driver's homeserver proxy, as the bot or a ghost."""
        client = await MatrixTestClient.as_appservice(self.driver_proxy, self.as_token, user_id)
        self._clients.append(client)
        return client

    def ghost_of(self, user: FakeUser) -> str:
        return f"@{GHOST_PREFIX}{user.id}:{DOMAIN}"

    # -- Telegram ---------------------------------------------------------------------------

    def add_group(self, title: str) -> FakeChat:
        """A public supergroup (it has an @username), so joining its alias opens its portal."""
        username = f"bench_group_{len(self.fake.chats)}"
        return self.fake.add_supergroup(title, members=list(self.senders), username=username)
