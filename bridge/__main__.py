"""Command line: ``python -m bridge -c config.yaml [-r registration.yaml] [-g]``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ruamel.yaml import YAML

from connectors import NETWORKS, create_connector

from . import __version__
from .config.loader import ConfigError, ConfigFile, example_config_text, write_first_config
from .config.model import AS_TOKEN_PREFIX, GENERATE_SECRET, Config
from .errors import StartupError
from .logging_setup import LoggingConfigError, configure_logging
from .network.interface import NetworkConnector
from .registration import build_registration, new_token

log = logging.getLogger("bridge")

EXAMPLE_DOMAIN = "example.com"
FILL_IN = (
    "homeserver.address",
    "homeserver.domain",
    "appservice.address",
    "bridge.permissions",
    "telegram.bot_token",
)
# Secrets the config may leave to the bridge: "generate" becomes a random value when loaded.
GENERATED_SECRETS = ("appservice.provisioning.shared_secret", "telegram.webhook.secret_token")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=launcher(),
        description="A Matrix application-service bridge to Telegram.",
    )
    parser.add_argument(
        "-c",
        "--config",
        type=Path,
        default=Path("config.yaml"),
        help="the config file (default: config.yaml); written on first run",
    )
    parser.add_argument(
        "-r",
        "--registration",
        type=Path,
        default=None,
        help="the registration file -g writes (default: registration.yaml beside the config)",
    )
    parser.add_argument(
        "-g",
        "--generate-registration",
        action="store_true",
        help="generate the registration (new tokens, stored in the config) and exit",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser.parse_args(argv)


def launcher() -> str:
    """How the admin starts the bridge (run.sh says so), for the commands we suggest."""
    return os.environ.get("BRIDGE_COMMAND") or "python -m bridge"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.config.exists():
        # Writing the config is all a first run can do, and it did it: not a failure.
        try:
            write_first_config(args.config)
        except OSError as error:
            print(f"Cannot write the config file {args.config}: {error.strerror}", file=sys.stderr)
            return 1
        print(first_run_advice(args.config), file=sys.stderr)
        return 0
    try:
        if args.generate_registration:
            registration = args.registration or default_registration(args.config)
            write_registration(args.config, registration)
            print(registration_advice(registration, args.config), file=sys.stderr)
            return 0
        config, connector = load_validated(args.config)
        try:
            secret_filter = configure_logging(config.logging, known_secrets(config, connector))
        except LoggingConfigError as error:
            raise ConfigError(str(error)) from None
    except ConfigError as error:
        print(error.located(args.config).describe(), file=sys.stderr)
        return 2
    return asyncio.run(run(config, connector, secret_filter.add))


def first_run_advice(config_path: Path) -> str:
    return (
        f"No config file at {config_path}: wrote one from config.example.yaml.\n"
        f"Fill in {', '.join(FILL_IN)} in {config_path}, then run\n"
        f"  {launcher()} -c {config_path} -g\n"
        "to generate the registration for your homeserver."
    )


def default_registration(config_path: Path) -> Path:
    """Without -r, the registration is written beside the config, wherever the bridge runs."""
    return config_path.parent / "registration.yaml"


def known_secrets(config: Config, connector: NetworkConnector) -> list[str]:
    """What no log line may show, as far as the config tells (more are learnt while running)."""
    secrets = [config.appservice.as_token, config.appservice.hs_token, *connector.secrets()]
    for secret in config.bridge.double_puppet.secrets.values():
        secrets += [secret, secret.removeprefix(AS_TOKEN_PREFIX)]
    if config.appservice.provisioning.active:
        secrets.append(config.appservice.provisioning.shared_secret)
    return secrets


@dataclass
class Loaded:
    """A config file read and brought up to date in memory, with what that changed."""

    file: ConfigFile
    network: str
    notes: list[str] = field(default_factory=list)

    def save(self) -> None:
        """Write the changes (once the config is known to be valid) and tell them."""
        if not self.notes:
            return
        try:
            self.file.save()
        except OSError as error:
            print(
                f"Config: could not write the upgraded config ({error}); using it in memory",
                file=sys.stderr,
            )
            return
        for note in self.notes:
            print(f"Config: {note}", file=sys.stderr)


def load(path: Path) -> Loaded:
    """Read the config and upgrade it in memory (new keys, generated secrets): the file is
    written only once it is valid, so a refusal leaves it as the admin wrote it."""
    config_file = ConfigFile.load(path)
    example = example_config_text()
    report = config_file.upgrade_from(example)
    notes = [f"added {key} with its default" for key in report.added]
    notes += [f"renamed {old} to {new}" for old, new in report.renamed]
    notes += [f"wrote a random {key}" for key in generate_secrets(config_file)]
    networks = [name for name in NETWORKS if name in config_file.document]
    if len(networks) != 1:
        raise ConfigError(
            f"the config must have exactly one network section of: {', '.join(NETWORKS)}",
            where=path,
        )
    for key in config_file.unknown_keys(example, networks):
        print(f"Config: unknown key {key} is ignored (a typo?)", file=sys.stderr)
    return Loaded(config_file, networks[0], notes)


def load_validated(path: Path) -> tuple[Config, NetworkConnector]:
    """The config to run with; its upgrades written once it is known to be valid."""
    loaded = load(path)
    config, connector = validated(loaded.file, loaded.network, registering=False)
    loaded.save()
    return config, connector


def generate_secrets(config_file: ConfigFile) -> list[str]:
    """Replace each secret set to "generate" with a random one; the keys replaced."""
    generated = []
    for key in GENERATED_SECRETS:
        try:
            value = config_file.get(key)
        except (KeyError, TypeError):
            continue  # another network's, or not in this config
        if value == GENERATE_SECRET:
            config_file.set(key, new_token())
            generated.append(key)
    return generated


def validated(
    config_file: ConfigFile, network: str, registering: bool
) -> tuple[Config, NetworkConnector]:
    """The typed config and the configured connector, with every problem told at once (the
    core's and the network's); for the registration also what it is made from: a
    registration for the example's server name would be useless."""
    problems: list[str] = []
    config: Config | None = None
    try:
        config = config_file.typed([network])
    except ConfigError as error:
        problems += error.problems
    if registering and config is not None and config.homeserver.domain == EXAMPLE_DOMAIN:
        problems.append(
            f"homeserver.domain: still the example's {EXAMPLE_DOMAIN}: set your homeserver's "
            "server name (the part after the colon in your Matrix ID); the registration's "
            "namespaces are made from it"
        )
    connector = create_connector(network)
    try:
        connector.configure(config_file.section(network))
    except ConfigError as error:
        problems += error.problems
    if not registering and config is not None and not config.appservice.tokens_generated:
        problems.append(
            "appservice.as_token and appservice.hs_token are not generated yet: run "
            f"{launcher()} -c {config_file.path} -g and register the file with your homeserver"
        )
    if problems or config is None:
        raise ConfigError(*problems, where=config_file.path)
    return config, connector


