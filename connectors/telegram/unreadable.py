"""Updates the bridge cannot read. Reading an update (updates.py) asks Telegram at most; when it
fails for a reason of the update's own (a bug in reading it, a refusal Telegram gives for it),
asking again fails again, and polling would ask from that update on for ever (Telegram would
post it again for ever): no chat of the bot would get anything more. Such an update is tried a
few times, then skipped, and its sender told. Telegram out of reach is waited out as before."""

from __future__ import annotations

from telegram.error import NetworkError, RetryAfter

from bridge.lru import BoundedDict

# Attempts at reading one update before it is skipped (a bug fails the same way each time).
ATTEMPTS = 3
NOT_READ = (
    "This message could not be bridged to Matrix: the bridge could not read it (its log says why)."
)


class UnreadableUpdates:
    def __init__(self) -> None:
        self._failures: BoundedDict[int, int] = BoundedDict(1_000)

    def skip(self, update_id: int, error: BaseException) -> bool:
        """Whether to skip the update now that reading it failed with ``error`` once more."""
        if isinstance(error, NetworkError | RetryAfter):
            return False  # Telegram is away or asks to wait: it passes
        failures = self._failures.get(update_id, 0) + 1
        self._failures[update_id] = failures
        return failures >= ATTEMPTS
