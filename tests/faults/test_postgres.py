"""Without a throwaway cluster the fault suite's PostgreSQL half skips, saying why, or fails when
PostgreSQL is required; it never falls back to restarting a server others use."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults import postgres
from tests.support.databases import ADMIN_URL


@pytest.fixture
def no_initdb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "throwaway-postgres.sh"
    script.write_text("#!/bin/sh\necho 'initdb and pg_ctl not found' >&2\nexit 1\n")
    script.chmod(0o755)
    monkeypatch.setattr(postgres, "SCRIPT", script)
    for name in ("TEST_POSTGRES_RESTART", "TEST_POSTGRES_DATADIR", "BRIDGE_REQUIRE_POSTGRES"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("no_initdb")
def test_without_a_cluster_of_its_own_it_skips_saying_why() -> None:
    with (
        pytest.raises(pytest.skip.Exception, match="initdb and pg_ctl not found"),
        postgres.fault_postgres(),
    ):
        pass


@pytest.mark.usefixtures("no_initdb")
def test_without_one_it_fails_when_postgresql_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRIDGE_REQUIRE_POSTGRES", "1")
    with (
        pytest.raises(pytest.fail.Exception, match="no throwaway PostgreSQL cluster"),
        postgres.fault_postgres(),
    ):
        pass


@pytest.mark.usefixtures("no_initdb")
def test_the_proxy_needs_none_and_restarts_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_POSTGRES_RESTART", "proxy")
    with postgres.fault_postgres() as server:
        assert server.restart is None
        assert server.admin_url == ADMIN_URL
