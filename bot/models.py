"""The normalized types every part of the bot speaks.

Sources turn a site's own format into `Comment` and `Page`; chat adapters receive
`ThreadHeader` and `MirroredComment` to post, and report `ChatMessage`,
`ChatEdit`, `ChatDelete` and `CommandCall` back to the core.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class CommentStatus(StrEnum):
    APPROVED = "approved"
    HOLD = "hold"
    TRASH = "trash"
    DELETED = "deleted"


@dataclass(frozen=True)
class Comment:
    """One comment as the site serves it (times are UTC)."""

    site: str
    id: int
    post_id: int
    parent_id: int  # 0 for a top-level comment
    author_name: str
    created_at: datetime
    html: str  # the site's rendered HTML
    link: str
    status: CommentStatus = CommentStatus.APPROVED
    author_url: str = ""
    avatar_url: str = ""
    bot_author: bool = False  # posted by the bot's own site account

    @property
    def page_url(self) -> str:
        return self.link.split("#", 1)[0]


@dataclass(frozen=True)
class Page:
    """An article (WordPress post or page) whose comments may be mirrored."""

    site: str
    id: int
    url: str
    title: str
    excerpt: str = ""


@dataclass(frozen=True)
class ParentContext:
    """Who a comment answers, for reply context in chat."""

    author_name: str
    excerpt: str  # plain text, already shortened
    link: str
    message_ref: str | None = None  # the parent's first message in the same chat thread, if mirrored


@dataclass(frozen=True)
class MirroredComment:
    """What a chat adapter needs to show one site comment."""

    comment: Comment
    page_title: str
    parent: ParentContext | None = None


@dataclass(frozen=True)
class ThreadHeader:
    """What opens a chat thread: a page, or one top-level comment of it."""

    site: str
    page: Page
    root_comment: Comment | None = None  # set when mirrors run thread_per: comment

    @property
    def title(self) -> str:
        if self.root_comment is None:
            return self.page.title
        return f"{self.root_comment.author_name} on {self.page.title}"


@dataclass(frozen=True)
class ChatMessage:
    """A human's message seen in a chat (not one the bot mirrored)."""

    chat: str  # adapter name from the config, e.g. "terminal", "discord"
    channel: str
    thread_ref: str
    message_ref: str
    author_name: str
    author_id: str
    text: str
    reply_to_ref: str | None = None


@dataclass(frozen=True)
class ChatEdit:
    chat: str
    message_ref: str
    text: str


@dataclass(frozen=True)
class ChatDelete:
    chat: str
    message_ref: str


ChatEvent = ChatMessage | ChatEdit | ChatDelete


@dataclass
class CommandCall:
    """A command typed in a chat, already parsed by the adapter into a name and arguments."""

    chat: str
    channel: str
    thread_ref: str | None
    user_name: str
    user_id: str
    is_admin: bool
    name: str  # e.g. "mirror add", "mirror list"
    args: dict[str, str] = field(default_factory=dict)
    respond: Callable[[str], Awaitable[None]] | None = None
