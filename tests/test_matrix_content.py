"""The Matrix adapter's pure parts: HTML sanitizing and splitting, event contents both ways,
command parsing, and its config section."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from pydantic import ValidationError

from bot.chats.matrix.commands import COMMANDS, CommandSyntaxError, matrix_help, parse_command
from bot.chats.matrix.content import (
    edit_content,
    json_size,
    notice_content,
    parse_event,
    part_content,
    render_comment,
    strip_reply_fallback,
    thread_relation,
    thread_root_content,
    txn_id,
)
from bot.commands.mirror import HELP
from bot.config import MatrixChat
from bot.convert.matrix_html import ALLOWED_TAGS, sanitize_html, split_html
from bot.models import Comment, MirroredComment, Page, ParentContext, ThreadHeader

FIXTURES = Path(__file__).parent / "fixtures" / "wordpress"
COMMENTS: list[dict[str, Any]] = json.loads((FIXTURES / "comments.json").read_text(encoding="utf-8"))
ALLOWED_ATTRS = {"a": {"href"}, "ol": {"start"}, "code": {"class"}}


def tags_and_attrs(html: str) -> list[tuple[str, set[str]]]:
    return [(t.name, set(t.attrs)) for t in BeautifulSoup(html, "html.parser").find_all(True)]


def assert_matrix_safe(html: str) -> None:
    for name, attrs in tags_and_attrs(html):
        assert name in ALLOWED_TAGS, name
        assert attrs <= ALLOWED_ATTRS.get(name, set()), (name, attrs)
    for link in BeautifulSoup(html, "html.parser").find_all("a"):
        assert re.match(r"^(https?://|ftp://|mailto:|magnet:)", str(link["href"])), link


# -- sanitizing -------------------------------------------------------------------------------


@pytest.mark.parametrize("comment", COMMENTS, ids=lambda c: f"comment-{c['id']}")
def test_every_real_comment_sanitizes_to_matrix_html_with_its_words(comment: dict[str, Any]) -> None:
    html = comment["content"]["rendered"]
    clean = sanitize_html(html)
    assert_matrix_safe(clean)
    if "<pre" not in clean:
        assert "\n" not in clean  # clients would show a source newline as a line break
    assert visible(clean) == visible(html)


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ('<p>a <script>alert(1)</script><b onclick="x()">bold</b></p>', "<p>a <b>bold</b></p>"),
        ('<a href="javascript:alert(1)">js</a> <a href="/relative">rel</a>', "js rel"),
        (
            '<a href="https://x.org/?a=1&amp;b=2" title="t" rel="nofollow">ok</a>',
            '<a href="https://x.org/?a=1&amp;b=2">ok</a>',
        ),
        ('<a href="mailto:a@example.org">mail</a>', '<a href="mailto:a@example.org">mail</a>'),
        ('<img src="https://e.org/cat.png" alt="a cat">', '<a href="https://e.org/cat.png">a cat</a>'),
        ('<img class="wp-smiley" src="https://s.w.org/1f600.svg" alt="😀">', "😀"),
        (
            '<a href="https://e.org/"><img src="https://e.org/i.png" alt="logo"></a>',
            '<a href="https://e.org/">logo</a>',
        ),
        (
            "<q>quoted</q> <strike>old</strike> <kbd>Ctrl</kbd> <cite>Book</cite>",
            "“quoted” <del>old</del> <code>Ctrl</code> <i>Book</i>",
        ),
        ("<section><p>a</p></section><font color=red>red</font>", "<div><p>a</p></div>red"),
        (
            '<ol start="3"><li>x</li></ol><ol start="one"><li>y</li></ol>',
            '<ol start="3"><li>x</li></ol><ol><li>y</li></ol>',
        ),
        (
            '<pre class="wp-block-code language-python"><code>if x:\n    y()</code></pre>',
            '<pre><code class="language-python">if x:\n    y()</code></pre>',
        ),
        (
            "<blockquote>\n<p>q</p>\n</blockquote>\n<p>line<br />\nnext</p>",
            "<blockquote><p>q</p></blockquote><p>line<br/>next</p>",
        ),
        (
            "<p>@room and @everyone, ask @bob:example.org</p>",
            "<p>@\u200broom and @\u200beveryone, ask @\u200bbob:example.org</p>",
        ),
        ("<p>1 &lt; 2 &amp;&amp; &quot;x&quot;</p>", '<p>1 &lt; 2 &amp;&amp; "x"</p>'),
        ("<!-- note --><style>p{}</style><iframe src=x></iframe>", ""),
        ("", ""),
    ],
)
def test_sanitize(html: str, expected: str) -> None:
    assert sanitize_html(html) == expected


def test_sanitize_caps_nesting() -> None:
    deep = "<blockquote>" * 300 + "deep" + "</blockquote>" * 300
    clean = sanitize_html(deep)
    assert "deep" in clean and clean.count("<blockquote>") <= 41


# -- splitting ------------------------------------------------------------------------------


def visible(html: str) -> list[str]:
    return BeautifulSoup(html, "html.parser").get_text(" ").split()


@pytest.mark.parametrize("limit", [200, 1000, 5000])
def test_split_html_keeps_every_word_within_the_limit(limit: int) -> None:
    html = sanitize_html(
        "<p>" + "word " * 900 + "</p>"
        + "<ul>" + "".join(f"<li>item {i} " + "ünïcødé 🚢 " * 10 + "</li>" for i in range(60)) + "</ul>"
        + "<pre><code>" + "line of code\n" * 200 + "</code></pre><p>end</p>"
    )  # fmt: skip
    parts = split_html(html, limit)
    assert len(parts) > 1
    assert all(len(p.encode()) <= limit for p in parts)
    assert [w for p in parts for w in visible(p)] == visible(html)
    for part in parts:
        assert_matrix_safe(part)


def test_split_html_keeps_small_html_whole_and_numbers_lists_on() -> None:
    assert split_html("<p>a</p><p>b</p>", 1000) == ["<p>a</p><p>b</p>"]
    assert split_html("", 1000) == []
    items = "".join(f"<li>{'x' * 50} {i}</li>" for i in range(1, 21))
    parts = split_html(f'<ol start="5">{items}</ol>', 300)
    assert all(p.startswith("<ol") and p.endswith("</ol>") for p in parts)
    with pytest.raises(ValueError):
        split_html("<p>x</p>", 10)


# -- outgoing contents ---------------------------------------------------------------------------

PAGE = Page("site", 7, "https://news.example.org/ferry/", "Ferry @room timetable", "Every 20 minutes.")


def mirrored(html: str, parent: ParentContext | None = None, author: str = "Maren") -> MirroredComment:
    comment = Comment(
        "site",
        12,
        7,
        3 if parent else 0,
        author,
        datetime(2025, 3, 1, 9, 5, tzinfo=UTC),
        html,
        f"{PAGE.url}#comment-12",
    )
    return MirroredComment(comment, PAGE.title, parent)


def test_thread_root_has_title_link_excerpt_and_pings_nobody() -> None:
    content = thread_root_content(ThreadHeader("site", PAGE))
    assert content["body"] == f"💬 Ferry @\u200broom timetable\n{PAGE.url}\nEvery 20 minutes."
    assert f'<a href="{PAGE.url}">Ferry @\u200broom timetable</a>' in content["formatted_body"]
    assert content["m.mentions"] == {} and content["format"] == "org.matrix.custom.html"
    per_comment = thread_root_content(ThreadHeader("site", PAGE, mirrored("<p>" + "Long words " * 50 + "</p>").comment))
    assert per_comment["body"].startswith("💬 Maren on Ferry")
    assert per_comment["body"].endswith("…") and len(per_comment["body"].split("\n")[2]) <= 200


def test_a_comment_shows_author_time_link_and_its_text() -> None:
    [part] = render_comment(mirrored("<p>Hello <b>harbour</b> @room</p>"))
    assert part.body == f"Maren · 2025-03-01 09:05 UTC · {PAGE.url}#comment-12\n\nHello **harbour** @\u200broom"
    assert part.formatted == (
        f'<p><b>Maren</b> · <a href="{PAGE.url}#comment-12">2025-03-01 09:05 UTC</a></p>'
        "<p>Hello <b>harbour</b> @\u200broom</p>"
    )


def test_reply_context_names_a_mirrored_parent_and_quotes_one_that_is_not() -> None:
    in_thread = ParentContext("Oskar <b>", "Not for the night shift.", f"{PAGE.url}#comment-3", "$parent")
    [part] = render_comment(mirrored("<p>Yes it is.</p>", in_thread))
    assert part.body.split("\n")[0].endswith("· ↪ Oskar <b>")
    assert "↪ Oskar &lt;b&gt;" in part.formatted and "<blockquote>" not in part.formatted
    elsewhere = ParentContext("Oskar", "Not for the night shift.", f"{PAGE.url}#comment-3", None)
    [part] = render_comment(mirrored("<p>Yes it is.</p>", elsewhere))
    assert "\n↪ Oskar: “Not for the night shift.”\n" in part.body
    assert (
        f'<blockquote>↪ <a href="{PAGE.url}#comment-3">Oskar</a>: Not for the night shift.</blockquote>'
        in part.formatted
    )


def test_a_long_comment_is_split_into_numbered_parts_that_fit_an_edit() -> None:
    html = "".join(f"<p>Paragraph {i}: " + "ferries and “quotes” & ümlauts. " * 40 + "</p>" for i in range(40))
    parts = render_comment(mirrored(html), max_bytes=20_000)
    assert len(parts) >= 3
    assert [p.body.split(" · ")[0] for p in parts] == [f"Maren ({i}/{len(parts)})" for i in range(1, len(parts) + 1)]
    for part in parts:
        content = part_content(part, thread_relation("$root", "$prev", True))
        assert json_size(content) <= 21_000
        assert json_size(edit_content(part, "$original")) < 60_000  # under Synapse's 64 KiB with room to spare
    text = " ".join(p.body for p in parts)
    assert all(f"Paragraph {i}:" in text for i in range(40))


def test_an_empty_comment_still_shows_who_and_when() -> None:
    [part] = render_comment(mirrored(""))
    assert part.body.startswith("Maren · 2025-03-01")


def test_relations_and_edits() -> None:
    assert thread_relation("$root", "$parent", False) == {
        "rel_type": "m.thread",
        "event_id": "$root",
        "is_falling_back": False,
        "m.in_reply_to": {"event_id": "$parent"},
    }
    [part] = render_comment(mirrored("<p>Fixed</p>"))
    edit = edit_content(part, "$orig")
    assert edit["m.relates_to"] == {"rel_type": "m.replace", "event_id": "$orig"}
    assert edit["m.new_content"] == part_content(part)
    assert "m.relates_to" not in edit["m.new_content"]
    assert edit["body"] == "* " + part.body and edit["m.mentions"] == {} == edit["m.new_content"]["m.mentions"]


def test_notices_keep_lines_and_code() -> None:
    content = notice_content("Cannot `mirror add`:\n<b>no</b>")
    assert content["msgtype"] == "m.notice"
    assert content["formatted_body"] == "Cannot <code>mirror add</code>:<br/>&lt;b&gt;no&lt;/b&gt;"


def test_transaction_ids_are_stable_distinct_and_url_safe() -> None:
    assert txn_id("post:1", 0) == txn_id("post:1", 0)
    assert len({txn_id("post:1", 0), txn_id("post:1", 1), txn_id("post:1", "edit", 0), txn_id("post:10")}) == 4
    assert re.fullmatch(r"tm[0-9a-f]{40}", txn_id("post_comment:matrix:!room:site:1:g0", 0))


# -- incoming ---------------------------------------------------------------------------------


def event(content: dict[str, Any], kind: str = "m.room.message", **extra: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "event_id": "$ev",
        "sender": "@alice:x",
        "origin_server_ts": 1000,
        "content": content,
        **extra,
    }


def test_parse_threaded_messages_real_replies_and_fallbacks() -> None:
    reply = parse_event(
        event(
            {
                "msgtype": "m.text",
                "body": "> <@bob:x> earlier\n> more\n\nMy answer",
                "m.relates_to": {
                    "rel_type": "m.thread",
                    "event_id": "$root",
                    "is_falling_back": False,
                    "m.in_reply_to": {"event_id": "$parent"},
                },
            }
        )
    )
    assert reply is not None
    assert (reply.kind, reply.thread_root, reply.reply_to, reply.text) == ("message", "$root", "$parent", "My answer")
    fallback = parse_event(
        event(
            {
                "msgtype": "m.text",
                "body": "Just saying",
                "m.relates_to": {
                    "rel_type": "m.thread",
                    "event_id": "$root",
                    "is_falling_back": True,
                    "m.in_reply_to": {"event_id": "$latest"},
                },
            }
        )
    )
    assert fallback is not None and (fallback.thread_root, fallback.reply_to) == ("$root", None)
    plain_reply = parse_event(
        event({"msgtype": "m.text", "body": "hi", "m.relates_to": {"m.in_reply_to": {"event_id": "$m"}}})
    )
    assert plain_reply is not None and (plain_reply.thread_root, plain_reply.reply_to) == (None, "$m")
    emote = parse_event(event({"msgtype": "m.emote", "body": "waves"}))
    assert emote is not None and emote.emote


def test_parse_edits_and_redactions() -> None:
    edit = parse_event(
        event(
            {
                "msgtype": "m.text",
                "body": "* new",
                "m.new_content": {"msgtype": "m.text", "body": "new"},
                "m.relates_to": {"rel_type": "m.replace", "event_id": "$orig"},
            }
        )
    )
    assert edit is not None and (edit.kind, edit.target, edit.text) == ("edit", "$orig", "new")
    v11 = parse_event(event({"redacts": "$gone"}, "m.room.redaction"))
    old = parse_event(event({}, "m.room.redaction", redacts="$gone"))
    assert v11 is not None and old is not None and v11.target == old.target == "$gone" and v11.kind == "redaction"


@pytest.mark.parametrize(
    "source",
    [
        event({"msgtype": "m.notice", "body": "another bot"}),
        event({"msgtype": "m.image", "body": "cat.png", "url": "mxc://x/y"}),
        event({}),  # a redacted message
        event({"membership": "join"}, "m.room.member"),
        event({"msgtype": "m.text", "body": "*", "m.relates_to": {"rel_type": "m.replace", "event_id": "$o"}}),
        {"type": "m.room.message", "content": {"msgtype": "m.text", "body": "no id"}},
    ],
)
def test_parse_ignores_what_is_not_a_human_text(source: dict[str, Any]) -> None:
    assert parse_event(source) is None


def test_strip_reply_fallback_only_strips_the_quote_block() -> None:
    assert strip_reply_fallback("> <@a:x> q\n\ntext\n> quoted by me") == "text\n> quoted by me"
    assert strip_reply_fallback("> my own quote\n\ntext") == "> my own quote\n\ntext"


# -- commands -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        (
            "!mirror add https://x.org/p mode=comment name='a b'",
            ("mirror add", {"url": "https://x.org/p", "mode": "comment", "name": "a b"}),
        ),
        ("!mirror remove ferry", ("mirror remove", {"name": "ferry"})),
        ("!MIRROR Pause ferry", ("mirror pause", {"name": "ferry"})),
        ("!mirror status", ("mirror status", {})),
        ("!mirror list\nand some more text", ("mirror list", {})),
        ("  !mirror help", ("help", {})),
        ("!mirror", ("help", {})),
        ("!help", ("help", {})),
        ("!mirror frobnicate", ("mirror frobnicate", {})),  # the core says it does not know it
        ("!important news", None),
        ("! mirror list", None),
        ("hello !mirror list", None),
        ("!!!", None),
    ],
)
def test_parse_command(text: str, parsed: tuple[str, dict[str, str]] | None) -> None:
    assert parse_command(text) == parsed


def test_parse_command_with_another_prefix_and_bad_quotes() -> None:
    assert parse_command("?mirror list", "?") == ("mirror list", {})
    assert parse_command("!mirror list", "?") is None
    with pytest.raises(CommandSyntaxError, match="could not read"):
        parse_command('!mirror add "https://x.org')


def test_help_shows_the_commands_with_their_prefix() -> None:
    text = matrix_help(HELP)
    assert text.startswith("Commands start with ! here")
    assert "  !mirror add <page" in text and "!mirror remove <name>       !mirror pause <name>" in text
    assert "!mirror list                !mirror status [name]" in text
    for line in text.split("\n"):
        for word in re.findall(r"(?:^|\s)!?(\w+) ", line):
            if word in COMMANDS and f"{word} " in line:
                assert f"!{word}" in line


# -- config -------------------------------------------------------------------------------------


def test_matrix_config_checks_its_fields() -> None:
    settings = MatrixChat(homeserver="https://matrix.example.org/", user_id="@bot:example.org", access_token="t")
    assert settings.homeserver == "https://matrix.example.org"
    assert (settings.command_prefix, settings.admin_power_level, settings.rate_limit_max_wait) == ("!", 50, 30.0)
    with pytest.raises(ValidationError, match="not an http"):
        MatrixChat(homeserver="matrix.example.org", user_id="@bot:example.org", access_token="t")
    with pytest.raises(ValidationError, match="no way to log in"):
        MatrixChat(homeserver="https://m.example.org", user_id="@bot:example.org")
    with pytest.raises(ValidationError):
        MatrixChat(homeserver="https://m.example.org", user_id="bot", access_token="t")
