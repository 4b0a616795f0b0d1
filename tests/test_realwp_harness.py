"""Tests of the real-WordPress harness itself (tests/realwp.py) against the recorded reference site."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.realwp import RealWordPress, WordPressError
from tests.realwp import wordpress as wordpress  # the session fixture; "as" marks the re-export

pytestmark = pytest.mark.wordpress

_REPO = Path(__file__).resolve().parents[1]
# The repo's copy of the fixtures, else shared/ (beside the repo in CI, /work/shared here).
_FIXTURE_DIRS = [_REPO / "tests/fixtures/wordpress", _REPO.parent / "shared/fixtures/wordpress"]


def _fixture(name: str) -> Any:
    for directory in _FIXTURE_DIRS:
        if (directory / name).is_file():
            return json.loads((directory / name).read_text())
    pytest.fail(f"fixture {name} not found in {_FIXTURE_DIRS}")


def _unique(text: str) -> str:
    # WordPress refuses duplicate comments, and the site is shared by the whole session.
    return f"{text} [{uuid.uuid4().hex[:8]}]"


@pytest.fixture
def post(wordpress: RealWordPress) -> dict[str, Any]:
    return wordpress.create_post(_unique("Mirror test"), "A post whose comments get mirrored.")


def test_rest_root_is_announced_in_home_page_link_header(wordpress: RealWordPress) -> None:
    home = wordpress.request("GET", "/")
    assert home.status == 200
    match = re.search(r'<([^>]+)>;\s*rel="https://api\.w\.org/"', home.headers.get("Link", ""))
    assert match, home.headers.get("Link")
    assert match.group(1) == wordpress.rest_url

    root = wordpress.request("GET", match.group(1))
    assert root.status == 200
    assert "wp/v2" in root.json()["namespaces"]


def test_anonymous_comment_list_has_the_reference_shape(
    wordpress: RealWordPress, post: dict[str, Any]
) -> None:
    top = wordpress.add_comment(post["id"], _unique("Thread A"), "Alice")
    wordpress.add_comment(post["id"], _unique("Reply"), "Bob", parent=top["id"])

    resp = wordpress.request(
        "GET",
        "/wp-json/wp/v2/comments",
        params={"post": post["id"], "per_page": 100, "orderby": "date", "order": "asc"},
    )
    assert resp.status == 200
    assert resp.headers["X-WP-Total"] == "2"
    assert resp.headers["X-WP-TotalPages"] == "1"
    assert 'rel="https://api.w.org/"' in resp.headers["Link"]

    comments = resp.json()
    reference = _fixture("comments.json")[0]
    assert [set(c) for c in comments] == [set(reference)] * 2
    assert set(comments[0]["content"]) == {"rendered"}  # no raw text for anonymous readers
    assert comments[1]["parent"] == top["id"]
    assert comments[0]["link"] == f"{post['link']}#comment-{top['id']}"


def test_bot_application_password_posts_an_approved_reply(
    wordpress: RealWordPress, post: dict[str, Any]
) -> None:
    parent = wordpress.add_comment(post["id"], _unique("Question"), "Bob")
    body = {
        "post": post["id"],
        "parent": parent["id"],
        "content": _unique("Relayed reply from chat"),
        "author": wordpress.bot_user_id,
        "author_name": "Alice (via Discord)",
        "status": "approved",
    }
    resp = wordpress.request("POST", "/wp-json/wp/v2/comments", json_body=body, auth="bot")
    assert resp.status == 201, resp.text
    reply = resp.json()
    assert set(reply) == set(_fixture("post-reply-201.json"))
    assert reply["status"] == "approved"
    assert reply["author"] == wordpress.bot_user_id
    assert reply["author_name"] == "Alice (via Discord)"
    assert reply["author_email"] == "mirrorbot@example.test"
    assert resp.headers["Location"] == f"{wordpress.rest_url}wp/v2/comments/{reply['id']}"

    # Duplicate detection applies to editors too, as on the reference site.
    again = wordpress.request("POST", "/wp-json/wp/v2/comments", json_body=body, auth="bot")
    assert again.status == 409
    assert again.json()["code"] == _fixture("error-409-duplicate.json")["code"]


def test_wrong_application_password_counts_as_anonymous(
    wordpress: RealWordPress, post: dict[str, Any]
) -> None:
    resp = wordpress.request(
        "POST",
        "/wp-json/wp/v2/comments",
        json_body={"post": post["id"], "content": _unique("nope"), "author_name": "X", "status": "approved"},
        auth=(wordpress.bot_username, "wrong wrong wrong wrong wrong wrong"),
    )
    assert resp.status == 401
    assert resp.json()["code"] == "rest_comment_login_required"
    assert resp.json() == _fixture("error-401-login-required.json")


def test_trash_then_force_delete(wordpress: RealWordPress, post: dict[str, Any]) -> None:
    comment = wordpress.add_comment(post["id"], _unique("Soon gone"), "Carol")
    path = f"/wp-json/wp/v2/comments/{comment['id']}"
    assert wordpress.request("GET", path).status == 200

    assert wordpress.trash_comment(comment["id"])["status"] == "trash"
    assert wordpress.request("GET", path).status == 401  # public view: trashed looks forbidden
    assert wordpress.get_comment(comment["id"])["status"] == "trash"
    assert [c["status"] for c in wordpress.list_comments(post["id"])] == ["trash"]

    deleted = wordpress.delete_comment(comment["id"])
    assert deleted["deleted"] is True
    assert deleted["previous"]["id"] == comment["id"]
    gone = wordpress.request("GET", path)
    assert gone.status == 404
    assert gone.json()["code"] == "rest_comment_invalid_id"
    with pytest.raises(WordPressError) as err:
        wordpress.get_comment(comment["id"])
    assert err.value.response.status == 404


def test_edit_comment_changes_rendered_content(wordpress: RealWordPress, post: dict[str, Any]) -> None:
    comment = wordpress.add_comment(post["id"], _unique("Typo hree"), "Dave")
    edited = wordpress.edit_comment(comment["id"], "Typo fixed here")
    assert edited["content"]["raw"] == "Typo fixed here"
    assert (
        wordpress.get_comment(comment["id"], context="view")["content"]["rendered"]
        == "<p>Typo fixed here</p>\n"
    )


def test_switch_theme_and_restart(wordpress: RealWordPress, post: dict[str, Any]) -> None:
    comment = wordpress.add_comment(post["id"], _unique("Rendered"), "Eve")
    page = wordpress.request("GET", urlpath(post["link"]))
    assert page.status == 200
    assert "wp-block-comment-template" in page.text  # twentytwentythree, the default block theme

    try:
        assert wordpress.switch_theme("twentytwentyone")["block_theme"] is False
        page = wordpress.request("GET", urlpath(post["link"]))
        assert 'class="comment-list"' in page.text
        assert f'id="comment-{comment["id"]}"' in page.text
    finally:
        wordpress.switch_theme("twentytwentythree")  # the fixture is shared: put the default back

    wordpress.restart()
    assert wordpress.get_comment(comment["id"])["id"] == comment["id"]  # the database survived


def urlpath(url: str) -> str:
    """The path of a site URL, e.g. "/mirror-test/"."""
    return "/" + url.split("/", 3)[3]
