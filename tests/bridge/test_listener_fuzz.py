"""Hostile input at the appservice transaction endpoint, driven by hypothesis against a real
bridge (real Synapse, the in-memory FakeConnector, on SQLite and on PostgreSQL).

Hypothesis drives synchronous tests best, so the bridge runs in a thread with its own event
loop and the tests talk to it with blocking HTTP, as a homeserver (or anyone else) would. The
bridge must answer bad input with a 4xx and a Matrix error body, never a 5xx; keep taking
transactions after any of it; and handle (not only store) every event it acknowledged.

Odd ids (too long, NUL, lone surrogates), undecodable compressed bodies, JSON nested beyond
the parser and a left-over portal alias were bugs this module found; the cases stay here.
"""

from __future__ import annotations

import asyncio
import gzip
import http.client
import json
import logging
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bridge.app import Bridge
from bridge.db.models import MatrixInbox
from tests.fakes.fake_network import FakeConnector
from tests.support.bridge_harness import SERVER_NAME, AppserviceSetup, bridge_config
from tests.support.databases import database_url
from tests.support.matrix_client import CLIENT_V3, MatrixTestClient
from tests.support.synapse import SynapseServer

T = TypeVar("T")

TXN_PATH = "/_matrix/app/v1/transactions/"
# Small enough that an oversized body is quick to send, large enough for huge strings.
MAX_BODY_SIZE = 1024 * 1024
# A huge string: a whole Matrix event is at most 65,536 bytes.
HUGE = 60_000
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FLOOD = 300
# Each property must have run at least this many examples (it asks for 150).
MIN_EXAMPLES = 100
# Matrix ids are at most 255 bytes; the bridge's id columns are VARCHAR(255).
MAX_ID = 255


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def assert_matrix_error(self, status: int, errcode: str | None = None) -> None:
        assert self.status == status, (self.status, self.body[:300])
        error = self.json()
        assert isinstance(error, dict), error
        assert isinstance(error.get("errcode"), str), error
        assert isinstance(error.get("error"), str), error
        assert error["error"], error
        if errcode is not None:
            assert error["errcode"] == errcode, error


