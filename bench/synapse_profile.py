"""Sampling Synapse with py-spy over a stretch of a benchmark, and where its time went.

Used to show why a ratio is what it is when the homeserver is the bottleneck: the same
messages cost Synapse more or less CPU depending on how it could batch them.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

# What part of Synapse a sampled stack is in, by the first of these its frames name.
AREAS = (
    ("/sync", ("handlers/sync.py", "rest/client/sync.py")),
    ("appservice transactions", ("synapse/appservice/",)),
    ("notifying waiters", ("synapse/notifier.py",)),
    ("push rules", ("push/bulk_push_rule_evaluator.py", "push/push_tools.py")),
    ("persisting events", ("storage/controllers/persist_events.py", "databases/main/events.py")),
    ("creating events", ("handlers/message.py", "events/builder.py")),
)


@contextlib.asynccontextmanager
async def sampled(pid: int, output: Path, rate: int = 250) -> AsyncIterator[None]:
    """py-spy on ``pid`` while the block runs, collapsed stacks into ``output``."""
    spy = Path(sys.executable).with_name("py-spy")
    process = await asyncio.create_subprocess_exec(
        str(spy), "record", "--pid", str(pid), "--format", "raw", "--rate", str(rate),
        "--output", str(output), "--nonblocking",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    await asyncio.sleep(0.5)  # attached
    try:
        yield
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)  # py-spy writes what it has and exits
        await asyncio.wait_for(process.wait(), 30)


def areas(collapsed: Path) -> tuple[int, Counter[str]]:
    """All samples of a collapsed-stack file, and how many fell in each of AREAS (the rest
    under "other")."""
    total = 0
    counts: Counter[str] = Counter()
    for line in collapsed.read_text().splitlines():
        stack, _, number = line.rpartition(" ")
        if not number.isdigit():
            continue
        samples = int(number)
        total += samples
        counts[_area(stack)] += samples
    return total, counts


def _area(stack: str) -> str:
    for name, markers in AREAS:
        if any(marker in stack for marker in markers):
            return name
    return "other"
