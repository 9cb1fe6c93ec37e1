"""Finding a message the bridge may have sent before it crashed or lost Telegram's answer.

Telegram's sendMessage has no idempotency key, and the Bot API cannot read a chat's history.
What a bot can do is edit its own messages and nobody else's. From the newest message the
bridge knew when the part left, the next ids are tried in turn, each first without a change:
editMessageReplyMarkup without a keyboard answers "message is not modified" for the bot's own
message (which has none), "message can't be edited" for anybody else's and "message to edit not
found" past the end of the chat, and shows nothing to anyone. Only the bot's own messages then
get a button, which answers with their text and is taken off again at once. Ids the bridge
knows are not the part (messages it mapped, others' messages it saw in updates) are skipped.

A look-up has a budget of requests and of time; past it the part counts as not found (it is
sent, and may then be in the chat twice). A probe Telegram answers with a flood limit or not at
all says nothing about the part: the look-up stops with TemporaryFailure and is tried again,
whole, after the wait.
"""

from __future__ import annotations

import asyncio
import logging
import time
from array import array
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal, Protocol

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError

from bridge.network.ids import RemoteMessageID
from bridge.network.interface import TemporaryFailure

from .pacing import Pacer, retry_seconds

log = logging.getLogger("connectors.telegram.lookup")

# What one look-up may spend: requests (each probe, button and taking it off counts), and
# seconds in all (its waits for the flood limit and for the poller included).
MAX_PROBES = 20
MAX_SECONDS = 60.0
# How long to wait for the poller to take the updates Telegram holds, so that the ids of what
# others wrote meanwhile are known (and skipped) before probing.
CATCH_UP_WAIT = 10.0
# How many missing ids in a row end the chat (a deleted message leaves a gap too), and how many
# ids past the start to go through at most (skipped ones included).
END_AFTER_MISSING = 3
MAX_IDS = 2000
# What Sightings keeps: the latest ids of the chats heard of last.
SIGHTED_CHATS = 1000
SIGHTED_PER_CHAT = 1000
_PROBE = InlineKeyboardMarkup([[InlineKeyboardButton("…", callback_data="bridge-lookup")]])


class Sightings:
    """Ids of messages in each chat that are not the bot's: others' messages seen in updates,
    and ids a probe found another's. Bounded: the highest ``per_chat`` ids (the latest, as
    Telegram numbers a chat's messages in order) of the ``chats`` chats heard of last. Each
    chat's ids are a sorted array of 8-byte numbers: a million ids take 8 MB, not a hundred."""

    def __init__(self, chats: int | None = None, per_chat: int | None = None) -> None:
        self._chats: OrderedDict[int, array[int]] = OrderedDict()
        self._max_chats = chats if chats is not None else SIGHTED_CHATS
        self._per_chat = per_chat if per_chat is not None else SIGHTED_PER_CHAT

    def add(self, chat_id: int, message_id: int) -> None:
        ids = self._chats.get(chat_id)
        if ids is None:
            ids = self._chats[chat_id] = array("q")
            if len(self._chats) > self._max_chats:
                self._chats.popitem(last=False)
        self._chats.move_to_end(chat_id)
        at = bisect_left(ids, message_id)
        if at < len(ids) and ids[at] == message_id:
            return
        ids.insert(at, message_id)
        if len(ids) > self._per_chat:
            del ids[0]

    def __contains__(self, chat_and_message: tuple[int, int]) -> bool:
        chat_id, message_id = chat_and_message
        ids = self._chats.get(chat_id)
        if ids is None:
            return False
        at = bisect_left(ids, message_id)
        return at < len(ids) and ids[at] == message_id


Verdict = Literal["own", "others", "missing", "unclear"]


@dataclass
class _Search:
    chat_id: int
    wanted: str
    deadline: float
    # The Message field of the file the part carries (photo, document...); None for a text.
    media: str | None = None
    probes: int = 0

    def matches(self, shown: Message) -> bool:
        if self.media is None:
            return shown.text is not None and shown.text.strip() == self.wanted
        has_file = bool(getattr(shown, self.media, None))
        return has_file and (shown.caption or "").strip() == self.wanted


