"""Telegram's files as the core's media references, and their download.

Which Matrix kind each Telegram kind becomes: photo (its largest size) m.image; document
m.file with its name; video and video note m.video; audio m.audio; voice m.audio marked as
voice; animation (a GIF Telegram turned into MP4) a looping silent m.video; sticker m.sticker
(a static WEBP as it is; an animated or video sticker by its still thumbnail until they are
converted). Location, venue, contact, dice and polls are not files: see ``updates``.
"""

from __future__ import annotations

from typing import Any

from telegram import (
    Animation,
    Audio,
    Bot,
    Document,
    Message,
    PhotoSize,
    Sticker,
    Video,
    Voice,
)
from telegram.error import BadRequest, NetworkError, RetryAfter

from bridge.network.capabilities import FetchedMedia, MediaUnavailable
from bridge.network.events import MediaFile, MediaRef
from bridge.network.interface import TemporaryFailure

from .convert import AnimatedFormat, ConversionFailed, StickerConverter
from .http import RequestRefused
from .pacing import retry_seconds

# The Bot API hands bots files up to this size; a Local Bot API server has no such limit.
DOWNLOAD_LIMIT_MB = 20


def media_of(message: Message, animated_stickers: bool = True) -> MediaRef | None:
    """The file a message carries, if any. ``animated_stickers``: TGS and WEBM stickers are
    converted when fetched (else their still thumbnail stands in)."""
    if message.photo:
        largest = max(message.photo, key=lambda size: size.width * size.height)
        return MediaRef(_file(largest, "image/jpeg"), "m.image")
    if message.animation is not None:
        return _animation(message.animation)
    if message.sticker is not None:
        return _sticker(message.sticker, animated_stickers)
    if message.video is not None:
        return _video(message.video)
    if message.video_note is not None:
        note = message.video_note
        file = _file(note, "video/mp4", width=note.length, height=note.length)
        return MediaRef(
            file, "m.video", duration_ms=_duration_ms(note), thumbnail=_thumb(note.thumbnail)
        )
    if message.voice is not None:
        return _voice(message.voice)
    if message.audio is not None:
        return _audio(message.audio)
    if message.document is not None:
        return _document(message.document)
    return None


def _animation(animation: Animation) -> MediaRef:
    return MediaRef(
        _file(animation, animation.mime_type or "video/mp4"),
        "m.video",
        file_name=animation.file_name,
        duration_ms=_duration_ms(animation),
        looping=True,
        thumbnail=_thumb(animation.thumbnail),
    )


def _sticker(sticker: Sticker, convert: bool) -> MediaRef:
    if not sticker.is_animated and not sticker.is_video:
        return MediaRef(_file(sticker, "image/webp"), "m.image", sticker=True)
    mimetype = "video/webm" if sticker.is_video else "application/x-tgsticker"
    if convert:
        # Made into an animated image when fetched (convert.py).
        return MediaRef(_file(sticker, mimetype), "m.image", sticker=True)
    if sticker.thumbnail is not None:
        # A still picture stands in for the animation.
        return MediaRef(_file(sticker.thumbnail, "image/webp"), "m.image", sticker=True)
    return MediaRef(_file(sticker, mimetype), "m.file", file_name=f"sticker{_ext(mimetype)}")


def _video(video: Video) -> MediaRef:
    return MediaRef(
        _file(video, video.mime_type or "video/mp4"),
        "m.video",
        file_name=video.file_name,
        duration_ms=_duration_ms(video),
        thumbnail=_thumb(video.thumbnail),
    )


def _voice(voice: Voice) -> MediaRef:
    return MediaRef(
        _file(voice, voice.mime_type or "audio/ogg"),
        "m.audio",
        duration_ms=_duration_ms(voice),
        voice=True,
    )


def _audio(audio: Audio) -> MediaRef:
    name = audio.file_name
    if not name and audio.title:
        name = f"{audio.performer} - {audio.title}" if audio.performer else audio.title
        name += _ext(audio.mime_type or "")
    return MediaRef(
        _file(audio, audio.mime_type or "audio/mpeg"),
        "m.audio",
        file_name=name,
        duration_ms=_duration_ms(audio),
        thumbnail=_thumb(audio.thumbnail),
    )


def _document(document: Document) -> MediaRef:
    return MediaRef(
        _file(document, document.mime_type),
        "m.file",
        file_name=document.file_name,
        thumbnail=_thumb(document.thumbnail),
    )


def _file(
    item: Any, mimetype: str | None, width: int | None = None, height: int | None = None
) -> MediaFile:
    return MediaFile(
        key=item.file_id,
        mimetype=mimetype,
        size=item.file_size,
        width=width if width is not None else getattr(item, "width", None),
        height=height if height is not None else getattr(item, "height", None),
    )


def _thumb(size: PhotoSize | None) -> MediaFile | None:
    return _file(size, "image/jpeg") if size is not None else None


def _duration_ms(item: Any) -> int | None:
    # As the Bot API sends it (seconds), whatever python-telegram-bot makes of it.
    seconds = item.to_dict().get("duration")
    return int(seconds * 1000) if isinstance(seconds, int | float) else None


def _ext(mimetype: str) -> str:
    return {
        "audio/mpeg": ".mp3",
        "audio/ogg": ".ogg",
        "video/webm": ".webm",
        "application/x-tgsticker": ".tgs",
    }.get(mimetype, "")


CONVERTIBLE = ("application/x-tgsticker", "video/webm")


async def fetch(
    bot: Bot, file: MediaFile, animated: AnimatedFormat | None, converter: StickerConverter
) -> FetchedMedia:
    """The file; ``animated``: it is a sticker (as Telegram said: media_of), to be converted
    into that format if it is an animated one (or, if that fails, as it came, with the
    reason). A document is never converted, whatever its type."""
    data = await download(bot, file)
    if animated is None or file.mimetype not in CONVERTIBLE:
        return FetchedMedia(data)
    try:
        converted = await converter.convert(data, file.mimetype, animated)
    except ConversionFailed as failure:
        return FetchedMedia(data, problem=f"it could not be converted: {failure}")
    return FetchedMedia(converted.data, converted.mimetype, converted.width, converted.height)


async def download(bot: Bot, file: MediaFile) -> bytes:
    """The file's bytes. A file Telegram will not hand over is MediaUnavailable; passing
    trouble is TemporaryFailure (a download changes nothing, so it is never in doubt)."""
    try:
        found = await bot.get_file(file.key)
        return bytes(await found.download_as_bytearray())
    except RetryAfter as error:
        seconds = retry_seconds(error.retry_after)
        raise TemporaryFailure("Telegram's flood limit", retry_after=seconds) from None
    except BadRequest as error:
        if "too big" in error.message.lower():
            raise MediaUnavailable(
                f"Telegram hands bots files of at most {DOWNLOAD_LIMIT_MB} MB (a Local Bot "
                "API server lifts that limit)"
            ) from None
        raise MediaUnavailable(f"Telegram refused it ({error.message})") from None
    except RequestRefused as error:
        raise MediaUnavailable(f"Telegram refused it ({error.message})") from None
    except NetworkError as error:
        raise TemporaryFailure(f"Telegram cannot be reached ({error.message})") from None
