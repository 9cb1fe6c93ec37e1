"""Hostile input to the converters, case by case (test_properties.py fuzzes the same ground).

Matrix HTML with scripts, unknown tags, 10,000-deep nesting, broken markup, control
characters, dangerous links and entity soup; Telegram text with entities out of range,
overlapping, splitting surrogate pairs, on astral characters, on empty text, or of types we do
not know. Every result is either safe and accepted (each Telegram piece by the fake Bot API's
parser, each Matrix HTML by a strict reader) with its text intact, or nothing at all; never
an exception.
"""

from __future__ import annotations

import unicodedata

import pytest
from telegram import MessageEntity, User

from bridge.formatting import MatrixPill
from connectors.telegram.formatting import (
    Entity,
    EntityType,
    TelegramText,
    matrix_to_telegram,
    matrix_to_telegram_text,
    render_telegram_html,
    split_text,
    telegram_to_matrix,
    utf16_len,
)
from connectors.telegram.formatting.ptb import entities_from_ptb
from tests.bridge.formatting.markup_check import MATRIX_REFERENCES, read_html
from tests.fakes.telegram import parse_telegram_html

T = EntityType
E = Entity
DEEP = 10_000
GHOST = "@ghost:example.org"
Parsed = list[tuple[str, set[tuple[str, int, int]]]]


def ghost_pills(user_id: str) -> int | None:
    return 7 if user_id == GHOST else None


def no_mentions(target: int | str) -> MatrixPill | None:
    return None


