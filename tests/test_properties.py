"""Property tests (issue #5, hostile input): generated comment bodies and chat messages through every
converter in bot/convert and the functions that render the Discord and Matrix messages.

For every input: nothing crashes; every part fits its platform's limits; nobody is pinged; no
visible word is lost (and where a limit cuts text, the link to the original is there); chat text
becomes escaped, script-free site HTML; no lone surrogate reaches what is JSON-encoded for a platform.

`make test` tries the sum of `EXAMPLES` (10,174 inputs), the same ones every run (derandomized, no
example database); `HYPOTHESIS_PROFILE=soak` tries ten times as many, new ones each run. The count of
inputs really tried is printed at the end of the module.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
from bs4 import BeautifulSoup
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.chats.discord.render import (
    MAX_MESSAGE,
    MAX_THREAD_NAME,
    MAX_WEBHOOK_NAME,
    comment_parts,
    starter_text,
    thread_name,
    webhook_username,
)
from bot.chats.matrix.content import (
    MAX_PART_BYTES,
    edit_content,
    json_size,
    part_content,
    render_comment,
    thread_relation,
    thread_root_content,
)
from bot.convert import (
    chat_text_to_site_html,
    excerpt,
    html_to_markdown,
    html_to_text,
    neutralize_mentions,
    quote_text,
    split_message,
    split_utf8,
)
from bot.convert.markdown import escape_markdown
from bot.convert.matrix_html import ALLOWED_TAGS, sanitize_html, split_html
from bot.models import Comment, MirroredComment, Page, ParentContext, ThreadHeader
from tests import strategies as gen
from tests.test_convert_split import assert_no_text_lost

F = TypeVar("F", bound=Callable[..., None])
# bs4 warns when a text looks like a URL or a file name; such input is expected here.
pytestmark = pytest.mark.filterwarnings("ignore::bs4.MarkupResemblesLocatorWarning")

# -- budget: examples per test, and a count of the inputs really tried ---------------------------

EXAMPLES = {
    "chat_tracked": 2400,
    "chat_hostile": 1200,
    "plain_text": 2400,
    "split": 500,
    "html_tracked": 900,
    "html_hostile": 900,
    "discord_tracked": 600,
    "discord_hostile": 500,
    "matrix_tracked": 400,
    "matrix_hostile": 350,
    "deep_nesting": 20,
    "big": 4,  # 100 KB each, through every converter and renderer
}  # 10,174 in all
_COMMON = {
    "deadline": None,
    "database": None,  # nothing saved between runs
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
}
settings.register_profile("thread-mirror", derandomize=True, print_blob=False, **_COMMON)
settings.register_profile("soak", derandomize=False, print_blob=True, **_COMMON)
PROFILE = "soak" if os.environ.get("HYPOTHESIS_PROFILE") == "soak" else "thread-mirror"
SCALE = 10 if PROFILE == "soak" else 1
TRIED: Counter[str] = Counter()


def examples(name: str) -> Callable[[F], F]:
    """The settings for test `name`: the profile, with the test's share of the examples."""
    return settings(settings.get_profile(PROFILE), max_examples=EXAMPLES[name] * SCALE)


def tried(name: str) -> None:
    TRIED[name] += 1


