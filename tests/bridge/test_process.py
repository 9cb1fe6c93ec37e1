"""The bridge as admins run it: a separate process started from the command line, against the
real Synapse and the fake Bot API; ready, pinged by the homeserver, stopped by SIGTERM."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bridge.config.loader import ConfigFile
from tests.fakes.telegram import FakeTelegram
from tests.support.bridge_harness import AppserviceSetup
from tests.support.bridge_process import (
    bridge_process,
    started_checks,
    terminate,
    wait_ready,
)
from tests.support.matrix_client import MatrixTestClient
from tests.support.ports import free_port
from tests.support.synapse import SynapseServer

ROOT = Path(__file__).resolve().parents[2]


def process_config(
    setup: AppserviceSetup, synapse: SynapseServer, directory: Path, token: str, api_url: str
) -> ConfigFile:
    """The session's registration's config, for this homeserver and Bot API, in ``directory``
    (saved when the bridge is started with it)."""
    config_file = ConfigFile.load(setup.config_template)
    config_file.path = directory / "config.yaml"
    config_file.set("homeserver.address", synapse.url)
    config_file.set("appservice.database", "sqlite:///bridge.db")  # beside the config
    config_file.set("telegram.bot_token", token)
    config_file.set("telegram.api_url", api_url)
    return config_file


@asynccontextmanager
async def bridge_running(
    config_file: ConfigFile, log_path: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``python -m bridge -c`` the config (saved first), from the config's directory."""
    config_file.save()
    async with bridge_process(
        sys.executable,
        *("-m", "bridge", "-c", str(config_file.path)),
        cwd=config_file.path.parent,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        log_path=log_path,
    ) as process:
        yield process


async def test_run_ping_and_stop_as_a_process(
    synapse: SynapseServer, appservice_setup: AppserviceSetup, tmp_path: Path
) -> None:
    async with FakeTelegram(can_read_all_group_messages=True) as fake:
        config_file = process_config(appservice_setup, synapse, tmp_path, fake.token, fake.url)
        config_file.set("telegram.poll_timeout", 1)
        # Request lines carry the bot token in their URLs: log them to prove the redaction.
        config_file.document["logging"]["loggers"]["connectors.telegram.http"] = {"level": "DEBUG"}
        log_path = tmp_path / "bridge.log"
        async with bridge_running(config_file, log_path) as process:
            await wait_ready(appservice_setup.port, process)
            async with await MatrixTestClient.as_appservice(
                synapse, appservice_setup.as_token
            ) as bot:
                answer = await bot.appservice_ping("telegram")
            assert "duration_ms" in answer
            code = await terminate(process, 20)
        output = log_path.read_text()
        assert code == 0, output
        assert "Bridge started as @telegrambot:synapse.test" in output
        assert "Bridge stopped" in output
        for secret in (fake.token, appservice_setup.as_token, appservice_setup.hs_token):
            assert secret not in output
        assert "/bot<redacted>/getMe" in output


async def test_without_telegram_the_homeserver_half_runs(
    synapse: SynapseServer, appservice_setup: AppserviceSetup, tmp_path: Path
) -> None:
    # An admin whose bridge cannot reach Telegram yet: the bridge runs, the homeserver reaches
    # it (the ping), /ready says what is down, and a stop is a clean one.
    token = "6000000001:AAF-never-checked-telegram-is-out-of-reach"
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing answers there
    config_file = process_config(appservice_setup, synapse, tmp_path, token, nowhere)
    log_path = tmp_path / "bridge.log"
    async with bridge_running(config_file, log_path) as process:
        checks = await started_checks(appservice_setup.port, process)
        assert checks["bridge"]["ok"] and checks["homeserver"]["ok"], checks
        assert checks["telegram"] == {"ok": False}, checks  # the reason is in the log
        assert "Cannot reach the Telegram Bot API" in log_path.read_text()
        async with await MatrixTestClient.as_appservice(synapse, appservice_setup.as_token) as bot:
            assert "duration_ms" in await bot.appservice_ping("telegram")
        code = await terminate(process, 20)
    output = log_path.read_text()
    assert code == 0, output
    assert "Cannot reach the Telegram Bot API at telegram.api_url" in output
    assert "Bridge started as @telegrambot:synapse.test" in output
