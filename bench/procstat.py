"""CPU time and resident size of a process, read from /proc (Linux)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class CpuSample:
    user: float
    system: float

    @property
    def total(self) -> float:
        return self.user + self.system


def cpu_seconds(pid: int) -> CpuSample:
    """utime and stime of ``pid`` (its own threads, not its children), in seconds."""
    text = Path(f"/proc/{pid}/stat").read_text()
    # The command name is in parentheses and may hold spaces: split after the last ")".
    fields = text.rsplit(")", 1)[1].split()
    # Fields 14 and 15 of proc(5), counted from 1, are fields[11] and fields[12] here.
    return CpuSample(int(fields[11]) / _TICKS, int(fields[12]) / _TICKS)


def rss_bytes(pid: int) -> int:
    """The resident set size of ``pid``."""
    fields = Path(f"/proc/{pid}/statm").read_text().split()
    return int(fields[1]) * _PAGE


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (none once it is gone)."""
    found: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
