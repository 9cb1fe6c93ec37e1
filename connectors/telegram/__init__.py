"""Telegram connector: Bot API glue and the pure helpers it relies on."""

import os

# python-telegram-bot gives RetryAfter.retry_after as a timedelta when asked (and warns about the
# number it gives otherwise); the connector reads either.
os.environ.setdefault("PTB_TIMEDELTA", "1")
