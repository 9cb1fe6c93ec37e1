"""Matrix HTML -> Telegram HTML, case by case."""

from __future__ import annotations

import pytest

from bridge.formatting import parse_matrix_html, pill_targets
from connectors.telegram.formatting import (
    EntityType,
    matrix_to_telegram,
    matrix_to_telegram_text,
    to_telegram_text,
)
from tests.bridge.formatting.markup_check import TELEGRAM_REFERENCES, read_html

GHOST = "@telegram_42:example.org"


def pills(user_id: str) -> int | None:
    return 42 if user_id == GHOST else None


HTML_CASES: list[tuple[str, str, str]] = [
    # (id, formatted_body, expected Telegram HTML)
    ("text", "hello", "hello"),
    ("bold", "<b>b</b> <strong>s</strong>", "<b>b</b> <b>s</b>"),
    ("italic", "<i>i</i> <em>e</em>", "<i>i</i> <i>e</i>"),
    ("underline", "<u>u</u> <ins>i</ins>", "<u>u</u> <u>i</u>"),
    ("strikethrough", "<s>s</s> <del>d</del> <strike>k</strike>", "<s>s</s> <s>d</s> <s>k</s>"),
    (
        "spoiler",
        '<span data-mx-spoiler="why">boo</span>',
        '<span class="tg-spoiler">boo</span>',
    ),
    ("spoiler-font", "<font data-mx-spoiler>x</font>", '<span class="tg-spoiler">x</span>'),
    ("colour-flattened", '<font color="red">r</font><span data-mx-color="#f00">s</span>', "rs"),
    ("inline-code", "run <code>ls  -l</code>", "run <code>ls  -l</code>"),
    ("pre", "<pre>a\n  b</pre>", "<pre>a\n  b</pre>"),
    (
        "pre-language",
        '<pre><code class="language-python">if x:\n    y()\n</code></pre>',
        '<pre><code class="language-python">if x:\n    y()</code></pre>',
    ),
    (
        "pre-odd-language",
        '<pre><code class="language-a&quot;b">x</code></pre>',
        "<pre>x</pre>",
    ),
    (
        "pre-escapes",
        "<pre><code>a &lt; b &amp;&amp; c</code></pre>",
        "<pre>a &lt; b &amp;&amp; c</pre>",
    ),
    ("blockquote", "<blockquote>q</blockquote>after", "<blockquote>q</blockquote>\nafter"),
    (
        "nested-blockquote",
        "<blockquote>a<blockquote>b</blockquote></blockquote>",
        "<blockquote>a\nb</blockquote>",
    ),
    (
        "link",
        '<a href="https://example.org/?a=1&amp;b=2">x</a>',
        '<a href="https://example.org/?a=1&amp;b=2">x</a>',
    ),
    ("link-quote", '<a href="https://e.org/&quot;">x</a>', '<a href="https://e.org/&quot;">x</a>'),
    ("link-mailto-flattened", '<a href="mailto:a@b.org">a@b.org</a>', "a@b.org"),
    ("link-tg", '<a href="tg://resolve?domain=x">x</a>', '<a href="tg://resolve?domain=x">x</a>'),
    ("link-tg-user-flattened", '<a href="tg://user?id=5">x</a>', "x"),
    ("link-javascript", '<a href="javascript:alert(1)">x</a>', "x"),
    ("link-ftp", '<a href="ftp://e.org">x</a>', "x"),
    ("link-relative", '<a href="/path">x</a>', "x"),
    ("link-no-href", "<a>x</a>", "x"),
    ("link-with-space", '<a href="https://e.org/a b">x</a>', "x"),
    (
        "pill-ghost",
        f'<a href="https://matrix.to/#/{GHOST}">Bob</a>: hi',
        '<a href="tg://user?id=42">Bob</a>: hi',
    ),
    (
        "pill-ghost-encoded",
        '<a href="https://matrix.to/#/%40telegram_42%3Aexample.org">Bob</a>',
        '<a href="tg://user?id=42">Bob</a>',
    ),
    (
        "pill-ghost-matrix-uri",
        '<a href="matrix:u/telegram_42:example.org?action=chat">Bob</a>',
        '<a href="tg://user?id=42">Bob</a>',
    ),
    ("pill-matrix-user", '<a href="https://matrix.to/#/@alice:example.org">Alice</a>', "Alice"),
    (
        "room-link-stays-link",
        '<a href="https://matrix.to/#/#room:example.org">#room</a>',
        '<a href="https://matrix.to/#/#room:example.org">#room</a>',
    ),
    (
        "escaping",
        "1 &lt; 2 &amp;&amp; 3 &gt; 2 &quot;q&quot; &#39;s&#39;",
        "1 &lt; 2 &amp;&amp; 3 &gt; 2 \"q\" 's'",
    ),
    ("nbsp-kept", "a&nbsp;b", "a\xa0b"),
    ("br", "a<br>b<br/>c", "a\nb\nc"),
    ("double-br", "a<br><br>b", "a\n\nb"),
    ("paragraphs", "<p>one</p>\n<p>two</p>", "one\n\ntwo"),
    ("div", "<div>a</div><div>b</div>", "a\nb"),
    ("whitespace-collapsed", "  a \n\t b  ", "a b"),
    ("heading", "<h1>Title</h1><p>text</p>", "<b>Title</b>\n\ntext"),
    ("heading-with-italic", "<h3>a <em>b</em></h3>", "<b>a <i>b</i></b>"),
    ("unordered-list", "<ul><li>one</li><li>two</li></ul>", "• one\n• two"),
    ("ordered-list", "<ol><li>one</li><li>two</li></ol>", "1. one\n2. two"),
    ("ordered-list-start", '<ol start="9"><li>a</li><li>b</li></ol>', "9. a\n10. b"),
    ("ordered-list-bad-start", '<ol start="x"><li>a</li></ol>', "1. a"),
    ("nested-list", "<ul><li>a<ul><li>b</li></ul></li><li>c</li></ul>", "• a\n  • b\n• c"),
    ("list-paragraphs", "<ul><li><p>a</p></li><li><p>b</p></li></ul>", "• a\n• b"),
    ("list-after-text", "intro<ul><li>a</li></ul>outro", "intro\n• a\noutro"),
    (
        "reply-fallback-removed",
        "<mx-reply><blockquote><a href='x'>In reply</a> quoted</blockquote></mx-reply>answer",
        "answer",
    ),
    ("script-dropped", "a<script>alert('<b>')</script>b", "ab"),
    ("style-dropped", "a<style>b { color: red }</style>b", "ab"),
    ("image-alt", 'see <img src="mxc://a/b" alt="cat">', "see cat"),
    (
        "image-emoticon",
        '<img data-mx-emoticon src="mxc://a/b" alt=":blob:" title=":blob:">!',
        ":blob:!",
    ),
    ("image-no-alt", 'a<img src="mxc://a/b">b', "ab"),
    ("horizontal-rule", "a<hr>b", "a\n———\nb"),
    ("table", "<table><tr><td>1</td><td>2</td></tr><tr><td>3</td></tr></table>", "1 2\n3"),
    (
        "unknown-tags-flattened",
        "<sup>1</sup><sub>2</sub><details><summary>s</summary>d</details>",
        "12\ns\nd",
    ),
    ("style-around-code-is-cut", "<b>a <code>c</code> b</b>", "<b>a </b><code>c</code><b> b</b>"),
    (
        "styles-around-code-are-cut",
        "<b>a<i>b<code>c</code>d</i>e</b>",
        "<b>a<i>b</i></b><code>c</code><b><i>d</i>e</b>",
    ),
    (
        "style-cut-around-quote-holding-code",
        "<b>0<blockquote>1<pre>2</pre></blockquote></b>",
        "<b>0\n</b><blockquote>1\n<pre>2</pre></blockquote>",
    ),
    ("style-inside-code-dropped", "<code>a <b>b</b></code>", "<code>a b</code>"),
    (
        "code-inside-link-dropped",
        '<a href="https://e.org"><code>c</code></a>',
        '<a href="https://e.org">c</a>',
    ),
    (
        "link-inside-link-dropped",
        '<a href="https://a.org">x<a href="https://b.org">y</a></a>',
        '<a href="https://a.org">xy</a>',
    ),
    ("same-style-nested-once", "<b>a<strong>b</strong></b>", "<b>ab</b>"),
    ("control-characters-removed", "a\x00b\x07c\x7fd\x85e", "abcde"),
    ("astral", "😀 <b>𝄞</b> 👨‍👩‍👧", "😀 <b>𝄞</b> 👨‍👩‍👧"),
    # Broken markup never raises.
    ("unclosed-tags", "<b>a<i>b", "<b>a<i>b</i></b>"),
    ("stray-end-tags", "a</b></i>b</p>", "ab"),
    ("misnested-end", "<b>a<i>b</b>c</i>", "<b>a<i>b</i></b>c"),
    ("lone-angle-brackets", "a < b > c", "a &lt; b &gt; c"),
    ("bare-ampersand", "fish & chips &bogus;", "fish &amp; chips &amp;bogus;"),
    ("comment-dropped", "a<!-- <b>no</b> -->b", "ab"),
    ("cdata-dropped", "a<![CDATA[x]]>b", "ab"),
    ("malformed-marked-section", "a<![<b>c", "ac"),
    ("unterminated-marked-section", "a<![x", "a&lt;![x"),
    ("unclosed-reply-swallows-rest", "<mx-reply>quoted", ""),
]