def is_clean(text: str) -> bool:
    """What Telegram may be sent: no control characters but tab and newline, no surrogates."""
    return all(ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs") for ch in text)


def sent_to_telegram(formatted: str | None, body: str = "fallback", limit: int = 4096) -> Parsed:
    """The pieces the bridge would send, as Telegram reads them (a refusal raises)."""
    pieces: Parsed = []
    for chunk in matrix_to_telegram(body, formatted, ghost_pills, limit=limit):
        text, entities = parse_telegram_html(chunk)
        assert is_clean(text), repr(text)
        assert 0 < utf16_len(text) <= limit, (len(text), limit)
        assert text.strip(), repr(chunk)
        pieces.append((text, {(e["type"], e["offset"], e["length"]) for e in entities}))
    return pieces


# (id, formatted_body, the text Telegram shows, its entities as (type, offset, length))
MATRIX_CASES: list[tuple[str, str, str, set[tuple[str, int, int]]]] = [
    (
        "script-between-paragraphs",
        "<p>before</p><script>alert('<b>x</b>')</script><p>after</p>",
        "before\n\nafter",
        set(),
    ),
    ("script-unclosed-swallows-the-rest", "a<script>evil <b>x</b>", "a", set()),
    ("script-twice", "a<script>if (a</script>b<script>c</script>d", "abd", set()),
    ("script-uppercase", "a<SCRIPT SRC=//evil.example>b</SCRIPT>c", "ac", set()),
    ("style", "<style>b { color: red }</style>x", "x", set()),
    ("style-unclosed", "x<style>b { color: red }", "x", set()),
    (
        "unknown-tags",
        "<x-unknown>in</x-unknown> <blink>b</blink><marquee>m</marquee>",
        "in bm",
        set(),
    ),
    (
        "iframe-object-embed",
        '<iframe src="https://e.org">i</iframe><object>o</object>',
        "io",
        set(),
    ),
    ("form-input", '<form action="https://e.org"><input value="v">f</form>', "f", set()),
    ("svg", "<svg><circle onload='alert(1)'/>s</svg>", "s", set()),
    ("event-handler-attributes", '<b onclick="alert(1)" style="x">b</b>', "b", {("bold", 0, 1)}),
    ("deep-bold", "<b>" * DEEP + "deep" + "</b>" * DEEP, "deep", {("bold", 0, 4)}),
    ("deep-unclosed-italic", "<i>" * DEEP + "deep", "deep", {("italic", 0, 4)}),
    ("deep-div", "<div>" * DEEP + "deep" + "</div>" * DEEP, "deep", set()),
    (
        "deep-blockquote",
        "<blockquote>" * DEEP + "deep" + "</blockquote>" * DEEP,
        "deep",
        {("blockquote", 0, 4)},
    ),
    ("deep-link", '<a href="https://e.org/">' * DEEP + "deep", "deep", {("text_link", 0, 4)}),
    ("deep-mixed", "<b><i><u><s><code><pre>" * (DEEP // 6) + "deep", "deep", {("pre", 0, 4)}),
    ("deep-spans", "<span>" * DEEP + "deep" + "</span>" * (DEEP // 2), "deep", set()),
    (
        "deep-mx-reply",
        "<mx-reply>" * DEEP + "hidden" + "</mx-reply>" * DEEP + "shown",
        "shown",
        set(),
    ),
    ("stray-end-tags", "</b></i>text</p></a></script></mx-reply>", "text", set()),
    (
        "unclosed-tags",
        "<b>bold <i>both",
        "bold both",
        {("bold", 0, 9), ("italic", 5, 4)},
    ),
    (
        "misnested-tags",
        "<b>a<i>b</b>c</i>d",
        "abcd",
        {("bold", 0, 2), ("italic", 1, 1)},
    ),
    ("tag-cut-short", "<b", "<b", set()),
    ("angle-brackets", "a < b > c", "a < b > c", set()),
    ("bracket-soup", "<<>>", "<<>>", set()),
    ("attribute-cut-short", '<a href="', '<a href="', set()),
    ("comment-unclosed", "x<!-- unclosed", "x<!-- unclosed", set()),
    ("comment", "x<!-- <b>not bold</b> -->y", "xy", set()),
    ("cdata-unclosed", "x<![CDATA[y", "x<![CDATA[y", set()),
    ("malformed-marked-section", "x<![<y", "x<![<y", set()),
    ("malformed-marked-section-closed", "x<![<y>z", "xz", set()),
    ("doctype-and-pi", "<!doctype html><?xml version='1.0'?>x", "x", set()),
    ("control-characters", "a\x00b\x01c\x1fd\x7fe\x85f", "abcdef", set()),
    ("tab-and-newline-collapse", "g\th\ni", "g h i", set()),
    ("tab-and-newline-in-pre", "<pre>g\th\ni\x00</pre>", "g\th\ni", {("pre", 0, 5)}),
    ("control-character-references", "a&#1;b&#x7f;c&#0;d", "abc\ufffdd", set()),
    ("lone-surrogates", "a\ud800b\udfffc", "a\ufffdb\ufffdc", set()),
    ("surrogate-references", "a&#xD800;b&#56319;c", "a\ufffdb\ufffdc", set()),
    ("right-to-left-override-kept", "\u202eevil\u202c ok", "\u202eevil\u202c ok", set()),
    ("zero-width-and-bom-kept", "a\u200bb\ufeffc", "a\u200bb\ufeffc", set()),
    ("javascript-link", '<a href="javascript:alert(1)">click</a>', "click", set()),
    ("javascript-link-mixed-case", '<a href="JaVaScRiPt:alert(1)">click</a>', "click", set()),
    (
        "javascript-link-as-reference",
        '<a href="&#106;avascript:alert(1)">click</a>',
        "click",
        set(),
    ),
    ("javascript-link-spaced", '<a href=" javascript:alert(1)">click</a>', "click", set()),
    ("javascript-link-with-tab", '<a href="java\tscript:alert(1)">click</a>', "click", set()),
    ("vbscript-link", '<a href="vbscript:msgbox(1)">click</a>', "click", set()),
    ("data-link", '<a href="data:text/html,<script>x</script>">click</a>', "click", set()),
    ("file-link", '<a href="file:///etc/passwd">click</a>', "click", set()),
    ("tg-user-link-is-no-mention", '<a href="tg://user?id=1">click</a>', "click", set()),
    ("link-without-href", "<a>text</a>", "text", set()),
    ("link-with-empty-href", '<a href="">text</a>', "text", set()),
    ("link-with-name-only", '<a name="x" id="y">text</a>', "text", set()),
    (
        "link-inside-link",
        '<a href="https://a.example/">x<a href="https://b.example/">y</a>z</a>',
        "xyz",
        {("text_link", 0, 3)},
    ),
    (
        "entity-soup",
        "&bogus; &#0; &#x110000; &#xD800; &amp &lt &#128512; &#x1F600 &",
        "&bogus; \ufffd \ufffd \ufffd & < 😀 😀 &",
        set(),
    ),
    ("entities-only", "&#0;&#1;&#2;", "\ufffd", set()),
    (
        "huge-ordered-list-start",
        '<ol start="99999999999999999999"><li>a</li></ol>',
        "1000000000. a",
        set(),
    ),
]


@pytest.mark.parametrize(
    ("formatted", "text", "entities"),
    [pytest.param(*case[1:], id=case[0]) for case in MATRIX_CASES],
)
def test_hostile_matrix_html(
    formatted: str, text: str, entities: set[tuple[str, int, int]]
) -> None:
    (piece,) = sent_to_telegram(formatted)
    assert piece == (text, entities)


@pytest.mark.parametrize(
    "formatted",
    [
        "",
        "<script>only a script</script>",
        "<style>x</style>",
        "<mx-reply>only a reply fallback</mx-reply>",
        "<img src='https://e.org/x.png'>",
        "\x00\x01\x02",
        "<b>" * DEEP,
        "<br>" * DEEP,
        " \n\t " * 100,
    ],
    ids=["empty", "script", "style", "reply", "image", "controls", "deep-empty", "breaks", "space"],
)
def test_html_showing_nothing_falls_back_to_the_body(formatted: str) -> None:
    assert sent_to_telegram(formatted, body="the body") == [("the body", set())]
    # A body that shows nothing either gives no message at all, rather than one Telegram refuses.
    assert sent_to_telegram(formatted, body="\x00\x07 \t\r\n") == []


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ("a\x00b\x1b[31mc", "ab[31mc"),
        ("a\ud800b", "a\ufffdb"),
        ("line\r\nbreak\rs", "line\nbreak\ns"),
        ("\u202egnp.exe", "\u202egnp.exe"),
        ("<b>not html</b> & more", "<b>not html</b> & more"),
        ("𝄞😀👨‍👩‍👧🇺🇦", "𝄞😀👨‍👩‍👧🇺🇦"),
    ],
    ids=["controls", "surrogate", "carriage-returns", "rlo", "markup-in-plain-text", "astral"],
)
def test_hostile_plain_bodies(body: str, text: str) -> None:
    assert sent_to_telegram(None, body=body) == [(text, set())]


def test_deep_nesting_around_a_long_text_is_split_and_keeps_its_style() -> None:
    words = " ".join(f"w{index}" for index in range(3000))
    formatted = "<b>" * DEEP + "<i>" + words + "</i>" + "</b>" * DEEP
    pieces = sent_to_telegram(formatted, limit=1000)
    assert len(pieces) >= 15
    assert "".join(text for text, _ in pieces) == words
    for text, entities in pieces:
        units = utf16_len(text)
        assert entities == {("bold", 0, units), ("italic", 0, units)}, (text[:20], entities)


def test_deeply_nested_lists_keep_every_item() -> None:
    formatted = "<ul><li>" * DEEP + "deep"
    pieces = sent_to_telegram(formatted)
    shown = "".join(text for text, _ in pieces)
    assert shown.count("•") == DEEP
    assert shown.endswith("deep")
    # Indentation is capped: a deep list does not grow without bound.
    assert max(len(run) for run in shown.split("•")) <= 2 * 8 + 2


# Telegram -> Matrix.

# Expected HTML for cases checked only for balance and text (each copy of an entity adds tags).
BALANCED = "(balanced)"
# (id, text, entities, expected Matrix HTML; None when nothing needs formatting)
TELEGRAM_CASES: list[tuple[str, str, list[Entity], str | None]] = [
    ("entity-past-the-end", "hello", [E(T.BOLD, 3, 100)], "hel<strong>lo</strong>"),
    ("entity-starting-past-the-end", "hello", [E(T.BOLD, 10, 5)], None),
    ("entity-at-the-very-end", "hello", [E(T.BOLD, 5, 1)], None),
    ("negative-offset", "hello", [E(T.BOLD, -5, 7)], "<strong>he</strong>llo"),
    ("negative-offset-ending-before-the-text", "hello", [E(T.BOLD, -5, 3)], None),
    ("huge-offset", "hello", [E(T.BOLD, 2**62, 2**62)], None),
    ("huge-length", "hello", [E(T.ITALIC, 1, 2**62)], "h<em>ello</em>"),
    ("zero-length", "hello", [E(T.BOLD, 1, 0)], None),
    ("negative-length", "hello", [E(T.BOLD, 3, -2)], None),
    (
        "overlapping-styles",
        "abcdef",
        [E(T.BOLD, 0, 4), E(T.ITALIC, 2, 4)],
        "<strong>ab<em>cd</em></strong><em>ef</em>",
    ),
    (
        "overlapping-links",
        "abcdef",
        [
            E(T.TEXT_LINK, 0, 4, url="https://a.example"),
            E(T.TEXT_LINK, 2, 4, url="https://b.example"),
        ],
        '<a href="https://a.example">abcd</a><a href="https://b.example">ef</a>',
    ),
    (
        "same-range-many-times",
        "abc",
        [E(T.BOLD, 0, 3)] * 50 + [E(T.CODE, 0, 3)] * 50,
        BALANCED,
    ),
    (
        "code-overlapping-pre",
        "abcdef",
        [E(T.CODE, 0, 4), E(T.PRE, 2, 4)],
        BALANCED,
    ),
    ("entity-splitting-a-surrogate-pair", "a😀b", [E(T.BOLD, 2, 1)], "a<strong>😀</strong>b"),
    ("entity-ending-inside-a-pair", "a😀b", [E(T.BOLD, 0, 2)], "<strong>a😀</strong>b"),
    ("entity-inside-one-pair", "😀", [E(T.UNDERLINE, 1, 0), E(T.ITALIC, 1, 1)], "<em>😀</em>"),
    (
        "astral-characters",
        "𝄞😀👨‍👩‍👧",
        [E(T.BOLD, 0, 2), E(T.ITALIC, 2, 2), E(T.UNDERLINE, 4, 8)],
        "<strong>𝄞</strong><em>😀</em><u>👨\u200d👩\u200d👧</u>",
    ),
    ("empty-text-with-entities", "", [E(T.BOLD, 0, 1), E(T.PRE, 0, 0), E(T.URL, -1, 3)], None),
    ("javascript-text-link", "click", [E(T.TEXT_LINK, 0, 5, url="javascript:alert(1)")], None),
    ("data-text-link", "click", [E(T.TEXT_LINK, 0, 5, url="data:text/html,x")], None),
    ("text-link-without-url", "click", [E(T.TEXT_LINK, 0, 5)], None),
    (
        "url-entity-on-javascript-text",
        "javascript:alert(1)",
        [E(T.URL, 0, 19)],
        '<a href="http://javascript:alert(1)">javascript:alert(1)</a>',
    ),
    (
        "url-with-quotes",
        'https://e.org/"><script>',
        [E(T.URL, 0, 24)],
        '<a href="https://e.org/&quot;&gt;&lt;script&gt;">https://e.org/"&gt;&lt;script&gt;</a>',
    ),
    (
        "pre-language-injection",
        "x",
        [E(T.PRE, 0, 1, language='"><script>alert(1)</script>')],
        '<pre><code class="language-&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;">'
        "x</code></pre>",
    ),
    ("text-mention-without-user", "bob", [E(T.TEXT_MENTION, 0, 3)], None),
    ("mention-of-markup", "@<b>", [E(T.MENTION, 0, 4)], None),
    (
        "markup-in-text",
        "<script>x</script>",
        [E(T.BOLD, 0, 8)],
        "<strong>&lt;script&gt;</strong>x&lt;/script&gt;",
    ),
    ("lone-surrogate", "a\ud800b", [E(T.BOLD, 0, 3)], "<strong>a\ud800b</strong>"),
    ("custom-emoji-is-text", "😀", [E(T.CUSTOM_EMOJI, 0, 2, custom_emoji_id="1")], None),
    ("date-time-is-text", "now", [E(T.DATE_TIME, 0, 3, unix_time=-1)], None),
]


@pytest.mark.parametrize(
    ("text", "entities", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in TELEGRAM_CASES],
)
def test_hostile_telegram_entities(text: str, entities: list[Entity], expected: str | None) -> None:
    result = telegram_to_matrix(text, entities, no_mentions)
    assert result.body == text
    if result.html is not None:
        assert read_html(result.html, MATRIX_REFERENCES).text == text
    if expected == BALANCED:
        assert result.html is not None
    else:
        assert result.html == expected


def test_many_staggered_overlapping_entities() -> None:
    text = "x" * 2000
    entities = [E(T.BOLD if i % 2 else T.ITALIC, i, 1000) for i in range(1000)]
    result = telegram_to_matrix(text, entities, no_mentions)
    assert result.html is not None
    assert read_html(result.html, MATRIX_REFERENCES).text == text


def test_entity_types_unknown_to_us_are_left_out() -> None:
    bot = User(1, "Bob", is_bot=False)
    ptb_entities = [
        MessageEntity("some_future_type", 0, 3),
        MessageEntity(MessageEntity.BOLD, 0, 3),
        MessageEntity("", 1, 1),
        MessageEntity(MessageEntity.TEXT_MENTION, 4, 3, user=bot),
    ]
    entities = entities_from_ptb(ptb_entities)
    assert [(e.type, e.offset, e.length) for e in entities] == [
        (T.BOLD, 0, 3),
        (T.TEXT_MENTION, 4, 3),
    ]
    assert entities[1].user_id == 1
    result = telegram_to_matrix("abc bob", entities, no_mentions)
    assert (result.body, result.html) == ("abc bob", "<strong>abc</strong> bob")


@pytest.mark.parametrize(
    ("text", "entities"),
    [pytest.param(*case[1:3], id=case[0]) for case in TELEGRAM_CASES if is_clean(case[1])],
)
def test_hostile_entities_render_as_html_telegram_accepts(
    text: str, entities: list[Entity]
) -> None:
    """Our own entity lists go through the same clipping when we send: whatever they hold,
    Telegram accepts the HTML and shows the text unchanged, also when split."""
    message = TelegramText(text, tuple(entities))
    for limit in (1, 3, 4096):
        pieces = split_text(message, limit)
        assert "".join(piece.text for piece in pieces) == text
        for piece in pieces:
            parsed_text, _ = parse_telegram_html(render_telegram_html(piece))
            assert parsed_text == piece.text


def test_hostile_html_round_trips_through_the_entity_list() -> None:
    """The text with entities we extract is what Telegram reads back from our HTML."""
    formatted = "<b>a<i>b<code>c</code>d</i>e</b>" + "<u>" * DEEP + "😀" + "<s>x</u>y"
    extracted = matrix_to_telegram_text("fallback", formatted, ghost_pills)
    text, entities = parse_telegram_html(render_telegram_html(extracted))
    assert text == extracted.text == "abcde😀xy"
    assert {(e["type"], e["offset"], e["length"]) for e in entities} == {
        (e.type.value, e.offset, e.length) for e in extracted.entities
    }
