"""The run-wide check that no secret reaches the logs can fail: a pytest run of its own, in a
subprocess (so this session's log and result are untouched), logs a registered secret; in one
process, or on a pytest-xdist worker, which must fail the whole run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECRET = "inner-run-secret-0123456789abcdef"

INNER_TEST = f'''
import logging

from bridge.logging_setup import SecretFilter
from tests.support.session_log import guard, register_secret, unguard

SECRET = "{SECRET}"


def test_logs_the_secret():
    register_secret(SECRET)
    filters = [SecretFilter([SECRET])] if GUARDED else []
    guard(filters)
    logging.getLogger("leaky.module").debug("connecting with token %s", SECRET)
    unguard(filters)
'''


# Processes of the inner run: its own, or one worker of pytest-xdist's.
PROCESSES = {"in-process": [], "on a worker": ["-n", "1"]}


def run_inner(
    tmp_path: Path, guarded: bool, processes: list[str]
) -> subprocess.CompletedProcess[str]:
    test_file = tmp_path / "test_inner.py"
    test_file.write_text(f"GUARDED = {guarded}\n" + INNER_TEST)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests.support.session_log",
            "-p",
            "no:cacheprovider",
            "--basetemp",
            str(tmp_path / "basetemp"),
            *processes,
            str(test_file),
        ],
        check=False,
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("processes", PROCESSES.values(), ids=PROCESSES.keys())
def test_a_secret_logged_through_an_unfiltered_path_fails_the_run(
    tmp_path: Path, processes: list[str]
) -> None:
    result = run_inner(tmp_path, guarded=False, processes=processes)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 passed" in result.stdout, "the test itself passed: the check failed the run"
    assert "secrets in the logs" in result.stdout
    assert "DEBUG leaky.module connecting with token <SECRET 1>" in result.stdout
    assert SECRET not in result.stdout + result.stderr, "the report does not repeat it"


@pytest.mark.parametrize("processes", PROCESSES.values(), ids=PROCESSES.keys())
def test_the_same_line_through_the_bridges_filter_passes(
    tmp_path: Path, processes: list[str]
) -> None:
    result = run_inner(tmp_path, guarded=True, processes=processes)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Session log checked: none of the 1 secrets" in result.stdout
    [log] = (tmp_path / "basetemp").glob("**/session.log")
    assert "connecting with token <redacted>" in log.read_text()
