"""Linking a Telegram account with consent: /start <token> (the deep link ``login`` gave a
Matrix user) asks the Telegram user whether to link their account to that Matrix user, with
two buttons; only their own press on "Link" links it.

Whoever presses Start on a login link used to be linked at once, so a link sent to a chat
admin handed the sender that admin's rights. Now the first account to open a token is bound to
it (the core refuses everyone else), is shown whom it would be linked to, and decides. The
token rides in the buttons' callback data: a modified client may send any data (the Bot API
warns of it), which is why the binding, not the button, decides.
"""

from __future__ import annotations

import logging

from telegram import (
    Bot,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyParameters,
)
from telegram.error import TelegramError

from bridge.network.interface import BridgeContext, LinkRefused

from .answers import answer, answer_press
from .people import People

log = logging.getLogger("connectors.telegram.login")

# callback_data of the two buttons: "login:yes:<token>" and "login:no:<token>" (tokens are 38
# characters, within the 64 bytes Telegram allows).
PREFIX = "login:"
_YES, _NO = "yes", "no"


class LoginConsent:
    def __init__(self, bot: Bot, bridge: BridgeContext, people: People) -> None:
        self._bot = bot
        self._bridge = bridge
        self._people = people

    async def opened(self, message: Message, token: str) -> None:
        """/start with a login token: bind it to the sender and ask them."""
        if message.from_user is None:
            return
        user = self._people.user(message.from_user)
        try:
            mxid = await self._bridge.open_login(token, user)
        except LinkRefused as refusal:
            await answer(self._bot, message, str(refusal))
            return
        keyboard = InlineKeyboardMarkup(
            [
                [InlineKeyboardButton("Link", callback_data=f"{PREFIX}{_YES}:{token}")],
                [InlineKeyboardButton("Do not link", callback_data=f"{PREFIX}{_NO}:{token}")],
            ]
        )
        text = (
            f"Link your Telegram account to the Matrix user {mxid}? Only if that is you: "
            f"{mxid} could then do in Matrix what your account may do in bridged chats (bridge "
            "the chats you administer, for one)."
        )
        try:
            await self._bot.send_message(
                message.chat.id,
                text,
                reply_markup=keyboard,
                reply_parameters=ReplyParameters(
                    message.message_id, allow_sending_without_reply=True
                ),
            )
        except TelegramError as error:
            # The token stays the sender's: pressing Start again asks again.
            log.warning("Could not ask %d to confirm a link: %s", message.chat.id, error)

    @staticmethod
    def is_answer(query: CallbackQuery) -> bool:
        return (query.data or "").startswith(PREFIX)

    async def answered(self, query: CallbackQuery) -> None:
        """A press on "Link" or "Do not link": the core decides whether it is the presser's to
        make; the presser sees the outcome in place of the question, or why not."""
        action, _, token = (query.data or "").removeprefix(PREFIX).partition(":")
        user = self._people.user(query.from_user)
        try:
            if action == _YES:
                mxid = await self._bridge.link_account(token, user)
                outcome = (
                    f"Your Telegram account is now linked to the Matrix user {mxid}. Unlink it "
                    "with logout in Matrix."
                )
            elif action == _NO:
                mxid = await self._bridge.decline_login(token, user)
                outcome = f"Not linked: your Telegram account stays apart from {mxid}."
            else:
                await answer_press(self._bot, query)
                return
        except LinkRefused as refusal:
            # The message stays as it is (a second tap must not hide the first one's outcome).
            await answer_press(self._bot, query, str(refusal), alert=True)
            return
        await answer_press(self._bot, query, "Linked" if action == _YES else "Not linked")
        if query.message is None:
            return
        try:
            await self._bot.edit_message_text(
                outcome, query.message.chat.id, query.message.message_id
            )
        except TelegramError as error:
            log.warning("Could not show the outcome of a link in %d: %s", query.from_user.id, error)
            await self._tell(query.from_user.id, outcome)

    async def _tell(self, chat_id: int, text: str) -> None:
        try:
            await self._bot.send_message(chat_id, text)
        except TelegramError as error:
            log.warning("Could not tell %d the outcome of a link: %s", chat_id, error)
