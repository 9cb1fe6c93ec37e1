"""A feature costs memory only when it is used: the bridge built from a config (metrics off, as
the example has them) has loaded none of the libraries of the features it does not use. Each
case runs in a fresh interpreter, where nothing else imported them first; a module that comes
to import one of them at its top fails here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]

# A feature -> the modules only it needs (each costs a MB or more once imported).
OPTIONAL = {
    "metrics (metrics.enabled)": {"prometheus_client", "bridge.prometheus_metrics"},
    "migrations (run in a process of their own)": {"alembic", "mako"},
    "sticker conversion (in worker processes)": {"PIL", "av", "rlottie_python"},
}
# The database in use -> the other database's driver and dialect.
OTHER_DATABASE = {
    "sqlite:///bridge.db": {"asyncpg", "sqlalchemy.dialects.postgresql"},
    "postgresql://bridge@127.0.0.1:5432/bridge": {
        "sqlite3",
        "aiosqlite",
        "sqlalchemy.dialects.sqlite",
    },
}

BUILD = """
import json, sys
from pathlib import Path

from bridge.__main__ import load_validated
from bridge.app import Bridge

config, connector = load_validated(Path(sys.argv[1]))
bridge = Bridge(config, connector)
print(json.dumps(sorted(sys.modules)))
"""


def write_config(path: Path, database: str) -> None:
    yaml = YAML()
    document: Any = yaml.load((ROOT / "config.example.yaml").read_text())
    document["homeserver"]["address"] = "http://127.0.0.1:8008"
    document["homeserver"]["domain"] = "idle.test"
    document["appservice"]["address"] = "http://127.0.0.1:29317"
    document["appservice"]["database"] = database
    document["appservice"]["as_token"] = "as-token-for-the-import-check"
    document["appservice"]["hs_token"] = "hs-token-for-the-import-check"
    document["bridge"]["permissions"] = {"idle.test": "user"}
    document["telegram"]["bot_token"] = "6000000001:AAF-import-check-token-of-the-bot_99"
    with path.open("w") as handle:
        yaml.dump(document, handle)


def loaded_modules(tmp_path: Path, database: str) -> set[str]:
    config = tmp_path / "config.yaml"
    write_config(config, database)
    done = subprocess.run(
        [sys.executable, "-c", BUILD, str(config)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


@pytest.mark.parametrize("database", list(OTHER_DATABASE))
def test_the_bridge_loads_nothing_for_features_it_does_not_use(
    tmp_path: Path, database: str
) -> None:
    modules = loaded_modules(tmp_path, database)
    # The check reads what was really loaded: the bridge's own libraries are there.
    assert {"aiohttp", "telegram", "sqlalchemy", "bridge.app"} <= modules
    unused = {**OPTIONAL, f"the other database than {database}": OTHER_DATABASE[database]}
    loaded = {
        feature: sorted(
            name for name in modules if any(name == m or name.startswith(f"{m}.") for m in names)
        )
        for feature, names in unused.items()
    }
    assert {feature: names for feature, names in loaded.items() if names} == {}
