"""Running the bridge in-process against the session's Synapse, with a given connector."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.__main__ import generate_registration
from bridge.app import Bridge
from bridge.config.loader import ConfigFile, example_config_text
from bridge.config.model import Config
from bridge.network.interface import NetworkConnector
from tests.support.session_log import register_secret

SERVER_NAME = "synapse.test"


@dataclass(frozen=True)
class AppserviceSetup:
    """The registration Synapse loads, and the tokens and port that go with it."""

    registration: Path
    as_token: str
    hs_token: str
    port: int
    config_template: Path


def make_appservice_setup(directory: Path, port: int) -> AppserviceSetup:
    """Generate the registration with the bridge's own -g code path."""
    config_path = directory / "config.yaml"
    config_path.write_text(example_config_text())
    config_file = ConfigFile.load(config_path)
    config_file.set("homeserver.domain", SERVER_NAME)
    config_file.set("homeserver.address", "http://127.0.0.1:1")
    config_file.set("appservice.address", f"http://127.0.0.1:{port}")
    config_file.set("appservice.port", port)
    config_file.save()
    config = config_file.typed(["telegram"])
    registration = directory / "registration.yaml"
    generate_registration(config_file, config, registration)
    saved = ConfigFile.load(config_path)
    register_secret(str(saved.get("appservice.as_token")), str(saved.get("appservice.hs_token")))
    return AppserviceSetup(
        registration=registration,
        as_token=str(saved.get("appservice.as_token")),
        hs_token=str(saved.get("appservice.hs_token")),
        port=port,
        config_template=config_path,
    )


def bridge_config(
    setup: AppserviceSetup,
    homeserver_url: str,
    database: str,
    network: str,
    overrides: dict[str, Any] | None = None,
) -> Config:
    config_file = ConfigFile.load(setup.config_template)
    config_file.set("homeserver.address", homeserver_url)
    config_file.set("appservice.database", database)
    config_file.set(
        "bridge.permissions",
        {
            "*": "relay",
            SERVER_NAME: "user",
            f"@admin:{SERVER_NAME}": "admin",
        },
    )
    for key, value in (overrides or {}).items():
        config_file.set(key, value)
    document = config_file.document
    if network not in document:
        document[network] = {}
    return config_file.typed([network])


@dataclass
class RunningBridge:
    bridge: Bridge
    config: Config
    connector: NetworkConnector

    @property
    def bot(self) -> str:
        return self.config.bot_mxid

    async def stop(self) -> None:
        await self.bridge.stop()
