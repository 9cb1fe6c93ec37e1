"""Sending files (sendPhoto, sendDocument, ...), and getFile and getUserProfilePhotos.

Uploaded bytes are stored and downloadable; a file can be re-sent by file_id, or by HTTP URL
when the test registered the URL's content (World.set_url_content), since nothing can be fetched.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from typing import Any

from .business import send_target
from .errors import bad_request
from .events import Simulation
from .images import image_size
from .methods_messages import caption_fields, post, reply_fields, thread_of
from .objects import file_object, photo_object, photo_size_object
from .params import UploadedFile
from .state import StoredFile

Params = dict[str, Any]
DOWNLOAD_LIMIT = 20 * 1024 * 1024
_STICKER_SIDE = 512


def _source(sim: Simulation, value: Any, kind: str) -> StoredFile:
    """The stored file a file parameter names: a new upload, a file_id or a known URL."""
    if isinstance(value, UploadedFile):
        mime = value.content_type
        if not mime or mime == "application/octet-stream":
            mime = mimetypes.guess_type(value.filename or "")[0] or mime
        return sim.store_file(value.data, kind, file_name=value.filename, mime_type=mime)
    if value in sim.files:
        return sim.files[value]
    if isinstance(value, str) and value.lower().startswith(("http://", "https://")):
        if value not in sim.url_contents:
            raise bad_request("failed to get HTTP URL content")
        data, mime = sim.url_contents[value]
        name = value.rstrip("/").rsplit("/", 1)[-1] or None
        return sim.store_file(data, kind, file_name=name, mime_type=mime)
    raise bad_request("wrong file identifier/HTTP URL specified")


def _file_fields(stored: StoredFile, *names: str) -> Params:
    fields: Params = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
    for name in names:
        value = getattr(stored, name)
        if value:
            fields[name] = value
    fields["file_size"] = len(stored.data)
    return fields


def _dimensions(p: Params, stored: StoredFile) -> Params:
    return {
        "width": p.get("width", stored.width),
        "height": p.get("height", stored.height),
        "duration": p.get("duration", 0),
    }


Builder = Callable[[Simulation, Params, Any], Params]


def _photo(sim: Simulation, p: Params, value: Any) -> Params:
    if isinstance(value, str) and value in sim.photos:
        return {"photo": photo_object(sim.photos[value])}
    data = value.data if isinstance(value, UploadedFile) else _source(sim, value, "photos").data
    size = image_size(data)
    if size is None:
        raise bad_request("IMAGE_PROCESS_FAILED")
    width, height = size
    if width + height > 10000 or max(width, height) > 20 * min(width, height):
        raise bad_request("PHOTO_INVALID_DIMENSIONS")
    return {"photo": photo_object(sim.store_photo(data))}


def _document(sim: Simulation, p: Params, value: Any) -> Params:
    stored = _source(sim, value, "documents")
    return {"document": _file_fields(stored, "file_name", "mime_type")}


def _sticker(sim: Simulation, p: Params, value: Any) -> Params:
    stored = _source(sim, value, "stickers")
    name = (stored.file_name or "").lower()
    width, height = image_size(stored.data) or (_STICKER_SIDE, _STICKER_SIDE)
    sticker = _file_fields(stored)
    sticker.update(
        type="regular",
        width=width,
        height=height,
        is_animated=name.endswith(".tgs"),
        is_video=name.endswith(".webm"),
    )
    if p.get("emoji"):
        sticker["emoji"] = p["emoji"]
    return {"sticker": sticker}


def _video(sim: Simulation, p: Params, value: Any) -> Params:
    stored = _source(sim, value, "videos")
    return {"video": {**_file_fields(stored, "file_name", "mime_type"), **_dimensions(p, stored)}}


def _animation(sim: Simulation, p: Params, value: Any) -> Params:
    stored = _source(sim, value, "animations")
    animation = {**_file_fields(stored, "file_name", "mime_type"), **_dimensions(p, stored)}
    # For backward compatibility Telegram sets `document` beside `animation`.
    return {"animation": animation, "document": _file_fields(stored, "file_name", "mime_type")}


def _audio(sim: Simulation, p: Params, value: Any) -> Params:
    stored = _source(sim, value, "music")
    audio = _file_fields(stored, "file_name", "mime_type")
    audio["duration"] = p.get("duration", 0)
    for key in ("performer", "title"):
        if p.get(key):
            audio[key] = p[key]
    return {"audio": audio}


def _voice(sim: Simulation, p: Params, value: Any) -> Params:
    stored = _source(sim, value, "voice")
    return {"voice": {**_file_fields(stored, "mime_type"), "duration": p.get("duration", 0)}}


# method -> (file parameter, permission needed in groups, content builder)
_MEDIA: dict[str, tuple[str, str, Builder]] = {
    "sendPhoto": ("photo", "can_send_photos", _photo),
    "sendDocument": ("document", "can_send_documents", _document),
    "sendSticker": ("sticker", "can_send_other_messages", _sticker),
    "sendVideo": ("video", "can_send_videos", _video),
    "sendAnimation": ("animation", "can_send_other_messages", _animation),
    "sendAudio": ("audio", "can_send_audios", _audio),
    "sendVoice": ("voice", "can_send_voice_notes", _voice),
}


def media_sender(method: str) -> Callable[[Simulation, Params], Any]:
    parameter, permission, build = _MEDIA[method]

    async def send(sim: Simulation, p: Params) -> Any:
        chat, connection = send_target(sim, p, permission)
        thread_of(chat, p.get("message_thread_id"))
        caption = caption_fields(p) if method != "sendSticker" else {}
        reply = reply_fields(chat, p.get("reply_parameters"))
        content = {**build(sim, p, p[parameter]), **caption}
        return post(sim, method, p, chat, content, reply, connection)

    return send


MEDIA_METHODS = tuple(_MEDIA)


async def get_file(sim: Simulation, p: Params) -> Any:
    stored = sim.files.get(p["file_id"])
    if stored is None:
        raise bad_request("invalid file_id")
    if len(stored.data) > DOWNLOAD_LIMIT:
        raise bad_request("file is too big")
    return file_object(stored)


async def get_user_profile_photos(sim: Simulation, p: Params) -> Any:
    user = sim.users.get(p["user_id"])
    if user is None:
        raise bad_request("user not found")
    offset = max(0, p.get("offset", 0))
    limit = min(max(p.get("limit", 100), 1), 100)
    photos = user.profile_photos[offset : offset + limit]
    return {"total_count": len(user.profile_photos), "photos": [photo_object(x) for x in photos]}


# A file kind as a message carries it -> where it is stored, and the builder its send uses.
_INJECTED: dict[str, tuple[str, Builder | None]] = {
    "document": ("documents", _document),
    "sticker": ("stickers", _sticker),
    "video": ("videos", _video),
    "animation": ("animations", _animation),
    "audio": ("music", _audio),
    "voice": ("voice", _voice),
    "video_note": ("videos", None),
}


def injected_media(
    sim: Simulation,
    kind: str,
    data: bytes,
    file_name: str | None,
    mime_type: str | None,
    thumbnail: bytes | None,
    p: Params,
) -> Params:
    """The content fields of a user's message with a file of ``kind``, shaped as the file's
    own send would shape it (``p``: that send's optional parameters, duration, width...)."""
    folder, builder = _INJECTED[kind]
    width, height = image_size(data) or (p.get("width", 0), p.get("height", 0))
    stored = sim.store_file(
        data, folder, file_name=file_name, mime_type=mime_type, width=width, height=height
    )
    if builder is None:  # a video note: a square video with its side as length
        note = {**_file_fields(stored), "length": p.get("length", 240)}
        content: Params = {"video_note": {**note, "duration": p.get("duration", 0)}}
    else:
        content = builder(sim, p, stored.file_id)
    if thumbnail is not None:
        thumb_width, thumb_height = image_size(thumbnail) or (90, 90)
        thumb = sim.store_file(
            thumbnail, "photos", mime_type="image/jpeg", width=thumb_width, height=thumb_height
        )
        content[kind]["thumbnail"] = photo_size_object(thumb)
    return content
