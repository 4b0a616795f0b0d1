"""The feed source against the real WordPress: `/comments/feed/` (RSS and Atom) and `/<post>/feed/`
with conditional GET, a feed alone and a feed with the page, end to end into a chat."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from bot.config import Config, FeedSite
from bot.convert import html_to_text
from bot.sources.feed import FeedSource
from bot.sources.wordpress import comment_from_json
from tests.harness import Bot
from tests.realwp import RealWordPress
from tests.recording_chat import RecordingChat
from tests.test_html_source import tree
from tests.test_html_source_wordpress import build_discussion, rest_tree, site_state

pytestmark = pytest.mark.wordpress


def feed_settings(wp: RealWordPress, feeds: list[str], **extra: Any) -> FeedSite:
    return FeedSite.model_validate({"kind": "feed", "url": wp.base_url, "feeds": feeds, "poll_interval": 0.5, **extra})


async def test_a_post_feed_gives_the_rest_tree_with_conditional_get(wordpress: RealWordPress) -> None:
    wp = wordpress
    post, _ = await asyncio.to_thread(build_discussion, wp)
    rest = await asyncio.to_thread(rest_tree, wp, post["id"])
    # WordPress's Last-Modified is the newest post or comment time, to the second; the fetcher keeps it
    # as a validator only once it is two seconds old (a change in the same second would keep it).
    await asyncio.sleep(2)
    source = FeedSource("blog", feed_settings(wp, [post["link"] + "feed/"]))
    await source.start()
    try:
        comments = await source.list_comments(None)
        assert tree(comments) == tree(rest)  # parents from WordPress's "In reply to" lines
        assert [c.link for c in comments] == [c.link for c in rest]
        assert {c.post_id for c in comments} == {post["id"]}  # read once from the post's page
        assert (await source.get_page(post["id"])).title == post["title"]["rendered"]
        assert source.requests_made == 3  # robots.txt, the feed, the post's page (once)

        # Nothing new: WordPress answers 304 to the conditional GET; one request a poll.
        await asyncio.sleep(0.5)
        assert await source.list_comments(None) == comments
        assert source.requests_made == 4 and source.fetcher.stats.not_modified == 1

        # A new reply: the feed changes, and the reply arrives under its parent.
        late = await asyncio.to_thread(wp.add_comment, post["id"], "Late, but I can help.", "Ole", rest[4].id)
        await asyncio.sleep(0.5)
        latest = await source.list_comments(None)
        assert source.requests_made == 5 and source.fetcher.stats.not_modified == 1
        assert latest[-1].id == late["id"] and latest[-1].parent_id == rest[4].id
        assert html_to_text(latest[-1].html) == "Late, but I can help."
    finally:
        await source.close()


@pytest.mark.parametrize("path", ["/comments/feed/", "/comments/feed/atom/"])
async def test_the_site_comment_feed_in_rss_and_atom(wordpress: RealWordPress, path: str) -> None:
    wp = wordpress
    await asyncio.to_thread(build_discussion, wp, 0.01)
    source = FeedSource("blog", feed_settings(wp, [wp.base_url + path]))
    await source.start()
    try:
        comments = await source.list_comments(None)
    finally:
        await source.close()
    # The site's feed holds the latest 10 comments of the whole site, of whatever posts (the session's
    # other tests write too): each is what the REST API says of it, post id included.
    assert 8 <= len(comments) <= 10  # this test wrote 8 just now
    response = await asyncio.to_thread(
        wp.request,
        "GET",
        "/wp-json/wp/v2/comments",
        params={"include": ",".join(str(c.id) for c in comments), "per_page": 100, "orderby": "id"},
    )
    # (The REST API gives author names HTML-escaped, "A &amp; B"; feeds and pages give the text.)
    listed = [comment_from_json("blog", item) for item in response.json()]
    rest = sorted((replace(c, author_name=unescape(c.author_name)) for c in listed), key=lambda c: (c.created_at, c.id))
    assert tree(comments) == tree(rest)
    assert [(c.id, c.post_id, c.link) for c in comments] == [(c.id, c.post_id, c.link) for c in rest]


async def test_a_feed_alone_mirrored_end_to_end(wordpress: RealWordPress, tmp_path: Path) -> None:
    wp = wordpress
    post, made = await asyncio.to_thread(build_discussion, wp)
    chat = RecordingChat(name="terminal")
    bot = Bot(
        config(tmp_path, {"kind": "feed", "url": wp.base_url, "feeds": [post["link"] + "feed/"]}, post),
        {"terminal": chat},
    )
    app = await bot.start()
    try:
        await bot.settle()
        shown = chat.visible()
        assert [s.comment_id for s in shown] == [c["id"] for c in made]
        by_id = {c["id"]: c for c in made}
        for message in shown:
            parent = by_id[message.comment_id]["parent"]
            assert message.parent_ref == (chat.ref_of(parent) if parent else None)
        late = await asyncio.to_thread(wp.add_comment, post["id"], "See you there.", "Ole", made[0]["id"])
        await asyncio.sleep(0.5)
        await bot.settle()
        assert chat.visible()[-1].comment_id == late["id"]
        assert chat.visible()[-1].parent_ref == chat.ref_of(made[0]["id"])
        assert app.sources["blog"].requests_made == 4  # robots.txt, feed, the post's page; the feed again
    finally:
        await bot.stop()


async def test_feed_plus_page_mirrored_end_to_end(wordpress: RealWordPress, tmp_path: Path) -> None:
    wp = wordpress
    with site_state(wp, "twentytwentyone"):
        post, made = await asyncio.to_thread(build_discussion, wp)
        await asyncio.sleep(2)  # so that the feed's Last-Modified is a validator (see above)
        site = {
            "kind": "feed",
            "url": wp.base_url,
            "feeds": [wp.base_url + "/comments/feed/"],
            "pages": [post["link"]],
            "recheck_interval": 3600,
        }
        chat = RecordingChat(name="terminal")
        bot = Bot(config(tmp_path, site, post), {"terminal": chat})
        app = await bot.start()
        source = app.sources["blog"]
        assert isinstance(source, FeedSource)
        try:
            await bot.settle()
            assert [s.comment_id for s in chat.visible()] == [c["id"] for c in made]
            reads = source.page_reads
            await asyncio.sleep(0.5)
            await bot.settle()
            assert source.page_reads == reads  # the feed answered 304: the page is not read
            assert source.fetcher.stats.not_modified == 1
            # A new comment and a deleted one: the feed shows the new one, so the page is read,
            # and the page also shows the deletion.
            late = await asyncio.to_thread(wp.add_comment, post["id"], "Bring an umbrella.", "Ole", made[7]["id"])
            await asyncio.to_thread(wp.delete_comment, made[6]["id"])
            await asyncio.sleep(0.5)
            await bot.settle(recheck=True)
            assert source.page_reads == reads + 1
            assert chat.visible()[-1].comment_id == late["id"]
            assert chat.visible()[-1].parent_ref == chat.ref_of(made[7]["id"])
            assert chat.messages[chat.ref_of(made[6]["id"])].deleted
        finally:
            await bot.stop()


def config(tmp_path: Path, site: dict[str, Any], post: dict[str, Any]) -> Config:
    return Config.model_validate(
        {
            "store": {"path": str(tmp_path / "bot.db")},
            "sites": {"blog": {"poll_interval": 0.5, "recheck_interval": 1, **site}},
            "chats": {"terminal": {"enabled": True}},
            "mirrors": [
                {
                    "name": "m",
                    "site": "blog",
                    "pages": [post["id"]],
                    "relay": "off",
                    "targets": [{"chat": "terminal", "channel": "main"}],
                }
            ],
        }
    )
