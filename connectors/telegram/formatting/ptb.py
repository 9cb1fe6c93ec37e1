"""Adapter from python-telegram-bot's MessageEntity: the only module here importing telegram."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import MessageEntity

from .entities import Entity, EntityType


def entities_from_ptb(entities: Sequence[MessageEntity]) -> list[Entity]:
    """Our entities for PTB's; types newer than this module are left out (shown as text)."""
    converted: list[Entity] = []
    for entity in entities:
        try:
            entity_type = EntityType(entity.type)
        except ValueError:
            continue
        converted.append(
            Entity(
                entity_type,
                entity.offset,
                entity.length,
                url=entity.url,
                user_id=entity.user.id if entity.user is not None else None,
                language=entity.language,
                custom_emoji_id=entity.custom_emoji_id,
                unix_time=int(entity.unix_time.timestamp()) if entity.unix_time else None,
                date_time_format=entity.date_time_format,
            )
        )
    return converted
