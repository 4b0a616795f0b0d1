"""chat_text_to_site_html and quote_text: chat text → HTML that is safe to post as a comment."""

from __future__ import annotations

import random
import re
from collections import Counter
from html.parser import HTMLParser

import pytest

from bot.convert import chat_text_to_site_html, quote_text

ALLOWED = {"p", "br", "strong", "em", "del", "code", "pre", "blockquote", "a"}


class _Audit(HTMLParser):
    """Collects the tags, attributes and visible text of the HTML, and the link targets."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []
        self.extra: list[str] = []  # hrefs and code languages: input text not in the visible text
        self.in_link: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        values = dict(attrs)
        if tag == "a":
            self.in_link.append(values.get("href") or "")
            self.text_at_link = len(self.text)
        if tag == "code" and values.get("class"):
            self.extra.append((values["class"] or "").removeprefix("language-"))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self.in_link:
            href = self.in_link.pop()
            if "".join(self.text[self.text_at_link :]) != href:
                self.extra.append(href)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def audit(html: str) -> _Audit:
    parser = _Audit()
    parser.feed(html)
    parser.close()
    return parser


def assert_safe(html: str) -> None:
    assert "<script" not in html.lower()
    for tag, attrs in audit(html).tags:
        assert tag in ALLOWED, tag
        for name, value in attrs:
            assert tag in ("a", "code"), (tag, name)
            if name == "href":
                assert re.match(r"https?://[^\s\"<>`]+$", value or "", re.IGNORECASE), value
            elif name == "rel":
                assert value == "nofollow ugc"
            else:
                assert name == "class" and re.fullmatch(r"language-[\w+#.-]+", value or ""), (name, value)


def test_escapes_everything() -> None:
    html = chat_text_to_site_html("<script>alert('x')</script> & \"q\" <b>b</b>")
    assert html == ("<p>&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;q&quot; &lt;b&gt;b&lt;/b&gt;</p>")


def test_paragraphs_and_line_breaks() -> None:
    assert (
        chat_text_to_site_html("one\ntwo\n\n\n three \r\nfour") == "<p>one<br />\ntwo</p>\n\n<p>three<br />\nfour</p>"
    )
    assert chat_text_to_site_html("") == ""
    assert chat_text_to_site_html(" \n\t\n") == ""


def test_inline_markdown() -> None:
    assert chat_text_to_site_html("**b** *e* _u_ ~~s~~ `c <x>`") == (
        "<p><strong>b</strong> <em>e</em> <em>u</em> <del>s</del> <code>c &lt;x&gt;</code></p>"
    )
    assert chat_text_to_site_html("**bold with *em* inside**") == "<p><strong>bold with <em>em</em> inside</strong></p>"
    assert chat_text_to_site_html("snake_case_name and 2 * 3 * 4") == "<p>snake_case_name and 2 * 3 * 4</p>"
    assert chat_text_to_site_html("`**not bold**`") == "<p><code>**not bold**</code></p>"
    assert chat_text_to_site_html("``a ` b``") == "<p><code>a ` b</code></p>"


def test_links() -> None:
    a = '<a href="{0}" rel="nofollow ugc">{1}</a>'
    assert chat_text_to_site_html("see https://example.com/a_b?x=1&y=2.") == (
        "<p>see " + a.format("https://example.com/a_b?x=1&amp;y=2", "https://example.com/a_b?x=1&amp;y=2") + ".</p>"
    )
    assert chat_text_to_site_html("(https://en.wikipedia.org/wiki/A_(b))") == (
        "<p>(" + a.format("https://en.wikipedia.org/wiki/A_(b)", "https://en.wikipedia.org/wiki/A_(b)") + ")</p>"
    )
    assert chat_text_to_site_html("[the **site**](https://x.org/p)") == (
        "<p>" + a.format("https://x.org/p", "the <strong>site</strong>") + "</p>"
    )
    assert chat_text_to_site_html("<https://x.org>") == "<p>" + a.format("https://x.org", "https://x.org") + "</p>"
    assert chat_text_to_site_html("HTTPS://X.ORG") == "<p>" + a.format("HTTPS://X.ORG", "HTTPS://X.ORG") + "</p>"
    # A URL inside a link's text is not a second link.
    assert chat_text_to_site_html("[https://a.org](https://b.org)") == (
        "<p>" + a.format("https://b.org", "https://a.org") + "</p>"
    )


@pytest.mark.parametrize(
    "text",
    [
        "[click](javascript:alert(1))",
        "javascript:alert(1)",
        "[x](data:text/html,<script>alert(1)</script>)",
        "[x](//evil.example)",
        "[x](vbscript:msgbox)",
        "https://",
        '[x](https://a.org" onclick="alert(1))',
        "<javascript:alert(1)>",
    ],
)
def test_no_other_scheme_becomes_a_link(text: str) -> None:
    html = chat_text_to_site_html(text)
    assert_safe(html)
    hrefs = [dict(attrs).get("href") or "" for tag, attrs in audit(html).tags if tag == "a"]
    assert all(href.startswith("https://a.org") for href in hrefs), hrefs
    assert "javascript:" not in "".join(hrefs)


def test_code_blocks() -> None:
    text = "before\n```py\nif a < b:\n\n    print('**x**')\n```\nafter"
    assert chat_text_to_site_html(text) == (
        "<p>before</p>\n\n"
        '<pre><code class="language-py">if a &lt; b:\n\n    print(&#x27;**x**&#x27;)</code></pre>\n\n'
        "<p>after</p>"
    )
    assert chat_text_to_site_html("```\nunclosed <b>") == "<pre><code>unclosed &lt;b&gt;</code></pre>"
    assert chat_text_to_site_html("```one line```") == "<p><code>one line</code></p>"


def test_quotes() -> None:
    assert chat_text_to_site_html("> quoted\n> more\nreply") == (
        "<blockquote><p>quoted<br />\nmore</p></blockquote>\n\n<p>reply</p>"
    )
    assert chat_text_to_site_html(">>> all\nof this") == "<blockquote><p>all<br />\nof this</p></blockquote>"
    assert chat_text_to_site_html(">_> not a quote") == "<p>&gt;_&gt; not a quote</p>"
    assert chat_text_to_site_html("> > nested") == "<blockquote><blockquote><p>nested</p></blockquote></blockquote>"


def test_quote_text_round_trip() -> None:
    assert quote_text("a\nb") == "> a\n> b"
    assert quote_text("a\r\n\r\nb") == "> a\n> \n> b"
    assert quote_text("") == ""
    html = chat_text_to_site_html(quote_text("Alice wrote:\n\nhi <there>") + "\n\nmy reply")
    assert html == ("<blockquote><p>Alice wrote:</p>\n\n<p>hi &lt;there&gt;</p></blockquote>\n\n<p>my reply</p>")


def test_control_bidi_and_surrogates() -> None:
    text = "a\x00b\x07c\x1bd\x7fe\x85f\tg \u202eevil\u202c \u2066iso\u2069 lone\ud800 \udfff pair\ud83d\ude00"
    assert chat_text_to_site_html(text) == "<p>abcdef\tg evil iso lone\ufffd \ufffd pair😀</p>"
    assert chat_text_to_site_html("one\u2028two\u2029three") == "<p>one<br />\ntwo</p>\n\n<p>three</p>"


PIECES = [
    "word", "Hello", " ", " ", "\n", "\n\n", "<", ">", "&", '"', "'", "<script>", "</script>",
    "<img src=x onerror=1>", "javascript:", "[", "]", "(", ")", "[x](", "https://a.org/p?q=1&r=2", "https://",
    "*", "**", "_", "`", "```", "```py\n", "~~", "> ", ">>> ", "\x00", "\x1b", "\u202e", "\u2066", "\ud800",
    "\udc00", "😀", "e\u0301", "\t", "\r",
]  # fmt: skip


def letters(text: str) -> Counter[str]:
    return Counter(ch for ch in text if ch.isalnum())


@pytest.mark.parametrize("seed", range(3))
def test_any_input_gives_safe_html_keeping_the_text(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(1500):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 40)))
        html = chat_text_to_site_html(text)
        assert_safe(html)
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069\ud800-\udfff]", html)
        found = audit(html)
        # Every letter and digit typed is in the comment: shown, or as a link target / code language.
        typed = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")  # pairs joined
        assert letters("".join(found.text) + "".join(found.extra)) == letters(typed), (text, html)


@pytest.mark.timeout(30)  # a hang guard (catastrophic regex backtracking), not a speed goal
def test_deep_nesting_and_unclosed_delimiters_do_not_hang() -> None:
    assert chat_text_to_site_html("> " * 3000 + "x").count("<blockquote>") <= 10
    assert chat_text_to_site_html("**" * 3000 + "x").endswith("x</p>")
    for text in ("`" * 20000, "``a `" * 4000, "**a " * 5000, "*a " * 7000, "_a " * 7000, "~~a " * 5000):
        assert_safe(chat_text_to_site_html(text))
