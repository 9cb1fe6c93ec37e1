"""Comparing a secret a request carries with the one configured, for every listener route that
checks one (the homeserver's token, the provisioning secret, a network's webhook secret)."""

from __future__ import annotations

import hmac


def matches_secret(given: str | None, secret: bytes) -> bool:
    """In constant time. A header's bytes that are not UTF-8 reach aiohttp's handlers as lone
    surrogates: they are taken back to those bytes (a wrong secret, never a server error)."""
    if given is None:
        return False
    try:
        raw = given.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(raw, secret)
