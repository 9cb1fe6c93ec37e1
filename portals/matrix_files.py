"""A Matrix file on its way to the network: what kind it is, whether the network takes that
kind at that size, and its bytes (downloaded here, in the portal's worker, in its turn).

A file's caption follows MSC2530: the body is a caption when a ``filename`` beside it says
something else; otherwise the body is just the file's name and there is no caption.
"""

from __future__ import annotations

import mimetypes
from typing import Any

from mautrix.appservice import IntentAPI
from mautrix.errors import MatrixRequestError

from bridge.matrix.media import TooLarge, download_within
from bridge.network.capabilities import SendsFiles
from bridge.network.interface import NetworkConnector
from bridge.network.outgoing import FileKind, OutgoingFile

from .delivery import retry_delay
from .state import Notify

_BY_MSGTYPE: dict[str, FileKind] = {
    "m.image": "image",
    "m.file": "file",
    "m.video": "video",
    "m.audio": "audio",
}
_WORDS: dict[FileKind, str] = {
    "image": "image",
    "file": "file",
    "video": "video",
    "audio": "audio file",
    "voice": "voice message",
    "sticker": "sticker",
}


def file_kind(event_type: str, content: dict[str, Any]) -> FileKind | None:
    if event_type == "m.sticker":
        return "sticker"
    kind = _BY_MSGTYPE.get(str(content.get("msgtype")))
    if kind == "audio" and "org.matrix.msc3245.voice" in content:
        return "voice"
    return kind


def caption_of(kind: FileKind, content: dict[str, Any]) -> tuple[str, str | None]:
    """The caption (plain, HTML) of a file event; empty when it has none."""
    body, name = content.get("body"), content.get("filename")
    if kind == "sticker" or not isinstance(body, str) or not isinstance(name, str):
        return "", None
    if not name or body == name:
        return "", None
    formatted = content.get("formatted_body")
    if content.get("format") != "org.matrix.custom.html" or not isinstance(formatted, str):
        formatted = None
    return body, formatted


async def fetch_file(
    connector: NetworkConnector,
    bot: IntentAPI,
    kind: FileKind,
    content: dict[str, Any],
    notify: Notify,
) -> OutgoingFile | None:
    """The file's bytes (downloaded by ``bot``) and what the network needs to show it; None
    (the sender told why) if it cannot go."""
    network = connector.display_name
    what = _WORDS[kind]
    if not isinstance(connector, SendsFiles) or kind not in connector.file_kinds:
        await notify(f"Your {what} was not bridged: {network} does not take them from the bridge.")
        return None
    url = content.get("url")
    if not isinstance(url, str):
        await notify(f"Your {what} was not bridged: the bridge cannot read encrypted files.")
        return None
    info = content.get("info")
    info = info if isinstance(info, dict) else {}
    name = _name(kind, content, info)
    limit = connector.max_file_size
    size = info.get("size")
    if isinstance(size, int) and size > limit:
        await notify(_too_large(what, name, size, limit, network))
        return None
    try:
        # info.size may understate: the download itself stops past the limit.
        data = await download_within(bot, url, limit)
    except TooLarge as error:
        await notify(_too_large(what, name, error.size, limit, network))
        return None
    except ValueError:
        await notify(f"Your {what} was not bridged: its address is not a Matrix file (mxc://).")
        return None
    except MatrixRequestError as error:
        if retry_delay(error, 0) is not None:
            raise  # passing trouble (a 5xx, a rate limit): the portal tries again, within bounds
        # A refusal (404 for deleted media, 403): asking again would be refused again.
        await notify(f"Your {what} was not bridged: the homeserver would not hand it over.")
        return None
    mimetype = info.get("mimetype")
    if not isinstance(mimetype, str) or not mimetype:
        mimetype = mimetypes.guess_type(name)[0] or "application/octet-stream"
    duration = info.get("duration")
    return OutgoingFile(
        kind,
        data,
        name,
        mimetype,
        width=_number(info.get("w")),
        height=_number(info.get("h")),
        duration_ms=_number(duration),
    )


def _name(kind: FileKind, content: dict[str, Any], info: dict[str, Any]) -> str:
    for candidate in (content.get("filename"), content.get("body")):
        if isinstance(candidate, str) and candidate.strip() and "/" not in candidate:
            return candidate.strip()
    mimetype = info.get("mimetype")
    extension = mimetypes.guess_extension(mimetype) if isinstance(mimetype, str) else None
    return f"{kind}{extension or ''}"


def _too_large(what: str, name: str, size: int | None, limit: int, network: str) -> str:
    """``size``: None when only known to be over the limit."""
    megabytes = 1024 * 1024
    larger = f"is {size / megabytes:.1f} MB" if size is not None else "is larger than that"
    return (
        f"Your {what} was not bridged: {network} takes files of at most "
        f"{limit // megabytes} MB from the bridge, and {name} {larger}."
    )


def _number(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) and value > 0 else None
