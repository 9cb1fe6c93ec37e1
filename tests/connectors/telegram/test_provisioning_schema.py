"""Schemathesis against the running bridge's provisioning API: requests generated from the
OpenAPI document the bridge serves (valid and invalid ones), each answered without a server
error, with a status, content type and body the document allows, and refused without the
secret (schemathesis's default checks)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.core.result import Err

from tests.connectors.telegram.conftest import StartTelegramBridge
from tests.connectors.telegram.test_provisioning import Provisioning, start
from tests.support.fixtures import MakeMatrixUser

# Per operation, generation mode and user: small, so the whole run takes well under a minute.
EXAMPLES = 12


def fuzz(document_url: str, base_url: str, secret: str, users: list[str | None]) -> list[str]:
    """Run every operation's generated cases; the operations run (blocking: in a thread)."""
    schema = schemathesis.openapi.from_url(document_url)
    headers = {"Authorization": f"Bearer {secret}"}
    ran: list[str] = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()  # the served document is not valid OpenAPI
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for user in users:
                # None: user_id generated too (mostly users of other servers, relay level).
                query = {"user_id": user} if user is not None else None
                strategy = operation.as_strategy(generation_mode=mode, query=query)

                @settings(
                    max_examples=EXAMPLES,
                    deadline=None,
                    database=None,
                    suppress_health_check=list(HealthCheck),
                )
                @given(case=strategy)
                def check(case: Any) -> None:
                    case.call_and_validate(base_url=base_url, headers=headers, timeout=30)

                check()
        ran.append(f"{operation.method.upper()} {operation.path}")
    return ran


async def test_schemathesis_finds_no_failure(
    telegram_bridge: StartTelegramBridge, make_matrix_user: MakeMatrixUser
) -> None:
    admin = await make_matrix_user("sadmin")
    plain = await make_matrix_user("splain")
    running = await start(telegram_bridge, admin)
    async with aiohttp.ClientSession() as session:
        api = Provisioning(running, session)
    ran = await asyncio.to_thread(
        fuzz,
        f"{api.base}/openapi.json",
        api.base,
        api.secret,
        [None, plain.user_id, admin.user_id],
    )
    assert sorted(ran) == [
        "DELETE /portals/{room_id}",
        "GET /bridge",
        "GET /login/{login_id}",
        "GET /portals",
        "POST /login",
        "POST /logout",
        "POST /portals",
    ]