class ErrorLog(logging.Handler):
    """What the bridge logs at ERROR and above (from any thread)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self._records: list[logging.LogRecord] = []
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        with self._guard:
            self._records.append(record)

    def take(self, prefix: str) -> list[str]:
        with self._guard:
            taken, self._records = self._records, []
        return [f"{r.name}: {r.getMessage()}" for r in taken if r.name.startswith(prefix)]


class BridgeThread:
    """A Bridge running in a thread of its own, with its own event loop."""

    def __init__(self, setup: AppserviceSetup, synapse_url: str, db_kind: str, tmp: Path) -> None:
        self.setup = setup
        self.port = setup.port
        self.hs_token = setup.hs_token
        self.db_kind = db_kind
        self._synapse_url = synapse_url
        self._tmp = tmp
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self.bridge: Bridge | None = None
        self.portal_room = ""
        self.connector: FakeConnector | None = None
        self._thread = threading.Thread(target=self._run, name="fuzzed-bridge", daemon=True)

    def start(self, timeout: float = 90.0) -> None:
        self._thread.start()
        if not self._started.wait(timeout):
            raise RuntimeError(f"the bridge did not start within {timeout} s")
        if self._error is not None:
            self._thread.join(30)
            raise self._error

    def stop(self, timeout: float = 60.0) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the bridge did not stop"
        if self._error is not None:
            raise self._error

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run ``coroutine`` in the bridge's loop and return its result."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._main())
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        try:
            async with database_url(self.db_kind, self._tmp) as database:
                await self._serve(database)
        except BaseException as error:  # pytest's Skipped too, when PostgreSQL is absent
            self._error = error
        finally:
            self._started.set()

    async def _serve(self, database: str) -> None:
        assert self._stop is not None
        connector = FakeConnector()
        config = bridge_config(
            self.setup,
            self._synapse_url,
            database,
            connector.name,
            {"appservice.max_body_size": MAX_BODY_SIZE},
        )
        connector.configure(config.networks[connector.name])
        self.connector = connector
        bridge = self.bridge = Bridge(config, connector)
        try:
            await bridge.start()
        except BaseException:
            await bridge.stop(timeout=2)
            raise
        try:
            # A portal, so that hostile events also go through a portal's queue.
            chat = f"fuzz-{self.db_kind}-{uuid.uuid4().hex[:8]}"
            self.portal_room = await connector.create_portal(chat, "Fuzz portal")
            self._started.set()
            await self._stop.wait()
        finally:
            await bridge.stop(timeout=10)

    # Blocking HTTP, as the tests send it.

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        *,
        token: str | None = "default",
        headers: dict[str, str] | None = None,
    ) -> Reply:
        all_headers = {"Content-Type": "application/json"}
        if token == "default":
            token = self.hs_token
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        all_headers.update(headers or {})
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=all_headers)
            response = connection.getresponse()
            return Reply(response.status, response.read())
        finally:
            connection.close()

    def put_transaction(self, txn_id: str, body: bytes) -> Reply:
        return self.request("PUT", TXN_PATH + urllib.parse.quote(txn_id, safe=""), body)

    def unhandled_events(self) -> int:
        """Events stored in the inbox and not handled yet."""
        bridge = self.bridge
        assert bridge is not None

        async def count() -> int:
            async with bridge.db.session() as session:
                query = select(func.count()).where(MatrixInbox.handled_at.is_(None))
                return int((await session.execute(query)).scalar_one())

        return self.call(count())

    def assert_alive(self, errors: ErrorLog) -> None:
        """The bridge still answers, and has handled everything it acknowledged."""
        ping = self.request("POST", "/_matrix/app/v1/ping", b"{}")
        assert ping.status == 200, (ping.status, ping.body)
        ready = self.request("GET", "/_matrix/mau/ready", token=None)
        assert (ready.status, ready.json()["ok"]) == (200, True), ready.body
        # Events are handled in the background: no hostile one may wedge a queue.
        deadline = time.monotonic() + 60
        while (left := self.unhandled_events()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert left == 0, f"{left} acknowledged events were never handled"
        # Neither a 500 ("Failed to handle") nor a refused store ("Could not store").
        assert errors.take("bridge.listener") == []


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def live(
    request: pytest.FixtureRequest,
    synapse: SynapseServer,
    appservice_setup: AppserviceSetup,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[BridgeThread]:
    """One bridge per database kind for the whole module. It holds the registered port, so
    module scope matters: it is stopped before the next module's bridges start."""
    kind: str = request.param
    running = BridgeThread(appservice_setup, synapse.url, kind, tmp_path_factory.mktemp("fuzz"))
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def errors() -> Iterator[ErrorLog]:
    handler = ErrorLog()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


def fresh_txn() -> str:
    return f"fuzz-{uuid.uuid4().hex}"


def dump(value: Any) -> bytes:
    return json.dumps(value).encode()


# Strategies.

# Every character, lone surrogates included: JSON escapes them, and a broken homeserver or an
# attacker may send them.
any_char = st.characters(codec=None, exclude_categories=())
any_text = st.text(any_char, max_size=30)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    any_text,
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(any_text, children, max_size=5)
    ),
    max_leaves=25,
)
_huge_text = st.sampled_from(["x", "\u202e😀\x00"]).map(lambda unit: unit * (HUGE // len(unit)))
_deep = st.integers(1, 200).map(lambda depth: json.loads("[" * depth + "{}" + "]" * depth))
_junk = st.one_of(json_values, _huge_text, _deep)
_not_strings = _junk.filter(lambda value: not isinstance(value, str))
_EVENT_TYPES = [
    "m.room.message",
    "m.room.member",
    "m.room.name",
    "m.room.topic",
    "m.room.avatar",
    "m.room.redaction",
    "m.reaction",
    "m.room.encrypted",
    "m.sticker",
    "org.example.unknown",
    "",
]
_senders = st.one_of(
    st.sampled_from(
        [f"@fuzzer:{SERVER_NAME}", f"@admin:{SERVER_NAME}", "@x:elsewhere.example", "@telegrambot"]
    ),
    any_text,
    _junk,
)
_types = st.one_of(st.sampled_from(_EVENT_TYPES), any_text, _junk)
_contents = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "msgtype": st.one_of(st.sampled_from(["m.text", "m.notice", "m.image"]), _junk),
            "body": st.one_of(st.sampled_from(["!tg help", "help", "ping", "hi"]), _junk),
            "format": st.one_of(st.just("org.matrix.custom.html"), _junk),
            "formatted_body": st.one_of(st.just("<b>x</b><script>y"), _junk),
            "url": st.one_of(st.just("http://127.0.0.1:9/x"), _junk),
            "membership": st.one_of(st.sampled_from(["join", "invite", "leave"]), _junk),
            "is_direct": _junk,
            "name": _junk,
            "m.relates_to": _junk,
        },
    ),
    _junk,
)
_state_keys = st.one_of(st.just(""), st.just(f"@telegrambot:{SERVER_NAME}"), any_text, _junk)


