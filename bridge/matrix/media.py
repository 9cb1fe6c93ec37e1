"""Files from the homeserver's media repository, read no further than a limit.

The size a Matrix event states (``info.size``) is only the sender's word; the file is what the
homeserver hands over. It is refused at once when the homeserver's Content-Length is over the
limit, and otherwise read as it comes and dropped as soon as it has grown past the limit, so a
lying event costs at most the limit's worth of reading and memory.
"""

from __future__ import annotations

from typing import Any

from aiohttp import ClientTimeout
from mautrix.appservice import IntentAPI
from mautrix.types import ContentURI, SpecVersions

from .client import request_error

CHUNK = 64 * 1024
# A homeserver that stops sending for this long is trouble to wait out; a large file that
# keeps coming is not cut short.
TIMEOUT = ClientTimeout(total=None, sock_connect=30, sock_read=60)


class TooLarge(Exception):
    """The file is larger than the limit: ``size`` bytes, or None when the homeserver did
    not say (reading stopped past the limit)."""

    def __init__(self, size: int | None) -> None:
        super().__init__(f"{size} bytes" if size is not None else "larger than the limit")
        self.size = size


async def download_within(intent: IntentAPI, url: str, limit: int) -> bytes:
    """The file at the ``mxc://`` ``url``, as ``intent`` may read it. Raises TooLarge past
    ``limit`` bytes, MatrixRequestError when the homeserver answers with an error, ValueError
    for a URL that is not ``mxc://``."""
    api = intent.api
    # Authenticated media (Matrix 1.11), as homeservers now require for new files.
    authenticated = (await intent.versions()).supports_at_least(SpecVersions.V111)
    address = api.get_download_url(ContentURI(url), authenticated=authenticated)
    params: dict[str, Any] = {"allow_redirect": "true"}
    headers: dict[str, str] = {}
    if authenticated:
        headers["Authorization"] = f"Bearer {api.token}"
        if api.as_user_id:
            params["user_id"] = api.as_user_id
    async with api.session.get(
        address, params=params, headers=headers, timeout=TIMEOUT
    ) as response:
        if response.status != 200:
            text = await response.content.read(CHUNK)
            raise request_error(response.status, text.decode(errors="replace"))
        if response.content_length is not None and response.content_length > limit:
            raise TooLarge(response.content_length)
        data = bytearray()
        async for chunk in response.content.iter_chunked(CHUNK):
            data += chunk
            if len(data) > limit:
                raise TooLarge(None)
        return bytes(data)
