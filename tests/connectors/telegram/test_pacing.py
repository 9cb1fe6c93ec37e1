"""The pacer under a virtual clock: Telegram's flood limits (a burst, then a steady rate) per
group, per private chat and overall; long waits handed to the portal as TemporaryFailure; chats
with buckets of their own, and a bounded memory of them."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable, Iterator
from types import SimpleNamespace
from typing import TypeVar

import pytest

from bridge.network.interface import TemporaryFailure
from connectors.telegram import pacing
from connectors.telegram.config import RateLimits
from connectors.telegram.pacing import LONGEST_QUIET_WAIT, Limits, Pacer

T = TypeVar("T")

GROUP_A = -1001000000001
GROUP_B = -1001000000002
PRIVATE_1 = 7000000001
PRIVATE_2 = 7000000002
START = 1000.0
# A real sleep always lets some time pass; so does a virtual one (else a float rounding that
# leaves a bucket a hair short of a token would stop the clock).
SHORTEST_SLEEP = 1e-9
# Virtual time after which run() gives up by default: the pacer would wait for ever.
FOREVER = 3600.0


class VirtualClock:
    """time.monotonic and asyncio.sleep for the pacer: sleepers wake in deadline order, and the
    clock jumps to a sleeper's deadline only once every task is blocked."""

    def __init__(self) -> None:
        self.now = START
        self.sleeps: list[float] = []
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        deadline = self.now + max(delay, SHORTEST_SLEEP)
        heapq.heappush(self._sleepers, (deadline, next(self._order), future))
        await future

    def advance(self, seconds: float) -> None:
        """Time passing while nothing is sent (nobody may be sleeping)."""
        assert not self._sleepers
        self.now += seconds

    async def run(self, *work: Awaitable[T], within: float = FOREVER) -> list[T]:
        """Run ``work`` concurrently to the end in virtual time; their results, in order."""
        tasks = [asyncio.ensure_future(item) for item in work]
        give_up = self.now + within
        try:
            while True:
                for _ in range(100):  # let every runnable task get to its next sleep
                    await asyncio.sleep(0)
                if all(task.done() for task in tasks):
                    return [task.result() for task in tasks]
                if not self._sleepers:
                    raise AssertionError("tasks are blocked, but none of them sleeps")
                deadline, _, future = heapq.heappop(self._sleepers)
                if deadline > give_up:
                    raise AssertionError(f"still waiting after {within:.0f} s (virtual)")
                self.now = max(self.now, deadline)
                future.set_result(None)
        finally:
            for task in tasks:
                task.cancel()

    async def send_times(
        self, pacer: Pacer, chats: list[int], within: float = FOREVER
    ) -> list[float]:
        """Send into ``chats`` one after another; the moment (from START) each was let through."""
        times = []
        for chat in chats:
            await self.run(pacer.before_send(chat), within=within)
            times.append(self.now - START)
        return times


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[VirtualClock]:
    """A virtual clock for connectors.telegram.pacing only (the event loop keeps real time)."""
    virtual = VirtualClock()
    monkeypatch.setattr(pacing, "time", SimpleNamespace(monotonic=virtual.monotonic))
    monkeypatch.setattr(pacing, "asyncio", SimpleNamespace(Lock=asyncio.Lock, sleep=virtual.sleep))
    yield virtual


def approx_list(values: list[float]) -> object:
    return pytest.approx(values, abs=1e-6)


async def test_a_group_allows_a_burst_of_20_then_one_message_every_3_seconds(
    clock: VirtualClock,
) -> None:
    pacer = Pacer(Limits())
    times = await clock.send_times(pacer, [GROUP_A] * 26)
    assert times[:20] == [0.0] * 20
    assert times[20:] == approx_list([3.0, 6.0, 9.0, 12.0, 15.0, 18.0])
    # The 3 s waits are the longest slept through quietly; none became a TemporaryFailure.
    assert max(clock.sleeps) == pytest.approx(3.0)
    assert max(clock.sleeps) <= LONGEST_QUIET_WAIT


async def test_a_group_that_rested_gets_its_burst_back_but_no_more(clock: VirtualClock) -> None:
    pacer = Pacer(Limits())
    await clock.send_times(pacer, [GROUP_A] * 20)
    clock.advance(600)  # ten minutes of quiet: the bucket is full, not fuller
    times = await clock.send_times(pacer, [GROUP_A] * 21)
    assert times[:20] == [600.0] * 20
    assert times[20] == pytest.approx(603.0)


async def test_a_private_chat_gets_one_message_a_second(clock: VirtualClock) -> None:
    pacer = Pacer(Limits())
    times = await clock.send_times(pacer, [PRIVATE_1] * 5)
    assert times == approx_list([0.0, 1.0, 2.0, 3.0, 4.0])


async def test_the_overall_limit_is_30_a_second_across_many_chats(clock: VirtualClock) -> None:
    pacer = Pacer(Limits())
    # Ninety chats, each sent to once: no chat's own limit is reached, only the overall one.
    chats = [-1002000000000 - index for index in range(45)] + [
        7100000000 + index for index in range(45)
    ]
    times = await clock.send_times(pacer, chats)
    assert times[:30] == [0.0] * 30
    assert times[30:] == approx_list([(index + 1) / 30 for index in range(60)])


