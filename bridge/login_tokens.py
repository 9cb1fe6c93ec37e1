"""What a login token looks like: ``login-`` and 32 of A-Za-z0-9_- (it fits a Telegram deep
link's start parameter). Whoever presents one while it is waiting links their remote account to
the Matrix user it was made for, so it is a secret:

- at rest only its SHA-256 is kept (192 random bits need no salt or slow hash: nobody can try
  them all), so a copy of the database links nobody;
- in logs it is recognised by its shape, so it is redacted wherever a line carries it (the
  /start update, the notice with the link) without the log filter holding a list of tokens,
  also after a restart, when nothing knows the tokens any more.
"""

from __future__ import annotations

import hashlib
import re
import secrets

PREFIX = "login-"
LOGIN_TOKEN = re.compile(rf"(?<![A-Za-z0-9_-]){PREFIX}[A-Za-z0-9_-]{{32}}")


def new_login_token() -> str:
    return PREFIX + secrets.token_urlsafe(24)


def token_hash(token: str) -> str:
    """What the database keeps of a token (hex SHA-256)."""
    return hashlib.sha256(token.encode()).hexdigest()
