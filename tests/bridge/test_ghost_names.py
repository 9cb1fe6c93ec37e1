"""Display names from ``bridge.displayname_template``: every template gives a name, never an
error (a template with a mistake falls back to the network's display name)."""

from __future__ import annotations

import pytest

from bridge.ghosts import render_displayname
from bridge.network.events import RemoteUser
from bridge.network.ids import RemoteUserID

ADA = RemoteUser(
    RemoteUserID("42"),
    "Ada Lovelace",
    {"first_name": "Ada", "last_name": "Lovelace", "username": "ada"},
)
NAMELESS = RemoteUser(RemoteUserID("7"), "   ", {})


@pytest.mark.parametrize(
    ("template", "user", "expected"),
    [
        ("{displayname} (Telegram)", ADA, "Ada Lovelace (Telegram)"),
        ("{first_name} {last_name}", ADA, "Ada Lovelace"),
        ("@{username} #{userid}", ADA, "@ada #42"),
        # A field the network did not give is left empty, and the spaces it leaves collapse.
        ("{first_name} {middle_name} {last_name}", ADA, "Ada Lovelace"),
        # Mistakes in the template: the network's display name.
        ("{0}", ADA, "Ada Lovelace"),
        ("{first_name.upper}", ADA, "Ada Lovelace"),
        ("{first_name[3]}", ADA, "Ada Lovelace"),
        ("{unclosed", ADA, "Ada Lovelace"),
        ("{first_name!z}", ADA, "Ada Lovelace"),
        # Nothing left at all: the user id, so that the ghost is never nameless.
        ("{displayname}", NAMELESS, "7"),
        ("{first_name}", NAMELESS, "7"),
    ],
)
def test_template_renders(template: str, user: RemoteUser, expected: str) -> None:
    assert render_displayname(template, user) == expected
