"""The interface every site source implements, and its errors."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Protocol, runtime_checkable

from bot.models import Comment, Page


class SourceError(Exception):
    """A request to the site failed. `transient` errors are retried with backoff."""

    def __init__(self, message: str, *, transient: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.status = status


class DuplicateComment(SourceError):
    """The site already has this exact comment (WordPress answers 409)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=False, status=409)


class SiteSource(Protocol):
    """Reads a site's comments and, when it can, posts replies to it."""

    name: str
    can_post: bool
    requests_made: int

    async def start(self) -> None:
        """Connect: find the API and (when posting is set up) the bot's own account."""

    async def close(self) -> None: ...

    async def list_comments(self, after: datetime | None) -> list[Comment]:
        """Every visible comment of the whole site created after `after` (all pages), oldest first."""

    async def list_page_comments(self, post_id: int) -> list[Comment]:
        """Every visible comment of one page, oldest first (for backfilling one page)."""

    async def get_page(self, post_id: int) -> Page: ...

    async def get_comment(self, comment_id: int) -> Comment | None:
        """One comment as the bot's account sees it (any status), or None when it is gone."""

    async def post_reply(
        self, post_id: int, parent_id: int, author_name: str, html: str, status: str
    ) -> Comment:
        """Post a comment as the bot's account under `author_name`; raise DuplicateComment on a repeat."""

    async def find_reply(self, post_id: int, parent_id: int, author_name: str, html: str) -> Comment | None:
        """Our earlier post of this exact reply, if it reached the site (to reconcile after a crash)."""

    async def edit_reply(self, comment_id: int, html: str) -> Comment: ...

    async def trash_reply(self, comment_id: int) -> None: ...


@runtime_checkable
class CommentsById(Protocol):
    """A source that can list chosen comments in one request (push notifications name them)."""

    async def list_comments_by_id(self, ids: Collection[int]) -> list[Comment]:
        """Those of `ids` that are visible now, as `list_comments` would show them; the others are gone."""
