"""Homeserver API calls into the metrics: an aiohttp trace on the bridge's client session times
each request, and its path is reduced to a template so the label stays bounded (a path holds
room ids, user ids, event types and transaction ids)."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import SimpleNamespace

import aiohttp
from yarl import URL

from ..metrics import BridgeMetrics

# Path words of the Matrix APIs the bridge calls; any other segment is a value.
_WORD_LIST = (
    "_matrix client media app federation key v1 v3 r0 unstable "
    "rooms room join leave invite kick ban unban forget send state redact event events "
    "context messages members joined_members joined_rooms read_markers receipt typing "
    "relations timestamp_to_event aliases directory list createRoom upgrade "
    "profile displayname avatar_url presence status user account_data register login "
    "logout account whoami password deactivate 3pid devices keys upload download thumbnail "
    "config preview_url create versions capabilities sync filter pushrules appservice ping "
    "batch_send batch_send_events"
)
PATH_WORDS = frozenset(_WORD_LIST.split())
_SIGILS = {"!": "{roomId}", "@": "{userId}", "$": "{eventId}", "#": "{roomAlias}"}
# The segment after these is an event type (then, for state, a state key).
_TYPED = frozenset({"send", "state", "account_data"})
# Every value a template can hold besides PATH_WORDS.
PLACEHOLDERS = frozenset({*_SIGILS.values(), "{eventType}", "{txnId}", "{stateKey}", "{id}"})


def matrix_endpoint(path: str) -> str:
    """The path with every value replaced by a placeholder, e.g.
    /_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}."""
    segments = path.split("/")
    template: list[str] = []
    for index, segment in enumerate(segments):
        before = segments[index - 1] if index > 0 else ""
        if segment == "" or segment in PATH_WORDS:
            template.append(segment)
        elif segment[0] in _SIGILS:
            template.append(_SIGILS[segment[0]])
        elif before in _TYPED:
            template.append("{eventType}")
        elif index >= 2 and segments[index - 2] == "send":
            template.append("{txnId}")
        elif index >= 2 and segments[index - 2] == "state":
            template.append("{stateKey}")
        else:
            template.append("{id}")
    return "/".join(template)


def matrix_call_trace(
    metrics: BridgeMetrics, answered: Callable[[URL, int], None] = lambda _url, _status: None
) -> aiohttp.TraceConfig:
    """A trace for the homeserver's client session: every request's latency and outcome, and
    each answer (URL, status) to ``answered``."""
    trace = aiohttp.TraceConfig()

    async def started(
        _session: aiohttp.ClientSession,
        context: SimpleNamespace,
        _params: aiohttp.TraceRequestStartParams,
    ) -> None:
        context.started = time.monotonic()

    async def ended(
        _session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestEndParams,
    ) -> None:
        seconds = time.monotonic() - context.started
        endpoint = matrix_endpoint(params.url.path)
        metrics.matrix_call(params.method, endpoint, seconds, params.response.status)
        answered(params.url, params.response.status)

    async def failed(
        _session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestExceptionParams,
    ) -> None:
        seconds = time.monotonic() - context.started
        metrics.matrix_call(params.method, matrix_endpoint(params.url.path), seconds, None)

    trace.on_request_start.append(started)
    trace.on_request_end.append(ended)
    trace.on_request_exception.append(failed)
    return trace
