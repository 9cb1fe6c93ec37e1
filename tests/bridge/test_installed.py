"""The bridge installed as a package (pip install, not editable) into a fresh virtualenv and run
from a directory outside the source tree, as an admin who manages their own environment does:
first run, -g, then a real start against Synapse and the fake Bot API, and a clean stop."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import aiohttp
from ruamel.yaml import YAML

from bridge.config.loader import ConfigFile
from tests.fakes.telegram import FakeTelegram
from tests.support.bridge_harness import SERVER_NAME, AppserviceSetup
from tests.support.bridge_process import bridge_process, terminate, wait_ready
from tests.support.synapse import SynapseServer

ROOT = Path(__file__).resolve().parents[2]

# Nothing may lead the installed bridge back to the checkout.
ENV = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}

# What a fresh checkout does not have. pip builds in the tree it is given, writing build/ there
# and packing what an earlier build left in it: the copy keeps both away from the checkout.
NOT_IN_A_CHECKOUT = shutil.ignore_patterns(
    ".git",
    ".venv",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    ".hypothesis",
    "config.yaml",
    "registration.yaml",
    "*.db",
    "*.db-*",
)


async def run(*args: str | Path, cwd: Path, timeout: float = 240) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *(str(arg) for arg in args),
        cwd=cwd,
        env=ENV,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")


def load_yaml(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text())


# Where the bridge's code comes from, seen by the installed interpreter from a given directory.
WHERE = (
    "import pathlib, sys, bridge; "
    "print(pathlib.Path(bridge.__file__).resolve().relative_to(pathlib.Path(sys.prefix).resolve()))"
)


async def install(tmp_path: Path) -> Path:
    """A fresh venv with the bridge installed from a copy of the checkout; its bin directory."""
    source = tmp_path / "checkout"
    shutil.copytree(ROOT, source, symlinks=True, ignore=NOT_IN_A_CHECKOUT)
    venv = tmp_path / "venv"
    code, output = await run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    assert code == 0, output
    pip = (venv / "bin" / "python", "-m", "pip", "install", "--disable-pip-version-check")
    code, output = await run(*pip, "--constraint", source / "constraints.txt", source, cwd=tmp_path)
    assert code == 0, output
    return venv / "bin"


async def generate_registration(
    bin_dir: Path, work: Path, settings: dict[str, Any], setup: AppserviceSetup
) -> None:
    """Fill in the config, -g, then give the config the tokens the homeserver has loaded."""
    config_path = work / "config.yaml"
    config_file = ConfigFile.load(config_path)
    for key, value in settings.items():
        config_file.set(key, value)
    config_file.save()
    code, output = await run(
        bin_dir / "python", "-m", "bridge", "-c", "config.yaml", "-g", cwd=work
    )
    assert code == 0, output
    written = load_yaml(work / "registration.yaml")
    # Synapse loaded the session's registration, made from the same values: the same file but
    # for its tokens.
    registered = load_yaml(setup.registration)
    tokens = ("as_token", "hs_token")
    assert {k: v for k, v in written.items() if k not in tokens} == {
        k: v for k, v in registered.items() if k not in tokens
    }
    config_file = ConfigFile.load(config_path)
    assert config_file.get("appservice.as_token") == written["as_token"]
    config_file.set("appservice.as_token", setup.as_token)
    config_file.set("appservice.hs_token", setup.hs_token)
    config_file.save()


async def start_and_stop(bin_dir: Path, work: Path, port: int) -> tuple[int, str, dict[str, Any]]:
    """Start the bridge, wait until it is ready, read its provisioning API's OpenAPI document
    (package data), SIGTERM; its exit code, log and the document."""
    log_path = work / "bridge.log"
    async with bridge_process(
        bin_dir / "python",
        *("-m", "bridge", "-c", "config.yaml"),
        cwd=work,
        env=ENV,
        log_path=log_path,
    ) as process:
        await wait_ready(port, process, timeout=60)
        url = f"http://127.0.0.1:{port}/_matrix/provision/v1/openapi.json"
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            assert response.status == 200, await response.text()
            document = await response.json()
        code = await terminate(process)
    return code, log_path.read_text(), document


async def test_the_installed_package_starts_and_stops(
    synapse: SynapseServer, appservice_setup: AppserviceSetup, tmp_path: Path
) -> None:
    bin_dir = await install(tmp_path)
    work = tmp_path / "admin"
    work.mkdir()
    code, output = await run(bin_dir / "python", "-c", WHERE, cwd=work)
    assert code == 0, output  # not below the venv: relative_to fails
    assert output.startswith("lib/") and "/site-packages/bridge/" in output, output

    # First run, through the console script: the config is written from the packaged example.
    code, output = await run(bin_dir / "matrix-telegram-bridge", "-c", "config.yaml", cwd=work)
    assert code == 0, output  # writing the config is what a first run does
    assert "No config file at config.yaml: wrote one from config.example.yaml." in output
    assert "-g" in output
    config_path = work / "config.yaml"
    assert config_path.read_text() == (ROOT / "config.example.yaml").read_text()
    assert config_path.stat().st_mode & 0o077 == 0

    async with FakeTelegram(can_read_all_group_messages=True) as fake:
        settings = {
            "homeserver.address": synapse.url,
            "homeserver.domain": SERVER_NAME,
            "appservice.address": f"http://127.0.0.1:{appservice_setup.port}",
            "appservice.port": appservice_setup.port,
            "appservice.database": "sqlite:///bridge.db",
            "telegram.bot_token": fake.token,
            "telegram.api_url": fake.url,
            "telegram.poll_timeout": 1,
        }
        await generate_registration(bin_dir, work, settings, appservice_setup)
        code, output, document = await start_and_stop(bin_dir, work, appservice_setup.port)
    assert code == 0, output
    assert f"Bridge started as @telegrambot:{SERVER_NAME}" in output
    assert "Bridge stopped" in output
    assert "/bridge" in document["paths"]
    # -g replaced the example's "generate" with a random provisioning secret.
    provisioning_secret = ConfigFile.load(config_path).get("appservice.provisioning.shared_secret")
    assert provisioning_secret != "generate" and len(provisioning_secret) >= 32
    secrets = (fake.token, appservice_setup.as_token, appservice_setup.hs_token)
    for secret in (*secrets, provisioning_secret):
        assert secret not in output
