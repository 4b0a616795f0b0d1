"""The comment-feed source: RSS and Atom shapes (WordPress's and others'), broken feeds, conditional
GET, a feed alone and a feed with pages, and both end to end through the App into a chat."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.config import Config, FeedSite
from bot.sources import build_source
from bot.sources.base import SourceError
from bot.sources.feed import FeedError, FeedSource, parse_feed
from bot.sources.html import synthetic_post_id
from tests.harness import Bot
from tests.recording_chat import RecordingChat
from tests.test_html_source import CUSTOM, FORUM_PROFILE, FakeSite, fake_site, recent

__all__ = ["fake_site"]  # the fixture, used by name


def feed_site(url: str, **extra: Any) -> FeedSite:
    return FeedSite.model_validate({"kind": "feed", "url": url, "poll_interval": 0.5, "request_timeout": 5, **extra})


# -- parsing --------------------------------------------------------------------------------------


def test_wordpress_rss_parents_come_from_the_in_reply_to_line_which_is_removed() -> None:
    feed = parse_feed((CUSTOM / "wordpress-post-feed.rss").read_bytes(), "http://127.0.0.1:42533/explore-post/feed/")
    assert feed.wordpress and feed.title == "Comments on: Explore post"
    by_id = {i.id: i for i in feed.items}
    assert {i: (by_id[i].parent_id, by_id[i].author_name) for i in (2, 3, 4, 7)} == {
        2: (0, "Alice"),
        3: (2, "Bob"),
        4: (3, "Carol"),
        7: (0, 'O\'Brien & "Co"'),
    }
    assert by_id[3].html == "<p>Reply to top &#038; <b>bold</b></p>"  # "In reply to Alice." is gone
    assert by_id[3].page_url == "http://127.0.0.1:42533/explore-post/"
    assert by_id[3].link == "http://127.0.0.1:42533/explore-post/#comment-3"
    assert by_id[2].created_at == datetime(2026, 11, 26, 6, 30, 36, tzinfo=UTC)


def test_wordpress_atom_parents_come_from_thr_in_reply_to() -> None:
    feed = parse_feed(
        (CUSTOM / "wordpress-comments-feed.atom").read_bytes(), "http://127.0.0.1:42533/comments/feed/atom/"
    )
    by_id = {i.id: i for i in feed.items}
    assert [(i, by_id[i].parent_id) for i in (1, 2, 3, 4)] == [(1, 0), (2, 0), (3, 2), (4, 3)]
    assert by_id[4].html == "<p>Deeper reply</p>"
    assert by_id[1].guid_post_id == 1 and by_id[1].page_url.endswith("/hello-world/")


def test_other_feeds_say_what_they_know_and_leave_the_rest_open() -> None:
    atom = parse_feed((CUSTOM / "generic-atom.xml").read_bytes(), "https://kai.example/replies.atom")
    assert not atom.wordpress
    assert [(i.id, i.parent_id) for i in atom.items] == [(104, 102), (103, 0), (102, None)]
    assert atom.items[1].author_url == "https://ida.example/"
    rss = parse_feed((CUSTOM / "generic-rss.xml").read_bytes(), "https://kai.example/replies.rss")
    assert [(i.id, i.parent_id, i.author_name) for i in rss.items] == [(104, None, "Maren"), (101, None, "Maren")]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ((CUSTOM / "broken-feed.xml").read_bytes(), "is a broken feed"),
        ((CUSTOM / "login-wall.html").read_bytes(), "shows a login form instead of a feed"),
        (b"<!doctype html><html><body><p>Moved</p></body></html>", "is an HTML page, not an RSS/Atom feed"),
        (b'{"comments": []}', "is not an RSS/Atom feed"),
    ],
)
def test_what_is_not_a_good_feed_is_refused_whole(body: bytes, words: str) -> None:
    with pytest.raises(FeedError, match=words) as caught:
        parse_feed(body, "https://news.example/comments/feed/")
    assert not caught.value.transient


# -- over HTTP ---------------------------------------------------------------------------------------


def serve_forum(site: FakeSite, page: str | None = None) -> None:
    """The forum thread and its Atom feed, with addresses on the fake site."""
    atom = (CUSTOM / "generic-atom.xml").read_text().replace("https://kai.example", site.url)
    site.set("/replies.atom", atom, content_type="application/atom+xml")
    site.set("/t/hafenfest", page or (CUSTOM / "forum-thread.html").read_text())


async def test_a_feed_alone_with_conditional_get_and_a_page_read_for_a_missing_parent(fake_site: FakeSite) -> None:
    serve_forum(fake_site)
    settings = feed_site(fake_site.url, feeds=[fake_site.url + "/replies.atom"], profile=FORUM_PROFILE)
    source = build_source("kai", settings)
    assert isinstance(source, FeedSource) and not source.combined and settings.edit_window_hours == 0
    await source.start()
    try:
        comments = await source.list_comments(None)
        assert [(c.id, c.parent_id, c.author_name) for c in comments] == [
            (102, 101, "Oskar"),
            (103, 0, "Ida"),
            (104, 102, "Maren"),
        ]
        # Oskar's parent is not in the feed: the page (read once for its title and id) says it.
        page_id = synthetic_post_id(fake_site.url + "/t/hafenfest")
        assert {c.post_id for c in comments} == {page_id}
        assert (await source.get_page(page_id)).title == "Hafenfest 2026: Helfer gesucht"
        assert comments[2].link == fake_site.url + "/t/hafenfest#c104"
        assert source.requests_made == 3  # robots.txt, the feed, the page
        # `after` is not a filter for a feed: it reports its whole (short) window each time.
        await asyncio.sleep(0.5)
        again = await source.list_comments(datetime.now(UTC))
        assert again == comments
        assert source.requests_made == 4 and fake_site.count("/replies.atom", 304) == 1
        with pytest.raises(SourceError, match="read-only"):
            await source.trash_reply(104)
    finally:
        await source.close()


async def test_feed_plus_pages_reads_a_page_only_when_the_feed_shows_it_changed(fake_site: FakeSite) -> None:
    serve_forum(fake_site)
    page_url = fake_site.url + "/t/hafenfest"
    settings = feed_site(
        fake_site.url,
        feeds=[fake_site.url + "/replies.atom"],
        pages=[page_url],
        profile=FORUM_PROFILE,
        recheck_interval=3600,
    )
    source = FeedSource("kai", settings)
    assert source.combined and settings.edit_window_hours == 48
    await source.start()
    try:
        first = await source.list_comments(None)
        assert [(c.id, c.parent_id) for c in first] == [(101, 0), (102, 101), (103, 0), (104, 102)]
        assert fake_site.count("/t/hafenfest") == 1
        for _ in range(3):  # nothing new: one 304 a poll, no page read
            await asyncio.sleep(0.5)
            assert await source.list_comments(None) == first
        assert fake_site.count("/t/hafenfest") == 1 and fake_site.count("/replies.atom", 304) == 3

        # A new comment shows in the feed: its page is read, and the tree comes from the page.
        forum = (CUSTOM / "forum-thread.html").read_text()
        fake_site.set(
            "/t/hafenfest",
            forum.replace("4 Antworten", "5 Antworten").replace(
                "</section>",
                '<article class="post" data-id="c105"><header><span class="who">Nils</span> '
                '<span class="when" title="2026-11-21 12:00">x</span></header>'
                '<div class="body"><p>Ich komme auch.</p></div></article></section>',
            ),
        )
        atom = (CUSTOM / "generic-atom.xml").read_text().replace("https://kai.example", fake_site.url)
        fake_site.set(
            "/replies.atom",
            atom.replace(
                "<entry>",
                f'<entry><title>Nils</title><id>{page_url}#c105</id><link href="{page_url}#c105"/>'
                "<author><name>Nils</name></author><published>2026-11-21T11:00:00Z</published>"
                '<content type="html">&lt;p&gt;Ich komme auch.&lt;/p&gt;</content></entry><entry>',
                1,
            ),
            content_type="application/atom+xml",
        )
        await asyncio.sleep(0.5)
        latest = await source.list_comments(datetime(2026, 11, 21, 10, tzinfo=UTC))
        assert [(c.id, c.parent_id, c.author_name) for c in latest] == [(105, 0, "Nils")]
        assert fake_site.count("/t/hafenfest") == 2
    finally:
        await source.close()


async def test_a_broken_feed_fails_the_poll_and_reports_nothing(fake_site: FakeSite) -> None:
    fake_site.set("/comments/feed/", (CUSTOM / "broken-feed.xml").read_bytes(), content_type="application/rss+xml")
    source = FeedSource("news", feed_site(fake_site.url))
    await source.start()
    try:
        with pytest.raises(FeedError, match="broken feed"):
            await source.list_comments(None)
        assert source.current == {}
        fake_site.set("/comments/feed/", "boom", status=502, etag=False)
        await asyncio.sleep(0.5)
        with pytest.raises(SourceError, match="answered 502") as caught:
            await source.list_comments(None)
        assert caught.value.transient
    finally:
        await source.close()


# -- end to end -----------------------------------------------------------------------------------------


def bot_for(site: dict[str, Any], tmp_path: Path, chat: RecordingChat) -> Bot:
    config = Config.model_validate(
        {
            "store": {"path": str(tmp_path / "bot.db")},
            "sites": {"kai": {"poll_interval": 0.5, "recheck_interval": 1, **site}},
            "chats": {"terminal": {"enabled": True}},
            "mirrors": [
                {"name": "m", "site": "kai", "relay": "off", "targets": [{"chat": "terminal", "channel": "main"}]}
            ],
        }
    )
    return Bot(config, {"terminal": chat})


async def test_a_feed_alone_mirrored_end_to_end(fake_site: FakeSite, tmp_path: Path) -> None:
    serve_forum(fake_site)
    chat = RecordingChat(name="terminal")
    bot = bot_for(
        {"kind": "feed", "url": fake_site.url, "feeds": [fake_site.url + "/replies.atom"], "profile": FORUM_PROFILE},
        tmp_path,
        chat,
    )
    await bot.start()
    try:
        await bot.settle()
        [thread] = list(chat.threads)
        assert chat.threads[thread].page.title == "Hafenfest 2026: Helfer gesucht"
        assert [(s.comment_id, s.author) for s in chat.visible()] == [(102, "Oskar"), (103, "Ida"), (104, "Maren")]
        assert chat.visible()[2].parent_ref == chat.ref_of(102)
        # The oldest item scrolls out of the feed: that is not a deletion.
        atom = (CUSTOM / "generic-atom.xml").read_text().replace("https://kai.example", fake_site.url)
        fake_site.set("/replies.atom", atom[: atom.index("  <entry>\n    <title>Oskar")] + "</feed>\n")
        await asyncio.sleep(0.5)
        await bot.settle(recheck=True)
        await bot.settle()
        assert [s.comment_id for s in chat.visible()] == [102, 103, 104] and chat.sends == 3
    finally:
        await bot.stop()


async def test_feed_plus_pages_mirrored_end_to_end_with_deletions(fake_site: FakeSite, tmp_path: Path) -> None:
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)
    page = recent((CUSTOM / "forum-thread.html").read_text(), start)
    serve_forum(fake_site, page)
    chat = RecordingChat(name="terminal")
    site = {
        "kind": "feed",
        "url": fake_site.url,
        "feeds": [fake_site.url + "/replies.atom"],
        "pages": [fake_site.url + "/t/hafenfest"],
        "profile": {**FORUM_PROFILE, "timezone": "UTC"},
    }
    bot = bot_for(site, tmp_path, chat)
    await bot.start()
    try:
        await bot.settle()
        assert [s.comment_id for s in chat.visible()] == [101, 102, 104, 103]
        assert chat.visible()[2].parent_ref == chat.ref_of(102)
        # Ida's comment is deleted on the site: the page (re-read every recheck_interval) says so.
        ida_start = page.index('    <article class="post" data-id="c103">')
        ida_end = page.index("</article>", ida_start) + len("</article>")
        fake_site.set("/t/hafenfest", (page[:ida_start] + page[ida_end:]).replace("4 Antworten", "3 Antworten"))
        await asyncio.sleep(1.0)
        await bot.settle(recheck=True)
        assert [s.comment_id for s in chat.visible()] == [101, 102, 104]
        assert chat.messages[chat.ref_of(103)].deleted
    finally:
        await bot.stop()