@pytest.mark.parametrize(
    ("formatted", "expected"), [c[1:] for c in HTML_CASES], ids=[c[0] for c in HTML_CASES]
)
def test_formatted_body(formatted: str, expected: str) -> None:
    chunks = matrix_to_telegram("body", formatted, pills)
    if expected:
        assert chunks == [expected]
        read_html(expected, TELEGRAM_REFERENCES)
    else:  # nothing visible in the HTML: the plain body is sent instead
        assert chunks == ["body"]


PLAIN_CASES: list[tuple[str, str, list[str]]] = [
    ("text", "hello", ["hello"]),
    ("escaped", "<b>not bold</b> & co", ["&lt;b&gt;not bold&lt;/b&gt; &amp; co"]),
    ("newlines-kept", "a\n\n b", ["a\n\n b"]),
    ("carriage-returns", "a\r\nb\rc", ["a\nb\nc"]),
    ("control-characters", "a\x00\x1b[31mb\tc", ["a[31mb\tc"]),
    ("lone-surrogate-replaced", "a\ud800b", ["a\ufffdb"]),
    ("empty", "", []),
    ("whitespace-only", " \n ", []),
]


@pytest.mark.parametrize(
    ("body", "expected"), [c[1:] for c in PLAIN_CASES], ids=[c[0] for c in PLAIN_CASES]
)
def test_plain_body(body: str, expected: list[str]) -> None:
    assert matrix_to_telegram(body, None, pills) == expected


