"""The sample site answers like the real WordPress captured in tests/fixtures/wordpress/, over real HTTP."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.sample_site import (
    BOT_APP_PASSWORD,
    BOT_USER_ID,
    BOT_USERNAME,
    MAIN_POST_ID,
    SECOND_POST_ID,
    SampleSite,
)

FIXTURES = Path(__file__).parent / "fixtures" / "wordpress"
AUTH = {"Authorization": "Basic " + base64.b64encode(f"{BOT_USERNAME}:{BOT_APP_PASSWORD}".encode()).decode()}
WRONG = {"Authorization": "Basic " + base64.b64encode(f"{BOT_USERNAME}:wrong wrong".encode()).decode()}
# Constant headers of every REST answer, as the real site sent them (comments.headers).
REST_HEADERS = {
    "Content-Type": "application/json; charset=UTF-8",
    "X-Robots-Tag": "noindex",
    "X-Content-Type-Options": "nosniff",
    "Access-Control-Expose-Headers": "X-WP-Total, X-WP-TotalPages, Link",
    "Access-Control-Allow-Headers": (
        "Authorization, X-WP-Nonce, Content-Disposition, Content-MD5, Content-Type"
    ),
}


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def shape(value: Any) -> Any:
    """Keys and value types, recursively (lists by their first item)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__



@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def get(http: aiohttp.ClientSession, url: str, **kw: Any) -> tuple[int, Any, aiohttp.ClientResponse]:
    async with http.get(url, **kw) as response:
        return response.status, await response.json(), response


def api(site: SampleSite, route: str) -> str:
    return f"{site.base_url}/wp-json/wp/v2/{route}"


def reply_body(site: SampleSite, **extra: Any) -> dict[str, Any]:
    parent = site.comment_id("oskar-long")
    body = {"post": MAIN_POST_ID, "parent": parent, "content": "Relayed reply from chat"}
    return {**body, "author": BOT_USER_ID, "author_name": "Alice (via Discord)", **extra}