def write_registration(config_path: Path, registration_path: Path, mode: int = 0o600) -> None:
    """Write the registration with new tokens and store them in the config; a ConfigError
    names everything the registration still lacks (and nothing is written then)."""
    loaded = load(config_path)
    config, _ = validated(loaded.file, loaded.network, registering=True)
    generate_registration(loaded.file, config, registration_path, mode)
    for note in loaded.notes:
        print(f"Config: {note}", file=sys.stderr)


def generate_registration(
    config_file: ConfigFile, config: Config, registration_path: Path, mode: int = 0o600
) -> None:
    """Write the registration for a validated config, and its tokens into the config file."""
    as_token, hs_token = new_token(), new_token()
    registration = build_registration(config, as_token, hs_token)
    yaml = YAML()
    yaml.default_flow_style = False
    # Created with its final mode: the file holds the tokens from its first byte.
    descriptor = os.open(registration_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        yaml.dump(registration, handle)
    registration_path.chmod(mode)
    config_file.set("appservice.as_token", as_token)
    config_file.set("appservice.hs_token", hs_token)
    generate_secrets(config_file)
    config_file.save()


def registration_advice(path: Path, config_path: Path) -> str:
    return (
        f"Wrote {path} and stored its tokens in {config_path}.\n"
        f"Add {path.resolve()} to app_service_config_files in your homeserver.yaml and restart "
        "the homeserver, then start the bridge.\n"
        f"The file holds secrets, so only you may read it (mode 600). If the homeserver runs as "
        f"another user, let it read the file, for example: chgrp synapse {path} && "
        f"chmod 640 {path}"
    )


async def run(
    config: Config, connector: NetworkConnector, keep_secret: Callable[[str], None]
) -> int:
    from .app import Bridge

    bridge = Bridge(config, connector, keep_secret=keep_secret)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await bridge.start()
    except StartupError as error:
        log.critical("%s", error)
        await bridge.stop(timeout=5)
        return 1
    await stop.wait()
    log.info("Stopping")
    await bridge.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
