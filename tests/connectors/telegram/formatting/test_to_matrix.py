"""Telegram text with entities -> Matrix HTML, case by case."""

from __future__ import annotations

import pytest

from bridge.formatting import MatrixPill
from connectors.telegram.formatting import (
    Entity,
    EntityType,
    mention_targets,
    telegram_to_matrix,
)
from tests.bridge.formatting.markup_check import MATRIX_REFERENCES, read_html

T = EntityType
e = Entity
ALICE = MatrixPill("@telegram_1:example.org", "Alice <A&B>")


def resolve(target: int | str) -> MatrixPill | None:
    return ALICE if target in (1, "alice") else None


CASES: list[tuple[str, str, list[Entity], str | None]] = [
    # (id, text, entities, expected html)
    ("plain", "hello", [], None),
    ("plain-special-characters", "a < b & c\nd", [], None),
    ("bold", "hi bold", [e(T.BOLD, 3, 4)], "hi <strong>bold</strong>"),
    ("italic", "hi it", [e(T.ITALIC, 3, 2)], "hi <em>it</em>"),
    ("underline", "u", [e(T.UNDERLINE, 0, 1)], "<u>u</u>"),
    ("strikethrough", "s", [e(T.STRIKETHROUGH, 0, 1)], "<del>s</del>"),
    ("spoiler", "secret", [e(T.SPOILER, 0, 6)], "<span data-mx-spoiler>secret</span>"),
    ("code", "x = 1", [e(T.CODE, 0, 5)], "<code>x = 1</code>"),
    ("pre", "a\nb", [e(T.PRE, 0, 3)], "<pre><code>a\nb</code></pre>"),
    (
        "pre-language",
        "print(1)",
        [e(T.PRE, 0, 8, language="python")],
        '<pre><code class="language-python">print(1)</code></pre>',
    ),
    (
        "pre-language-escaped",
        "x",
        [e(T.PRE, 0, 1, language='a"<b>')],
        '<pre><code class="language-a&quot;&lt;b&gt;">x</code></pre>',
    ),
    ("pre-escapes", "<a>&", [e(T.PRE, 0, 4)], "<pre><code>&lt;a&gt;&amp;</code></pre>"),
    ("blockquote", "quote", [e(T.BLOCKQUOTE, 0, 5)], "<blockquote>quote</blockquote>"),
    (
        "expandable-blockquote",
        "long\nquote",
        [e(T.EXPANDABLE_BLOCKQUOTE, 0, 10)],
        "<blockquote>long<br/>quote</blockquote>",
    ),
    (
        "text-link",
        "click here",
        [e(T.TEXT_LINK, 6, 4, url="https://example.org/?a=1&b=2")],
        'click <a href="https://example.org/?a=1&amp;b=2">here</a>',
    ),
    ("text-link-unsafe-scheme", "x", [e(T.TEXT_LINK, 0, 1, url="javascript:alert(1)")], None),
    ("text-link-tg-scheme", "x", [e(T.TEXT_LINK, 0, 1, url="tg://resolve?domain=a")], None),
    (
        "url",
        "see https://example.org/x",
        [e(T.URL, 4, 21)],
        'see <a href="https://example.org/x">https://example.org/x</a>',
    ),
    (
        "url-without-scheme",
        "example.org",
        [e(T.URL, 0, 11)],
        '<a href="http://example.org">example.org</a>',
    ),
    (
        "url-with-port-no-scheme",
        "example.org:8080/a",
        [e(T.URL, 0, 18)],
        '<a href="http://example.org:8080/a">example.org:8080/a</a>',
    ),
    (
        "email",
        "mail a@b.org",
        [e(T.EMAIL, 5, 7)],
        'mail <a href="mailto:a@b.org">a@b.org</a>',
    ),
    (
        "mention-known",
        "hi @alice!",
        [e(T.MENTION, 3, 6)],
        'hi <a href="https://matrix.to/#/@telegram_1:example.org">Alice &lt;A&amp;B&gt;</a>!',
    ),
    (
        "mention-unknown",
        "hi @bob",
        [e(T.MENTION, 3, 4)],
        'hi <a href="https://t.me/bob">@bob</a>',
    ),
    ("mention-not-a-username", "@a/b", [e(T.MENTION, 0, 4)], None),
    (
        "entities-inside-a-pill-go-with-its-text",
        "@alice",
        [e(T.MENTION, 0, 6), e(T.BOLD, 1, 2)],
        '<a href="https://matrix.to/#/@telegram_1:example.org">Alice &lt;A&amp;B&gt;</a>',
    ),
    (
        "text-mention-known",
        "hey Al",
        [e(T.TEXT_MENTION, 4, 2, user_id=1)],
        'hey <a href="https://matrix.to/#/@telegram_1:example.org">Alice &lt;A&amp;B&gt;</a>',
    ),
    ("text-mention-unknown", "hey Bo", [e(T.TEXT_MENTION, 4, 2, user_id=2)], None),
    ("custom-emoji", "👍", [e(T.CUSTOM_EMOJI, 0, 2, custom_emoji_id="5368324170671202286")], None),
    ("hashtag", "#tag", [e(T.HASHTAG, 0, 4)], None),
    ("cashtag", "$USD", [e(T.CASHTAG, 0, 4)], None),
    ("bot-command", "/start", [e(T.BOT_COMMAND, 0, 6)], None),
    ("phone-number", "+1 555 0100", [e(T.PHONE_NUMBER, 0, 11)], None),
    ("date-time", "tomorrow", [e(T.DATE_TIME, 0, 8, unix_time=1, date_time_format="r")], None),
    (
        "escaping-around-entity",
        "<b> & bold",
        [e(T.BOLD, 6, 4)],
        "&lt;b&gt; &amp; <strong>bold</strong>",
    ),
    ("newlines", "a\nb", [e(T.BOLD, 0, 1)], "<strong>a</strong><br/>b"),
    ("newline-inside-entity", "a\nb", [e(T.ITALIC, 0, 3)], "<em>a<br/>b</em>"),
    (
        "nested",
        "bold italic",
        [e(T.BOLD, 0, 11), e(T.ITALIC, 5, 6)],
        "<strong>bold <em>italic</em></strong>",
    ),
    (
        "nested-same-range-keeps-order",
        "x",
        [e(T.ITALIC, 0, 1), e(T.BOLD, 0, 1)],
        "<em><strong>x</strong></em>",
    ),
    (
        "quote-outside-style-on-same-range",
        "q",
        [e(T.BOLD, 0, 1), e(T.BLOCKQUOTE, 0, 1)],
        "<blockquote><strong>q</strong></blockquote>",
    ),
    (
        "link-around-bold",
        "go now",
        [e(T.TEXT_LINK, 0, 6, url="https://a.b"), e(T.BOLD, 3, 3)],
        '<a href="https://a.b">go <strong>now</strong></a>',
    ),
    ("emoji-before", "😀 bold", [e(T.BOLD, 3, 4)], "😀 <strong>bold</strong>"),
    ("emoji-inside", "a😀b", [e(T.BOLD, 0, 4)], "<strong>a😀b</strong>"),
    ("emoji-only-entity", "a😀b", [e(T.BOLD, 1, 2)], "a<strong>😀</strong>b"),
    ("emoji-after", "bold 😀", [e(T.BOLD, 0, 4)], "<strong>bold</strong> 😀"),
    (
        "astral-everywhere",
        "𝄞a𝄞b𝄞",
        [e(T.ITALIC, 2, 4), e(T.BOLD, 3, 2)],
        "𝄞<em>a<strong>𝄞</strong>b</em>𝄞",
    ),
    ("zwj-sequence", "👨‍👩‍👧!", [e(T.BOLD, 0, 8)], "<strong>👨‍👩‍👧</strong>!"),
    # Hostile input: clipped, cut or dropped, never raising or losing text.
    (
        "partial-overlap-is-cut",
        "abcdef",
        [e(T.BOLD, 0, 4), e(T.ITALIC, 2, 4)],
        "<strong>ab<em>cd</em></strong><em>ef</em>",
    ),
    ("past-the-end", "abc", [e(T.BOLD, 1, 50)], "a<strong>bc</strong>"),
    ("negative-offset", "abc", [e(T.BOLD, -2, 3)], "<strong>a</strong>bc"),
    ("entirely-outside", "abc", [e(T.BOLD, 5, 2)], None),
    ("zero-length", "abc", [e(T.BOLD, 1, 0)], None),
    ("negative-length", "abc", [e(T.BOLD, 1, -1)], None),
    ("starts-inside-surrogate-pair", "😀x", [e(T.BOLD, 1, 2)], "<strong>😀x</strong>"),
    ("ends-inside-surrogate-pair", "x😀y", [e(T.BOLD, 0, 2)], "<strong>x😀</strong>y"),
    (
        "pill-cut-by-overlap-keeps-text",
        "x@alice y",
        [e(T.BOLD, 0, 3), e(T.MENTION, 1, 6)],
        '<strong>x<a href="https://matrix.to/#/@telegram_1:example.org">@a</a></strong>'
        '<a href="https://matrix.to/#/@telegram_1:example.org">lice</a> y',
    ),
]


