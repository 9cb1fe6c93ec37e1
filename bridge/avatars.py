"""Remote pictures into Matrix media, downloaded and uploaded once per picture."""

from __future__ import annotations

import logging

from mautrix.appservice import IntentAPI
from mautrix.types import ContentURI

from .network.events import AvatarRef
from .network.interface import NetworkConnector

log = logging.getLogger("bridge.avatars")


async def upload_avatar(
    connector: NetworkConnector, intent: IntentAPI, avatar: AvatarRef
) -> ContentURI | None:
    """The mxc:// URI of the picture, or None if it could not be fetched (tried again when the
    next event names it: a missing avatar must not hold up a message)."""
    try:
        data, mime_type = await connector.fetch_avatar(avatar)
        return await intent.upload_media(data, mime_type=mime_type, filename="avatar")
    except Exception:
        log.warning("Could not bridge the picture %s", avatar.id, exc_info=True)
        return None
