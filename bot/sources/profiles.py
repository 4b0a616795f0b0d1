"""Where the comments are in a page's HTML: WordPress theme profiles, and custom ones from the config.

A profile is a handful of CSS selectors (matched with selectolax/lexbor):

- `list`: the element(s) holding the comment list;
- `item`: one comment; an item inside another item (in its replies list) answers it, unless
  `parent` names an attribute that holds the parent's id (for flat lists);
- `id` + `id_pattern`: the attribute with the comment's id and the regex that takes the id out of it;
- `author`, `time` (+ `time_attribute`, `time_format`, `timezone`), `content`: matched inside the
  item but never inside its replies;
- optional checks that turn broken markup into a clear error instead of a wrong tree: `children`
  (where replies must sit), `depth_pattern` (WordPress's `depth-K` class), `count` (the heading
  that says how many comments the page has), `area` (present even when there are no comments).

The two WordPress profiles are selected automatically (`profile: auto`). This module only holds
data and its validation; `bot/sources/html.py` applies it.
"""

from __future__ import annotations

import re
from datetime import tzinfo
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator
from selectolax.lexbor import LexborHTMLParser, SelectolaxError

_PROBE = LexborHTMLParser("<p></p>")


class ProfileProblem(ValueError):
    """A profile value that cannot work; `fix` says what to write instead."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(problem)
        self.problem, self.fix = problem, fix


def check_selector(value: str) -> str:
    value = value.strip()
    try:
        if not value:
            raise SelectolaxError("empty")
        _PROBE.css(value)
    except SelectolaxError:
        raise ProfileProblem(
            f"not a CSS selector: {value!r}", "write a CSS selector such as 'li.comment' or 'div.comment-body'"
        ) from None
    return value


def check_pattern(value: str, *, groups: int = 1) -> str:
    try:
        compiled = re.compile(value)
    except re.error as exc:
        raise ProfileProblem(
            f"not a regular expression: {value!r} ({exc})", r"write a Python regex, e.g. 'comment-(\d+)'"
        ) from None
    if compiled.groups != groups:
        raise ProfileProblem(
            f"{value!r} has {compiled.groups} groups, it needs exactly {groups}",
            r"put the part to take in one (...) group, e.g. 'comment-(\d+)'",
        )
    return value


class Profile(BaseModel):
    """CSS selectors that find comments in a page (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = "custom"
    list_: str = Field(validation_alias="list", description="the element(s) holding the comments, e.g. 'ol.comments'")
    item: str = Field(description="one comment, e.g. 'li.comment'")
    id: str = Field(default="id", description="the item's attribute holding the comment id")
    id_pattern: str = Field(default=r"(\d+)", description="regex with one group taking the id out of that attribute")
    parent: str | None = Field(default=None, description="attribute holding the parent's id; omit to use the nesting")
    children: str | None = Field(default=None, description="where replies sit inside a comment, e.g. 'ol.children'")
    author: str
    author_url: str | None = None
    avatar: str | None = None
    time: str
    time_attribute: str | None = Field(default="datetime", description="attribute with the time; none: the text")
    time_format: str | None = Field(default=None, description="strptime format; omit for ISO 8601")
    timezone: str = Field(default="UTC", description="zone for times written without an offset")
    content: str
    depth_pattern: str | None = Field(
        default=None, description=r"regex on the item's class giving its depth, e.g. 'depth-(\d+)'"
    )
    count: str | None = Field(default=None, description="element whose number is how many comments the page has")
    counted: str | None = Field(default=None, description="what `count` counts, when more than `item` (e.g. pingbacks)")
    area: str | None = Field(default=None, description="an element present even when there are no comments yet")
    title: str | None = Field(default=None, description="the page title; default: h1, og:title, <title>")

    @field_validator("list_", "item", "author", "time", "content")
    @classmethod
    def _selector(cls, value: str) -> str:
        return check_selector(value)

    @field_validator("children", "author_url", "avatar", "count", "counted", "area", "title")
    @classmethod
    def _optional_selector(cls, value: str | None) -> str | None:
        return None if value is None else check_selector(value)

    @field_validator("id_pattern", "depth_pattern")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        return None if value is None else check_pattern(value)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ProfileProblem(
                f"unknown time zone {value!r}", "use an IANA zone name such as 'UTC' or 'Europe/Berlin'"
            ) from None
        return value

    @property
    def zone(self) -> tzinfo:
        return ZoneInfo(self.timezone)

    @property
    def item_or_counted(self) -> str:
        return self.counted or self.item


# WordPress's default block theme (Twenty Twenty-Two, Twenty Twenty-Three and other block themes):
# the Comment Template block renders `ol.wp-block-comment-template > li#comment-N.comment.depth-K`,
# replies in a nested plain <ol>.
BLOCK = Profile(
    name="block",
    list_="ol.wp-block-comment-template",
    item="li.comment",
    id="id",
    id_pattern=r"^comment-(\d+)$",
    author=".wp-block-comment-author-name",
    author_url=".wp-block-comment-author-name a[href]",
    avatar=".wp-block-avatar img",
    time=".wp-block-comment-date time[datetime]",
    content=".wp-block-comment-content",
    depth_pattern=r"\bdepth-(\d+)\b",
    count=".wp-block-comments-title",
    counted="li.comment, li.pingback, li.trackback",
    area=".wp-block-comments, .wp-block-post-comments",
    title="h1.wp-block-post-title, .wp-block-post-title",
)

# Classic themes (Twenty Twenty-One and most PHP themes using wp_list_comments() with HTML5
# markup): `ol.comment-list > li#comment-N.depth-K > article.comment-body`, replies in `ol.children`.
CLASSIC = Profile(
    name="classic",
    list_="ol.comment-list, ul.comment-list, ol.commentlist, ul.commentlist",
    item="li.comment",
    id="id",
    id_pattern=r"^comment-(\d+)$",
    children="ol.children, ul.children",
    author=".comment-author .fn, .fn",
    author_url=".comment-author .fn a[href], .fn a[href]",
    avatar=".comment-author img.avatar, img.avatar",
    time=".comment-metadata time[datetime], .comment-meta time[datetime], time[datetime]",
    content=".comment-content",
    depth_pattern=r"\bdepth-(\d+)\b",
    count=".comments-title",
    counted="li.comment, li.pingback, li.trackback",
    area="#comments, #respond",
    title="h1.entry-title, .entry-title",
)

BUILTIN: dict[str, Profile] = {"block": BLOCK, "classic": CLASSIC}

ProfileChoice = Literal["auto", "block", "classic"] | Profile


def resolve(choice: ProfileChoice) -> Profile | None:
    """The profile a config names; None means detect it on each page."""
    if isinstance(choice, Profile):
        return choice
    return None if choice == "auto" else BUILTIN[choice]