def transactions(db_kind: str, portal_room: str) -> st.SearchStrategy[dict[str, Any]]:
    """Transaction-shaped bodies whose events have fields of any type, or none."""
    event_ids = st.one_of(
        st.builds(lambda: f"$fuzz-{uuid.uuid4().hex}"),
        any_text.map(lambda text: f"${text}{uuid.uuid4().hex}"),
        st.sampled_from(["", "$", "$" + "e" * 300]),
        _not_strings,
    )
    room_ids = st.one_of(
        st.sampled_from([portal_room, f"!nowhere:{SERVER_NAME}", "!a", "", "!" * 300]),
        st.just(portal_room),
        any_text.map(lambda text: f"!{text}"),
        _not_strings,
    )
    events = st.fixed_dictionaries(
        {},
        optional={
            "event_id": event_ids,
            "room_id": room_ids,
            "sender": _senders,
            "type": _types,
            "content": _contents,
            "state_key": _state_keys,
            "origin_server_ts": _junk,
            "unsigned": _junk,
            "extra": _junk,
        },
    )
    return st.fixed_dictionaries(
        {"events": st.lists(st.one_of(events, events, json_values), max_size=6)},
        optional={
            "ephemeral": st.lists(st.one_of(json_values, events), max_size=4),
            "de.sorunome.msc2409.ephemeral": st.lists(json_values, max_size=3),
            "de.sorunome.msc3202.device_lists": json_values,
            "device_unused_fallback_key_types": json_values,
        },
    ).filter(lambda transaction: len(dump(transaction)) <= MAX_BODY_SIZE)


def expected_status(value: Any) -> int:
    """The listener's contract for a JSON body: an object whose event lists are lists."""
    if not isinstance(value, dict):
        return 400
    if "events" in value and not isinstance(value["events"], list):
        return 400
    for key in ("ephemeral", "de.sorunome.msc2409.ephemeral"):
        if key in value:
            return 200 if isinstance(value[key], list) else 400
    return 200


def message_event(**fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "m.room.message",
        "event_id": f"$fuzz-{uuid.uuid4().hex}",
        "room_id": f"!fuzz:{SERVER_NAME}",
        "sender": f"@fuzzer:{SERVER_NAME}",
        "content": {"msgtype": "m.text", "body": "hi"},
    }
    event.update(fields)
    return event


# The properties.


def test_arbitrary_bytes_get_200_400_or_413(live: BridgeThread, errors: ErrorLog) -> None:
    starts = st.sampled_from([b"", b"{", b'{"events": [', b"[", b'"', b"\xef\xbb\xbf", b"\x00"])
    statuses: list[int] = []

    @FUZZ
    @given(st.tuples(starts, st.binary(max_size=300)).map(b"".join))
    def property_(body: bytes) -> None:
        reply = live.put_transaction(fresh_txn(), body)
        statuses.append(reply.status)
        assert reply.status in (200, 400, 413), (reply.status, body)
        if reply.status != 200:
            reply.assert_matrix_error(reply.status)

    property_()
    assert len(statuses) >= MIN_EXAMPLES and 400 in statuses, Counter(statuses)
    live.assert_alive(errors)


