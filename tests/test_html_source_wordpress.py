"""The HTML source against the real WordPress (Debian's package, served on 127.0.0.1 by tests/realwp.py),
in both default themes: the tree read from the pages equals the tree read from the REST API."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.config import Config, HtmlSite
from bot.models import Comment
from bot.sources.html import HtmlSource
from bot.sources.wordpress import comment_from_json
from tests.harness import Bot
from tests.realwp import RealWordPress
from tests.recording_chat import RecordingChat
from tests.test_html_source import tree

pytestmark = pytest.mark.wordpress
THEMES = ["twentytwentythree", "twentytwentyone"]
_unique = itertools.count(1)


@contextmanager
def site_state(wp: RealWordPress, theme: str | None = None, **options: Any) -> Iterator[None]:
    """Switch theme and options for one test, and put back what was there (the site is shared)."""
    names = json.dumps(list(options))
    saved_options = json.loads(
        wp.php_eval(
            f"$o = []; foreach (json_decode('{names}') as $n) {{ $o[$n] = get_option($n); }} echo json_encode($o);"
        )
        or "{}"
    )
    saved_theme = wp.php_eval("echo get_stylesheet();")
    try:
        if theme is not None:
            wp.switch_theme(theme)
        for name, value in options.items():
            wp.set_option(name, value)
        yield
    finally:
        for name, value in (saved_options or {}).items():
            wp.set_option(name, value)
        if theme is not None:
            wp.switch_theme(saved_theme)


def build_discussion(wp: RealWordPress, hours_ago: float = 1.0) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A post with four threads up to three levels deep, HTML in the text, written a second apart."""
    n = next(_unique)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=hours_ago)
    post = wp.create_post(f"Harbour festival helpers {n}", "<p>Who helps to set up on Saturday?</p>")
    made: list[dict[str, Any]] = []

    def add(text: str, author: str, parent: int = 0) -> int:
        when = start + timedelta(seconds=len(made))
        comment = wp.add_comment(
            post["id"], f"{text} ({n})", author, parent, date_gmt=when.strftime("%Y-%m-%dT%H:%M:%S")
        )
        made.append(comment)
        return int(comment["id"])

    a = add("I bring <strong>two</strong> benches.", "Maren")
    b = add("Great & thanks! Need a hand carrying them?", "Oskar", a)
    add("Yes please, at 8.\n\nBring gloves.", "Maren", b)
    add('Count me in, see <a href="https://example.com/plan">the plan</a>.', "Ida", a)
    c = add("Who brings the cake?", "Tomas")
    add("<em>I</em> do.", "Lena", c)
    add("Is there parking?", "Nils")
    add("Will it rain?", "Pia")
    return post, made


def rest_tree(wp: RealWordPress, post_id: int) -> list[Comment]:
    """The post's comments as the REST API shows them to anyone (what the WordPress source reads)."""
    response = wp.request(
        "GET",
        "/wp-json/wp/v2/comments",
        params={"post": post_id, "per_page": 100, "orderby": "date_gmt", "order": "asc"},
    )
    return [comment_from_json("blog", item) for item in response.json()]


def html_settings(wp: RealWordPress, pages: list[str], **extra: Any) -> HtmlSite:
    return HtmlSite.model_validate({"kind": "html", "url": wp.base_url, "pages": pages, "poll_interval": 0.5, **extra})


async def read_html(wp: RealWordPress, post: dict[str, Any]) -> tuple[list[Comment], HtmlSource]:
    source = HtmlSource("blog", html_settings(wp, [post["link"]]))
    await source.start()
    try:
        return await source.list_comments(None), source
    finally:
        await source.close()


@pytest.mark.parametrize("theme", THEMES)
async def test_tree_from_html_equals_tree_from_rest(wordpress: RealWordPress, theme: str) -> None:
    wp = wordpress
    # Berlin time: the pages write local times with an offset; the source must give UTC.
    with site_state(wp, theme, timezone_string="Europe/Berlin"):
        post, made = await asyncio.to_thread(build_discussion, wp)
        rest = await asyncio.to_thread(rest_tree, wp, post["id"])
        comments, source = await read_html(wp, post)
    assert len(rest) == len(made) == 8
    assert tree(comments) == tree(rest)
    assert [c.link for c in comments] == [c.link for c in rest]
    assert {c.post_id for c in comments} == {post["id"]}
    assert all(c.created_at.tzinfo is UTC for c in comments)
    page = await source.get_page(post["id"])
    assert page.title == post["title"]["rendered"] and page.url == post["link"]
    assert source.fetcher.stats.requests == 2  # robots.txt and the page


@pytest.mark.parametrize("theme", THEMES)
async def test_comment_pages_are_followed_and_the_tree_still_equals_rest(wordpress: RealWordPress, theme: str) -> None:
    wp = wordpress
    with site_state(wp, theme, page_comments="1", comments_per_page="2"):
        post, _ = await asyncio.to_thread(build_discussion, wp)
        rest = await asyncio.to_thread(rest_tree, wp, post["id"])
        comments, source = await read_html(wp, post)
    assert tree(comments) == tree(rest)
    # Four threads, two a page: the post's own page (the newest comment page) and comment-page-1.
    assert source.fetcher.stats.requests == 1 + 2
    pages = {c.link.rsplit("#", 1)[0] for c in comments}
    assert post["link"] + "comment-page-1/" in pages and len(pages) == 2


async def test_html_site_mirrored_end_to_end_into_a_chat(wordpress: RealWordPress, tmp_path: Path) -> None:
    wp = wordpress
    with site_state(wp, "twentytwentythree"):
        post, made = await asyncio.to_thread(build_discussion, wp)
        config = Config.model_validate(
            {
                "store": {"path": str(tmp_path / "bot.db")},
                "sites": {
                    "blog": {
                        "kind": "html",
                        "url": wp.base_url,
                        "pages": [post["link"]],
                        "poll_interval": 0.5,
                        "recheck_interval": 1,
                    }
                },
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
        chat = RecordingChat(name="terminal")
        bot = Bot(config, {"terminal": chat})
        app = await bot.start()
        try:
            await bot.settle()
            [thread] = list(chat.threads)
            assert chat.threads[thread].page.title == post["title"]["rendered"]
            shown = chat.visible(thread)
            assert [s.comment_id for s in shown] == [c["id"] for c in made]
            by_id = {c["id"]: c for c in made}
            for message in shown:
                parent = by_id[message.comment_id]["parent"]
                assert message.parent_ref == (chat.ref_of(parent) if parent else None)

            # One request per poll (the page), and a new comment and a trashed one follow.
            source = app.sources["blog"]
            before = source.requests_made
            late = await asyncio.to_thread(wp.add_comment, post["id"], "Late, but I can help.", "Ole", made[4]["id"])
            await asyncio.to_thread(wp.trash_comment, made[7]["id"])
            await asyncio.sleep(0.5)
            await bot.settle(recheck=True)
            assert source.requests_made == before + 1
            assert chat.visible()[-1].comment_id == late["id"]
            assert chat.visible()[-1].parent_ref == chat.ref_of(made[4]["id"])
            assert chat.messages[chat.ref_of(made[7]["id"])].deleted
        finally:
            await bot.stop()
