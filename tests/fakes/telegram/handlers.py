"""The Bot API methods the fake implements, by their schema name."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from . import methods_bot, methods_business, methods_chats, methods_media, methods_messages
from .events import Simulation

Handler = Callable[[Simulation, dict[str, Any]], Awaitable[Any]]

HANDLERS: dict[str, Handler] = {
    "getMe": methods_bot.get_me,
    "getUpdates": methods_bot.get_updates,
    "setWebhook": methods_bot.set_webhook,
    "deleteWebhook": methods_bot.delete_webhook,
    "getWebhookInfo": methods_bot.get_webhook_info,
    "setMyCommands": methods_bot.set_my_commands,
    "getMyCommands": methods_bot.get_my_commands,
    "deleteMyCommands": methods_bot.delete_my_commands,
    "close": methods_bot.close,
    "logOut": methods_bot.log_out,
    "sendMessage": methods_messages.send_message,
    "sendLocation": methods_messages.send_location,
    "editMessageCaption": methods_messages.edit_message_caption,
    "sendChatAction": methods_messages.send_chat_action,
    "editMessageText": methods_messages.edit_message_text,
    "editMessageReplyMarkup": methods_messages.edit_message_reply_markup,
    "answerCallbackQuery": methods_messages.answer_callback_query,
    "deleteMessage": methods_messages.delete_message,
    "setMessageReaction": methods_messages.set_message_reaction,
    "getChat": methods_chats.get_chat,
    "getChatMember": methods_chats.get_chat_member,
    "getChatAdministrators": methods_chats.get_chat_administrators,
    "getChatMemberCount": methods_chats.get_chat_member_count,
    "setChatTitle": methods_chats.set_chat_title,
    "setChatDescription": methods_chats.set_chat_description,
    "leaveChat": methods_chats.leave_chat,
    "getFile": methods_media.get_file,
    "getUserProfilePhotos": methods_media.get_user_profile_photos,
    "getBusinessConnection": methods_business.get_business_connection,
    "readBusinessMessage": methods_business.read_business_message,
    "deleteBusinessMessages": methods_business.delete_business_messages,
    **{name: methods_media.media_sender(name) for name in methods_media.MEDIA_METHODS},
}
