"""The second registration README.md shows an admin is the one config.example.yaml describes,
which is the one the test homeserver loads (tests/support/double_puppet.py)."""

from __future__ import annotations

import re
from pathlib import Path

from ruamel.yaml import YAML

from tests.support.double_puppet import registration_from_the_docs

ROOT = Path(__file__).resolve().parent.parent


def test_readme_shows_the_registration_the_config_comments_describe() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", readme, re.S)
    (shown,) = [block for block in blocks if "id: doublepuppet" in block]
    yaml = YAML(typ="safe")
    shown_text = "\n".join(line.removeprefix("   ") for line in shown.splitlines())
    assert yaml.load(shown_text) == yaml.load(registration_from_the_docs("example.com"))
    registration = yaml.load(shown_text)
    assert registration["url"] is None
    assert registration["namespaces"]["users"] == [
        {"regex": "@.*:example\\.com", "exclusive": False}
    ]
