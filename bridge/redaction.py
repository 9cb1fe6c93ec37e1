"""Secrets out of text: known values (tokens, shared secrets), the password of any URL (a
database URL, say) and login tokens (by their shape), for log lines and for texts shown to
Matrix users."""

from __future__ import annotations

import re
from collections.abc import Iterable

from .login_tokens import LOGIN_TOKEN, PREFIX

REDACTED = "<redacted>"
# Shorter values are too likely to be ordinary words or numbers.
MIN_SECRET_LENGTH = 8

# scheme://user:password@host: the password goes, the rest stays readable.
_URL_PASSWORD = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@]*:)[^\s@/]+@")


def without_url_passwords(text: str) -> str:
    return _URL_PASSWORD.sub(rf"\g<1>{REDACTED}@", text)


def without_login_tokens(text: str) -> str:
    return LOGIN_TOKEN.sub(REDACTED, text) if PREFIX in text else text


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: list[str] = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        if len(secret) >= MIN_SECRET_LENGTH and secret not in self._secrets:
            # Longest first: a secret containing another is replaced whole.
            self._secrets = sorted([*self._secrets, secret], key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return without_login_tokens(without_url_passwords(text))
