"""The HTML comment-page source: real WordPress markup (both themes), a custom-profile site served
on 127.0.0.1, broken pages that must fail clearly, politeness, and the source end to end in the App.

`FakeSite` (a tiny aiohttp server with ETags and a request log) is shared with the feed tests.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web

from bot.cli import check
from bot.config import Config, ConfigError, HtmlSite, load_config
from bot.convert import html_to_text
from bot.core.app import App
from bot.models import Comment
from bot.sources import build_source
from bot.sources.base import SourceError
from bot.sources.html import HtmlSource, MarkupError, parse_comment_page
from bot.sources.wordpress import comment_from_json
from tests.harness import Bot
from tests.recording_chat import RecordingChat

FIXTURES = Path(__file__).parent / "fixtures"
WORDPRESS = FIXTURES / "wordpress"
CUSTOM = FIXTURES / "custom"
REFERENCE_URL = "http://127.0.0.1:8088/mirror-test/"

FORUM_PROFILE: dict[str, Any] = {
    "list": "section.discussion",
    "item": "article.post",
    "id": "data-id",
    "id_pattern": r"^c(\d+)$",
    "children": "div.replies",
    "author": ".who",
    "author_url": ".who a[href]",
    "time": ".when",
    "time_attribute": "title",
    "time_format": "%Y-%m-%d %H:%M",
    "timezone": "Europe/Berlin",
    "content": ".body",
    "count": "h2.answers",
    "area": "form.reply-form",
    "title": "h1.thread-title",
}


# -- a small web site for the tests ------------------------------------------------------------


@dataclass
class Route:
    body: bytes
    status: int = 200
    content_type: str = "text/html"
    etag: bool = True
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Hit:
    path: str
    status: int
    headers: dict[str, str]


class FakeSite:
    """Serves what a test sets, on 127.0.0.1; answers If-None-Match with 304; logs every request."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: list[Hit] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    def set(self, path: str, body: str | bytes, **options: Any) -> None:
        self.routes[path] = Route(body.encode() if isinstance(body, str) else body, **options)

    def count(self, path: str, status: int | None = None) -> int:
        return len([h for h in self.hits if h.path == path and (status is None or h.status == status)])

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        route = self.routes.get(request.path_qs) or self.routes.get(request.path)
        headers = dict(request.headers)
        if route is None:
            self.hits.append(Hit(request.path_qs, 404, headers))
            return web.Response(status=404, text="not found")
        etag = '"' + hashlib.sha1(route.body).hexdigest()[:16] + '"'
        if route.etag and route.status == 200 and request.headers.get("If-None-Match") == etag:
            self.hits.append(Hit(request.path_qs, 304, headers))
            return web.Response(status=304, headers={"ETag": etag})
        self.hits.append(Hit(request.path_qs, route.status, headers))
        extra = {"ETag": etag} if route.etag and route.status == 200 else {}
        response = web.Response(status=route.status, body=route.body, headers={**extra, **route.headers})
        if route.status < 300 or route.status >= 400:
            response.content_type = route.content_type
        return response


@pytest.fixture
async def fake_site() -> AsyncIterator[FakeSite]:
    site = FakeSite()
    await site.start()
    yield site
    await site.stop()


def html_site(url: str, pages: list[str], **extra: Any) -> HtmlSite:
    return HtmlSite.model_validate(
        {"kind": "html", "url": url, "pages": pages, "poll_interval": 0.5, "request_timeout": 5, **extra}
    )


def tree(comments: list[Comment]) -> list[tuple[int, int, str, datetime, str]]:
    """What must be equal between the HTML and the REST API: ids, parents, authors, times, text."""
    return [(c.id, c.parent_id, c.author_name, c.created_at, html_to_text(c.html)) for c in comments]


def recent(text: str, start: datetime) -> str:
    """The forum page with its times moved to the last hours (inside the poller's edit window)."""
    times = iter(range(100))
    return re.sub(
        r'title="2026-11-2\d \d\d:\d\d"',
        lambda _: f'title="{(start + timedelta(minutes=next(times))).strftime("%Y-%m-%d %H:%M")}"',
        text,
    )


# -- real WordPress markup ----------------------------------------------------------------------


