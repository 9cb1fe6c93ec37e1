"""Hypothesis strategies: hostile Telegram entities (the HTML ones are the core's)."""

from __future__ import annotations

from hypothesis import strategies as st

from connectors.telegram.formatting import Entity, EntityType, utf16_len
from tests.bridge.formatting.strategies import texts

_URLS = st.sampled_from(
    [None, "", "https://e.org/?a=1&b=<2>", 'http://x/"q"', "javascript:alert(1)", "tg://user?id=1"]
)
_LANGUAGES = st.sampled_from([None, "", "python", 'a"<b>&'])


@st.composite
def text_with_entities(draw: st.DrawFn) -> tuple[str, list[Entity]]:
    """Any text, and entities that may overlap, run past the end or cut surrogate pairs."""
    text = draw(texts)
    units = utf16_len(text)
    entity = st.builds(
        Entity,
        type=st.sampled_from(EntityType),
        offset=st.integers(-3, units + 3),
        length=st.integers(-2, units + 4),
        url=_URLS,
        user_id=st.one_of(st.none(), st.integers(1, 3)),
        language=_LANGUAGES,
        custom_emoji_id=st.sampled_from([None, "123"]),
        unix_time=st.one_of(st.none(), st.integers(0, 2**31)),
        date_time_format=st.sampled_from([None, "wD", '"']),
    )
    return text, draw(st.lists(entity, max_size=8))
