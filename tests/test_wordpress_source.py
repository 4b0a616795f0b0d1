"""The WordPress source over HTTP against the sample site (same REST shapes as WordPress)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.config import WordPressSite
from bot.sample_site.server import BOT_APP_PASSWORD, BOT_USERNAME, SampleSite
from bot.sources.base import DuplicateComment, SourceError
from bot.sources.wordpress import WordPressSource


def source_for(site: SampleSite, password: str | None = BOT_APP_PASSWORD) -> WordPressSource:
    settings = WordPressSite(
        url=site.base_url,
        username=BOT_USERNAME if password else None,
        app_password=password,  # type: ignore[arg-type]
    )
    return WordPressSource("sample", settings)


async def test_one_request_lists_the_whole_site_and_pages_of_100_are_followed(site: SampleSite) -> None:
    source = source_for(site)
    await source.start()
    before = source.requests_made
    listed = await source.list_comments(None)
    assert source.requests_made - before == 1
    assert {c.id for c in listed} == {c.id for c in site.comments.values() if c.status == "approved"}
    assert len({c.post_id for c in listed}) >= 2  # every page of the site in that one request
    post = next(iter(site.posts))
    for n in range(130):
        site.add_comment(post, 0, f"Reader {n}", f"<p>Bulk comment {n}</p>")
    before = source.requests_made
    listed = await source.list_comments(None)
    total = len([c for c in site.comments.values() if c.status == "approved"])
    assert len(listed) == total and source.requests_made - before == -(-total // 100)
    assert [c.created_at for c in listed] == sorted(c.created_at for c in listed)
    await source.close()


async def test_after_is_incremental(site: SampleSite) -> None:
    source = source_for(site)
    await source.start()
    everything = await source.list_comments(None)
    newest = everything[-1].created_at
    assert await source.list_comments(newest) == []  # strictly after
    later = await source.list_comments(newest - timedelta(seconds=1))
    assert [c.id for c in later] == [c.id for c in everything if c.created_at >= newest]
    await source.close()


async def test_rest_route_form_works_where_pretty_urls_do_not(site: SampleSite) -> None:
    source = source_for(site)
    source.api_root = f"{site.base_url}/?rest_route=/"
    await source.start()
    assert len(await source.list_comments(None)) > 10
    page = await source.get_page(next(iter(site.posts)))
    assert page.title and page.url.startswith(site.base_url)
    await source.close()


async def test_posting_a_reply_and_recognising_our_own_duplicate(site: SampleSite) -> None:
    source = source_for(site)
    await source.start()
    assert source.bot_user_id == 2
    parent = next(c for c in site.comments.values() if c.status == "approved")
    posted = await source.post_reply(parent.post, parent.id, "Alice (via Discord)", "<p>Hi there</p>", "approved")
    assert posted.bot_author and posted.parent_id == parent.id and posted.author_name == "Alice (via Discord)"
    with pytest.raises(DuplicateComment):
        await source.post_reply(parent.post, parent.id, "Alice (via Discord)", "<p>Hi there</p>", "approved")
    found = await source.find_reply(parent.post, parent.id, "Alice (via Discord)", "<p>Hi there</p>")
    assert found is not None and found.id == posted.id
    held = await source.post_reply(parent.post, parent.id, "Bob (via Matrix)", "<p>Held please</p>", "pending")
    assert held.status == "hold"
    await source.close()


async def test_a_wrong_password_is_explained(site: SampleSite) -> None:
    source = source_for(site, password="wrong wrong wrong wrong")
    with pytest.raises(SourceError, match="application password rejected"):
        await source.start()
    await source.close()


async def test_a_site_that_is_down_is_a_transient_error() -> None:
    settings = WordPressSite(url="http://127.0.0.1:9/", request_timeout=2)
    source = WordPressSource("down", settings)
    with pytest.raises(SourceError) as raised:
        await source.start()
    assert raised.value.transient
    await source.close()
