"""A remote file into the portal's Matrix room.

The file is downloaded here, in the portal's worker, when its event's turn comes: the event
was stored (and the network told it arrived) long before, so nothing waits on a download to be
acknowledged. It is uploaded to the homeserver's media repository and shown with what Matrix
clients use: ``info`` (type, size, dimensions, duration, thumbnail), the voice marker of
MSC3245, mautrix's loop markers for an animation. A caption travels in the same event (the
body, with the file's name in ``filename``), as current clients show it; without one the body
is the file name. A file the network will not hand over becomes a notice naming it.
"""

from __future__ import annotations

import logging
import mimetypes
from dataclasses import replace
from typing import Any

from mautrix.appservice import IntentAPI

from bridge.network.capabilities import FetchesMedia, MediaUnavailable
from bridge.network.events import MediaFile, MediaRef, MessageContent
from bridge.network.interface import NetworkConnector

# Names for files the network gave none (a photo, a voice message), by Matrix msgtype, with
# the extension of their type (the common ones fixed here: the system's table varies).
_DEFAULT_NAMES = {"m.image": "image", "m.video": "video", "m.audio": "audio", "m.file": "file"}
_EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "image/gif": ".gif",
    "video/mp4": ".mp4",
    "video/webm": ".webm",
    "audio/ogg": ".ogg",
    "audio/mpeg": ".mp3",
    "application/x-tgsticker": ".tgs",
}


async def media_event(
    connector: NetworkConnector,
    log: logging.Logger,
    intent: IntentAPI,
    part: MessageContent,
    media: MediaRef,
) -> tuple[str, dict[str, Any]]:
    """The event type and content that show ``part`` (whose file is ``media``) in Matrix."""
    name = file_name(media)
    if not isinstance(connector, FetchesMedia):
        return "m.room.message", unavailable(part, name, media, "the bridge cannot fetch files")
    try:
        fetched = await connector.fetch_media(media.file, sticker=media.sticker)
    except MediaUnavailable as reason:
        log.info("File %s not bridged: %s", name, reason)
        return "m.room.message", unavailable(part, name, media, str(reason))
    file = media.file
    if fetched.mimetype is not None:  # made into something else (a converted sticker)
        file = MediaFile(
            file.key, fetched.mimetype, len(fetched.data), fetched.width, fetched.height
        )
        media = replace(media, file=file)
        name = file_name(media)
    data = fetched.data
    mimetype = _mimetype(file, name)
    url = await intent.upload_media(data, mime_type=mimetype, filename=name, size=len(data))
    info = _info(file, mimetype, len(data))
    if fetched.problem is not None:
        # Delivered as it came: a file, with a word on why it is not shown as it should be.
        log.info("File %s delivered as it came: %s", name, fetched.problem)
        text = f"{part.body or 'A sticker'} (sent as a file: {fetched.problem})"
        return "m.room.message", {
            "msgtype": "m.file",
            "body": text,
            "filename": name,
            "url": str(url),
            "info": info,
        }
    if media.duration_ms is not None:
        info["duration"] = media.duration_ms
    if media.thumbnail is not None:
        info.update(await _thumbnail(connector, log, intent, media.thumbnail, name))
    if media.looping:
        # mautrix bridges' markers: clients that know them play it like a GIF.
        info |= {
            "fi.mau.gif": True,
            "fi.mau.loop": True,
            "fi.mau.autoplay": True,
            "fi.mau.hide_controls": True,
            "fi.mau.no_audio": True,
        }
    if media.sticker:
        return "m.sticker", {"body": part.body or name, "url": str(url), "info": info}
    content: dict[str, Any] = {
        "msgtype": media.msgtype,
        "body": part.body or name,
        "url": str(url),
        "info": info,
    }
    if part.body:
        content["filename"] = name
        if part.html is not None:
            content["format"] = "org.matrix.custom.html"
            content["formatted_body"] = part.html
    if media.voice:
        content["org.matrix.msc3245.voice"] = {}
        content["org.matrix.msc1767.audio"] = {"duration": media.duration_ms or 0}
    return "m.room.message", content


def file_name(media: MediaRef) -> str:
    if media.file_name:
        return media.file_name
    base = "sticker" if media.sticker else _DEFAULT_NAMES[media.msgtype]
    mimetype = media.file.mimetype or ""
    extension = _EXTENSIONS.get(mimetype) or mimetypes.guess_extension(mimetype) or ""
    return f"{base}{extension}"


def unavailable(part: MessageContent, name: str, media: MediaRef, reason: str) -> dict[str, Any]:
    """A notice in the file's place: what it was, and why it is not here."""
    size = f" ({_megabytes(media.file.size)})" if media.file.size else ""
    text = f"Sent a file, {name}{size}, that could not be bridged: {reason}."
    if part.body:
        text = f"{text}\n{part.body}"
    return {"msgtype": "m.notice", "body": text}


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def _mimetype(file: MediaFile, name: str) -> str:
    return file.mimetype or mimetypes.guess_type(name)[0] or "application/octet-stream"


def _info(file: MediaFile, mimetype: str, size: int) -> dict[str, Any]:
    info: dict[str, Any] = {"mimetype": mimetype, "size": size}
    if file.width:
        info["w"] = file.width
    if file.height:
        info["h"] = file.height
    return info


async def _thumbnail(
    connector: FetchesMedia,
    log: logging.Logger,
    intent: IntentAPI,
    thumbnail: MediaFile,
    name: str,
) -> dict[str, Any]:
    """``thumbnail_url`` and ``thumbnail_info``; nothing if the network keeps it back (the file
    itself still goes)."""
    try:
        data = (await connector.fetch_media(thumbnail)).data
    except MediaUnavailable as reason:
        log.info("Thumbnail of %s not bridged: %s", name, reason)
        return {}
    mimetype = _mimetype(thumbnail, "thumbnail.jpg")
    url = await intent.upload_media(data, mime_type=mimetype, size=len(data))
    return {"thumbnail_url": str(url), "thumbnail_info": _info(thumbnail, mimetype, len(data))}
