"""The container's entrypoint: ``python -m bridge.entrypoint [bridge options]``.

Everything lives in one data directory (``BRIDGE_DATA_DIR``, /data in the image):

1. No config.yaml: it is written from the example, with the settings the environment gives
   (``SETTINGS`` below; docker-compose.yml sets them).
2. No registration.yaml: settings still at the example's value are filled in from the
   environment again (a variable added after the first run counts), then the registration is
   generated. If the config is not complete, every missing thing is named and nothing is
   written. A new registration must be loaded by the homeserver first, so the run ends there.
3. Otherwise the bridge runs, with the options given (``--version``, say). ``-g`` writes a new
   registration, as ``python -m bridge -g`` does, but readable by the homeserver's group.

The environment never overrides a value the admin has changed in config.yaml, and is not read
at all once the registration exists: from then on config.yaml is the only source.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap

from .__main__ import main as bridge_main
from .__main__ import write_registration
from .config.loader import (
    EXAMPLE_NAME,
    ConfigError,
    ConfigFile,
    example_document,
    write_first_config,
)

DATA_DIR_VARIABLE = "BRIDGE_DATA_DIR"
DEFAULT_DATA_DIR = "/data"
CONFIG_NAME = "config.yaml"
REGISTRATION_NAME = "registration.yaml"
# The bridge's options that (re)generate the registration: with the group-readable mode here.
GENERATE = frozenset({"-g", "--generate-registration"})

# Readable by the file's group too: in the image the bridge runs with group 991, the group
# the official Synapse image runs as, so a Synapse sharing the volume can read it.
REGISTRATION_MODE = 0o640
# Nothing the bridge writes in the data directory (a SQLite database, say) is world-readable.
UMASK = 0o027

# The permissions entries of the example that the environment replaces.
EXAMPLE_DOMAIN = "example.com"
EXAMPLE_ADMIN = "@admin:example.com"
ADMIN_VARIABLE = "BRIDGE_ADMIN"
_MXID = re.compile(r"^@[^:\s]+:[^:\s]+(:\d+)?$")


@dataclass(frozen=True)
class Setting:
    variable: str
    key: str


# The environment variables the entrypoint reads, and the setting each one fills.
SETTINGS = (
    Setting("BRIDGE_HOMESERVER_ADDRESS", "homeserver.address"),
    Setting("BRIDGE_HOMESERVER_DOMAIN", "homeserver.domain"),
    Setting("BRIDGE_APPSERVICE_ADDRESS", "appservice.address"),
    Setting("BRIDGE_APPSERVICE_HOSTNAME", "appservice.hostname"),
    Setting("BRIDGE_DATABASE", "appservice.database"),
    Setting("TELEGRAM_BOT_TOKEN", "telegram.bot_token"),
    Setting("TELEGRAM_API_URL", "telegram.api_url"),
)
# BRIDGE_ADMIN names the Matrix user who gets the admin level (bridge.permissions).
VARIABLES = (*(setting.variable for setting in SETTINGS), ADMIN_VARIABLE)


class BadEnvironment(Exception):
    """An environment variable the entrypoint cannot use; the message names it."""


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    env = os.environ if environ is None else environ
    options = sys.argv[1:] if argv is None else argv
    # Absolute: the paths stay right after the change of directory below.
    data = Path(env.get(DATA_DIR_VARIABLE) or DEFAULT_DATA_DIR).absolute()
    config_path, registration_path = data / CONFIG_NAME, data / REGISTRATION_NAME
    os.umask(UMASK)
    try:
        # The bridge runs in its data directory (relative paths in the config are taken from
        # the config's directory, which is this one, wherever the bridge runs).
        os.chdir(data)
        if GENERATE.intersection(options) and config_path.exists():
            return register(config_path, registration_path)
        if not registration_path.exists():
            return first_run(config_path, registration_path, env)
    except OSError as error:
        print(cannot_write(data, error), file=sys.stderr)
        return 1
    except BadEnvironment as error:
        print(f"Environment error: {error}", file=sys.stderr)
        return 2
    return bridge_main(["-c", str(config_path), "-r", str(registration_path), *options])


def first_run(config_path: Path, registration_path: Path, env: Mapping[str, str]) -> int:
    """Write or complete the config, then the registration; the exit code."""
    if not config_path.exists():
        write_first_config(config_path)
        print(f"Wrote {config_path} from {EXAMPLE_NAME}.", file=sys.stderr)
    try:
        filled = fill_from_environment(config_path, env)
    except ConfigError as error:
        print(error.located(config_path).describe(), file=sys.stderr)
        return 2
    if filled:
        print(f"From the environment: {', '.join(filled)}.", file=sys.stderr)
    return register(config_path, registration_path)


def register(config_path: Path, registration_path: Path) -> int:
    """Write the registration (new tokens), or say what the config still lacks."""
    try:
        write_registration(config_path, registration_path, REGISTRATION_MODE)
    except ConfigError as error:
        print(error.located(config_path).describe(), file=sys.stderr)
        print(what_to_fill_in(config_path, str(error)), file=sys.stderr)
        return 2
    print(
        f"Wrote {registration_path} (readable by its group) and stored its tokens in "
        f"{config_path}.\n"
        "Register it with the homeserver: list it under app_service_config_files in "
        "homeserver.yaml (in docker-compose.yml's Synapse: /bridge/registration.yaml) and "
        "restart the homeserver. Then start the bridge.",
        file=sys.stderr,
    )
    return 0


def fill_from_environment(config_path: Path, env: Mapping[str, str]) -> list[str]:
    """Set each setting the environment gives that still has the example's value; the
    settings filled, with their variables (never their values: some are secrets)."""
    admin = env.get(ADMIN_VARIABLE, "")
    if admin and not _MXID.match(admin):
        raise BadEnvironment(
            f"{ADMIN_VARIABLE} must be a Matrix user ID such as @alice:example.org"
        )
    config_file = ConfigFile.load(config_path)
    example = ConfigFile(Path(EXAMPLE_NAME), example_document())
    filled: list[str] = []
    for setting in SETTINGS:
        value = env.get(setting.variable, "")
        if value and _get(config_file, setting.key) == _get(example, setting.key):
            config_file.set(setting.key, value)
            filled.append(f"{setting.key} ({setting.variable})")
    filled += _fill_permissions(config_file, env)
    if filled:
        config_file.save()
    return filled


def _fill_permissions(config_file: ConfigFile, env: Mapping[str, str]) -> list[str]:
    """Put the server name and the admin in place of the example's entries, while they are
    still there with the example's levels."""
    permissions = _get(config_file, "bridge.permissions")
    if not isinstance(permissions, CommentedMap):
        return []
    filled = []
    domain = env.get("BRIDGE_HOMESERVER_DOMAIN", "")
    if domain and permissions.get(EXAMPLE_DOMAIN) == "user" and domain not in permissions:
        _replace_key(permissions, EXAMPLE_DOMAIN, domain, "user")
        filled.append("bridge.permissions (BRIDGE_HOMESERVER_DOMAIN: user)")
    admin = env.get(ADMIN_VARIABLE, "")
    if admin and permissions.get(EXAMPLE_ADMIN) == "admin" and admin not in permissions:
        _replace_key(permissions, EXAMPLE_ADMIN, admin, "admin")
        filled.append(f"bridge.permissions ({ADMIN_VARIABLE}: admin)")
    return filled


