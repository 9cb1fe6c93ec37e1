"""YAML mistakes admins make, told by the line to edit and what to do there, the parser's words
after; never with a secret's value."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.config.loader import ConfigError, ConfigFile

TOKEN = "6000000001:AAF-a-token-that-must-not-be-shown_0"


def told(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as failure:
        ConfigFile.load(path)
    return failure.value.located(path).describe()


@pytest.mark.parametrize(
    ("text", "place", "what"),
    [
        # A key indented less than its neighbours.
        (
            "homeserver:\n    address: http://hs:8008\n  domain: hs.test\n",
            "line 3, column 3",
            "this line is indented differently from the keys above it",
        ),
        # An unclosed quote: the parser notices at the end of the file, the quote is on line 2.
        (
            'homeserver:\n  address: "http://hs:8008\n  domain: hs.test\nappservice: {}\n',
            "line 2, column 12",
            "this quote is never closed",
        ),
        (
            "homeserver:\n  address: [http://hs:8008\n  domain: hs.test\n",
            "line 2, column 12",
            "this [ is never closed",
        ),
        # A key without its colon: the parser stops on the next line.
        (
            "homeserver:\n  address http://hs:8008\n  domain: hs.test\n",
            "line 2, column 3",
            "this line has no colon after its key",
        ),
        (
            "homeserver:\n  address: http://hs:8008\n  domain\nappservice: {}\n",
            "line 3, column 3",
            "this line has no colon after its key",
        ),
        (
            "homeserver:\n\taddress: http://hs:8008\n",
            "line 2, column 1",
            "a tab: YAML indents with spaces only",
        ),
        (
            "bridge:\n    permissions:\n        @admin:example.com: admin\n",
            "line 3, column 9",
            "a key or value that starts with @ must be quoted, like '@admin:example.com'",
        ),
        (
            "bridge:\n    displayname_template: {displayname}: Telegram\n",
            "line 2, column 27",
            "a value that starts with { is read as a YAML map: put the whole value in quotes",
        ),
        (
            "bridge:\n    displayname_template: {displayname} (Telegram)\n",
            "line 2, column 27",
            "a value that starts with { is read as a YAML map: put the whole value in quotes",
        ),
        (
            "bridge:\n    command_prefix: tg: bridge\n",
            "line 2, column 23",
            "a ': ' YAML cannot take here: quote a value that contains ': '",
        ),
        (
            "homeserver:\n    domain: a.org\n    domain: b.org\n",
            "line 3, column 5",
            "the key domain is given twice in the same section",
        ),
        (
            "bridge:\n    relay:\n        message_formats:\n    - m.text\n",
            "line 4, column 5",
            "a list item (- ...) does not fit here",
        ),
        (
            "appservice:\n    bot_displayname: 'Telegram' bridge\n",
            "line 2, column 33",
            "more text after a quoted value",
        ),
        (
            'appservice:\n    database: "sqlite:///C:\\data\\bridge.db"\n',
            "line 2, column 29",
            "a backslash in a \"double-quoted\" value: use 'single quotes'",
        ),
        # Read as a type tag without an error: the text is lost, so it is one.
        (
            "bridge:\n    command_prefix: !tg\n",
            "line 2, column 21",
            "bridge.command_prefix: a value that starts with ! must be quoted, for example '!tg'",
        ),
    ],
)
def test_a_yaml_mistake_is_told_where_to_fix_it(
    tmp_path: Path, text: str, place: str, what: str
) -> None:
    message = told(tmp_path, text)
    expected = f"Config error: {tmp_path / 'config.yaml'}, {place}: {what}"
    assert message.startswith(expected), message
    assert "\n" not in message


def test_the_parser_s_words_come_after_the_admin_s(tmp_path: Path) -> None:
    message = told(tmp_path, "homeserver:\n    address: http://hs\n  domain: hs.test\n")
    assert message.index("indented differently") < message.index(
        "(the YAML parser says: expected <block end>"
    )


def test_a_twice_given_token_is_not_shown(tmp_path: Path) -> None:
    message = told(tmp_path, f"telegram:\n    bot_token: '{TOKEN}'\n    bot_token: '{TOKEN}x'\n")
    assert "the key bot_token is given twice" in message
    assert TOKEN not in message


def test_a_tagged_token_is_not_shown(tmp_path: Path) -> None:
    message = told(tmp_path, "telegram:\n    bot_token: !secret-part rest-of-it\n")
    assert "telegram.bot_token: a value that starts with ! must be quoted" in message
    assert "secret-part" not in message and "rest-of-it" not in message


def test_several_tagged_values_are_told_at_once(tmp_path: Path) -> None:
    message = told(tmp_path, "bridge:\n    command_prefix: !tg\n    room_version: !x 10\n")
    lines = message.splitlines()
    assert lines[0] == f"Config error: {tmp_path / 'config.yaml'}: 2 problems:"
    assert lines[1].startswith("  line 2, column 21: bridge.command_prefix: ")
    assert lines[2].startswith("  line 3, column 19: bridge.room_version: ")
    assert "'!x 10'" in lines[2]