async def test_concurrent_senders_never_take_more_than_the_limits(clock: VirtualClock) -> None:
    pacer = Pacer(Limits())

    async def send(chat: int) -> float:
        await pacer.before_send(chat)
        return clock.now - START

    # Sixty chats at once, plus four concurrent sends into one private chat.
    chats = [-1003000000000 - index for index in range(60)]
    results = await clock.run(*(send(chat) for chat in chats), *(send(PRIVATE_1) for _ in range(4)))
    overall = sorted(results)
    assert overall.count(0.0) == 30, "a burst of 30, shared by all chats"
    # However the tasks interleave, no second after the burst holds more than 30 sends...
    for first, later in zip(overall[30:], overall[60:], strict=False):
        assert later - first >= 1 - 1e-6
    # ...and the private chat's four are a second apart.
    private = sorted(results[60:])
    assert all(later - first >= 1 - 1e-6 for first, later in itertools.pairwise(private))


async def test_a_wait_longer_than_the_quiet_limit_is_a_temporary_failure(
    clock: VirtualClock,
) -> None:
    pacer = Pacer(Limits(group_per_minute=6))  # a burst of 6, then one every 10 s
    await clock.send_times(pacer, [GROUP_A] * 6)
    slept = len(clock.sleeps)

    with pytest.raises(TemporaryFailure) as failure:
        await clock.run(pacer.before_send(GROUP_A))
    assert failure.value.retry_after == pytest.approx(10.0)
    assert len(clock.sleeps) == slept, "the pacer did not sleep through it"
    assert "Telegram" in str(failure.value)

    clock.advance(4)
    with pytest.raises(TemporaryFailure) as failure:
        await clock.run(pacer.before_send(GROUP_A))
    assert failure.value.retry_after == pytest.approx(6.0)

    # Failing took no token: after the announced wait the send goes through at once.
    clock.advance(6)
    assert await clock.send_times(pacer, [GROUP_A]) == [pytest.approx(10.0)]
    assert len(clock.sleeps) == slept


async def test_a_long_wait_in_a_private_chat_is_a_temporary_failure_too(
    clock: VirtualClock,
) -> None:
    pacer = Pacer(Limits(private_per_second=0.2))  # one every 5 s
    await clock.send_times(pacer, [PRIVATE_1])
    clock.advance(1)
    with pytest.raises(TemporaryFailure) as failure:
        await clock.run(pacer.before_send(PRIVATE_1))
    assert failure.value.retry_after == pytest.approx(4.0)
    # Just under the quiet limit, the pacer waits by itself.
    clock.advance(1.5)
    assert await clock.send_times(pacer, [PRIVATE_1]) == [pytest.approx(5.0)]
    assert clock.sleeps[-1] == pytest.approx(2.5)


async def test_chats_do_not_share_buckets(clock: VirtualClock) -> None:
    pacer = Pacer(Limits())
    await clock.send_times(pacer, [GROUP_A] * 20)
    # Group A has used its burst; group B has its own, and the private chats theirs (within
    # the overall burst of 30).
    assert await clock.send_times(pacer, [GROUP_B] * 8) == [0.0] * 8
    assert await clock.send_times(pacer, [PRIVATE_1, PRIVATE_2]) == [0.0, 0.0]
    # ...which did not refill A's: its next message still waits its 3 s.
    assert await clock.send_times(pacer, [GROUP_A]) == [pytest.approx(3.0)]


async def test_a_temporary_failure_in_one_chat_does_not_hold_up_another(
    clock: VirtualClock,
) -> None:
    pacer = Pacer(Limits(group_per_minute=2))
    await clock.send_times(pacer, [GROUP_A] * 2)
    with pytest.raises(TemporaryFailure):
        await clock.run(pacer.before_send(GROUP_A))
    assert await clock.send_times(pacer, [GROUP_B, GROUP_B, PRIVATE_1]) == [0.0, 0.0, 0.0]


async def test_the_chat_buckets_are_a_bounded_lru(
    clock: VirtualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pacing, "_MAX_CHATS", 3)
    pacer = Pacer(Limits())
    first, second, third, fourth = (7200000001 + index for index in range(4))
    times = await clock.send_times(pacer, [first, second, third, first, fourth])
    assert times == approx_list([0.0, 0.0, 0.0, 1.0, 1.0])
    # The least recently used chat (second) was forgotten, not the oldest one (first).
    assert list(pacer._chats) == [third, first, fourth]
    # first still remembers its last send (at 1 s): its next one waits for the next second.
    assert await clock.send_times(pacer, [first]) == [pytest.approx(2.0)]


async def test_the_chat_buckets_stay_bounded_at_the_real_limit() -> None:
    pacer = Pacer(Limits(overall_per_second=1_000_000))  # only the chat memory is tested here
    for index in range(pacing._MAX_CHATS + 500):
        await asyncio.wait_for(pacer.before_send(-1004000000000 - index), 1)
    assert len(pacer._chats) == pacing._MAX_CHATS
    assert -1004000000000 not in pacer._chats
    assert -1004000000000 - (pacing._MAX_CHATS + 499) in pacer._chats


@pytest.mark.parametrize(
    "limits",
    [{"group_per_minute": 0.5}, {"overall_per_second": 0.5}],
    ids=["group_per_minute", "overall_per_second"],
)
async def test_a_limit_below_one_still_lets_messages_through(
    clock: VirtualClock, limits: dict[str, float]
) -> None:
    checked = RateLimits.model_validate(limits)  # the config accepts it
    pacer = Pacer(
        Limits(checked.overall_per_second, checked.group_per_minute, checked.private_per_second)
    )
    clock.advance(3600)  # an hour of quiet is more than any of these limits asks for
    assert await clock.send_times(pacer, [GROUP_A], within=600) == [3600.0]
