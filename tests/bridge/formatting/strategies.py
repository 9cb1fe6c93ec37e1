"""Hypothesis strategies: tricky text, and messy Matrix HTML."""

from __future__ import annotations

import html

from hypothesis import strategies as st

from bridge.formatting import Style, StyledText, StyleKind

# Characters that stress the converters most: markup, newlines, astral and joining ones.
_TRICKY = "<>&\"'\n\r\t \x00\x07\x85\xa0😀👨‍👩‍👧🇺🇦𝄞e\u0301\u200d\ufe0f/:@#"
characters = st.one_of(
    st.characters(codec="utf-8"),  # every character but lone surrogates
    st.sampled_from(_TRICKY),
)
texts = st.text(characters, max_size=40)

_TAGS = [
    *("b", "strong", "i", "em", "u", "ins", "s", "del", "strike", "code", "pre", "p", "div"),
    *("span", "font", "blockquote", "h1", "h4", "ul", "ol", "li", "a", "mx-reply", "script"),
    *("style", "table", "tr", "td", "sup", "details", "summary", "x-unknown"),
]
_ATTRIBUTES = {
    "a": [
        'href="https://e.org/?a=1&amp;b=%3C"',
        'href="https://matrix.to/#/@ghost:example.org"',
        'href="https://matrix.to/#/@human:example.org"',
        'href="matrix:u/ghost:example.org"',
        'href="javascript:alert(1)"',
        'href="tg://user?id=5"',
        'href="mailto:a@b.c"',
        'href=" https://e.org/a b"',
        'href="https://e.org/&quot;"',
        "",
    ],
    "span": ["data-mx-spoiler", 'data-mx-spoiler="why"', 'data-mx-color="#fff"'],
    "code": ['class="language-python"', 'class="language-a&quot;b"', 'class="x"'],
    "ol": ['start="3"', 'start="x"', 'start="-1"'],
    "blockquote": ["expandable"],
}
# Fragments that break the markup on purpose.
_BROKEN = st.sampled_from(
    [
        "<",
        ">",
        "&",
        "&amp",
        "&#0;",
        "&#xD800;",
        "&#x1F600;",
        "&nbsp;",
        "</b>",
        "<b>",
        "<i",
        "</p>",
        "<p>",
        "<br>",
        "<br/>",
        "</br>",
        "<hr>",
        "<img alt='a<b'>",
        '<img src="mxc://a/b">',
        "<!-- c -->",
        "<![CDATA[x]]>",
        "<![<",
        "<![if x]>",
        "<!doctype html>",
        "<?pi?>",
        "<mx-reply>",
        "</mx-reply>",
        "<script>",
    ]
)
_leaves = st.one_of(texts.map(html.escape), texts, _BROKEN)


@st.composite
def _element(draw: st.DrawFn, children: st.SearchStrategy[str]) -> str:
    tag = draw(st.sampled_from(_TAGS))
    attributes = draw(st.sampled_from(["", *_ATTRIBUTES.get(tag, [])]))
    inner = "".join(draw(st.lists(children, max_size=4)))
    closing = draw(st.sampled_from([f"</{tag}>", f"</{tag}>", ""]))
    return f"<{tag}{' ' if attributes else ''}{attributes}>{inner}{closing}"


matrix_html = st.recursive(_leaves, _element, max_leaves=30)

# Markup soup: tag and declaration openers in any order, for "never raises".
soup = st.lists(
    st.sampled_from(
        [*"<>!&;#x[]-/?='\" abp\n", "<!--", "<![", "]]>", "<?", "</", "&#", "<b", "<a href="]
    ),
    max_size=60,
).map("".join)

_KINDS = list(StyleKind)
_URLS = [None, "", "https://e.org/?a=1&b=<2>", 'http://x/"q"', "javascript:alert(1)", "tg://user"]
_USERS = [None, "@a:e.org", "@b_c:x.y"]


@st.composite
def styled_texts(draw: st.DrawFn, names: bool = True) -> StyledText:
    """Any text with any styles: overlapping, empty, reaching past either end."""
    text = draw(texts)
    style = st.builds(
        Style,
        kind=st.sampled_from(_KINDS),
        start=st.integers(-2, len(text) + 2),
        end=st.integers(-2, len(text) + 2),
        url=st.sampled_from(_URLS),
        user_id=st.sampled_from(_USERS),
        name=st.sampled_from([None, "N <&>\n", ""]) if names else st.none(),
        language=st.sampled_from([None, "", "go", 'a"<b>']),
    )
    return StyledText(text, tuple(draw(st.lists(style, max_size=8))))


# What the HTML parser gives back as it was: no whitespace (it collapses runs and trims the
# ends), no control characters (it removes them).
_round_trip_characters = st.one_of(
    st.characters(codec="utf-8", exclude_categories=("Cc", "Cs"), exclude_characters=" "),
    st.sampled_from("<>&\"';😀👨‍👩‍👧𝄞e\u0301"),
)
_INLINE = [
    *(StyleKind.BOLD, StyleKind.ITALIC, StyleKind.UNDERLINE, StyleKind.STRIKETHROUGH),
    *(StyleKind.SPOILER, StyleKind.CODE, StyleKind.LINK, StyleKind.MENTION),
]
_SAFE_URLS = ["https://e.org/?a=1&b=<2>", 'http://x/"q"', "mailto:a@b.c", "https://e.org/#/#r:e"]
_LINKS = (StyleKind.LINK, StyleKind.MENTION)


@st.composite
def nested_styled_texts(draw: st.DrawFn) -> StyledText:
    """Inline styles that nest properly (no partial overlap, no link in a link) on text the
    parser reads back unchanged: what HTML can say exactly."""
    text = draw(st.text(_round_trip_characters, min_size=1, max_size=30))
    styles: list[Style] = []
    for _ in range(draw(st.integers(0, 8))):
        start = draw(st.integers(0, len(text) - 1))
        end = draw(st.integers(start + 1, len(text)))
        kind = draw(st.sampled_from(_INLINE))
        if any(
            _crosses(start, end, s) or (kind in _LINKS and _meets_link(start, end, s))
            for s in styles
        ):
            continue
        url = draw(st.sampled_from(_SAFE_URLS)) if kind is StyleKind.LINK else None
        user_id = draw(st.sampled_from(_USERS[1:])) if kind is StyleKind.MENTION else None
        styles.append(Style(kind, start, end, url=url, user_id=user_id))
    return StyledText(text, tuple(styles))


def _crosses(start: int, end: int, other: Style) -> bool:
    disjoint = end <= other.start or other.end <= start
    inside = other.start <= start and end <= other.end
    around = start <= other.start and other.end <= end
    return not (disjoint or inside or around)


def _meets_link(start: int, end: int, other: Style) -> bool:
    return other.kind in _LINKS and start < other.end and other.start < end