@pytest.mark.parametrize("theme", ["twentytwentythree", "twentytwentyone"])
def test_fixture_page_tree_equals_the_rest_api(theme: str) -> None:
    rest = [comment_from_json("blog", item) for item in json.loads((WORDPRESS / "comments.json").read_text())]
    page = parse_comment_page((WORDPRESS / f"post-{theme}.html").read_bytes(), REFERENCE_URL)
    assert page.profile == {"twentytwentythree": "block", "twentytwentyone": "classic"}[theme]
    comments = [
        Comment("blog", c.id, page.post_id or 0, c.parent_id, c.author_name, c.created_at, c.html, REFERENCE_URL)
        for c in page.comments
    ]
    assert tree(sorted(comments, key=lambda c: c.created_at)) == tree(rest)
    assert page.post_id == 4 and page.url == REFERENCE_URL and page.title == "Mirror test post"
    assert page.claimed_count == 10 and len(page.counted_ids) == 10 and page.comment_pages == ()
    first = page.comments[0]
    assert first.anchor == "comment-2" and first.created_at.tzinfo is UTC
    assert first.html == "<p>Thread A: first top-level comment.</p>"  # the content's inner HTML, trimmed
    dave = next(c for c in page.comments if c.id == 6)
    assert dave.html.startswith("<p>Thread B: <em>second</em>") and 'href="https://example.com"' in dave.html


@pytest.mark.parametrize("theme", ["twentytwentythree", "twentytwentyone"])
def test_fixture_pages_parse_in_a_few_milliseconds(theme: str) -> None:
    document = (WORDPRESS / f"post-{theme}.html").read_bytes()
    parse_comment_page(document, REFERENCE_URL)  # warm up
    runs = 20
    started = time.perf_counter()
    for _ in range(runs):
        parse_comment_page(document, REFERENCE_URL)
    per_page = (time.perf_counter() - started) / runs
    assert per_page < 0.05, f"{per_page * 1000:.1f} ms per page"


def test_a_named_profile_that_does_not_fit_says_so() -> None:
    from bot.sources.profiles import BLOCK

    with pytest.raises(MarkupError, match=r"shows comments \(comment-2.* but the block profile finds no comment list"):
        parse_comment_page((WORDPRESS / "post-twentytwentyone.html").read_bytes(), REFERENCE_URL, BLOCK)


def test_a_page_with_an_empty_comment_area_has_no_comments_and_is_fine() -> None:
    classic = (WORDPRESS / "post-twentytwentyone.html").read_text()
    start, end = classic.index('<h2 class="comments-title">'), classic.index("</ol><!-- .comment-list -->")
    page = parse_comment_page(classic[:start] + classic[end + len("</ol><!-- .comment-list -->") :], REFERENCE_URL)
    assert page.comments == () and page.profile == "classic" and page.post_id == 4


# -- a custom profile ---------------------------------------------------------------------------


async def test_a_custom_profile_site_read_over_http(fake_site: FakeSite) -> None:
    fake_site.set("/t/hafenfest", (CUSTOM / "forum-thread.html").read_text())
    settings = html_site(fake_site.url, [fake_site.url + "/t/hafenfest"], profile=FORUM_PROFILE)
    source = build_source("kai", settings)
    assert isinstance(source, HtmlSource) and not source.can_post
    await source.start()
    try:
        comments = await source.list_comments(None)
        berlin = [datetime(2026, 11, 20, 13, 5), datetime(2026, 11, 20, 14, 30), datetime(2026, 11, 20, 17, 45)]
        assert [(c.id, c.parent_id, c.author_name) for c in comments] == [
            (101, 0, "Maren"),
            (102, 101, "Oskar"),
            (103, 0, "Ida"),
            (104, 102, "Maren"),
        ]
        assert [c.created_at for c in comments[:3]] == [t.replace(tzinfo=UTC) for t in berlin]
        assert comments[0].author_url == "https://kai.example/u/maren"
        assert comments[0].link == fake_site.url + "/t/hafenfest#c101"
        assert comments[1].html == "<p>Super &amp; danke! Brauchst du Hilfe beim Tragen?</p>"
        page = await source.get_page(comments[0].post_id)
        assert page.title == "Hafenfest 2026: Helfer gesucht" and page.id >= 10**12  # no WordPress id
        assert page.excerpt.startswith("Wer hilft")
        assert [c.id for c in await source.list_comments(comments[1].created_at)] == [103, 104]
        with pytest.raises(SourceError, match="read-only"):
            await source.post_reply(page.id, 101, "Alice (via terminal)", "<p>hi</p>", "approved")
    finally:
        await source.close()