def test_arbitrary_json_gets_200_or_a_matrix_400(live: BridgeThread, errors: ErrorLog) -> None:
    keys = st.sampled_from(["events", "ephemeral", "de.sorunome.msc2409.ephemeral", "x"])
    statuses: list[int] = []

    @FUZZ
    @given(st.one_of(json_values, st.dictionaries(keys, json_values)))
    def property_(value: Any) -> None:
        reply = live.put_transaction(fresh_txn(), dump(value))
        statuses.append(reply.status)
        assert reply.status == expected_status(value), (reply.status, reply.body, value)
        if reply.status == 400:
            reply.assert_matrix_error(400, "M_BAD_JSON")
        else:
            assert reply.json() == {}

    property_()
    assert len(statuses) >= MIN_EXAMPLES and {200, 400} <= set(statuses), Counter(statuses)
    live.assert_alive(errors)


def test_transactions_with_junk_events_are_accepted(live: BridgeThread, errors: ErrorLog) -> None:
    statuses: list[int] = []

    @FUZZ
    @given(transactions(live.db_kind, live.portal_room))
    def property_(transaction: dict[str, Any]) -> None:
        reply = live.put_transaction(fresh_txn(), dump(transaction))
        statuses.append(reply.status)
        # One bad event never refuses the transaction: the homeserver would resend it forever.
        assert reply.status == 200, (reply.status, reply.body[:300])
        assert reply.json() == {}

    property_()
    assert len(statuses) >= MIN_EXAMPLES, Counter(statuses)
    live.assert_alive(errors)


def test_odd_transaction_ids_never_get_5xx(live: BridgeThread, errors: ErrorLog) -> None:
    quoted_ids = st.one_of(
        any_text.filter(bool).map(lambda text: quote(text, safe="", errors="surrogatepass")),
        st.binary(min_size=1, max_size=40).map(lambda raw: urllib.parse.quote_from_bytes(raw, "")),
        st.text(st.sampled_from("abc%/.!~*'()@:;=+$,"), min_size=1, max_size=20),
        st.integers(1, 12_000).map(lambda n: "t" * n),
    )
    statuses: list[int] = []

    @FUZZ
    @given(quoted_ids)
    def property_(quoted_txn_id: str) -> None:
        reply = live.request("PUT", TXN_PATH + quoted_txn_id, dump({"events": [message_event()]}))
        statuses.append(reply.status)
        assert reply.status < 500, (reply.status, reply.body[:300], quoted_txn_id[:100])
        if quoted_txn_id.isalnum() and len(quoted_txn_id) <= MAX_ID:
            assert reply.status == 200, (reply.status, reply.body[:300])

    property_()
    assert len(statuses) >= MIN_EXAMPLES and 200 in statuses, Counter(statuses)
    live.assert_alive(errors)


# Explicit hostile ids and fields, and the known bugs among them.

HOSTILE_EVENTS: dict[str, Callable[[], Any]] = {
    "long-event-id": lambda: message_event(event_id="$" + "e" * 300 + uuid.uuid4().hex),
    "long-room-id": lambda: message_event(room_id="!" + "r" * 300),
    "nul-event-id": lambda: message_event(event_id=f"$a\x00{uuid.uuid4().hex}"),
    "nul-room-id": lambda: message_event(room_id="!a\x00b"),
    "surrogate-event-id": lambda: message_event(event_id=f"$a\ud800{uuid.uuid4().hex}"),
    "surrogate-room-id": lambda: message_event(room_id="!a\udfff"),
    "nul-in-content": lambda: message_event(content={"msgtype": "m.text", "body": "a\x00"}),
    "surrogate-in-content": lambda: message_event(content={"body": "a\ud800b"}),
    "nul-in-key": lambda: message_event(content={"a\x00b": 1}),
    "surrogate-sender": lambda: message_event(sender="@\ud800:x"),
    "huge-int": lambda: message_event(content={"body": 10**400}),
    "deep-content": lambda: message_event(content=json.loads("[" * 500 + "]" * 500)),
    "no-ids": lambda: {"type": "m.room.message", "content": {"body": "x"}},
    "not-an-object": lambda: 1,
    "a-list": lambda: [message_event()],
}


