"""Relay mode: a Matrix user's message as the bot shows it in the remote chat."""

from __future__ import annotations

import html
import re
import string
from collections.abc import Mapping

_TAG = re.compile(r"<[^>]*>")


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def _fill(template: str, values: Mapping[str, str]) -> str:
    try:
        return string.Formatter().vformat(template, (), _Blank(values))
    except (ValueError, IndexError):
        # A malformed admin template must not lose the message: fall back to a plain form.
        return "{displayname}: {message}".format_map(_Blank(values))


def message_as_html(body: str, formatted_body: str | None) -> str:
    if formatted_body is not None:
        return formatted_body
    return html.escape(body).replace("\n", "<br/>")


def render(
    template: str, displayname: str, mxid: str, body: str, formatted_body: str | None
) -> tuple[str, str]:
    """The relayed message as (plain text, HTML)."""
    rendered_html = _fill(
        template,
        {
            "displayname": html.escape(displayname),
            "mxid": html.escape(mxid),
            "message": message_as_html(body, formatted_body),
        },
    )
    plain = _fill(
        html.unescape(_TAG.sub("", template)),
        {"displayname": displayname, "mxid": mxid, "message": body},
    )
    return plain, rendered_html
