"""The Telegram connector: a bot on the Bot API, through python-telegram-bot."""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from aiohttp import web
from telegram import Bot, Update, User
from telegram.constants import ChatAction
from telegram.error import BadRequest, InvalidToken, TelegramError

from bridge.commands.types import Command
from bridge.errors import StartupError
from bridge.health import HealthCheck, Probe, Supervisor
from bridge.log_context import log_context
from bridge.network.capabilities import BotContact, FetchedMedia
from bridge.network.events import (
    AvatarRef,
    ChatInfo,
    MediaFile,
    RemoteChatCreate,
    RemoteChatUpdate,
    RemoteEvent,
)
from bridge.network.ids import PortalKey, RemoteMessageID, RemoteUserID
from bridge.network.interface import (
    NOTHING_SENT,
    BridgeContext,
    ChatUnavailable,
    DeliveryError,
    TemporaryFailure,
)
from bridge.network.outgoing import (
    FileKind,
    MatrixEdit,
    MatrixMessage,
    PartRemoved,
    SendingPart,
    SendProgress,
    SentMessage,
)

from . import ids
from .answers import answer
from .bot_commands import BotCommands
from .business import BusinessChats, connection_of
from .calls import BotNotStarted, telegram_call
from .config import TelegramConfig, load_config
from .convert import StickerConverter
from .direct import DirectChats
from .early import EarlyUpdates
from .file_sending import UPLOAD_LIMIT
from .http import AiohttpRequest
from .lookup import MessageFinder, Sightings
from .media import fetch
from .pacing import Limits, Pacer
from .people import People, chat_info, is_present
from .polling import ALLOWED_UPDATES, CHECK_NAME, Intake, Poller
from .reaching import Reaching
from .reactions import set_reaction, telegram_reaction
from .sending import delete_messages, edit_message, send_message
from .unreadable import NOT_READ, UnreadableUpdates
from .updates import UpdateTranslator
from .webhook import WebhookBacklog, WebhookReceiver

log = logging.getLogger("connectors.telegram")

# Posts Telegram may have in flight to the webhook at once (see _set_webhook).
WEBHOOK_CONNECTIONS = 1
# How often webhook mode asks Telegram whether it answers (polling tells that with each poll).
WEBHOOK_CHECK_INTERVAL = 30.0