class _OverBudget(Exception):
    pass


class _CannotLook(Exception):
    """Telegram refuses probes in this chat (the bot was removed, say): the send that follows
    meets the same refusal and tells it."""


class Backlog(Protocol):
    async def wait_caught_up(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until the updates Telegram holds are taken; whether
        they are."""


class MessageFinder:
    def __init__(self, bot: Bot, pacer: Pacer, sightings: Sightings, intake: Backlog) -> None:
        self._bot = bot
        self._pacer = pacer
        self._sightings = sightings
        self._intake = intake

    async def find(
        self,
        chat_id: int,
        text: str,
        after: RemoteMessageID | None,
        known: Collection[RemoteMessageID],
        what: str,
        media: str | None = None,
    ) -> int | None:
        """The id of the bot's message in ``chat_id`` showing ``text`` (a caption beside the
        file in Message field ``media``, if it is given), past message ``after``
        (the newest the bridge knew when the part left) and not one of ``known``; None if it
        is not there, there is nothing to start from, or the budget ran out first. Raises
        TemporaryFailure (in doubt) when Telegram answers a probe with a flood limit or not at
        all. ``what`` names the part in the log."""
        started = time.monotonic()
        if after is None or not after.isdigit():
            log.info(
                "Look-up of %s in chat %d: nothing to start from (no message of the chat was "
                "known when it left); sending it",
                what,
                chat_id,
            )
            return None
        caught_up = await self._intake.wait_caught_up(CATCH_UP_WAIT)
        waited = time.monotonic() - started
        search = _Search(chat_id, text.strip(), started + MAX_SECONDS, media)

        def line(outcome: str) -> str:
            backlog = "" if caught_up else ", without the updates Telegram still held"
            return (
                f"Look-up of {what} in chat {chat_id}: {outcome}; {search.probes} probes in "
                f"{time.monotonic() - started:.1f} s (waited {waited:.1f} s for updates"
                f"{backlog})"
            )

        try:
            found, outcome = await self._search(search, int(after), known)
        except TemporaryFailure as failure:
            log.info("%s", line(f"interrupted ({failure}); it is looked for again after the wait"))
            raise
        except _OverBudget as over:
            log.warning("%s", line(f"{over}; sending it, so the chat may show it twice"))
            return None
        except _CannotLook as refusal:
            log.info("%s", line(f"cannot look ({refusal}); sending it"))
            return None
        log.info("%s", line(outcome))
        return found

    async def _search(
        self, search: _Search, after: int, known: Collection[RemoteMessageID]
    ) -> tuple[int | None, str]:
        skip = {int(i) for i in known if i.isdigit()}
        missing = 0
        last_seen = after
        for message_id in range(after + 1, after + 1 + MAX_IDS):
            # Sightings grow while the poller takes updates: asked afresh for each id.
            if message_id in skip or (search.chat_id, message_id) in self._sightings:
                missing, last_seen = 0, message_id
                continue
            verdict, shown = await self._probe(search, message_id)
            if verdict == "missing":
                missing += 1
                if missing >= END_AFTER_MISSING:
                    return None, f"not there (the chat ends after message {last_seen})"
                continue
            missing, last_seen = 0, message_id
            if verdict == "others":
                self._sightings.add(search.chat_id, message_id)
            if verdict == "own" and shown is None:
                shown = await self._show(search, message_id)
            if shown is not None and search.matches(shown):
                return message_id, f"found as message {message_id}"
        return None, f"not found within {MAX_IDS} ids past message {after}"

    async def _probe(self, search: _Search, message_id: int) -> tuple[Verdict, Message | None]:
        """Edit the message's keyboard to none: what Telegram answers tells whose it is. A
        message of the bot's that had a keyboard (a look-up's button left by a crash) loses it
        and shows its text."""
        await self._spend(search)
        try:
            edited = await self._bot.edit_message_reply_markup(search.chat_id, message_id)
        except BadRequest as error:
            text = error.message.lower()
            if "message is not modified" in text:
                return "own", None
            if "message to edit not found" in text:
                return "missing", None
            if "message can't be edited" in text:
                return "others", None
            if "chat not found" in text:
                raise _CannotLook(error.message) from None
            log.info("Probing message %d in %d: %s", message_id, search.chat_id, error.message)
            return "unclear", None
        except (RetryAfter, NetworkError) as error:
            raise _passing(error) from None
        except TelegramError as error:
            raise _CannotLook(error.message) from None
        return "own", edited if isinstance(edited, Message) else None

    async def _show(self, search: _Search, message_id: int) -> Message | None:
        """The bot's own message as Telegram shows it, through a button added and taken off
        at once."""
        await self._spend(search, room_for=2)  # the button, and taking it off
        try:
            shown = await self._bot.edit_message_reply_markup(
                search.chat_id, message_id, reply_markup=_PROBE
            )
        except BadRequest as error:
            log.info("Probing message %d in %d: %s", message_id, search.chat_id, error.message)
            return None
        except (RetryAfter, NetworkError) as error:
            # The button may be on: the next look-up's first probe takes it off.
            raise _passing(error) from None
        except TelegramError as error:
            raise _CannotLook(error.message) from None
        await self._take_button_off(search, message_id)
        return shown if isinstance(shown, Message) else None

    async def _take_button_off(self, search: _Search, message_id: int) -> None:
        """Always made (its place in the budget was kept), however long the wait for it."""
        await self._pace(search.chat_id, None)
        search.probes += 1
        try:
            await self._bot.edit_message_reply_markup(search.chat_id, message_id)
        except (RetryAfter, NetworkError) as error:
            if not isinstance(error, BadRequest):
                # Still on: the look-up is tried again, and its first probe takes it off.
                raise _passing(error) from None
            log.warning("Could not take the look-up button off %d: %s", message_id, error)
        except TelegramError as error:
            log.warning("Could not take the look-up button off %d: %s", message_id, error)

    async def _spend(self, search: _Search, room_for: int = 1) -> None:
        """Wait for the flood limit and count one request, if the budget has room for
        ``room_for`` more; _OverBudget when it has not, or the time is up."""
        if search.probes + room_for > MAX_PROBES:
            raise _OverBudget(f"gave up past its budget of {MAX_PROBES} probes")
        await self._pace(search.chat_id, search.deadline)
        search.probes += 1

    async def _pace(self, chat_id: int, deadline: float | None) -> None:
        """Wait for the flood limit here rather than hand the wait to the portal: the portal
        would start the look-up over. Past ``deadline``: _OverBudget."""
        while True:
            if deadline is not None and time.monotonic() >= deadline:
                raise _OverBudget(f"gave up past its budget of {MAX_SECONDS:.0f} s")
            try:
                await self._pacer.before_send(chat_id)
                return
            except TemporaryFailure as wait:
                delay = wait.retry_after if wait.retry_after is not None else 1.0
                if deadline is not None and time.monotonic() + delay >= deadline:
                    raise _OverBudget(f"gave up past its budget of {MAX_SECONDS:.0f} s") from None
                await asyncio.sleep(delay)


def _passing(error: TelegramError) -> TemporaryFailure:
    """A probe's flood limit or lost answer: the part stays in doubt."""
    if isinstance(error, RetryAfter):
        seconds = retry_seconds(error.retry_after)
        return TemporaryFailure(
            f"Telegram's flood limit while looking for a message (it asks to wait {seconds:.0f} s)",
            retry_after=seconds,
            in_doubt=True,
        )
    return TemporaryFailure(
        f"Telegram cannot be reached while looking for a message ({error.message})", in_doubt=True
    )
