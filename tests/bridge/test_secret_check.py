"""The one comparison of a request's secret with the configured one."""

from __future__ import annotations

import pytest

from bridge.secret_check import matches_secret

SECRET = b"s3cret-token-value"


@pytest.mark.parametrize(
    ("given", "matches"),
    [
        ("s3cret-token-value", True),
        (None, False),
        ("", False),
        ("s3cret-token-valuE", False),
        ("s3cret-token-value ", False),
        # Header bytes that are not UTF-8, as aiohttp hands them over: a wrong secret.
        (b"\xff\xfe".decode("utf-8", "surrogateescape"), False),
        # A lone surrogate that no byte sequence gives: still only a wrong secret.
        ("\ud800", False),
    ],
)
def test_a_secret_matches_only_itself(given: str | None, matches: bool) -> None:
    assert matches_secret(given, SECRET) is matches


def test_the_bytes_a_secret_came_as_are_compared() -> None:
    raw = "pässwort-länger-als-8".encode()
    assert matches_secret(raw.decode("utf-8", "surrogateescape"), raw)
