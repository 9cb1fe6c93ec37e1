"""What Telegram users share that is neither text nor a file (locations, venues, contacts,
dice, polls), as Matrix content, and the header a forwarded message carries."""

from __future__ import annotations

import html
from dataclasses import replace

from telegram import (
    Message,
    MessageOrigin,
    MessageOriginChannel,
    MessageOriginChat,
    MessageOriginHiddenUser,
    MessageOriginUser,
)

from bridge.network.events import MessageContent, PollStart


def shared_content(message: Message) -> MessageContent | None:
    if message.forum_topic_created is not None:
        # The first message of a topic: in Matrix, the root of the topic's thread.
        return MessageContent(f"Topic: {message.forum_topic_created.name}", msgtype="m.notice")
    if message.venue is not None:
        venue = message.venue
        where = venue.location
        text = f"{venue.title}, {venue.address}" if venue.address else venue.title
        return _location(text, where.latitude, where.longitude)
    if message.location is not None:
        where = message.location
        return _location("Location", where.latitude, where.longitude)
    if message.contact is not None:
        contact = message.contact
        name = " ".join(part for part in (contact.first_name, contact.last_name) if part)
        return MessageContent(f"Contact: {name}, {contact.phone_number}")
    if message.dice is not None:
        return MessageContent(f"{message.dice.emoji} rolled {message.dice.value}")
    if message.poll is not None:
        poll = message.poll
        answers = tuple(option.text for option in poll.options)
        listed = "\n".join(f"{index}. {answer}" for index, answer in enumerate(answers, 1))
        return MessageContent(
            f"Poll: {poll.question}\n{listed}",
            poll=PollStart(
                poll.question,
                answers,
                max_selections=len(answers) if poll.allows_multiple_answers else 1,
                disclosed=not poll.is_anonymous,
            ),
        )
    return None


def _location(text: str, latitude: float, longitude: float) -> MessageContent:
    geo = f"geo:{latitude:.6f},{longitude:.6f}"
    return MessageContent(f"{text} ({geo})", msgtype="m.location", geo_uri=geo)


def with_forward_header(message: Message, content: MessageContent | None) -> MessageContent | None:
    """A forwarded message says where it came from, above its text or caption."""
    origin = message.forward_origin
    if content is None or origin is None:
        return content
    name = origin_name(origin)
    plain = f"Forwarded from {name}"
    rich = f"<i>Forwarded from <b>{html.escape(name)}</b></i>"
    if not content.body:
        return replace(content, body=plain, html=rich)
    body_html = content.html if content.html is not None else _as_html(content.body)
    return replace(content, body=f"{plain}:\n{content.body}", html=f"{rich}:<br/>{body_html}")


def origin_name(origin: MessageOrigin) -> str:
    match origin:
        case MessageOriginUser(sender_user=user):
            return user.full_name
        case MessageOriginHiddenUser(sender_user_name=name):
            return name
        case MessageOriginChat(sender_chat=chat, author_signature=signature):
            title = chat.title or chat.full_name or "a chat"
            return f"{title} ({signature})" if signature else title
        case MessageOriginChannel(chat=chat, author_signature=signature):
            title = chat.title or "a channel"
            return f"{title} ({signature})" if signature else title
        case _:
            return "elsewhere"


def _as_html(text: str) -> str:
    return html.escape(text).replace("\n", "<br/>")
