"""Reading, upgrading and writing the config file, and turning it into typed config."""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from ..redaction import without_url_passwords
from .model import CONFIG_DIR, Config
from .upgrade import Rename, UpgradeReport, indent_step, upgrade
from .yaml_errors import describe_tagged, explain, tagged_values

CORE_SECTIONS = ("homeserver", "appservice", "bridge", "metrics", "logging")

# Keys whose names changed; the value a user set under the old name is carried to the new one.
RENAMES = (
    # The layout of mautrix-go bridges, for admins who bring a config over from one.
    Rename("appservice.bot.username", "appservice.bot_username"),
    Rename("appservice.bot.displayname", "appservice.bot_displayname"),
    Rename("appservice.bot.avatar", "appservice.bot_avatar"),
)

# Maps whose keys belong to the user (server names, Matrix IDs, logger names): added whole when
# missing, never merged into, and none of their keys is unknown.
OPAQUE = frozenset(
    {
        "bridge.permissions",
        "bridge.double_puppet.servers",
        "bridge.double_puppet.secrets",
        "logging",
    }
)

# Values never shown in an error message.
_SECRET_KEYS = ("token", "secret", "password")


class ConfigError(Exception):
    """Config problems, each told in one line that names the key (or the file's line) and what
    to do; ``where`` is the file they are in, when known."""

    def __init__(self, *problems: str, where: Path | str | None = None) -> None:
        super().__init__(*problems)
        self.problems = list(problems)
        self.where = where

    def __str__(self) -> str:
        return "\n".join(self.problems)

    def located(self, where: Path | str) -> ConfigError:
        """The same problems, said to be in ``where`` unless they name their place already."""
        return self if self.where is not None else ConfigError(*self.problems, where=where)

    def describe(self) -> str:
        """What the admin reads: one shape for one problem or many, YAML's or a setting's."""
        where = f"{self.where}: " if self.where is not None else ""
        if len(self.problems) == 1:
            return f"Config error: {where}{self.problems[0]}"
        listing = "".join(f"\n  {problem}" for problem in self.problems)
        return f"Config error: {where}{len(self.problems)} problems:{listing}"


EXAMPLE_NAME = "config.example.yaml"


def example_config_text() -> str:
    """The documented example config, shipped as package data so an installed bridge has it.

    In the source tree bridge/config/config.example.yaml is a symlink to the top-level file
    admins read; building the package copies its content, so there is one source of truth.
    """
    return resources.files("bridge.config").joinpath(EXAMPLE_NAME).read_text(encoding="utf-8")


def example_document() -> CommentedMap:
    """The example config, parsed for round-trip use."""
    return _parse(example_config_text(), EXAMPLE_NAME)


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    return yaml


