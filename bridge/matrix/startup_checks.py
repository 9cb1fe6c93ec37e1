"""Start-up checks: each failure is one line that says what to fix."""

from __future__ import annotations

import asyncio
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


# A homeserver may hold a stale connection to a bridge process that was killed; its first
# ping then fails. A few tries tell that apart from a wrong address.
PING_ATTEMPTS = 4


async def check_ping(matrix: MatrixClient, config: Config, transaction_id: str) -> None:
    """Ask the homeserver to call the bridge's ping endpoint (Matrix v1.7)."""
    for attempt in range(1, PING_ATTEMPTS + 1):
        try:
            await matrix.ping_appservice(f"{transaction_id}-{attempt}")
            return
        except MatrixRequestError as error:
            if error.errcode == "M_UNRECOGNIZED" or error.http_status == 404:
                log.warning("The homeserver cannot ping appservices (Matrix v1.7); check skipped")
                return
            retryable = error.errcode in ("M_CONNECTION_FAILED", "M_CONNECTION_TIMEOUT")
            if not retryable or attempt == PING_ATTEMPTS:
                raise StartupError(
                    f"The homeserver could not ping the bridge: {_ping_problem(error, config)}."
                ) from None
            log.info("The homeserver could not ping the bridge yet (%s); trying again", error)
            await asyncio.sleep(attempt)


def _ping_problem(error: MatrixRequestError, config: Config) -> str:
    errcode = error.errcode
    if errcode == "M_URL_NOT_SET":
        return "the registration the homeserver loaded has no url; generate it again"
    if errcode in ("M_CONNECTION_FAILED", "M_CONNECTION_TIMEOUT"):
        return (
            f"the homeserver could not reach the bridge at appservice.address "
            f"({config.appservice.address}): {error.message}. It must be reachable from the "
            f"homeserver; the bridge listens on {config.appservice.hostname}:"
            f"{config.appservice.port}"
        )
    if errcode == "M_BAD_STATUS":
        return (
            f"the bridge refused the homeserver's request ({error.message}): the hs_token in "
            "the homeserver's registration differs from appservice.hs_token; register the "
            "current registration file and restart the homeserver"
        )
    if errcode == "M_FORBIDDEN":
        return f"appservice.id ({config.appservice.id}) does not match the registration's id"
    return f"{errcode}: {error.message}"