class TelegramConnector:
    name = "telegram"
    display_name = "Telegram"

    def __init__(self) -> None:
        self._config: TelegramConfig | None = None
        self._bot: Bot | None = None
        self._me: User | None = None
        self._bridge: BridgeContext | None = None
        self._people: People | None = None
        self._translator: UpdateTranslator | None = None
        self._commands: BotCommands | None = None
        self._direct: DirectChats | None = None
        self._business: BusinessChats | None = None
        self._poller: Poller | None = None
        # Webhook mode: updates that came before what they refer to wait at Telegram.
        self._early: EarlyUpdates | None = None
        self._webhook: WebhookReceiver | None = None
        self._webhook_backlog: WebhookBacklog | None = None
        self._webhook_probe: Probe | None = None
        # The poller and the chat resync: restarted if they die, and reported (health).
        self._tasks = Supervisor()
        self._pacer: Pacer | None = None
        # What a look-up for a part in doubt skips, and waits for.
        self._sightings = Sightings()
        self._intake = Intake()
        self._finder: MessageFinder | None = None
        self._stickers = StickerConverter()
        # Telegram answered getMe (and what is built on it is ready); receiving asked for by
        # the bridge, and begun.
        self._connected = False
        self._receiving_wanted = False
        self._receiving = False
        self._reaching = Reaching(self._set_up_or_raise)
        self._unreadable = UnreadableUpdates()

    # Set-up and lifecycle.

    def configure(self, section: Mapping[str, Any]) -> None:
        self._config = load_config(section)

    def secrets(self) -> Sequence[str]:
        config = self._config
        if config is None:
            return []
        secret = config.webhook.secret_token
        return [config.bot_token, secret] if config.mode == "webhook" else [config.bot_token]

    async def start(self, bridge: BridgeContext) -> None:
        """Ask Telegram who the bot is. A refusal of the token ends the start (StartupError);
        Telegram out of reach does not: the bridge starts, and it is asked again until it
        answers (see reaching.py)."""
        config = self._require_config()
        self._bridge = bridge
        limits = config.rate_limits
        self._pacer = Pacer(
            Limits(limits.overall_per_second, limits.group_per_minute, limits.private_per_second)
        )
        timeout = config.request_timeout
        bot = self._bot = Bot(
            config.bot_token,
            base_url=f"{config.api_url}/bot",
            base_file_url=f"{config.api_url}/file/bot",
            request=AiohttpRequest(
                config.bot_token,
                connection_pool_size=16,
                read_timeout=timeout,
                write_timeout=timeout,
                observe=bridge.metrics.remote_call,
            ),
            get_updates_request=AiohttpRequest(
                config.bot_token, read_timeout=timeout, observe=bridge.metrics.remote_call
            ),
        )
        if config.mode == "webhook":
            # Its route is served from the start; closed (503, Telegram posts again later)
            # until receiving begins.
            self._webhook_backlog = WebhookBacklog(bot)
            self._webhook = WebhookReceiver(
                bot, config.webhook.path, config.webhook.secret_token, self._take_posted
            )
        await self._set_up()

    async def _set_up(self) -> None:
        """What needs Telegram's answers, as far as it is not done: who the bot is, then (once
        receiving is asked for) the webhook or polling. Telegram out of reach: asked again in
        the background. Raises StartupError for a refusal."""
        try:
            await self._set_up_or_raise()
        except TelegramError as error:
            self._reaching.failed(error, self._require_config().api_url)

    async def _set_up_or_raise(self) -> None:
        if not self._connected:
            await self._connect()
        if self._receiving_wanted and not self._receiving:
            await self._begin_receiving()

    async def _connect(self) -> None:
        """getMe, and what is built on the bot's identity. Raises StartupError if Telegram
        refuses the token, TelegramError for passing trouble."""
        bot, config, bridge = self._require_bot(), self._require_config(), self._require_bridge()
        try:
            await bot.initialize()
        except InvalidToken:
            raise StartupError(
                "Telegram refused telegram.bot_token: copy the token of your bot from @BotFather "
                "(/mybots, API Token)"
            ) from None
        me = self._me = bot.bot
        if not me.can_read_all_group_messages:
            log.warning(
                "The bot @%s has privacy mode on: in groups it sees only commands and replies to "
                "it. Turn it off in @BotFather (/mybots, Bot Settings, Group Privacy, Turn off) "
                "and add the bot to each group again, or make the bot an admin of the group.",
                me.username,
            )
        self._people = People(bot)
        self._translator = UpdateTranslator(
            self._people,
            bridge,
            me.id,
            self._sightings,
            animated_stickers=config.animated_stickers != "none",
        )
        backlog = self._webhook_backlog or self._intake
        self._finder = MessageFinder(bot, self._require_pacer(), self._sightings, backlog)
        self._commands = BotCommands(bot, me, bridge, self._people, self.get_chat_info)
        self._direct = DirectChats(bot, bridge)
        self._business = BusinessChats(bot, bridge)
        await self._business.load()
        if self._webhook is not None:
            self._early = EarlyUpdates(bridge, self._business.knows)
        self._connected = True
        log.info("Connected to Telegram as @%s", me.username)

    def http_routes(self) -> Sequence[web.RouteDef]:
        """The webhook's route, in webhook mode (called after ``start``)."""
        return self._webhook.routes() if self._webhook is not None else []

    async def start_receiving(self) -> None:
        self._receiving_wanted = True
        if not self._reaching.trying:  # else it begins once Telegram answers
            await self._set_up()

    async def _begin_receiving(self) -> None:
        bot, config = self._require_bot(), self._require_config()
        if self._webhook is not None:
            self._webhook.open()
            await self._set_webhook(bot, config)
            # Nothing is asked of Telegram in webhook mode: ask now and then whether it answers.
            probe = self._webhook_probe = Probe(CHECK_NAME, bot.get_webhook_info)
            self._tasks.start("telegram-check", lambda: probe.run(WEBHOOK_CHECK_INTERVAL))
        else:
            # Telegram refuses getUpdates while a webhook is set (after webhook mode, say);
            # updates it holds wait for the poller.
            await bot.delete_webhook(drop_pending_updates=False)
            self._poller = Poller(bot, self._take_updates, config.poll_timeout, self._intake)
            self._tasks.start("telegram-polling", self._poller.run)
        if config.chat_resync_interval > 0:
            self._tasks.start("telegram-resync", self._resync_periodically)
        self._receiving = True

    async def stop_receiving(self) -> None:
        self._receiving_wanted = False
        await self._reaching.stop()
        await self._tasks.stop()
        if self._poller is not None:
            await self._poller.confirm()
            self._poller = None
        if self._webhook is not None:
            # The webhook stays set: what comes meanwhile waits at Telegram for the next start.
            await self._webhook.close()
        if self._webhook_backlog is not None:
            self._webhook_backlog.stopped()
        self._intake.stopped()

    def health(self) -> list[HealthCheck]:
        """The Bot API as the last poll (or webhook mode's check) found it, and the tasks."""
        if self._reaching.check is not None:
            return [self._reaching.check, *self._tasks.checks()]
        if self._poller is not None:
            return [self._poller.check, *self._tasks.checks()]
        if self._webhook_probe is not None:
            return [self._webhook_probe.check, *self._tasks.checks()]
        return []

    async def stop(self) -> None:
        await self.stop_receiving()
        if self._bot is not None:
            await self._bot.shutdown()

    def login_link(self, token: str) -> str:
        self._require_connected()
        assert self._me is not None
        return f"https://t.me/{self._me.username}?start={token}"

    @property
    def bot_contact(self) -> BotContact | None:
        if self._me is None:
            return None
        username = self._me.username
        return BotContact(f"@{username}", f"https://t.me/{username}", "press Start")

    async def administers(self, portal: PortalKey, user: RemoteUserID) -> bool:
        self._require_connected()
        assert self._commands is not None
        return await self._commands.administers(portal, user)

    async def status(self) -> str:
        trouble = self._reaching.check
        if trouble is not None:
            return f"not connected: {trouble.detail}"
        if self._bot is None or self._me is None:
            return "not connected"
        try:
            await self._bot.get_me()
        except TelegramError as error:
            return f"connection problem: {error}"
        return f"connected as @{self._me.username}"

    def commands(self) -> Sequence[Command]:
        return []

    def limits(self) -> str:
        return (
            "Telegram tells bots nothing of deletions, typing or read receipts (outside "
            "Telegram Business chats), so those do not reach Matrix; reactions reach it only "
            "from chats where the bot is an admin."
        )

    # Updates from Telegram.

    async def _set_webhook(self, bot: Bot, config: TelegramConfig) -> None:
        try:
            await bot.set_webhook(
                config.webhook.url,
                allowed_updates=list(ALLOWED_UPDATES),
                drop_pending_updates=False,
                secret_token=config.webhook.secret_token,
                # Telegram keeps a chat's messages in order, but posts its reactions, member
                # changes and business messages from queues of their own, over up to 40
                # connections at once: one connection takes them one at a time.
                max_connections=WEBHOOK_CONNECTIONS,
            )
        except BadRequest as error:
            raise StartupError(
                f"Telegram refused telegram.webhook.url ({config.webhook.url}): {error.message}"
            ) from None
        log.info("Telegram posts updates to %s", config.webhook.url)

    async def _take_posted(self, updates: Sequence[Update]) -> None:
        """An update the webhook got: stored when this returns (no offset to move), unless
        it came before what it refers to (NotYet, see early.py)."""
        assert self._early is not None  # made on connecting, before the webhook opens
        await self._early.take(updates, lambda given: self._take_updates(given, lambda _: None))

    async def _take_updates(self, updates: Sequence[Update], taken: Callable[[int], None]) -> None:
        """Hand a batch of updates' events to the bridge, stored together; returns once they
        are stored. A command is run in its place, after what came before it is stored;
        ``taken`` hears of each update id up to which everything is stored."""
        assert self._translator is not None and self._commands is not None
        bridge = self._require_bridge()
        batch: list[tuple[RemoteEvent, str]] = []
        last: int | None = None

        async def store_batch() -> None:
            if batch:
                await bridge.submit_all(batch)
                batch.clear()
            if last is not None:
                taken(last)

        for update in updates:
            with log_context(update=update.update_id):
                self._translator.note(update)
                if self._commands.may_handle(update):
                    await store_batch()
                    if await self._commands.handle(update):
                        taken(update.update_id)
                        last = None
                        continue
                events = await self._routed(update)
            for index, event in enumerate(events):
                batch.append((event, ids.update_key(update.update_id, index)))
            last = update.update_id
        await store_batch()

    async def _routed(self, update: Update) -> list[RemoteEvent]:
        """The update's events, each for its portal: a business chat's, a direct chat's."""
        assert self._translator is not None
        business, direct = self._business, self._direct
        if business is not None and business.is_business(update):
            if update.business_connection is not None:
                await business.connection_changed(update.business_connection)
                return []
            events = await self._read(update)
            return await business.route(update, events, self._require_bot().id)
        events = await self._read(update)
        if direct is not None and direct.is_direct(update):
            return await direct.route(update, events)
        return events

    async def _read(self, update: Update) -> list[RemoteEvent]:
        """The update's events; none (its sender told) once reading it failed for a reason of
        its own a few times (unreadable.py)."""
        assert self._translator is not None
        try:
            return await self._translator.events(update)
        except Exception as error:
            if not self._unreadable.skip(update.update_id, error):
                raise  # the batch is taken again from this update
            log.exception("Update %d cannot be read; skipped", update.update_id)
            message = update.effective_message
            if message is not None:
                await answer(self._require_bot(), message, NOT_READ)
            return []

    async def _resync_periodically(self) -> None:
        """Telegram sends no update when a chat's description changes: re-read bridged chats."""
        config, bridge = self._require_config(), self._require_bridge()
        while True:
            await asyncio.sleep(config.chat_resync_interval)
            for portal in await bridge.bridged_chats():
                try:
                    info = await self.get_chat_info(portal)
                except ChatUnavailable:
                    continue
                except TelegramError as error:
                    log.warning("Could not re-read chat %s: %s", portal.chat_id, error)
                    continue
                update = RemoteChatUpdate(
                    portal, None, name=info.name, topic=info.topic, avatar=info.avatar
                )
                await bridge.submit(update, f"resync:{portal.chat_id}:{time.time_ns()}")

    # Requests from the bridge.

    def send_message(
        self, portal: PortalKey, message: MatrixMessage, progress: SendProgress = NOTHING_SENT
    ) -> AsyncIterator[SendingPart | SentMessage]:
        self._require_connected()
        assert self._finder is not None
        return self._naming_the_bot(
            send_message(
                self._bot_for(portal),
                self._require_pacer(),
                portal,
                message,
                self._pill_target,
                progress,
                self._finder,
            )
        )

    async def _naming_the_bot(
        self, steps: AsyncIterator[SendingPart | SentMessage]
    ) -> AsyncIterator[SendingPart | SentMessage]:
        """The steps of a send, with a refusal for a user who never started the bot telling
        the Matrix sender which bot they are to open."""
        try:
            async for step in steps:
                yield step
        except BotNotStarted:
            contact = self.bot_contact
            if contact is None:
                raise
            raise DeliveryError(
                "they have not started a chat with the bridge bot in Telegram yet: ask them to "
                f"{contact.instructions()}"
            ) from None

    def edit_message(
        self, portal: PortalKey, edit: MatrixEdit, progress: SendProgress
    ) -> AsyncIterator[SendingPart | SentMessage | PartRemoved]:
        self._require_connected()
        assert self._finder is not None
        return edit_message(
            self._bot_for(portal),
            self._require_pacer(),
            portal,
            edit,
            self._pill_target,
            progress,
            self._finder,
        )

    async def get_chat_info(self, portal: PortalKey) -> ChatInfo:
        """The chat, if the bot is in it (a chat the bot cannot read cannot be bridged)."""
        try:
            bot = self._require_connected()
        except TemporaryFailure as failure:
            raise ChatUnavailable(f"{failure}; try again later") from None
        try:
            chat_id = ids.chat_id_of(portal)
        except ValueError:
            raise ChatUnavailable(f"{portal.chat_id} is not a Telegram chat id") from None
        try:
            chat = await bot.get_chat(chat_id)
            membership = await bot.get_chat_member(chat_id, bot.id)
        except TelegramError as error:
            raise ChatUnavailable(f"Telegram says: {error.message}") from None
        if not is_present(membership):
            raise ChatUnavailable("the bot is not a member of that chat; add it to the chat first")
        return chat_info(chat)

    @property
    def file_kinds(self) -> frozenset[FileKind]:
        return frozenset(("image", "file", "video", "audio", "voice", "sticker"))

    @property
    def max_file_size(self) -> int:
        return UPLOAD_LIMIT

    @property
    def sends_locations(self) -> bool:
        return True

    async def show_typing(self, portal: PortalKey) -> None:
        await self._bot_for(portal).send_chat_action(ids.chat_id_of(portal), ChatAction.TYPING)

    def reaction_key(self, key: str) -> str | None:
        return telegram_reaction(key)

    async def set_reaction(
        self, portal: PortalKey, message_id: RemoteMessageID, emoji: str | None
    ) -> None:
        await set_reaction(self._bot_for(portal), self._require_pacer(), portal, message_id, emoji)

    async def delete_messages(
        self, portal: PortalKey, message_ids: Sequence[RemoteMessageID]
    ) -> None:
        await delete_messages(self._bot_for(portal), self._require_pacer(), portal, message_ids)

    async def fetch_media(self, media: MediaFile, sticker: bool = False) -> FetchedMedia:
        setting = self._require_config().animated_stickers
        convert = setting if sticker and setting != "none" else None
        return await fetch(self._require_connected(), media, convert, self._stickers)

    async def user_avatar(self, user: RemoteUserID) -> AvatarRef | None:
        try:
            user_id = int(user)
        except ValueError:
            return None  # a signature's ghost: its picture is not a user's
        if user_id < 0 or self._people is None:
            return None  # a channel's or group's ghost
        return await self._people.profile_photo(user_id)

    async def fetch_avatar(self, avatar: AvatarRef) -> tuple[bytes, str]:
        file = await self._require_connected().get_file(avatar.key)
        data = bytes(await file.download_as_bytearray())
        mime_type = mimetypes.guess_type(file.file_path or "")[0] or "image/jpeg"
        return data, mime_type

    async def portal_created(
        self, portal: PortalKey, room_id: str, alias: str | None, request: RemoteChatCreate
    ) -> None:
        if request.request_id is None:
            return
        assert self._commands is not None
        await self._commands.answer_bridged(portal, alias, request)

    async def set_chat_name(self, portal: PortalKey, name: str) -> None:
        bot = self._require_connected()
        await telegram_call(
            self._require_pacer(),
            ids.chat_id_of(portal),
            lambda chat: bot.set_chat_title(chat, name),
        )

    async def set_chat_topic(self, portal: PortalKey, topic: str) -> None:
        bot = self._require_connected()
        await telegram_call(
            self._require_pacer(),
            ids.chat_id_of(portal),
            lambda chat: bot.set_chat_description(chat, topic),
        )

    def _pill_target(self, mxid: str) -> int | None:
        remote = self._require_bridge().remote_user_of(mxid)
        if remote is None:
            return None
        try:
            user_id = int(remote)
        except ValueError:
            return None  # a channel's or signature's ghost: not a user to mention
        return user_id if user_id > 0 else None

    def _require_config(self) -> TelegramConfig:
        if self._config is None:
            raise RuntimeError("the Telegram connector was not configured")
        return self._config

    def _bot_for(self, portal: PortalKey) -> Bot:
        """The bot as it acts in the portal's chat (for a business account, in its chats)."""
        bot = self._require_connected()
        return self._business.bot_for(portal) if self._business is not None else bot

    def sends_as(self, portal: PortalKey, mxid: str) -> bool | None:
        return self._business.sends_as(portal, mxid) if self._business is not None else None

    async def mark_read(self, portal: PortalKey, reader: str, up_to: RemoteMessageID) -> None:
        business = self._business
        if business is None or connection_of(portal) is None:
            return  # Telegram takes read markers from bots only in business chats

        async def read(_chat: int) -> None:
            await business.mark_read(portal, reader, up_to)

        await telegram_call(self._require_pacer(), ids.chat_id_of(portal), read)

    def _require_bot(self) -> Bot:
        """The bot as made at start (maybe not connected yet: see ``_require_connected``)."""
        if self._bot is None:
            raise RuntimeError("the Telegram connector was not started")
        return self._bot

    def _require_connected(self) -> Bot:
        """The bot, once Telegram answered; until then, a request waits (TemporaryFailure:
        what is for Telegram stays in its chat's queue, in order)."""
        if not self._connected:
            trouble = self._reaching.check
            reason = f" ({trouble.detail})" if trouble is not None else ""
            raise TemporaryFailure(f"the bridge is not connected to Telegram yet{reason}")
        return self._require_bot()

    def _require_pacer(self) -> Pacer:
        if self._pacer is None:
            raise RuntimeError("the Telegram connector was not started")
        return self._pacer

    def _require_bridge(self) -> BridgeContext:
        if self._bridge is None:
            raise RuntimeError("the Telegram connector was not started")
        return self._bridge