def assert_like_fixture(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    """Same fields in the same order with the same types; `_links` rels shaped like the fixture's."""
    links, their_links = ours.pop("_links", {}), theirs.pop("_links", {})
    assert list(ours) == list(theirs)
    assert shape(ours) == shape(theirs)
    assert set(links) <= {"self", "collection", "author", "up", "in-reply-to", "children"}
    for rel, items in links.items():
        model = their_links.get(rel) or next(
            c["_links"][rel] for c in fixture("comments.json") if rel in c["_links"]
        )
        assert shape(items) == shape(model), rel


# --- shapes ------------------------------------------------------------------------------------------


async def test_public_comments_have_the_real_shapes_and_headers(
    site: SampleSite, http: aiohttp.ClientSession
) -> None:
    url = api(site, f"comments?post={MAIN_POST_ID}&per_page=100&orderby=date&order=asc")
    status, data, response = await get(http, url)
    assert status == 200
    for name, value in REST_HEADERS.items():
        assert response.headers[name] == value
    assert response.headers["Link"] == f'<{site.base_url}/wp-json/>; rel="https://api.w.org/"'
    assert response.headers["X-WP-Total"] == str(len(data)) == "38"
    assert response.headers["X-WP-TotalPages"] == "1"
    assert response.headers["Allow"] == "GET"
    theirs = {c["id"]: c for c in fixture("comments.json")}
    for comment in data:
        # Compare with the fixture comment of the same kind: top level with replies, reply, by a user.
        model = theirs[7] if comment["author"] else theirs[2] if comment["parent"] == 0 else theirs[4]
        assert_like_fixture(dict(comment), json.loads(json.dumps(model)))
        assert (
            comment["link"] == f"{site.base_url}/driverless-ferry-stalls-mid-river/#comment-{comment['id']}"
        )
        assert comment["content"]["rendered"].startswith(("<p>", "<blockquote>"))
        assert comment["content"]["rendered"].endswith("\n")
        assert comment["date"] == comment["date_gmt"]
        links = comment["_links"]
        assert links["up"] == [
            {"embeddable": True, "post_type": "post", "href": api(site, f"posts/{MAIN_POST_ID}")}
        ]
        assert ("in-reply-to" in links) == (comment["parent"] != 0)
    assert [c["date_gmt"] for c in data] == sorted(c["date_gmt"] for c in data)
    with_children = {c["parent"] for c in data}
    assert all(("children" in c["_links"]) == (c["id"] in with_children) for c in data)


async def test_edit_context_needs_the_editor_and_adds_private_fields(
    site: SampleSite, http: aiohttp.ClientSession
) -> None:
    url = api(site, f"comments?post={MAIN_POST_ID}&context=edit&per_page=100")
    status, data, _ = await get(http, url)
    assert status == 401 and data["code"] == "rest_forbidden_context"
    status, data, response = await get(http, url, headers=WRONG)
    assert status == 401  # a wrong application password is anonymous
    status, data, response = await get(http, url, headers=AUTH)
    assert status == 200 and response.headers["Allow"] == "GET, POST"
    assert response.headers["Cache-Control"] == "no-cache, must-revalidate, max-age=0"
    theirs = {c["id"]: c for c in fixture("comments-edit-context.json")}
    for comment in data:
        model = theirs[7] if comment["author"] else theirs[2] if comment["parent"] == 0 else theirs[4]
        assert_like_fixture(dict(comment), json.loads(json.dumps(model)))
        assert comment["content"]["raw"] and comment["author_email"].endswith("@example.test")


async def test_the_bot_posts_an_approved_reply_like_wordpress(
    site: SampleSite, http: aiohttp.ClientSession
) -> None:
    async with http.post(api(site, "comments"), json=reply_body(site), headers=AUTH) as response:
        assert response.status == 201
        created = await response.json()
        assert response.headers["Location"] == api(site, f"comments/{created['id']}")
        assert response.headers["Expires"] == "Wed, 11 Jan 1984 05:00:00 GMT"
    assert_like_fixture(dict(created), fixture("post-reply-201.json"))
    assert created["status"] == "approved" and created["author"] == BOT_USER_ID
    assert (
        created["author_name"] == "Alice (via Discord)"
        and created["author_email"] == "mirrorbot@example.test"
    )
    assert created["content"] == {
        "rendered": "<p>Relayed reply from chat</p>\n",
        "raw": "Relayed reply from chat",
    }
    assert site.comments[created["id"]].parent == site.comment_id("oskar-long")

    # The same reply again is a duplicate, exactly as WordPress words it.
    async with http.post(api(site, "comments"), json=reply_body(site), headers=AUTH) as response:
        assert response.status == 409
        assert await response.json() == fixture("error-409-duplicate.json")
    # A form body works too, and text becomes paragraphs and line breaks (wpautop).
    form = {
        "post": str(MAIN_POST_ID),
        "author": "2",
        "author_name": "Bo (via Matrix)",
        "content": "Hi\n\nline 1\nline 2",
    }
    async with http.post(api(site, "comments"), data=form, headers=AUTH) as response:
        assert response.status == 201
        rendered = (await response.json())["content"]["rendered"]
    assert rendered == "<p>Hi</p>\n<p>line 1<br />\nline 2</p>\n"


async def test_errors_are_worded_like_the_real_site(site: SampleSite, http: aiohttp.ClientSession) -> None:
    for headers in ({}, WRONG):
        async with http.post(api(site, "comments"), json=reply_body(site), headers=headers) as response:
            assert response.status == 401
            assert await response.json() == fixture("error-401-login-required.json")
    for body in (reply_body(site, post=424242), {k: v for k, v in reply_body(site).items() if k != "post"}):
        async with http.post(api(site, "comments"), json=body, headers=AUTH) as response:
            assert response.status == 403
            assert await response.json() == fixture("error-403-invalid-post.json")
    status, data, _ = await get(http, api(site, "comments?per_page=101"))
    assert status == 400 and data["code"] == "rest_invalid_param" and "per_page" in data["data"]["params"]
    status, data, _ = await get(http, api(site, "comments?status=hold"))
    assert status == 401 and data["code"] == "rest_forbidden_param"
    status, data, _ = await get(http, api(site, "comments?after=yesterday"))
    assert status == 400 and data["data"]["params"] == {"after": "Invalid date."}
    status, data, _ = await get(http, api(site, "nothing-here"))
    assert status == 404 and data["code"] == "rest_no_route"
    status, data, _ = await get(http, api(site, "users/me"))
    assert status == 401 and data["code"] == "rest_not_logged_in"


# --- listing ----------------------------------------------------------------------------------------


async def test_paging_follows_link_next_to_every_comment_once(
    site: SampleSite, http: aiohttp.ClientSession
) -> None:
    url: str | None = api(site, "comments?per_page=7&orderby=id&order=asc")
    seen: list[int] = []
    pages = 0
    while url:
        async with http.get(url) as response:
            assert response.status == 200
            seen += [c["id"] for c in await response.json()]
            pages += 1
            assert response.headers["X-WP-Total"] == str(len(site.comments))
            assert response.headers["X-WP-TotalPages"] == str(-(-len(site.comments) // 7))
            assert f'<{site.base_url}/wp-json/>; rel="https://api.w.org/"' in response.headers["Link"]
            assert ("prev" in response.links) == (pages > 1)
            url = str(response.links["next"]["url"]) if "next" in response.links else None
    assert seen == sorted(site.comments) and pages == 7
    # Past the last page the comments endpoint (unlike posts) answers an empty list.
    status, data, response = await get(http, api(site, "comments?per_page=7&page=9"))
    assert status == 200 and data == [] and "page=7" in str(response.links["prev"]["url"])


async def test_after_and_before_are_strict_in_utc_or_site_time(
    site: SampleSite, http: aiohttp.ClientSession
) -> None:
    ordered = sorted(site.comments.values(), key=lambda c: (c.date_gmt, c.id))
    pivot = ordered[20]
    stamp = pivot.date_gmt.strftime("%Y-%m-%dT%H:%M:%S")
    later = {c.id for c in ordered if c.date_gmt > pivot.date_gmt}
    for value in (
        stamp + "Z",
        stamp,
        stamp + "+00:00",
        (pivot.date_gmt + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S+02:00"),
    ):
        status, data, _ = await get(http, api(site, "comments"), params={"after": value, "per_page": "100"})
        assert status == 200
        assert {c["id"] for c in data} == later, value
    status, data, _ = await get(
        http, api(site, "comments"), params={"before": stamp + "Z", "per_page": "100"}
    )
    assert {c["id"] for c in data} == {c.id for c in ordered if c.date_gmt < pivot.date_gmt}
    fresh = site.add_comment(MAIN_POST_ID, 0, "Newcomer", "Just arrived.")
    status, data, _ = await get(http, api(site, "comments"), params={"after": stamp + "Z", "per_page": "100"})
    assert fresh["id"] in {c["id"] for c in data}


async def test_filters_post_parent_search_and_status(site: SampleSite, http: aiohttp.ClientSession) -> None:
    status, data, _ = await get(http, api(site, f"comments?post={SECOND_POST_ID}&parent=0&per_page=100"))
    assert {c["id"] for c in data} == {
        c.id for c in site.comments.values() if c.post == SECOND_POST_ID and c.parent == 0
    }
    status, both, _ = await get(
        http, api(site, f"comments?post={SECOND_POST_ID},{MAIN_POST_ID}&per_page=100")
    )
    assert len(both) == len(site.comments)
    status, found, _ = await get(http, api(site, "comments?search=DOBSONIAN"))
    assert [c["author_name"] for c in found] == ["Quentin Ashdown"]
    held = site.add_comment(MAIN_POST_ID, 0, "Pending Pat", "Waiting for a moderator.", status="hold")
    status, public, _ = await get(http, api(site, "comments?per_page=100"))
    assert held["id"] not in {c["id"] for c in public}
    status, pending, _ = await get(http, api(site, "comments?status=hold"), headers=AUTH)
    assert status == 200 and [c["id"] for c in pending] == [held["id"]]
    status, data, _ = await get(http, api(site, f"comments/{held['id']}"))
    assert status == 401 and data["code"] == "rest_cannot_read"


# --- single comments, edits, trash, deletion ----------------------------------------------------------


async def test_trashed_is_401_to_the_public_and_deleted_is_404(
    site: SampleSite, http: aiohttp.ClientSession
) -> None:
    target = site.comment_id("renata-fallback")
    replies = [c.id for c in site.comments.values() if c.parent == target]
    status, data, _ = await get(http, api(site, f"comments/{target}"))
    assert status == 200 and data["id"] == target

    async with http.delete(api(site, f"comments/{target}")) as response:
        assert response.status == 401 and (await response.json())["code"] == "rest_cannot_delete"
    async with http.delete(api(site, f"comments/{target}"), headers=AUTH) as response:
        assert response.status == 200 and (await response.json())["status"] == "trash"
    status, data, _ = await get(http, api(site, f"comments/{target}"))
    assert status == 401
    assert data == {
        "code": "rest_cannot_read",
        "message": "Sorry, you are not allowed to read this comment.",
        "data": {"status": 401},
    }
    status, data, _ = await get(http, api(site, "comments?per_page=100"))
    assert target not in {c["id"] for c in data}
    status, data, _ = await get(http, api(site, f"comments/{target}"), headers=AUTH)
    assert status == 200 and data["status"] == "trash"
    async with http.delete(api(site, f"comments/{target}"), headers=AUTH) as response:
        assert response.status == 410 and (await response.json())["code"] == "rest_already_trashed"

    async with http.delete(api(site, f"comments/{target}?force=true"), headers=AUTH) as response:
        assert response.status == 200
        deleted = await response.json()
    theirs = fixture("delete-force.json")
    assert list(deleted) == list(theirs) and deleted["deleted"] is True
    assert shape(deleted["previous"]) == shape(theirs["previous"]) and deleted["previous"]["id"] == target
    status, data, _ = await get(http, api(site, f"comments/{target}"))
    assert status == 404
    assert data == {
        "code": "rest_comment_invalid_id",
        "message": "Invalid comment ID.",
        "data": {"status": 404},
    }
    # Like wp_delete_comment, the replies move up to the deleted comment's parent.
    assert all(site.comments[r].parent == 0 for r in replies)


async def test_editing_and_status_changes_over_rest(site: SampleSite, http: aiohttp.ClientSession) -> None:
    target = site.comment_id("juniper-kid")
    body = {"content": "Edited: the kid has forgiven the boat.", "status": "hold"}
    async with http.post(api(site, f"comments/{target}"), json=body) as response:
        assert response.status == 401 and (await response.json())["code"] == "rest_cannot_edit"
    async with http.post(api(site, f"comments/{target}"), json=body, headers=AUTH) as response:
        assert response.status == 200
        data = await response.json()
    assert data["content"]["raw"] == body["content"] and data["status"] == "hold"
    async with http.put(
        api(site, f"comments/{target}"), json={"status": "approved"}, headers=AUTH
    ) as response:
        assert (await response.json())["status"] == "approved"
    status, data, _ = await get(http, api(site, f"comments/{target}"))
    assert status == 200 and data["content"]["rendered"] == "<p>Edited: the kid has forgiven the boat.</p>\n"


async def test_parents_are_not_checked_just_like_wordpress(
    site: SampleSite, http: aiohttp.ClientSession
) -> None:
    foreign = next(c.id for c in site.comments.values() if c.post == SECOND_POST_ID)
    trashed = site.comment_id("gus-coffee")
    site.trash_comment(trashed)
    for parent in (foreign, trashed):
        body = reply_body(site, parent=parent, content=f"Reply to {parent}")
        async with http.post(api(site, "comments"), json=body, headers=AUTH) as response:
            assert response.status == 201
    # Name and email but no `author`: the editor's comment waits for moderation; explicit status wins.
    held = {
        "post": MAIN_POST_ID,
        "author_name": "Guest",
        "author_email": "guest@example.test",
        "content": "Hello",
    }
    async with http.post(api(site, "comments"), json=held, headers=AUTH) as response:
        assert (await response.json())["status"] == "hold"
    async with http.post(
        api(site, "comments"), json={**held, "status": "approved", "content": "Hi"}, headers=AUTH
    ) as r:
        assert (await r.json())["status"] == "approved"


# --- site, posts, users ------------------------------------------------------------------------------


async def test_api_discovery_index_and_rest_route_alias(
    site: SampleSite, http: aiohttp.ClientSession
) -> None:
    async with http.get(site.base_url + "/") as response:
        assert response.status == 200
        assert str(response.links["https://api.w.org/"]["url"]) == f"{site.base_url}/wp-json/"
    status, index, _ = await get(http, f"{site.base_url}/wp-json/")
    assert index["name"] == "Port Alder Gazette" and index["url"] == site.base_url
    assert "wp/v2" in index["namespaces"] and "/wp/v2/comments" in index["routes"]
    status, direct, _ = await get(http, api(site, f"comments?post={MAIN_POST_ID}&per_page=5"))
    alias_url = f"{site.base_url}/?rest_route=/wp/v2/comments&post={MAIN_POST_ID}&per_page=5"
    status, alias, _ = await get(http, alias_url)
    assert status == 200 and alias == direct
    status, data, _ = await get(http, f"{site.base_url}/?rest_route=/wp/v2/comments/999999")
    assert status == 404 and data["code"] == "rest_comment_invalid_id"


async def test_posts_and_users(site: SampleSite, http: aiohttp.ClientSession) -> None:
    status, post, _ = await get(http, api(site, f"posts/{MAIN_POST_ID}"))
    assert status == 200
    expected = {"id", "date_gmt", "link", "slug", "title", "excerpt", "content", "comment_status", "type"}
    assert expected <= set(post)
    assert post["link"] == site.base_url + "/driverless-ferry-stalls-mid-river/" and post["type"] == "post"
    assert set(post["title"]) == {"rendered"} and post["content"]["protected"] is False
    status, posts, response = await get(http, api(site, f"posts?include={SECOND_POST_ID},{MAIN_POST_ID}"))
    assert {p["id"] for p in posts} == {MAIN_POST_ID, SECOND_POST_ID}
    assert response.headers["X-WP-Total"] == "2"
    status, data, _ = await get(http, api(site, "posts/4242"))
    assert status == 404 and data["code"] == "rest_post_invalid_id"
    status, data, _ = await get(http, api(site, "posts?page=5"))
    assert status == 400 and data["code"] == "rest_post_invalid_page_number"
    nospaces = base64.b64encode(f"{BOT_USERNAME}:{BOT_APP_PASSWORD.replace(' ', '')}".encode()).decode()
    for headers in (AUTH, {"Authorization": f"Basic {nospaces}"}):
        status, me, _ = await get(http, api(site, "users/me"), headers=headers)
        assert status == 200 and me["id"] == BOT_USER_ID and me["slug"] == BOT_USERNAME
    status, me, _ = await get(http, api(site, "users/me?context=edit"), headers=AUTH)
    assert me["roles"] == ["editor"] and me["capabilities"]["moderate_comments"] is True


async def test_post_page_uses_classic_theme_comment_markup(
    site: SampleSite, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{site.base_url}/?p={MAIN_POST_ID}") as response:  # redirected to the permalink
        assert response.status == 200 and str(response.url).endswith("/driverless-ferry-stalls-mid-river/")
        assert str(response.links["https://api.w.org/"]["url"]) == f"{site.base_url}/wp-json/"
        page = await response.text()
    approved = [c for c in site.comments.values() if c.post == MAIN_POST_ID and c.status == "approved"]
    assert '<ol class="comment-list">' in page and '<ol class="children">' in page
    ids = re.findall(r'<li id="comment-(\d+)" class="comment [^"]*depth-(\d)', page)
    assert {int(i) for i, _ in ids} == {c.id for c in approved}
    assert {d for _, d in ids} == {"1", "2", "3"}
    assert page.count('<b class="fn">') == len(approved)
    assert page.count('class="comment-content"') == len(approved)
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00">', page)
    async with http.get(f"{site.base_url}/no-such-page/") as response:
        assert response.status == 404


# --- the discussion and the live generator -------------------------------------------------------------


def test_the_discussion_is_shaped_like_the_seed_page() -> None:
    sample = SampleSite(interval=0)
    comments = [c for c in sample.comments.values() if c.post == MAIN_POST_ID]
    by_id = {c.id: c for c in comments}
    top = [c for c in comments if c.parent == 0]
    assert len(top) == 12
    assert sum(1 for t in top if any(c.parent == t.id for c in comments)) >= 10

    def depth(c: Any) -> int:
        return 1 if c.parent == 0 else 1 + depth(by_id[c.parent])

    assert max(depth(c) for c in comments) == 3
    names = {c.author_name for c in comments}
    mentions = [c for c in comments if re.match(r"@(\S+(?: \S+)?)", c.content)]
    assert len(mentions) >= 8
    for c in mentions:
        addressed = next(n for n in names if c.content.startswith("@" + n))
        assert any(o.author_name == addressed and o.date_gmt < c.date_gmt for o in comments)
    lengths = sorted(len(c.content) for c in comments)
    assert lengths[0] < 40 and 1300 <= lengths[-1] <= 1700
    texts = " ".join(c.content for c in comments)
    assert "<a href=" in texts and "<em>" in texts and "’" in texts and "👍" in texts
    assert all(c.date_gmt < sample.started_at for c in comments)
    assert all(c.parent == 0 or by_id[c.parent].date_gmt < c.date_gmt for c in comments)
    assert sample.started_at - min(c.date_gmt for c in comments) < timedelta(hours=6)
    assert len([c for c in sample.comments.values() if c.post == SECOND_POST_ID]) >= 5


def test_live_comments_are_deterministic_for_a_seed() -> None:
    def run(seed: int) -> list[tuple[str, int, str]]:
        sample = SampleSite(interval=0, seed=seed)
        posted = [sample.add_live_comment() for _ in range(30)]
        return [(c["author_name"], c["parent"], c["content"]["raw"]) for c in posted if c]

    first = run(7)
    assert first == run(7) and first != run(8)
    assert sum(1 for _, parent, _ in first if parent) >= 20  # mostly replies
    assert sum(1 for _, parent, _ in first if not parent) >= 3  # some new threads
    assert not any("{name}" in text for _, _, text in first)


async def test_the_running_site_adds_a_comment_every_interval(http: aiohttp.ClientSession) -> None:
    sample = SampleSite(interval=0.05, seed=3)
    before = len(sample.comments)
    await sample.start()
    try:
        for _ in range(100):
            if len(sample.live_posted) >= 6:
                break
            await asyncio.sleep(0.05)
        status, data, _ = await get(http, api(sample, "comments?per_page=100&orderby=id&order=desc"))
        assert status == 200
    finally:
        await sample.stop()
    assert len(sample.live_posted) >= 6 and len(sample.comments) == before + len(sample.live_posted)
    live = [c for c in data if c["id"] in sample.live_posted]
    assert live and all(c["status"] == "approved" for c in live)
    assert any(sample.comments[i].parent for i in sample.live_posted)
    count = len(sample.comments)
    await asyncio.sleep(0.2)
    assert len(sample.comments) == count  # stopped means stopped