class ConfigFile:
    """A round-trip view of a config file: comments, order and quoting survive a save."""

    def __init__(self, path: Path, document: CommentedMap) -> None:
        self.path = path
        self.document = document

    @classmethod
    def load(cls, path: Path) -> ConfigFile:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise ConfigError(f"cannot read it: {error.strerror}", where=path) from None
        document = _parse(text, str(path))
        return cls(path, document)

    def upgrade_from(self, example_text: str) -> UpgradeReport:
        example = _parse(example_text, EXAMPLE_NAME)
        return upgrade(
            self.document, example, example_text.splitlines(), renames=RENAMES, opaque=OPAQUE
        )

    def get(self, path: str) -> Any:
        node: Any = self.document
        for part in path.split("."):
            node = node[part]
        return node

    def set(self, path: str, value: Any) -> None:
        *parents, last = path.split(".")
        node: Any = self.document
        for part in parents:
            node = node[part]
        node[last] = value

    def dumps(self) -> str:
        yaml = _yaml()
        step = indent_step(self.document) or 4
        yaml.indent(mapping=step, sequence=step + 2, offset=step)
        buffer = io.StringIO()
        yaml.dump(self.document, buffer)
        return buffer.getvalue()

    def save(self) -> None:
        """Write atomically, keeping the file's permissions (it holds tokens)."""
        text = self.dumps()
        directory = self.path.resolve().parent
        mode = self.path.stat().st_mode & 0o777 if self.path.exists() else 0o600
        descriptor, temporary = tempfile.mkstemp(prefix=".config-", dir=directory)
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.chmod(temporary, mode)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def unknown_keys(self, example_text: str, network_sections: Iterable[str]) -> list[str]:
        """Keys in the user's file that the example does not have (likely typos)."""
        example = _parse(example_text, EXAMPLE_NAME)
        allowed_top = set(CORE_SECTIONS) | set(network_sections)
        unknown = [str(key) for key in self.document if key not in allowed_top]
        for section in self.document:
            if section in CORE_SECTIONS and section in example:
                unknown.extend(_extra_keys(self.document[section], example[section], section))
        return unknown

    def section(self, name: str) -> dict[str, Any]:
        """A section as plain data (a network's, for its connector to validate)."""
        value = _plain(self.document.get(name))
        return value if isinstance(value, dict) else {}

    def typed(self, network_sections: Iterable[str]) -> Config:
        """Validate the core sections; each network section is handed over raw."""
        plain = _plain(self.document)
        if not isinstance(plain, dict):
            raise ConfigError("the config must be a map of sections", where=self.path)
        data = {key: plain.get(key) for key in CORE_SECTIONS if key in plain}
        data["networks"] = {name: plain.get(name) or {} for name in network_sections}
        try:
            # Relative paths in it are taken from the config file's directory.
            return Config.model_validate(
                data, context={CONFIG_DIR: Path(os.path.abspath(self.path)).parent}
            )
        except ValidationError as error:
            raise ConfigError(*describe_validation_error(error), where=self.path) from None


def _parse(text: str, name: str) -> CommentedMap:
    try:
        document = _yaml().load(text)
    except MarkedYAMLError as error:
        mistake = explain(error, text)
        raise ConfigError(mistake.describe(), where=mistake.place(name)) from None
    except YAMLError as error:
        raise ConfigError(f"not valid YAML: {error}", where=name) from None
    if document is None:
        document = CommentedMap()
    if not isinstance(document, CommentedMap):
        kind = "a list" if isinstance(document, list) else f"a single value ({document!r})"
        raise ConfigError(
            f"must be a map of sections (homeserver:, appservice:, ...), but it is {kind}",
            where=name,
        )
    tagged = list(tagged_values(document))
    if len(tagged) == 1:
        value = tagged[0]
        raise ConfigError(describe_tagged(value, _is_secret(value.key)), where=value.place(name))
    if tagged:
        raise ConfigError(
            *(
                f"line {value.line}, column {value.column}: "
                + describe_tagged(value, _is_secret(value.key))
                for value in tagged
            ),
            where=name,
        )
    return document


def _is_secret(key: str) -> bool:
    return any(word in key for word in _SECRET_KEYS)


def _extra_keys(user: Any, example: Any, prefix: str) -> Iterator[str]:
    if prefix in OPAQUE or not isinstance(user, dict) or not isinstance(example, dict):
        return
    for key in user:
        path = f"{prefix}.{key}"
        if key not in example:
            yield path
        else:
            yield from _extra_keys(user[key], example[key], path)


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(key): _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(item) for item in node]
    if isinstance(node, str):
        return str(node)
    return node


def describe_validation_error(error: ValidationError, prefix: str = "") -> list[str]:
    """One line per problem: the dotted key (after ``prefix``), what is wrong and, unless
    secret, the value."""
    lines = []
    for problem in error.errors():
        key = prefix + ".".join(str(part) for part in problem["loc"])
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "missing":
            lines.append(f"{key}: missing (see config.example.yaml for its meaning and default)")
            continue
        shown = "" if _is_secret(key) else _shown(problem.get("input"))
        lines.append(f"{key}: {message}{shown}")
    return lines


def _shown(value: Any) -> str:
    if isinstance(value, dict | list) or value is None:
        return ""
    # A database URL may carry its password.
    return f" (found {without_url_passwords(repr(value))})"


def write_first_config(path: Path) -> None:
    """Copy the example config to ``path`` for the admin to fill in."""
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True)
    path.write_text(example_config_text(), encoding="utf-8")
    os.chmod(path, 0o600)