@pytest.fixture(scope="module", autouse=True)
def _report_count(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if capture is not None and TRIED:
        detail = ", ".join(f"{name} {n}" for name, n in TRIED.items())
        with capture.global_and_fixture_disabled():
            print(f"\nproperty tests: {sum(TRIED.values())} generated inputs tried ({detail})")


# -- what every output must satisfy ------------------------------------------------------------

MATRIX_EVENT_MAX = 65_536  # bytes: Synapse refuses bigger events (and content is most of one)
ACTIVE_DISCORD = re.compile(r"@(?i:everyone|here)|<@[!&]?\d+>")
ACTIVE_MATRIX = re.compile(r"@(?i:room)|@[\w.=/+-]+:(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9])")
MATRIX_ATTRS = {"a": {"href"}, "ol": {"start"}, "code": {"class"}}
SITE_TAGS = {"p", "br", "strong", "em", "del", "code", "pre", "blockquote", "a"}
SITE_ATTRS = {"a": {"href", "rel"}, "code": {"class"}}
WHITESPACE = re.compile(r"\s+")
# A tag as typed: without markdown or characters chat_text_to_site_html drops (controls, bidi, surrogates).
TYPED_TAG = re.compile(
    r"<[A-Za-z][^<>`*_~\[\]()\\\u2028\u2029\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]*>"
)
AUTOLINK = re.compile(r"<(?i:https?)://")
ZWSP = gen.ZWSP


def assert_utf8(text: str) -> None:
    text.encode("utf-8")  # strict: a lone surrogate raises


def squeeze(text: str) -> str:
    return WHITESPACE.sub("", text)


def assert_tokens(doc: gen.Tracked, output: str) -> None:
    """Every word is in `output`, and every mention in its harmless form (whitespace aside)."""
    flat = squeeze(output)
    for word in doc.words:
        assert word in flat, (word, output[:2000])
    for mention in doc.mentions:
        assert squeeze(gen.MENTIONS[mention]) in flat, (mention, output[:2000])


def assert_in_order(text: str, output: str) -> None:
    """Every character of `text` is in `output`, in the same order (others may come between)."""
    rest = iter(output)
    assert all(ch in rest for ch in text), (text[:500], output[:500])


def assert_discord_message(text: str) -> None:
    assert 0 < len(text) <= MAX_MESSAGE, len(text)
    assert_utf8(text)
    assert not ACTIVE_DISCORD.search(text), ACTIVE_DISCORD.search(text)


def assert_matrix_html(formatted: str) -> str:
    """Only the tags, attributes and link schemes Matrix recommends, no active mention; returns the text."""
    assert_utf8(formatted)
    soup = BeautifulSoup(formatted, "html.parser")
    for tag in soup.find_all(True):
        assert tag.name in ALLOWED_TAGS, tag.name
        assert set(tag.attrs) <= MATRIX_ATTRS.get(tag.name, set()), (tag.name, tag.attrs)
        if tag.name == "a":
            assert re.match(r"(https?://|ftp://|mailto:|magnet:)", str(tag["href"])), tag
    text = soup.get_text()
    assert not ACTIVE_MATRIX.search(text), ACTIVE_MATRIX.search(text)
    return text


def assert_matrix_event(content: dict[str, Any]) -> None:
    """Pings nobody, fits an event, encodes as strict UTF-8 (its HTML is checked by assert_matrix_html)."""
    assert content["m.mentions"] == {}
    assert json_size(content) <= MATRIX_EVENT_MAX
    json.dumps(content, ensure_ascii=False).encode("utf-8")  # strict
    assert content["body"].strip()
    assert not ACTIVE_MATRIX.search(content["body"]), ACTIVE_MATRIX.search(content["body"])


def assert_site_html(out: str) -> str:
    """Only the tags chat_text_to_site_html makes, links only to http(s), nothing scriptable; returns the text."""
    assert_utf8(out)
    assert not re.search(r"(?i)<\s*/?\s*(script|iframe|style|object|embed|svg|img)", out), out
    assert not re.search(r"(?i)<[^>]*\son[a-z]+\s*=", out), out  # no event handler attribute
    soup = BeautifulSoup(out, "html.parser")
    for tag in soup.find_all(True):
        assert tag.name in SITE_TAGS, tag.name
        assert set(tag.attrs) <= SITE_ATTRS.get(tag.name, set()), (tag.name, tag.attrs)
        if tag.name == "a":
            href = str(tag["href"])
            assert re.match(r"(?i)https?://[^\s\"<>]+$", href), href
            assert "javascript:" not in href.lower()
        if tag.name == "code" and tag.get("class"):
            assert re.fullmatch(r"language-[\w+#.-]+", " ".join(tag["class"])), tag["class"]
    return soup.get_text()


# -- inputs shared by the render tests ---------------------------------------------------------

WHEN = datetime(2026, 3, 1, 14, 2, tzinfo=UTC)
LINK = "https://blog.example.org/ferry/#comment-12"


def make_comment(body: str, author: str = "Maren") -> Comment:
    return Comment("site", 12, 7, 11, author, WHEN, body, LINK)


def make_message(body: str, author: str = "Maren", parent: ParentContext | None = None) -> MirroredComment:
    return MirroredComment(make_comment(body, author), "Harbour ferry", parent)


def parent_of(body: str, author: str, mirrored: bool) -> ParentContext:
    """The reply context as the core builds it (bot/core/deliver.py)."""
    ref = "1234567890" if mirrored else None
    return ParentContext(author, excerpt(html_to_text(body), 120), "https://blog.example.org/ferry/#comment-11", ref)


def footer() -> str:
    return f"-# <t:{int(WHEN.timestamp())}:f> · [on the site](<{LINK}>)"


# -- chat → site ---------------------------------------------------------------------------------


@examples("chat_tracked")
@given(gen.tracked_chat)
def test_chat_text_becomes_escaped_site_html_without_losing_words(doc: gen.Tracked) -> None:
    tried("chat_tracked")
    assert_tokens(doc, assert_site_html(chat_text_to_site_html(doc.source)))


@examples("chat_hostile")
@given(st.one_of(gen.hostile_chat, gen.big_text.map(lambda t: t[:2000])))
def test_hostile_chat_text_becomes_safe_site_html(text: str) -> None:
    tried("chat_hostile")
    out = chat_text_to_site_html(text)
    visible = assert_site_html(out)
    # Every tag typed in chat arrives as text: "<b>" as "&lt;b&gt;" (a URL in it may become a link).
    for typed in TYPED_TAG.findall(text):
        if AUTOLINK.match(typed):
            continue  # <https://...> is chat's own link syntax
        assert typed in visible, typed
        if "://" not in typed:
            assert html.escape(typed) in out, typed
    if not text.strip():
        assert not visible.strip()


# -- plain-text helpers -------------------------------------------------------------------------


@examples("plain_text")
@given(gen.hostile_chat, st.integers(min_value=1, max_value=300))
def test_plain_text_helpers(text: str, limit: int) -> None:
    tried("plain_text")
    neutral = neutralize_mentions(text)
    assert_utf8(neutral)
    assert neutralize_mentions(neutral) == neutral  # idempotent
    assert not ACTIVE_DISCORD.search(neutral)
    assert not ACTIVE_MATRIX.search(neutral)
    assert neutral.replace(ZWSP, "") == valid(text).replace(ZWSP, "")  # only ZWSPs added
    cut = excerpt(text, limit)
    assert len(cut) <= limit and "\n" not in cut
    assert not cut.startswith(" ") and not cut.endswith(" ")
    escaped = escape_markdown(text)
    assert escaped.replace("\\", "") == text.replace("\\", "")  # only backslashes added
    quoted = quote_text(text)
    assert all(line.startswith("> ") for line in quoted.split("\n")) if text else quoted == ""


def valid(text: str) -> str:
    """Lone surrogates as U+FFFD (the converters' own helper is what is tested, so not used here)."""
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


@examples("split")
@given(
    st.one_of(gen.hostile_chat, gen.tracked_chat.map(lambda d: d.source), gen.big_text.map(lambda t: t[:2000])),
    st.integers(min_value=12, max_value=2000),
)
def test_splitting_keeps_the_text_and_the_limits(text: str, limit: int) -> None:
    tried("split")
    text = valid(text)  # what the converters give split_* is valid Unicode
    parts = split_message(text, limit)
    assert all(len(p) <= limit and p.strip() for p in parts)
    assert_no_text_lost(text, parts)
    parts = split_utf8(text, limit)
    assert all(len(p.encode("utf-8")) <= limit and p.strip() for p in parts)
    assert_no_text_lost(text, parts)


# -- site HTML → chat ---------------------------------------------------------------------------


@examples("html_tracked")
@given(gen.tracked_html, st.integers(min_value=64, max_value=4000))
def test_html_converters_keep_every_word(doc: gen.Tracked, max_bytes: int) -> None:
    tried("html_tracked")
    markdown = neutralize_mentions(html_to_markdown(doc.source))
    assert_tokens(doc, markdown)
    assert_tokens(doc, neutralize_mentions(html_to_text(doc.source)))
    formatted = sanitize_html(doc.source)
    assert_tokens(doc, assert_matrix_html(formatted))
    parts = split_html(formatted, max_bytes)
    assert all(len(p.encode("utf-8")) <= max_bytes for p in parts)
    assert_tokens(doc, "".join(assert_matrix_html(p) for p in parts))


@examples("html_hostile")
@given(gen.hostile_html, st.integers(min_value=64, max_value=4000))
def test_html_converters_survive_hostile_html(source: str, max_bytes: int) -> None:
    tried("html_hostile")
    check_html_converters(source, max_bytes)


def check_html_converters(source: str, max_bytes: int) -> None:
    assert_utf8(html_to_markdown(source))
    assert_utf8(html_to_text(source))
    formatted = sanitize_html(source)
    text = assert_matrix_html(formatted)
    parts = split_html(formatted, max_bytes)
    assert all(len(p.encode("utf-8")) <= max_bytes and p.strip() for p in parts)
    if len(formatted.encode("utf-8")) <= max_bytes:
        assert parts == ([formatted] if formatted.strip() else [])
    else:  # a block too big on its own is re-rendered as text ("> " and "1. " added), none of it lost
        assert_in_order(squeeze(text), squeeze("".join(assert_matrix_html(p) for p in parts)))


# -- Discord ------------------------------------------------------------------------------------


def check_discord(message: MirroredComment, *, name_prefix: bool) -> list[str]:
    parts = comment_parts(message, 1000, "2000", name_prefix=name_prefix)
    assert parts
    for part in parts:
        assert_discord_message(part)
    assert parts[-1].endswith(footer())  # the link to the comment
    return parts


def check_discord_lossless(body_html: str) -> list[str]:
    """Without a header the parts are the comment's markdown, split losslessly, then the footer."""
    parts = check_discord(make_message(body_html), name_prefix=False)
    inner = [*parts[:-1], parts[-1].removesuffix(footer()).rstrip("\n")]
    body = neutralize_mentions(html_to_markdown(body_html)).strip()
    assert_no_text_lost(body, [p for p in inner if p])
    return inner


def check_discord_headers(page: Page, root: Comment | None, author: str) -> None:
    header = ThreadHeader("site", page, root)
    name = thread_name(header)
    assert 0 < len(name) <= MAX_THREAD_NAME and "\n" not in name
    assert_utf8(name)
    starter = starter_text(header)
    assert_discord_message(starter)
    assert page.url.replace(" ", "%20").replace("(", "%28").replace(")", "%29") in starter  # always links the page
    user = webhook_username(author)
    assert 0 < len(user) <= MAX_WEBHOOK_NAME
    assert_utf8(user)
    assert not re.search(r"(?i)discord|clyde", user)
    assert user.lower() not in ("everyone", "here", "system message")


@examples("discord_tracked")
@given(gen.tracked_html, st.booleans(), st.booleans())
def test_discord_parts_keep_every_word_and_ping_nobody(doc: gen.Tracked, prefix: bool, mirrored: bool) -> None:
    tried("discord_tracked")
    inner = check_discord_lossless(doc.source)
    assert_tokens(doc, "".join(inner))
    parent = parent_of(doc.source, "Ida @everyone", mirrored)
    parts = check_discord(make_message(doc.source, "Maren <@&1>", parent), name_prefix=prefix)
    assert_tokens(doc, "".join(parts))


@examples("discord_hostile")
@given(gen.hostile_html, gen.hostile_chat, gen.hostile_chat, st.booleans(), st.booleans())
def test_discord_messages_survive_hostile_input(
    body: str, author: str, title: str, prefix: bool, mirrored: bool
) -> None:
    tried("discord_hostile")
    check_discord_lossless(body)
    check_discord(make_message(body, author, parent_of(body, author, mirrored)), name_prefix=prefix)
    page = Page("site", 7, "https://blog.example.org/ferry (2)/", title, body)
    check_discord_headers(page, None, author)
    check_discord_headers(page, make_comment(body, author), author)


# -- Matrix -------------------------------------------------------------------------------------


def check_matrix(message: MirroredComment) -> list[str]:
    """Every part as a threaded message and as an edit; returns the parts' bodies and HTML text."""
    parts = render_comment(message)
    assert parts
    seen: list[str] = []
    for index, part in enumerate(parts):
        assert json_size({"b": part.body, "f": part.formatted}) <= MAX_PART_BYTES
        assert LINK in part.body  # every part links to the comment
        assert_matrix_event(part_content(part, thread_relation("$root", f"$prev{index}", True)))
        edit = edit_content(part, f"$part{index}")
        assert_matrix_event(edit)
        assert_matrix_event(edit["m.new_content"])
        assert edit["formatted_body"] == "* " + part.formatted == "* " + edit["m.new_content"]["formatted_body"]
        seen += [part.body, assert_matrix_html(part.formatted)]
    return seen


def check_matrix_root(page: Page, root: Comment | None) -> None:
    content = thread_root_content(ThreadHeader("site", page, root))
    assert_matrix_event(content)
    assert_matrix_html(content["formatted_body"])
    assert page.url in content["body"]


@examples("matrix_tracked")
@given(gen.tracked_html, st.booleans())
def test_matrix_parts_keep_every_word_and_ping_nobody(doc: gen.Tracked, mirrored: bool) -> None:
    tried("matrix_tracked")
    seen = check_matrix(make_message(doc.source, "Maren @room", parent_of(doc.source, "@ida:x.org", mirrored)))
    bodies, texts = seen[0::2], seen[1::2]
    assert_tokens(doc, "".join(bodies))
    assert_tokens(doc, "".join(texts))


@examples("matrix_hostile")
@given(gen.hostile_html, gen.hostile_chat, gen.hostile_chat, st.booleans())
def test_matrix_events_survive_hostile_input(body: str, author: str, title: str, mirrored: bool) -> None:
    tried("matrix_hostile")
    check_matrix(make_message(body, author, parent_of(body, author, mirrored)))
    page = Page("site", 7, "https://blog.example.org/ferry/", title, body)
    check_matrix_root(page, None)
    check_matrix_root(page, make_comment(body, author))


# -- the extremes: deep nesting, 100 KB --------------------------------------------------------


@examples("deep_nesting")
@given(gen.deep_html)
def test_deeply_nested_html(source: str) -> None:
    tried("deep_nesting")
    check_html_converters(source, 2000)
    check_discord_lossless(source)
    check_matrix(make_message(source))


@examples("big")
@given(gen.big_text)
def test_100_kb_inputs(text: str) -> None:
    tried("big")
    check_html_converters(text, 20_000)
    check_discord_lossless(text)
    message = make_message(text, text, parent_of(text, text, mirrored=False))
    check_discord(message, name_prefix=True)
    check_matrix(message)
    page = Page("site", 7, "https://blog.example.org/ferry/", text, text)  # a title, too, may be 100 KB
    check_discord_headers(page, make_comment(text, text), text)
    check_matrix_root(page, make_comment(text, text))
    assert_site_html(chat_text_to_site_html(text))  # as a chat message