async def test_a_flat_list_names_parents_in_an_attribute(fake_site: FakeSite) -> None:
    fake_site.set("/ferry", (CUSTOM / "flat-thread.html").read_text())
    profile = {
        "list": "ul#talk",
        "item": "li.c",
        "id_pattern": r"msg-(\d+)",
        "parent": "data-reply-to",
        "author": ".n",
        "time": "time",
        "content": ".t",
    }
    source = HtmlSource("news", html_site(fake_site.url, [fake_site.url + "/ferry"], profile=profile))
    await source.start()
    try:
        comments = await source.list_comments(None)
    finally:
        await source.close()
    assert [(c.id, c.parent_id, c.author_name, c.created_at.hour) for c in comments] == [
        (7, 0, "Lena", 8),
        (8, 7, "Ferry Desk", 8),  # 09:15+01:00
        (9, 8, "Lena", 8),
    ]


# -- broken pages: a clear error, and nothing read -------------------------------------------------

MALFORMED = {
    "unclosed children list": ("unclosed-children.html", None, "marked depth 1 but sits at depth 2"),
    "missing id": ("missing-id.html", None, "has no 'id' attribute"),
    "unclosed content": ("unclosed-content.html", FORUM_PROFILE, "content contains another comment"),
    "login wall": ("login-wall.html", None, "shows a login form"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
async def test_malformed_pages_fail_clearly_and_yield_nothing(fake_site: FakeSite, case: str) -> None:
    name, profile, words = MALFORMED[case]
    fake_site.set("/post/", (CUSTOM / name).read_text())
    extra = {"profile": profile} if profile else {}
    source = HtmlSource("blog", html_site(fake_site.url, [fake_site.url + "/post/"], **extra))
    await source.start()
    try:
        with pytest.raises(SourceError) as caught:
            await source.list_comments(None)
    finally:
        await source.close()
    assert words in str(caught.value) and fake_site.url + "/post/" in str(caught.value)
    assert not caught.value.transient  # a broken page waits for an admin, not for a retry
    assert source.reads == {}


async def test_a_page_cut_off_midway_does_not_add_up(fake_site: FakeSite) -> None:
    classic = (WORDPRESS / "post-twentytwentyone.html").read_text()
    fake_site.set("/post/", classic[: classic.index('<li id="comment-8"')])
    source = HtmlSource("blog", html_site(fake_site.url, [fake_site.url + "/post/"]))
    await source.start()
    try:
        with pytest.raises(MarkupError, match="says it has 10 comments but 6 were found"):
            await source.list_comments(None)
    finally:
        await source.close()


@pytest.mark.parametrize(
    ("status", "headers", "words", "transient"),
    [
        (500, {}, "answered 500", True),
        (503, {"Retry-After": "120"}, "asks to wait 120s", True),
        (403, {}, "wants a login there, or refuses the bot", False),
        (404, {}, "not found", False),
        (302, {"Location": "/wp-login.php?redirect_to=%2Fpost%2F"}, "redirects to a login page", False),
    ],
)
async def test_error_answers_are_worded_for_an_admin(
    fake_site: FakeSite, status: int, headers: dict[str, str], words: str, transient: bool
) -> None:
    fake_site.set("/post/", "<html><body>no</body></html>", status=status, headers=headers, etag=False)
    fake_site.set("/wp-login.php", (CUSTOM / "login-wall.html").read_text())
    source = HtmlSource("blog", html_site(fake_site.url, [fake_site.url + "/post/"]))
    await source.start()
    try:
        with pytest.raises(SourceError) as caught:
            await source.list_comments(None)
    finally:
        await source.close()
    assert words in str(caught.value) and caught.value.transient is transient


async def test_a_page_without_any_comment_markup_points_at_profiles(fake_site: FakeSite) -> None:
    fake_site.set("/about/", "<html><head><title>About</title></head><body><p>Hello</p></body></html>")
    source = HtmlSource("blog", html_site(fake_site.url, [fake_site.url + "/about/"]))
    await source.start()
    try:
        with pytest.raises(MarkupError, match=r"no comment markup recognized.*profile:"):
            await source.list_comments(None)
    finally:
        await source.close()


# -- politeness --------------------------------------------------------------------------------


async def test_conditional_get_one_request_per_page_per_interval_and_a_named_user_agent(
    fake_site: FakeSite,
) -> None:
    fake_site.set("/post/", (WORDPRESS / "post-twentytwentythree.html").read_bytes())
    source = HtmlSource("blog", html_site(fake_site.url, [fake_site.url + "/post/"]))
    await source.start()
    try:
        first = await source.list_comments(None)
        assert len(first) == 10 and source.requests_made == 2  # robots.txt once, then the page
        assert fake_site.hits[-1].headers["User-Agent"].startswith("thread-mirror/")
        assert await source.list_comments(None) == first and source.requests_made == 2  # same interval: no request
        await source.get_page(4)
        await source.get_comment(3)
        assert source.requests_made == 2
        await asyncio.sleep(0.5)
        assert await source.list_comments(None) == first
        assert fake_site.count("/post/", 304) == 1 and source.requests_made == 3
        assert source.reader.pages_parsed == 1  # an unchanged page is not parsed again
        assert fake_site.count("/robots.txt") == 1
    finally:
        await source.close()


async def test_robots_txt_is_obeyed(fake_site: FakeSite) -> None:
    fake_site.set(
        "/robots.txt", "User-agent: *\nDisallow: /wp-admin/\n\nUser-agent: thread-mirror\nDisallow: /members/\n"
    )
    fake_site.set("/members/post/", (WORDPRESS / "post-twentytwentythree.html").read_bytes())
    source = HtmlSource("blog", html_site(fake_site.url, [fake_site.url + "/members/post/"]))
    await source.start()
    try:
        with pytest.raises(SourceError, match=r"robots\.txt of .* does not let thread-mirror read") as caught:
            await source.list_comments(None)
    finally:
        await source.close()
    assert not caught.value.transient and fake_site.count("/members/post/") == 0


# -- config --------------------------------------------------------------------------------------

CONFIG = """
sites:
  blog:
{site}
chats:
  terminal: {{enabled: true}}
mirrors:
  - name: m
    site: blog
{mirror}
    targets: [{{chat: terminal, channel: main}}]
"""


@pytest.mark.parametrize(
    ("site", "mirror", "key", "words"),
    [
        (
            "    kind: html\n    url: https://b.example/\n    pages: [https://b.example/p/]",
            "",
            "mirrors[0].relay",
            "is kind: html, which only reads",
        ),
        (
            "    kind: feed\n    url: https://b.example/",
            "    relay: pending",
            "mirrors[0].relay",
            "is kind: feed, which only reads",
        ),
        ("    kind: html\n    url: https://b.example/", "    relay: off", "sites.blog.pages", "add it"),
        (
            "    kind: html\n    url: https://b.example/\n    pages: [https://b.example/p/]\n    username: bot\n"
            "    app_password: x",
            "    relay: off",
            "sites.blog",
            "only reads",
        ),
        (
            "    kind: html\n    url: https://b.example/\n    pages: [https://b.example/p/]\n"
            "    profile: {list: 'ol[', item: li, author: .a, time: time, content: .c}",
            "    relay: off",
            "sites.blog.profile.list",
            "not a CSS selector",
        ),
        (
            "    kind: feed\n    url: https://b.example/\n    edit_window_hours: 24",
            "    relay: off",
            "sites.blog",
            "cannot tell a deleted comment",
        ),
        ("    kind: rss\n    url: https://b.example/", "    relay: off", "sites.blog.kind", "unknown site kind"),
    ],
)
def test_config_errors_for_the_new_kinds_are_one_clear_line(
    tmp_path: Path, site: str, mirror: str, key: str, words: str
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(site=site, mirror=mirror))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert f": {key}: " in message and words in message and "fix:" in message and "\n" not in message


def test_existing_configs_still_mean_wordpress(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(site="    url: https://b.example", mirror="    relay: off"))
    site = load_config(path).sites["blog"]
    assert site.kind == "wordpress" and type(site).__name__ == "WordPressSite"


async def test_check_online_reads_the_site_and_says_what_the_url_offers(
    fake_site: FakeSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_site.set("/post/", (WORDPRESS / "post-twentytwentyone.html").read_bytes())
    config = Config.model_validate(
        {
            "store": {"path": str(tmp_path / "bot.db")},
            "sites": {"blog": {"kind": "html", "url": fake_site.url, "pages": [fake_site.url + "/post/"]}},
            "mirrors": [],
        }
    )
    assert await check(config, "config.yaml", online=True) == 0
    out = capsys.readouterr().out
    assert "read-only, from HTML comment pages (1 page(s), profile auto)" in out
    assert "Site blog: read 10 comment(s) on 1 page(s)" in out
    assert "offers: html" in out and "comment markup: recognized (classic profile, 10 comments" in out
    # The fixture page announces the REST API and feeds of the site it was captured from (not running).
    assert "REST API: announced at http://127.0.0.1:8088/wp-json/, but its comments route does not answer" in out
    assert "suggested config" not in out  # html is what it offers, and what is configured


async def test_check_online_suggests_another_kind_when_the_rest_api_is_missing(
    fake_site: FakeSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_site.set("/", (WORDPRESS / "post-twentytwentythree.html").read_bytes())
    config = Config.model_validate(
        {"store": {"path": str(tmp_path / "bot.db")}, "sites": {"blog": {"url": fake_site.url}}, "mirrors": []}
    )
    assert await check(config, "config.yaml", online=True) == 1
    out = capsys.readouterr().out
    assert "Site blog: PROBLEM:" in out and "offers: html" in out
    assert "suggested config (html):" in out and "kind: html" in out and f"pages: [{fake_site.url}/]" in out


# -- end to end: the real App mirrors a custom-profile site into a chat -------------------------------


async def test_custom_site_mirrored_end_to_end_and_broken_pages_delete_nothing(
    fake_site: FakeSite, tmp_path: Path
) -> None:
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=3)
    # The page's times are local (Berlin): write them so, an hour or two ahead of UTC.
    local = start.astimezone(ZoneInfo("Europe/Berlin")).replace(tzinfo=None)
    page = recent((CUSTOM / "forum-thread.html").read_text(), local)
    fake_site.set("/t/hafenfest", page)
    config = Config.model_validate(
        {
            "store": {"path": str(tmp_path / "bot.db")},
            "sites": {
                "kai": {
                    "kind": "html",
                    "url": fake_site.url,
                    "pages": [fake_site.url + "/t/hafenfest"],
                    "profile": FORUM_PROFILE,
                    "poll_interval": 0.5,
                    "recheck_interval": 1,
                }
            },
            "chats": {"terminal": {"enabled": True}},
            "mirrors": [
                {"name": "m", "site": "kai", "relay": "off", "targets": [{"chat": "terminal", "channel": "main"}]}
            ],
        }
    )
    chat = RecordingChat(name="terminal")
    bot = Bot(config, {"terminal": chat})
    app: App = await bot.start()
    try:
        await bot.settle()
        [thread] = list(chat.threads)
        assert chat.threads[thread].page.title == "Hafenfest 2026: Helfer gesucht"
        shown = chat.visible(thread)
        assert [(s.comment_id, s.author) for s in shown] == [
            (101, "Maren"),
            (102, "Oskar"),
            (104, "Maren"),
            (103, "Ida"),
        ]
        assert shown[1].parent_ref == chat.ref_of(101) and shown[2].parent_ref == chat.ref_of(102)
        assert shown[0].parent_ref is None and shown[3].parent_ref is None

        # A 500 and a broken page make a poll fail; nothing is mirrored or deleted because of them.
        unclosed = page.replace("Bierbänke mit.</p></div>", "Bierbänke mit.</p>")
        for body, status in (("oops", 500), (unclosed, 200)):
            fake_site.set("/t/hafenfest", body, status=status)
            await asyncio.sleep(0.5)
            with pytest.raises(SourceError):
                await app.pollers["kai"].poll_once(force_recheck=True)
            assert [s.comment_id for s in chat.visible()] == [101, 102, 104, 103]

        # The page changes: Ida's comment is gone, a new reply to Oskar appears.
        ida = re.search(r'\s*<article class="post" data-id="c103">.*?</article>', page, re.DOTALL)
        assert ida is not None
        newer = page.replace(ida.group(0), "").replace(
            "</article>\n          </div>\n        </article>",
            '</article>\n            <article class="post" data-id="c105"><header><span class="who">Nils</span>'
            f' <span class="when" title="{(local + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M")}">x</span></header>'
            '<div class="body"><p>Ich komme auch.</p></div></article>\n          </div>\n        </article>',
            1,
        )
        fake_site.set("/t/hafenfest", newer)
        await asyncio.sleep(0.5)
        await bot.settle(recheck=True)
        assert [s.comment_id for s in chat.visible()] == [101, 102, 104, 105]
        assert chat.visible()[-1].parent_ref == chat.ref_of(102)
        assert chat.messages[chat.ref_of(103)].deleted
    finally:
        await bot.stop()