@pytest.mark.parametrize("case", sorted(HOSTILE_EVENTS))
def test_hostile_event_fields_never_refuse_the_transaction(
    live: BridgeThread, errors: ErrorLog, request: pytest.FixtureRequest, case: str
) -> None:
    make_event = HOSTILE_EVENTS[case]
    # A good event rides along: it must be stored and handled all the same.
    events = [make_event(), message_event()]
    reply = live.put_transaction(fresh_txn(), dump({"events": events}))
    assert reply.status == 200, (reply.status, reply.body)
    live.assert_alive(errors)


HOSTILE_TXN_IDS: dict[str, str] = {
    # case: the id as it appears in the path
    "long": "t" * 300,
    "nul": "%00",
    "surrogate": "%ED%A0%80",
    "invalid-utf8": "%FF%FE",
    "encoded-slash": "a%2Fb",
    "dots": "..",
    "unicode": urllib.parse.quote("\u202etxn😀\ufeff", safe=""),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_TXN_IDS))
def test_hostile_transaction_ids_are_answered(
    live: BridgeThread, errors: ErrorLog, request: pytest.FixtureRequest, case: str
) -> None:
    quoted = HOSTILE_TXN_IDS[case]
    reply = live.request("PUT", TXN_PATH + quoted, dump({"events": [message_event()]}))
    # Stored, or refused as bad input (this id can never come from a homeserver), but no 5xx.
    assert reply.status in (200, 400), (reply.status, reply.body)
    if reply.status == 400:
        reply.assert_matrix_error(400)
    live.assert_alive(errors)


@pytest.mark.parametrize(
    "depth",
    [
        10,
        500,
        pytest.param(5_000),
        pytest.param(100_000),
    ],
)
def test_deeply_nested_json_gets_200_or_400(
    live: BridgeThread, errors: ErrorLog, depth: int
) -> None:
    nested = b"[" * depth + b"]" * depth
    event = dump(message_event(content={"x": None})).replace(b"null", nested)
    for body in (
        b'{"events": [], "x": ' + nested + b"}",
        b'{"events": ' + nested + b"}",
        b'{"events": [' + event + b"]}",
    ):
        reply = live.put_transaction(fresh_txn(), body)
        assert reply.status in (200, 400), (reply.status, reply.body)
        if reply.status == 400:
            reply.assert_matrix_error(400)
    live.assert_alive(errors)


# Floods and sizes.


def test_a_flood_of_concurrent_transactions_is_all_acknowledged(
    live: BridgeThread, errors: ErrorLog
) -> None:
    def transaction(index: int) -> bytes:
        event = message_event(
            room_id=f"!flood-{index % 7}:{SERVER_NAME}",
            content={"msgtype": "m.text", "body": f"flood {index}"},
        )
        return dump({"events": [event], "ephemeral": [{"type": "m.typing"}]})

    async def flood() -> list[int]:
        url = f"http://127.0.0.1:{live.port}{TXN_PATH}"
        headers = {"Authorization": f"Bearer {live.hs_token}"}
        connector = aiohttp.TCPConnector(limit=0)
        timeout = aiohttp.ClientTimeout(total=120)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

            async def put(index: int) -> int:
                async with session.put(
                    url + fresh_txn(), data=transaction(index), headers=headers
                ) as response:
                    await response.read()
                    return response.status

            return await asyncio.gather(*(put(index) for index in range(FLOOD)))

    statuses = asyncio.run(flood())
    assert statuses == [200] * FLOOD, sorted(set(statuses))
    live.assert_alive(errors)


