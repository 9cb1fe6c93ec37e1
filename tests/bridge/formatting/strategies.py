"""Hypothesis strategies: tricky text, and messy Matrix HTML."""

from __future__ import annotations

import html

from hypothesis import strategies as st

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
