"""Ghost intents, kept for the senders seen lately.

Making a ghost's intent takes a fraction of a millisecond, so the bridge keeps those of recent
senders; but each costs about 13 KiB (mautrix wraps dozens of its methods per instance), and
mautrix itself keeps, per user and for the life of the process, the user's child API object and
that object's logger (``mau.as.api.<user id>``, in logging's own registry). So the bridge keeps
a bounded number of intents, and when it lets one go, mautrix's leftovers of that user go too:
otherwise every new sender would cost memory for good.
"""

from __future__ import annotations

import logging

from mautrix.appservice import AppServiceAPI, IntentAPI
from mautrix.types import UserID

from ..lru import BoundedDict

# About 3 MiB when full; a sender not among them costs a new intent (well under a millisecond).
MAX_INTENTS = 256


class GhostIntents:
    def __init__(self, api: AppServiceAPI, bot: IntentAPI, size: int | None = None) -> None:
        self._api = api
        self._bot = bot
        self._kept: BoundedDict[str, IntentAPI] = BoundedDict(
            size if size is not None else MAX_INTENTS, on_evict=self._let_go
        )

    def __len__(self) -> int:
        return len(self._kept)

    def get(self, mxid: str) -> IntentAPI:
        intent = self._kept.touch(mxid)
        if intent is None:
            intent = self._kept[mxid] = self._bot.user(UserID(mxid))
        return intent

    def _let_go(self, mxid: str, intent: IntentAPI) -> None:
        # The intent keeps working for whoever still holds it; the next one for this user gets
        # a new child API (only its transaction counter matters, and that is the parent's).
        self._api.children.pop(mxid, None)
        forget_logger(intent.api.log)


def forget_logger(logger: logging.Logger) -> None:
    """Take ``logger`` out of logging's registry (which otherwise keeps it for good), with the
    placeholders made for its dotted name that hold nothing else. Loggers made afterwards under
    the same name are new objects: only the registry's entry and its links go."""
    registry = logging.Logger.manager.loggerDict
    if registry.get(logger.name) is logger:
        del registry[logger.name]
    name = logger.name
    while "." in name:
        name = name.rpartition(".")[0]
        holder = registry.get(name)
        if not isinstance(holder, logging.PlaceHolder):
            break  # a real logger (the parent): it links to no child
        holder.loggerMap.pop(logger, None)
        if not holder.loggerMap:
            del registry[name]