def test_parse_returns_text_and_entities_in_utf16() -> None:
    parsed = to_telegram_text(parse_matrix_html("😀 <b>x</b>"), pills)
    assert parsed.text == "😀 x"
    assert [(e.type, e.offset, e.length) for e in parsed.entities] == [(EntityType.BOLD, 3, 1)]


def test_same_range_entities_keep_the_html_nesting() -> None:
    assert matrix_to_telegram("", "<u><s>x</s></u>", pills) == ["<u><s>x</s></u>"]
    assert matrix_to_telegram("", "<s><u>x</u></s>", pills) == ["<s><u>x</u></s>"]


def test_pill_targets_are_what_the_resolver_is_asked() -> None:
    html = (
        f'<a href="https://matrix.to/#/{GHOST}">a</a> <a href="matrix:u/b:c">b</a>'
        ' <a href="https://matrix.to/#/#room:c">r</a> <a href="https://matrix.to/#/@bad">x</a>'
    )
    asked: set[str] = set()

    def recording(user_id: str) -> int | None:
        asked.add(user_id)
        return None

    to_telegram_text(parse_matrix_html(html), recording)
    assert pill_targets(html) == asked == {GHOST, "@b:c"}


def test_deeply_nested_tags_do_not_recurse() -> None:
    depth = 10_000
    for tags in (["b"], ["b", "i", "u", "s", "code", "blockquote", "a"], ["div", "p", "ul", "li"]):
        opening = "".join(f"<{tags[i % len(tags)]}>" for i in range(depth))
        closing = "".join(f"</{tags[i % len(tags)]}>" for i in reversed(range(depth)))
        chunks = matrix_to_telegram("", f"{opening}deep{closing}", pills)
        texts = [read_html(chunk, TELEGRAM_REFERENCES).text for chunk in chunks]
        assert texts[-1].endswith("deep")


def test_deeply_nested_unclosed_and_stray_tags() -> None:
    markup = "<i>" * 10_000 + "x" + "</b>" * 10_000
    assert matrix_to_telegram("", markup, pills) == ["<i>x</i>"]


def test_html_without_text_falls_back_to_the_body() -> None:
    text = matrix_to_telegram_text("an image", '<img src="mxc://a/b">', pills)
    assert text.text == "an image"
    assert text.entities == ()
