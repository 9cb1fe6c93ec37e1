"""The machine's description and BENCHMARKS.md: the run's section ("before" or "after") is
replaced between its markers; everything else in the file is left as it is."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from .results import Results, table

# "soak": the long run (--only soak), a section of its own.
SECTIONS = ("before", "after", "soak")


def machine(postgres_version: str | None) -> list[str]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = "unknown"
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
            break
    try:
        synapse = version("matrix-synapse")
    except PackageNotFoundError:
        synapse = "unknown"
    lines = [
        f"- CPU: {cpu}, {os.cpu_count()} cores (shared with other work: timings are noisy)",
        f"- RAM: {memory}",
        f"- Python {platform.python_version()} on {platform.system()} {platform.release()}",
        f"- Synapse {synapse} (SQLite), python-telegram-bot {_version('python-telegram-bot')}, "
        f"SQLAlchemy {_version('SQLAlchemy')}",
    ]
    if postgres_version is not None:
        lines.append(f"- PostgreSQL {postgres_version}")
    return lines


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"


def commit(root: Path) -> str:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    sha = git("rev-parse", "--short=12", "HEAD") or "unknown"
    subject = git("log", "-1", "--format=%s")
    # The code measured: changes to this file of results do not count.
    changed = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!BENCHMARKS.md")
    dirty = " plus uncommitted changes" if changed else ""
    if len(subject) > 90:
        subject = subject[:87] + "..."
    measured = f"`{sha}`{dirty} ({subject})" if subject else f"`{sha}`{dirty}"
    code = git("log", "-1", "--format=%h", "--abbrev=12", "--", "bridge", "portals", "connectors")
    if code and not sha.startswith(code) and not code.startswith(sha):
        measured += f"; the bridge's code (bridge/, portals/, connectors/) last changed in `{code}`"
    return measured


def section(
    results: Results,
    name: str,
    root: Path,
    command: str,
    seconds: float,
    postgres_version: str | None,
) -> list[str]:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"## {name.capitalize()}",
        "",
        f"Commit {commit(root)}, run {now} with `{command}`; the whole run took "
        f"{seconds / 60:.1f} minutes.",
        "",
        *machine(postgres_version),
        "",
        *table(results),
        "",
    ]
    if results.notes:
        lines += ["Notes of this run:", ""]
        lines += [f"- {note}" for note in results.notes]
        lines.append("")
    for heading, details in results.details.items():
        lines += [f"<details><summary>{heading}</summary>", "", "```", *details, "```", ""]
        lines += ["</details>", ""]
    return lines


def write(path: Path, name: str, lines: list[str]) -> None:
    """Put ``lines`` between the section's markers in ``path`` (added if missing)."""
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    block = "\n".join([start, *lines, end])
    if start in text and end in text:
        head, rest = text.split(start, 1)
        tail = rest.split(end, 1)[1]
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)
