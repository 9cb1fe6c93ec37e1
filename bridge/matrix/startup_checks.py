"""Start-up checks: each failure is one line that says what to fix."""

from __future__ import annotations

import logging

from aiohttp import ClientError
from mautrix.errors import MatrixConnectionError, MatrixRequestError

from ..config.model import Config
from ..errors import StartupError
from .client import MatrixClient

log = logging.getLogger("bridge.startup")


async def check_homeserver(matrix: MatrixClient, config: Config) -> None:
    address = config.homeserver.address
    try:
        await matrix.versions()
    except (MatrixConnectionError, ClientError, OSError, TimeoutError) as error:
        raise StartupError(
            f"Cannot reach the homeserver at homeserver.address ({address}): {error or 'timeout'}."
            " Check the address and that the homeserver is running."
        ) from None
    except MatrixRequestError as error:
        raise StartupError(
            f"homeserver.address ({address}) does not answer like a Matrix homeserver "
            f"(HTTP {error.http_status} for /_matrix/client/versions). Check the address."
        ) from None


async def check_as_token(matrix: MatrixClient, config: Config) -> None:
    try:
        user_id = await matrix.whoami()
    except MatrixRequestError as error:
        if error.errcode in ("M_UNKNOWN_TOKEN", "M_MISSING_TOKEN", "M_FORBIDDEN"):
            raise StartupError(
                "The homeserver does not accept appservice.as_token: the registration is not "
                "loaded by the homeserver (list the registration file under "
                "app_service_config_files in homeserver.yaml and restart the homeserver), or the "
                "registration was generated again after the homeserver loaded it."
            ) from None
        raise StartupError(
            f"The homeserver refused the bridge's whoami check: {error.errcode} {error.message}"
        ) from None
    if user_id != config.bot_mxid:
        raise StartupError(
            f"The as_token belongs to {user_id}, but the config expects {config.bot_mxid}: "
            "appservice.bot_username and homeserver.domain must match the registration's "
            "sender_localpart and the homeserver's server_name."
        )


async def check_ping(matrix: MatrixClient, config: Config, transaction_id: str) -> None:
    """Ask the homeserver to call the bridge's ping endpoint (Matrix v1.7)."""
    address = config.appservice.address
    try:
        await matrix.ping_appservice(transaction_id)
    except MatrixRequestError as error:
        errcode = error.errcode
        if errcode == "M_UNRECOGNIZED" or error.http_status == 404:
            log.warning("The homeserver cannot ping appservices (needs Matrix v1.7); check skipped")
            return
        if errcode == "M_URL_NOT_SET":
            message = "the registration the homeserver loaded has no url; generate it again"
        elif errcode in ("M_CONNECTION_FAILED", "M_CONNECTION_TIMEOUT"):
            message = (
                f"the homeserver could not reach the bridge at appservice.address ({address}): "
                f"{error.message}. It must be reachable from the homeserver; the bridge listens "
                f"on {config.appservice.hostname}:{config.appservice.port}"
            )
        elif errcode == "M_BAD_STATUS":
            message = (
                f"the bridge refused the homeserver's request ({error.message}): the hs_token in "
                "the homeserver's registration differs from appservice.hs_token; register the "
                "current registration file and restart the homeserver"
            )
        elif errcode == "M_FORBIDDEN":
            message = f"appservice.id ({config.appservice.id}) does not match the registration's id"
        else:
            message = f"{errcode}: {error.message}"
        raise StartupError(f"The homeserver could not ping the bridge: {message}.") from None
