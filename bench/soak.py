"""The long run (``./bench.sh --only soak``): mixed traffic over many chats, with new Telegram
senders throughout, while the bridge's resident size is sampled.

Each round sends Telegram->Matrix messages into the next chats in turn (some of them replies),
edits some of the previous round's Telegram messages, and has the Matrix writer send into other
portals; one Telegram message in ``new_every`` comes from someone never seen before (a new ghost
for the bridge, who joins that chat), the others from the chat's regulars (its last writers).
A round ends when everything in it has arrived (the writer's /sync shows the Telegram side, the
fake's sendMessage the Matrix side), so the load is as much as Synapse takes. The resident size
goes to a CSV file as it is sampled (a long run can be watched) and into the results as a curve;
the figures after the warm-up show whether it levels off.

With ``snapshots``, the bridge traces its allocations from the start of the traffic (bench/
counting_bridge.py) and a snapshot is taken then, at the end of the warm-up, every
``snapshot_minutes`` after it and at the end: ``python -m bench.snapshots DIR`` compares the
second (the warm-up's end) with the last. Tracing costs memory and time of its own: the resident
figures of such a run are not the bridge's.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
import statistics
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from tests.fakes.telegram import FakeChat, FakeUser
from tests.support.matrix_client import MatrixError, MatrixTestClient

from .matrix import Reader, send_text
from .results import Results, Row
from .stack import DOMAIN, Stack

MB = 1024 * 1024
REGULARS = 20  # people per chat who write most of its messages


@dataclass(frozen=True)
class SoakPlan:
    minutes: float = 60.0
    chats: int = 1000
    warm_up_minutes: float = 10.0
    per_round: int = 40  # messages a round: half Telegram->Matrix, a quarter each edits and Matrix
    new_every: int = 10  # one Telegram message in 10 is from someone new: 30 per 600 of all
    sample_seconds: float = 10.0
    csv: Path = Path("soak-rss.csv")
    snapshots: Path | None = None
    snapshot_minutes: float = 10.0
    # Bounds kept per person or message times this (bench/cache_bounds.py): below 1, those
    # caches fill within the warm-up.
    cache_scale: float = 1.0


@dataclass
class Sample:
    seconds: float
    messages: int
    new_senders: int
    rss: int


class Soak:
    def __init__(self, stack: Stack, plan: SoakPlan, results: Results) -> None:
        self.stack = stack
        self.plan = plan
        self.results = results
        self.samples: list[Sample] = []
        self.messages = 0
        self.new_senders = 0
        self.chats: list[tuple[FakeChat, str]] = []
        self._tokens = (f"soak:{n}" for n in itertools.count())
        self._people = (n for n in itertools.count())
        # Per chat, its regulars: the people who wrote there last, who write most of its
        # messages (as in real chats, where few people write in many of them).
        self._regulars: dict[int, deque[FakeUser]] = {}
        # Per chat: its last Telegram message (what the next round may edit or reply to).
        self._last: dict[int, int] = {}
        self._snapshots_taken = 0

    def bridge_env(self) -> dict[str, str]:
        env: dict[str, str] = {}
        if self.plan.cache_scale != 1.0:
            env["BENCH_CACHE_SCALE"] = str(self.plan.cache_scale)
        if self.plan.snapshots is not None:
            self.plan.snapshots.mkdir(parents=True, exist_ok=True)
            env["BENCH_TRACEMALLOC"] = str(self.plan.snapshots.resolve())
        return env

    async def set_up(self, progress: TextIO | None = None) -> None:
        """The chats and their portals (the writer joins each alias), a few at a time."""
        stack = self.stack
        assert stack.writer is not None
        writer = stack.writer
        limit = asyncio.Semaphore(4)

        async def portal(number: int) -> tuple[FakeChat, str]:
            async with limit:
                group = stack.fake.add_supergroup(
                    f"Soak {number}",
                    members=list(stack.senders),
                    username=f"soak_group_{number}",
                )
                room = await _join(writer, f"#telegram_{group.id}:{DOMAIN}")
                self._regulars[group.id] = deque(stack.senders, maxlen=REGULARS)
                if progress is not None and (number + 1) % 100 == 0:
                    print(f"  {number + 1} portals", file=progress, flush=True)
                return group, room

        self.chats = list(await asyncio.gather(*(portal(n) for n in range(self.plan.chats))))

    async def run(self) -> None:
        plan, stack = self.plan, self.stack
        assert stack.writer is not None and stack.bridge is not None
        reader = Reader(stack.writer)
        await reader.start()
        plan.csv.parent.mkdir(parents=True, exist_ok=True)
        if plan.snapshots is not None:
            await self._snapshot()  # tracing starts (see bench/counting_bridge.py)
        started = time.monotonic()
        warm_up_end = started + plan.warm_up_minutes * 60
        end = started + plan.minutes * 60
        with plan.csv.open("w") as handle:
            handle.write("seconds,messages,new_senders,rss_mb\n")
            sampling = asyncio.create_task(self._sample(started, handle))
            snapshots = asyncio.create_task(self._snapshots(warm_up_end, end))
            try:
                turn = itertools.count()
                while time.monotonic() < end:
                    await self._round(reader, next(turn))
            finally:
                for task in (sampling, snapshots):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                await reader.stop()
            self._take_sample(started, handle)
            if plan.snapshots is not None:
                await self._snapshot()
        self._report(started, warm_up_end)

    # -- traffic ----------------------------------------------------------------------------

    def _sender(self, chat: FakeChat, index: int) -> FakeUser:
        regulars = self._regulars[chat.id]
        if index % self.plan.new_every == 0:
            fake = self.stack.fake
            person = fake.add_user(f"Soak{next(self._people)}", last_name="New", started_bot=False)
            fake.set_member(chat, person)  # joined just now (the bridge learns it from the message)
            self.new_senders += 1
            regulars.append(person)
            return person
        return regulars[index % len(regulars)]

    async def _round(self, reader: Reader, turn: int) -> None:
        plan, stack = self.plan, self.stack
        assert stack.writer is not None
        count = len(self.chats)
        t2m = max(1, plan.per_round // 2)
        edits = plan.per_round // 4
        m2t = max(1, plan.per_round - t2m - edits)
        first = turn * (t2m + m2t)
        visible: list[str] = []
        # Edits of some of the previous round's Telegram messages.
        for offset in range(edits if turn else 0):
            group, _room = self.chats[(first - t2m - m2t + offset) % count]
            message_id = self._last.get(group.id)
            if message_id is None:
                continue
            token = next(self._tokens)
            stack.fake.inject_edit(group, message_id, f"bench:{token} (edited)")
            visible.append(token)
        for offset in range(t2m):
            index = first + offset
            group, _room = self.chats[index % count]
            token = next(self._tokens)
            reply_to = self._last.get(group.id) if index % 4 == 0 else None
            message = stack.fake.inject_text(
                group, self._sender(group, index), f"bench:{token}", reply_to=reply_to
            )
            self._last[group.id] = message["message_id"]
            visible.append(token)
        sent: list[str] = []
        for offset in range(m2t):
            _group, room = self.chats[(first + t2m + offset) % count]
            token = next(self._tokens)
            await send_text(stack.writer, room, f"bench:{token}", f"soak-{token}")
            sent.append(token)
        timeout = 120 + 2 * plan.per_round
        await reader.wait_for(visible, timeout)
        deadline = time.monotonic() + timeout
        while any(token not in stack.fake.sends for token in sent):
            if time.monotonic() > deadline:
                missing = [token for token in sent if token not in stack.fake.sends]
                raise TimeoutError(f"{len(missing)} Matrix messages never reached Telegram")
            await asyncio.sleep(0.05)
        self.messages += len(visible) + len(sent)

    # -- measuring --------------------------------------------------------------------------

    async def _sample(self, started: float, handle: TextIO) -> None:
        while True:
            self._take_sample(started, handle)
            await asyncio.sleep(self.plan.sample_seconds)

    def _take_sample(self, started: float, handle: TextIO) -> None:
        bridge = self.stack.bridge
        assert bridge is not None
        sample = Sample(time.monotonic() - started, self.messages, self.new_senders, bridge.rss())
        self.samples.append(sample)
        handle.write(
            f"{sample.seconds:.0f},{sample.messages},{sample.new_senders},{sample.rss / MB:.1f}\n"
        )
        handle.flush()

    async def _snapshots(self, warm_up_end: float, end: float) -> None:
        if self.plan.snapshots is None:
            return
        await asyncio.sleep(max(0.0, warm_up_end - time.monotonic()))
        while time.monotonic() < end:
            await self._snapshot()
            await asyncio.sleep(self.plan.snapshot_minutes * 60)

    async def _snapshot(self) -> None:
        """Ask the bridge for a snapshot and wait until it is written."""
        assert self.plan.snapshots is not None and self.stack.bridge is not None
        self._snapshots_taken += 1
        path = self.plan.snapshots / f"snapshot-{self._snapshots_taken}.pickle"
        self.stack.bridge.signal(signal.SIGUSR2)
        for _ in range(600):  # up to five minutes: a large heap takes a while to write
            if path.exists():
                return
            await asyncio.sleep(0.5)
        self.results.note(f"soak: the bridge wrote no {path.name} within five minutes")

    def _report(self, started: float, warm_up_end: float) -> None:
        plan, samples = self.plan, self.samples
        after = [s for s in samples if s.seconds >= warm_up_end - started]
        if len(after) < 2:
            self.results.note("soak: too short for figures after the warm-up")
            return
        at_warm_up, last = after[0], after[-1]
        slope = _slope([(s.messages, s.rss) for s in after])
        per_10k = slope * 10_000 / MB
        self.results.add(
            Row(
                "soak",
                f"resident MB after the warm-up ({plan.warm_up_minutes:g} min, "
                f"{at_warm_up.messages} msgs)",
                at_warm_up.rss / MB,
            )
        )
        self.results.add(
            Row(
                "soak",
                f"resident MB at the end ({last.seconds / 60:.0f} min, {last.messages} msgs over "
                f"{plan.chats} chats, {last.new_senders} new senders)",
                last.rss / MB,
            )
        )
        self.results.add(
            Row(
                "soak",
                "resident MB gained per 10,000 msgs after the warm-up (least squares)",
                per_10k,
                ratio_kind="none",
                digits=2,
            )
        )
        # The second half alone: whether the size levelled off, however long it took to.
        half = [s for s in samples if s.seconds >= last.seconds / 2]
        if len(half) >= 2 and half[0] is not after[0]:
            self.results.add(
                Row(
                    "soak",
                    f"resident MB gained per 10,000 msgs in the second half "
                    f"(from {half[0].seconds / 60:.0f} min, least squares)",
                    _slope([(s.messages, s.rss) for s in half]) * 10_000 / MB,
                    ratio_kind="none",
                    digits=2,
                )
            )
        if plan.cache_scale != 1.0:
            self.results.note(
                "soak: every bound on what the bridge keeps per person or message was "
                f"{plan.cache_scale:g} of its own (--soak-cache-scale, bench/cache_bounds.py), "
                "so that those caches fill within the warm-up: what grows after it is not them"
            )
        self.results.note(
            f"soak: the resident size of every sample is in {plan.csv} "
            f"(seconds, messages, new senders, MB)"
        )
        self.results.detail("Soak: resident size over the run", curve(samples))


async def _join(client: MatrixTestClient, alias: str, attempts: int = 5) -> str:
    """Join a portal's alias, which has the bridge make its room: under load that may take
    longer than a request may; the room is made all the same, so try again."""
    for attempt in range(attempts - 1):
        try:
            return await client.join(alias)
        except (MatrixError, OSError, TimeoutError):
            await asyncio.sleep(2.0 * (attempt + 1))
    return await client.join(alias)


def _slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x."""
    xs = [x for x, _ in points]
    if len(set(xs)) < 2:
        return 0.0
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(y for _, y in points)
    spread = sum((x - mean_x) ** 2 for x in xs)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


def curve(samples: list[Sample], rows: int = 24, width: int = 40) -> list[str]:
    """Some samples spread over the run, each with a bar from the smallest size to the largest."""
    if not samples:
        return []
    low = min(s.rss for s in samples)
    high = max(s.rss for s in samples)
    step = max(1, len(samples) // rows)
    chosen = samples[::step]
    if chosen[-1] is not samples[-1]:
        chosen.append(samples[-1])
    lines = [f"{'min':>6} {'msgs':>8} {'new':>6} {'MB':>7}"]
    for sample in chosen:
        filled = round((sample.rss - low) / (high - low) * width) if high > low else 0
        lines.append(
            f"{sample.seconds / 60:6.1f} {sample.messages:8d} {sample.new_senders:6d} "
            f"{sample.rss / MB:7.1f} |{'#' * filled}"
        )
    return lines
