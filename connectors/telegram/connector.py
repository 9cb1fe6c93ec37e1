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
from telegram.error import BadRequest, InvalidToken, NetworkError, TelegramError

from bridge.commands.types import Command
from bridge.errors import StartupError
from bridge.health import HealthCheck, Probe, Supervisor
from bridge.log_context import log_context
from bridge.network.capabilities import FetchedMedia
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
from .bot_commands import BotCommands
from .business import BusinessChats, connection_of
from .calls import telegram_call
from .config import TelegramConfig, load_config
from .direct import DirectChats
from .file_sending import UPLOAD_LIMIT
from .http import AiohttpRequest
from .lookup import MessageFinder, Sightings
from .media import fetch
from .pacing import Limits, Pacer
from .people import People, chat_info, is_present
from .polling import ALLOWED_UPDATES, CHECK_NAME, Intake, Poller
from .reactions import set_reaction, telegram_reaction
from .sending import delete_messages, edit_message, send_message
from .updates import UpdateTranslator
from .webhook import WebhookBacklog, WebhookReceiver

log = logging.getLogger("connectors.telegram")

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
        config = self._require_config()
        self._bridge = bridge
        limits = config.rate_limits
        self._pacer = Pacer(
            Limits(limits.overall_per_second, limits.group_per_minute, limits.private_per_second)
        )
        timeout = config.request_timeout
        self._bot = Bot(
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
        try:
            await self._bot.initialize()
            self._me = self._bot.bot
        except InvalidToken:
            raise StartupError(
                "Telegram refused telegram.bot_token: copy the token of your bot from @BotFather "
                "(/mybots, API Token)"
            ) from None
        except NetworkError as error:
            raise StartupError(
                f"Cannot reach the Telegram Bot API at telegram.api_url ({config.api_url}): {error}"
            ) from None
        if not self._me.can_read_all_group_messages:
            log.warning(
                "The bot @%s has privacy mode on: in groups it sees only commands and replies to "
                "it. Turn it off in @BotFather (/mybots, Bot Settings, Group Privacy, Turn off) "
                "and add the bot to each group again, or make the bot an admin of the group.",
                self._me.username,
            )
        self._people = People(self._bot)
        self._translator = UpdateTranslator(
            self._people,
            bridge,
            self._me.id,
            self._sightings,
            animated_stickers=config.animated_stickers != "none",
        )
        backlog: Intake | WebhookBacklog = self._intake
        if config.mode == "webhook":
            backlog = self._webhook_backlog = WebhookBacklog(self._bot)
            self._webhook = WebhookReceiver(
                self._bot, config.webhook.path, config.webhook.secret_token, self._take_posted
            )
        self._finder = MessageFinder(self._bot, self._pacer, self._sightings, backlog)
        self._commands = BotCommands(self._bot, self._me, bridge, self._people, self.get_chat_info)
        self._direct = DirectChats(self._bot, bridge)
        self._business = BusinessChats(self._bot, bridge)
        await self._business.load()
        log.info("Connected to Telegram as @%s", self._me.username)

    def http_routes(self) -> Sequence[web.RouteDef]:
        """The webhook's route, in webhook mode (called after ``start``)."""
        return self._webhook.routes() if self._webhook is not None else []

    async def start_receiving(self) -> None:
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

    async def stop_receiving(self) -> None:
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
        assert self._me is not None
        return f"https://t.me/{self._me.username}?start={token}"

    async def administers(self, portal: PortalKey, user: RemoteUserID) -> bool:
        assert self._commands is not None
        return await self._commands.administers(portal, user)

    async def status(self) -> str:
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
            )
        except BadRequest as error:
            raise StartupError(
                f"Telegram refused telegram.webhook.url ({config.webhook.url}): {error.message}"
            ) from None
        except TelegramError as error:
            raise StartupError(f"Could not set the webhook at Telegram: {error.message}") from None
        log.info("Telegram posts updates to %s", config.webhook.url)

    async def _take_posted(self, updates: Sequence[Update]) -> None:
        """An update the webhook got: stored when this returns (no offset to move)."""
        await self._take_updates(updates, lambda _update_id: None)

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
            events = await self._translator.events(update)
            return await business.route(update, events, self._require_bot().id)
        events = await self._translator.events(update)
        if direct is not None and direct.is_direct(update):
            return await direct.route(update, events)
        return events

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
        if self._finder is None:
            raise DeliveryError("the bridge is not connected to Telegram yet")
        return send_message(
            self._bot_for(portal),
            self._require_pacer(),
            portal,
            message,
            self._pill_target,
            progress,
            self._finder,
        )

    def edit_message(
        self, portal: PortalKey, edit: MatrixEdit, progress: SendProgress
    ) -> AsyncIterator[SendingPart | SentMessage | PartRemoved]:
        if self._finder is None:
            raise DeliveryError("the bridge is not connected to Telegram yet")
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
        bot = self._require_bot()
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

    async def fetch_media(self, media: MediaFile) -> FetchedMedia:
        setting = self._require_config().animated_stickers
        return await fetch(self._require_bot(), media, None if setting == "none" else setting)

    async def fetch_avatar(self, avatar: AvatarRef) -> tuple[bytes, str]:
        file = await self._require_bot().get_file(avatar.key)
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
        bot = self._require_bot()
        await telegram_call(
            self._require_pacer(),
            ids.chat_id_of(portal),
            lambda chat: bot.set_chat_title(chat, name),
        )

    async def set_chat_topic(self, portal: PortalKey, topic: str) -> None:
        bot = self._require_bot()
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
        bot = self._require_bot()
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
        if self._bot is None:
            raise DeliveryError("the bridge is not connected to Telegram yet")
        return self._bot

    def _require_pacer(self) -> Pacer:
        if self._pacer is None:
            raise DeliveryError("the bridge is not connected to Telegram yet")
        return self._pacer

    def _require_bridge(self) -> BridgeContext:
        if self._bridge is None:
            raise RuntimeError("the Telegram connector was not started")
        return self._bridge
