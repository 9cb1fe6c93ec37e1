"""The bridge as admins run it: a separate process started from the command line, against the
real Synapse and the fake Bot API; ready, pinged by the homeserver, stopped by SIGTERM."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from bridge.config.loader import ConfigFile
from tests.fakes.telegram import FakeTelegram
from tests.support.bridge_harness import AppserviceSetup
from tests.support.bridge_process import bridge_process, terminate, wait_ready
from tests.support.matrix_client import MatrixTestClient
from tests.support.synapse import SynapseServer

ROOT = Path(__file__).resolve().parents[2]


async def test_run_ping_and_stop_as_a_process(
    synapse: SynapseServer, appservice_setup: AppserviceSetup, tmp_path: Path
) -> None:
    async with FakeTelegram(can_read_all_group_messages=True) as fake:
        config_path = tmp_path / "config.yaml"
        config_file = ConfigFile.load(appservice_setup.config_template)
        config_file.path = config_path
        config_file.set("homeserver.address", synapse.url)
        config_file.set("appservice.database", f"sqlite:///{tmp_path / 'bridge.db'}")
        config_file.set("telegram.bot_token", fake.token)
        config_file.set("telegram.api_url", fake.url)
        config_file.set("telegram.poll_timeout", 1)
        # Request lines carry the bot token in their URLs: log them to prove the redaction.
        config_file.document["logging"]["loggers"]["connectors.telegram.http"] = {"level": "DEBUG"}
        config_file.save()
        log_path = tmp_path / "bridge.log"
        async with bridge_process(
            sys.executable,
            *("-m", "bridge", "-c", str(config_path)),
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            log_path=log_path,
        ) as process:
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