def test_an_oversized_body_gets_413_and_the_limit_itself_passes(
    live: BridgeThread, errors: ErrorLog
) -> None:
    def padded(size: int) -> bytes:
        shell = b'{"events": [], "padding": ""}'
        body = shell[:-2] + b"x" * (size - len(shell)) + shell[-2:]
        assert len(body) == size
        return body

    live.put_transaction(fresh_txn(), padded(MAX_BODY_SIZE + 1)).assert_matrix_error(
        413, "M_TOO_LARGE"
    )
    assert live.put_transaction(fresh_txn(), padded(MAX_BODY_SIZE)).status == 200
    # Far larger and without a length (chunked): refused all the same.
    chunks = (b"x" * 65536 for _ in range(3 * MAX_BODY_SIZE // 65536))
    connection = http.client.HTTPConnection("127.0.0.1", live.port, timeout=30)
    try:
        connection.request(
            "PUT",
            TXN_PATH + fresh_txn(),
            body=chunks,
            headers={"Authorization": f"Bearer {live.hs_token}"},
            encode_chunked=True,
        )
        response = connection.getresponse()
        Reply(response.status, response.read()).assert_matrix_error(413, "M_TOO_LARGE")
    except (BrokenPipeError, ConnectionResetError):
        pass  # the bridge may answer and close before the whole body is sent
    finally:
        connection.close()
    # Without the token, nothing is read at all.
    unauthenticated = live.request(
        "PUT", TXN_PATH + fresh_txn(), padded(2 * MAX_BODY_SIZE), token=None
    )
    unauthenticated.assert_matrix_error(401, "M_UNAUTHORIZED")
    live.assert_alive(errors)


def test_a_compressed_body_is_limited_after_decompression(
    live: BridgeThread, errors: ErrorLog
) -> None:
    bomb = gzip.compress(b'{"events": [], "padding": "' + b"0" * (16 * MAX_BODY_SIZE) + b'"}')
    assert len(bomb) < MAX_BODY_SIZE // 16
    reply = live.request("PUT", TXN_PATH + fresh_txn(), bomb, headers={"Content-Encoding": "gzip"})
    reply.assert_matrix_error(413, "M_TOO_LARGE")
    small = gzip.compress(dump({"events": [message_event()]}))
    reply = live.request("PUT", TXN_PATH + fresh_txn(), small, headers={"Content-Encoding": "gzip"})
    assert reply.status == 200, reply.body
    live.assert_alive(errors)


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        pytest.param(
            "gzip",
            b"this is not gzip",
            id="gzip-garbage",
        ),
        pytest.param(
            "deflate",
            b"\x78\x9c garbage",
            id="deflate-garbage",
        ),
        pytest.param(
            "gzip",
            gzip.compress(b'{"events": [], "padding": "' + b"ab" * 500 + b'"}')[:40],
            id="gzip-truncated",
        ),
        pytest.param("x-unknown", b"\x00\x01", id="unknown-encoding"),
    ],
)
def test_a_body_that_cannot_be_decoded_gets_400(
    live: BridgeThread, errors: ErrorLog, encoding: str, body: bytes
) -> None:
    reply = live.request(
        "PUT", TXN_PATH + fresh_txn(), body, headers={"Content-Encoding": encoding}
    )
    reply.assert_matrix_error(400)
    live.assert_alive(errors)


def test_a_token_that_is_no_text_is_a_wrong_token(live: BridgeThread, errors: ErrorLog) -> None:
    reply = live.request(
        "PUT",
        TXN_PATH + fresh_txn(),
        dump({"events": []}),
        token=None,
        headers={"Authorization": b"Bearer \xff\xfe"},  # type: ignore[dict-item]
    )
    reply.assert_matrix_error(403)
    live.assert_alive(errors)


def test_a_left_over_portal_alias_is_taken_over(
    live: BridgeThread, synapse: SynapseServer, appservice_setup: AppserviceSetup
) -> None:
    """Found by this module: its second bridge (a fresh database) could not create a portal
    the first one had made, for the alias was still taken."""
    assert live.connector is not None and live.bridge is not None
    chat = f"stale-{uuid.uuid4().hex[:8]}"
    alias = f"#{live.bridge.config.bridge.alias_localpart_for(chat)}:{SERVER_NAME}"
    path = f"{CLIENT_V3}/directory/room/{urllib.parse.quote(alias, safe='')}"

    async def leave_an_alias_behind() -> str:
        bot = await MatrixTestClient.as_appservice(synapse, appservice_setup.as_token)
        async with bot:
            room_id = await bot.create_room()
            await bot.request("PUT", path, {"room_id": room_id})
            return room_id

    async def alias_target() -> str:
        bot = await MatrixTestClient.as_appservice(synapse, appservice_setup.as_token)
        async with bot:
            return str((await bot.request("GET", path))["room_id"])

    stale_room = asyncio.run(leave_an_alias_behind())
    portal_room = live.call(live.connector.create_portal(chat, "Stale alias"))
    assert portal_room != stale_room
    assert asyncio.run(alias_target()) == portal_room