@pytest.mark.parametrize(
    ("text", "entities", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_telegram_to_matrix(text: str, entities: list[Entity], expected: str | None) -> None:
    result = telegram_to_matrix(text, entities, resolve)
    assert result.body == text
    assert result.html == expected
    if result.html is not None:
        read_html(result.html, MATRIX_REFERENCES)


def test_mentions_lists_pilled_users_once() -> None:
    text = "@alice @alice @bob"
    entities = [e(T.MENTION, 0, 6), e(T.MENTION, 7, 6), e(T.MENTION, 14, 4)]
    assert telegram_to_matrix(text, entities, resolve).mentions == (ALICE.user_id,)


def test_mention_targets_are_what_the_resolver_is_asked() -> None:
    text = "@alice @bob Carol @no/pe"
    entities = [
        e(T.MENTION, 0, 6),
        e(T.MENTION, 7, 4),
        e(T.TEXT_MENTION, 12, 5, user_id=7),
        e(T.MENTION, 18, 6),
        e(T.BOLD, 0, 3),
    ]
    asked: set[int | str] = set()

    def recording(target: int | str) -> MatrixPill | None:
        asked.add(target)
        return None

    telegram_to_matrix(text, entities, recording)
    assert mention_targets(text, entities) == asked == {"alice", "bob", 7}


def test_pill_with_empty_displayname_shows_the_user_id() -> None:
    def nameless(target: int | str) -> MatrixPill:
        return MatrixPill("@x:y", "")

    result = telegram_to_matrix("@x", [e(T.MENTION, 0, 2)], nameless)
    assert result.html == '<a href="https://matrix.to/#/@x:y">@x:y</a>'