def _replace_key(mapping: CommentedMap, old: str, new: str, value: str) -> None:
    """Rename a key in place, keeping its position and the comment ruamel attached to it
    (the comment above the next key, here the next section's)."""
    position = list(mapping).index(old)
    comment = mapping.ca.items.pop(old, None)
    del mapping[old]
    mapping.insert(position, new, value)
    if comment is not None:
        mapping.ca.items[new] = comment


def _get(config_file: ConfigFile, key: str) -> Any:
    try:
        return config_file.get(key)
    except (KeyError, TypeError):
        return None


def what_to_fill_in(config_path: Path, problems: str) -> str:
    """The variables that would fix the problems, beside the file to edit."""
    variables = [
        f"{setting.variable} ({setting.key})"
        for setting in SETTINGS
        if re.search(rf"^\s*{re.escape(setting.key)}:", problems, re.MULTILINE)
    ]
    advice = f"Fill in what is named above in {config_path}"
    if variables:
        advice += f", or set {', '.join(variables)} in the environment"
    return advice + ", then start again. Nothing was registered."


def cannot_write(data: Path, error: OSError) -> str:
    ids = f"{os.getuid()}:{os.getgid()}"
    return (
        f"Cannot use the data directory {data}: {error.strerror or error} "
        f"({error.filename or data}). The bridge runs as {ids} (uid:gid): the directory must "
        f"exist and be writable by it (for a bind mount: chown {ids} the host directory)."
    )


if __name__ == "__main__":
    sys.exit(main())
