"""The WordPress source's parsing and error wording, against real WordPress output."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.sources.base import DuplicateComment
from bot.sources.wordpress import comment_from_json, explain_error, format_after

FIXTURES = Path(__file__).parent / "fixtures" / "wordpress"


def load(name: str):  # type: ignore[no-untyped-def]
    return json.loads((FIXTURES / name).read_text())


def test_comments_listing_becomes_a_tree_with_utc_times() -> None:
    comments = [comment_from_json("blog", item) for item in load("comments.json")]
    assert [(c.id, c.parent_id) for c in comments][:4] == [(2, 0), (3, 2), (4, 3), (5, 2)]
    first = comments[0]
    assert first.author_name == "Alice" and first.post_id == 4
    assert first.created_at == datetime(2026, 11, 26, 3, 11, 55, tzinfo=UTC)
    assert first.page_url == "http://127.0.0.1:8088/mirror-test/"
    assert first.html.startswith("<p>Thread A")
    assert first.avatar_url.startswith("http://") and "s=96" in first.avatar_url
    assert first.status == "approved" and not first.bot_author


def test_the_bots_own_reply_is_recognised() -> None:
    reply = comment_from_json("blog", load("post-reply-201.json"), bot_user_id=2)
    assert reply.bot_author and reply.author_name == "Alice (via Discord)" and reply.parent_id == 3


@pytest.mark.parametrize(
    ("fixture", "status", "words"),
    [
        (
            "error-401-login-required.json",
            401,
            "application password rejected, or the account cannot comment",
        ),
        ("error-403-invalid-post.json", 403, "the post does not exist"),
    ],
)
def test_errors_are_worded_for_an_admin(fixture: str, status: int, words: str) -> None:
    error = explain_error(status, load(fixture))
    assert words in str(error) and not error.transient and error.status == status


def test_duplicate_is_its_own_error_with_entities_decoded() -> None:
    error = explain_error(409, load("error-409-duplicate.json"))
    assert isinstance(error, DuplicateComment)
    assert "you’ve already said that" in str(error)


def test_server_errors_and_rate_limits_are_transient() -> None:
    assert explain_error(503, None).transient and explain_error(429, {}).transient
    assert not explain_error(400, {"code": "rest_invalid_param", "message": "bad"}).transient


def test_after_is_sent_in_utc_with_z() -> None:
    assert format_after(datetime(2026, 11, 26, 3, 11, 55, tzinfo=UTC)) == "2026-11-26T03:11:55Z"
