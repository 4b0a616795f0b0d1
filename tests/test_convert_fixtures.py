"""The converters against real WordPress output (tests/fixtures/wordpress, see its README)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup, Tag

from bot.convert import excerpt, html_to_markdown, html_to_text, neutralize_mentions, split_message

FIXTURES = Path(__file__).parent / "fixtures" / "wordpress"

# A tag markdown renderers would take as HTML: not escaped as `\<`, not a `<https://...>` autolink.
HTML_TAG = re.compile(r"(?<!\\)</?(?!https?://)[A-Za-z][^>]*>")


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


COMMENTS: list[dict[str, Any]] = load("comments.json")
RAW = {c["id"]: c["content"]["raw"] for c in load("comments-edit-context.json")}


def visible_words(html: str) -> list[str]:
    return BeautifulSoup(html, "html.parser").get_text().split()


def shown(markdown: str) -> str:
    """Roughly what a chat client shows for `markdown`: markup and link targets gone, escapes undone."""
    markdown = re.sub(r"(?<!\\)\]\([^)\s]*\)", "", markdown)  # ](target) of [text](target)
    markdown = re.sub(r"(?<!\\)<(https?://[^>\s]+)>", r"\1", markdown)
    markdown = re.sub(r"(?<!\\)(?:[\[*`]|~~|^> |^- )", "", markdown, flags=re.MULTILINE)
    return re.sub(r"\\(.)", r"\1", markdown)


def assert_words_in_order(words: list[str], text: str) -> None:
    pos = 0
    for word in words:
        found = text.find(word, pos)
        assert found >= 0, f"{word!r} missing (or out of order) in {text!r}"
        pos = found + len(word)


@pytest.mark.parametrize("comment", COMMENTS, ids=lambda c: f"comment-{c['id']}")
def test_every_comment_converts_to_markdown_without_html(comment: dict[str, Any]) -> None:
    html = comment["content"]["rendered"]
    markdown = html_to_markdown(html)
    assert markdown
    assert not HTML_TAG.search(markdown)
    assert "&#" not in markdown and "&amp;" not in markdown
    assert markdown == markdown.strip()
    assert all(line == line.rstrip() for line in markdown.split("\n"))
    assert "\n\n\n" not in markdown
    assert_words_in_order(visible_words(html), shown(markdown))


@pytest.mark.parametrize("comment", COMMENTS, ids=lambda c: f"comment-{c['id']}")
def test_every_comment_converts_to_its_visible_text(comment: dict[str, Any]) -> None:
    text = html_to_text(comment["content"]["rendered"])
    assert "<" not in text and "&#" not in text
    assert text.split() == visible_words(comment["content"]["rendered"])
    raw = RAW[comment["id"]]
    if "<" not in raw:  # what the commenter typed, when it was plain text
        assert text == raw


def test_formatted_comment_in_markdown() -> None:
    by_id = {c["id"]: c["content"]["rendered"] for c in COMMENTS}
    assert html_to_markdown(by_id[6]) == "Thread B: *second* top-level comment with [a link](https://example.com)."
    assert html_to_text(by_id[6]) == "Thread B: second top-level comment with a link."
    # "&#038;" (WordPress's ampersand) decoded; two <p> → one blank line.
    assert html_to_markdown(by_id[8]) == "Thread C: multi-line\n\nsecond paragraph & ampersand."


def test_relayed_reply_and_deleted_comment_shapes() -> None:
    reply = load("post-reply-201.json")
    assert html_to_markdown(reply["content"]["rendered"]) == reply["content"]["raw"]
    deleted = load("delete-force.json")["previous"]
    assert html_to_text(deleted["content"]["rendered"]) == "Relayed reply from chat"


def test_comments_fit_one_chat_message() -> None:
    for comment in COMMENTS:
        body = neutralize_mentions(html_to_markdown(comment["content"]["rendered"]))
        assert split_message(body, 2000) == [body]
        assert len(excerpt(html_to_text(comment["content"]["rendered"]), 20)) <= 20


def page_comments(page: str, content_class: str) -> dict[int, str]:
    soup = BeautifulSoup((FIXTURES / page).read_text(encoding="utf-8"), "html.parser")
    found: dict[int, str] = {}
    for item in soup.select("li[id^=comment-]"):
        content = item.select_one(f".{content_class}")
        assert isinstance(content, Tag)
        found[int(str(item["id"]).removeprefix("comment-"))] = content.decode_contents()
    return found


@pytest.mark.parametrize(
    ("page", "content_class"),
    [
        ("post-twentytwentythree.html", "wp-block-comment-content"),
        ("post-twentytwentyone.html", "comment-content"),
    ],
)
def test_theme_pages_give_the_same_markdown_as_the_api(page: str, content_class: str) -> None:
    from_page = page_comments(page, content_class)
    assert set(from_page) == {c["id"] for c in COMMENTS}
    for comment in COMMENTS:
        assert html_to_markdown(from_page[comment["id"]]) == html_to_markdown(comment["content"]["rendered"])
        assert html_to_text(from_page[comment["id"]]) == html_to_text(comment["content"]["rendered"])


@pytest.mark.parametrize("page", ["post-twentytwentythree.html", "post-twentytwentyone.html"])
def test_whole_pages_drop_scripts_and_styles(page: str) -> None:
    html = (FIXTURES / page).read_text(encoding="utf-8")
    for convert in (html_to_markdown, html_to_text):
        out = convert(html)
        for hidden in (
            "_wpemojiSettings",
            "skipLinkTarget",
            "comment-awaiting-moderation{",
            "function(",
            "{display:",
        ):
            assert hidden not in out
        assert not HTML_TAG.search(out)
        assert "&#82" not in out  # &#8211; &#8220; ... all decoded
        assert "Thread C: multi-line" in out
        assert all(line == line.rstrip() for line in out.split("\n"))
        assert "\n\n\n" not in out


def test_title_entities_decoded() -> None:
    # The comments title of the block theme: `10 responses to &#8220;Mirror test post&#8221;`.
    soup = BeautifulSoup((FIXTURES / "post-twentytwentythree.html").read_text(encoding="utf-8"), "html.parser")
    title = soup.select_one("h3.wp-block-comments-title")
    assert isinstance(title, Tag)
    assert html_to_text(title.decode_contents()) == "10 responses to “Mirror test post”"
    assert html_to_text("Mirror test post &#8211; Mirror Test Blog") == "Mirror test post – Mirror Test Blog"
