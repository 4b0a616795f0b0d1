"""Comments read from RSS/Atom comment feeds (WordPress's `/comments/feed/` for a whole site,
`/<post>/feed/` for one post), for sites without the REST API. Read-only.

A feed is cheap to poll (WordPress answers a conditional GET with 304 until a comment arrives)
but short: it shows the latest few comments (`posts_per_rss`, 10 by default). So:

- **Feed alone** (`kind: feed`): each poll reports what the feed shows now. A reply's parent is
  taken from the feed where it says (Atom `thr:in-reply-to`; WordPress's "In reply to <a
  href=...#comment-N>" first paragraph, which is then removed from the text). A WordPress feed
  that says nothing means a top-level comment; other feeds' silence is settled by reading the
  comment's page once. The first comment of each page costs one read of that page (its post id
  and title). A comment that leaves the feed cannot be told from a deleted one, so a feed-only
  site has no edit window (config enforces it) and never reports deletions.
- **Feed + pages** (`kind: feed` with `pages:`): the listed pages are the truth, read with the
  HTML source's reader (complete trees, edits and deletions), but only when the feed shows a
  comment of theirs that the last read did not have, when the feed may have overflowed, and
  every `recheck_interval`. Most polls are one 304.
"""

from __future__ import annotations

import calendar
import hashlib
import html as htmllib
import logging
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import feedparser

from bot.config import FeedSite
from bot.models import Comment, Page
from bot.sources.base import SourceError
from bot.sources.guard import AddressPolicy
from bot.sources.html import (
    MarkupError,
    PageRead,
    PageReader,
    check_unique_ids,
    page_facts,
    parse_comment_page,
    post_base,
    read_only,
    strip_comment_page,
    synthetic_post_id,
)
from bot.sources.http import FEED_ACCEPT, HTML_ACCEPT, PoliteFetcher
from bot.sources.profiles import resolve

log = logging.getLogger(__name__)

_COMMENT_ID = re.compile(r"#comment-(\d+)$")
_TRAILING_NUMBER = re.compile(r"#\D*(\d+)$")
_POST_ID = re.compile(r"[?&](?:p|page_id)=(\d+)")
# WordPress (get_comment_text() in comment feeds) starts a reply with "In reply to <a href="parent
# link">Name</a>." in its own paragraph; translations change the words, not the shape.
_IN_REPLY_TO = re.compile(
    r'^\s*<p>\s*(?P<lead>[^<]{0,60}?)\s*<a href="(?P<href>[^"]*#comment-(?P<id>\d+))"[^>]*>[^<]*</a>'
    r"(?P<tail>[^<]{0,12})</p>\s*",
)
_COMMENT_ON = re.compile(r"^(?:Comment on )(?P<title>.+) by .+$", re.DOTALL)


@dataclass(frozen=True)
class FeedItem:
    id: int
    page_url: str  # the commented page (the item's link without its fragment)
    link: str
    parent_id: int | None  # None: the feed does not say
    author_name: str
    author_url: str
    created_at: datetime
    html: str
    title: str
    guid_post_id: int | None  # from a guid like https://site/?p=4#comment-2


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    wordpress: bool
    items: tuple[FeedItem, ...]


class FeedError(SourceError):
    def __init__(self, message: str) -> None:
        super().__init__(message, transient=False)


# -- parsing (pure) -------------------------------------------------------------------------


def parse_feed(body: bytes, url: str) -> ParsedFeed:
    """An RSS 2.0 or Atom comment feed; raises FeedError rather than returning a doubtful one."""
    parsed: Any = feedparser.parse(body)
    problem = parsed.get("bozo_exception")
    if not parsed.get("version"):
        head = body[:2000].lower()
        if b"<html" in head or b"<!doctype html" in head:
            if b"loginform" in body or b"wp-login.php" in head or b'type="password"' in body:
                raise FeedError(f"{url} shows a login form instead of a feed; fix: use a public feed address")
            raise FeedError(f"{url} is an HTML page, not an RSS/Atom feed; fix: check the feed address")
        raise FeedError(f"{url} is not an RSS/Atom feed ({problem or 'unknown format'})")
    if problem is not None and not isinstance(problem, feedparser.CharacterEncodingOverride):
        raise FeedError(f"{url} is a broken feed ({problem}); nothing was read from it")
    generator = str(parsed.feed.get("generator", "")) + str(parsed.feed.get("generator_detail", ""))
    wordpress = "wordpress" in generator.lower()
    items = tuple(_item(entry, position, url, wordpress) for position, entry in enumerate(parsed.entries))
    seen: set[int] = set()
    for item in items:
        if item.id in seen:
            raise FeedError(f"{url}: two items have the comment id {item.id}; nothing was read from it")
        seen.add(item.id)
    return ParsedFeed(title=str(parsed.feed.get("title", "")), wordpress=wordpress, items=items)


def _item(entry: Any, position: int, url: str, wordpress: bool) -> FeedItem:
    guid = str(entry.get("id") or "")
    link = str(entry.get("link") or guid)
    if not link:
        raise FeedError(f"{url}: item #{position + 1} has neither a link nor an id; nothing was read from the feed")
    found_id = _comment_id_in(guid) if guid else None
    if found_id is None:
        found_id = _comment_id_in(link)
    # Not a comment permalink: a stable id from the item's id.
    comment_id = found_id if found_id is not None else _stable_id(guid or link)
    stamp = entry.get("published_parsed") or entry.get("updated_parsed")
    if stamp is None:
        raise FeedError(f"{url}: item {link!r} has no date; nothing was read from the feed")
    created = datetime.fromtimestamp(calendar.timegm(stamp), UTC)
    contents = entry.get("content") or []
    html = str(contents[0].get("value", "")) if contents else str(entry.get("summary", ""))
    page_url = link.split("#", 1)[0]
    parent: int | None = None
    reply = entry.get("thr_in-reply-to")
    if isinstance(reply, dict):
        target = str(reply.get("href") or reply.get("ref") or "")
        parent = _comment_id_in(target) or 0  # no comment in the address: a reply to the post itself
    reply_line = _IN_REPLY_TO.match(html)
    if (
        reply_line is not None
        and post_base(reply_line.group("href")) == post_base(page_url)
        and parent in (None, int(reply_line.group("id")))
    ):
        parent = int(reply_line.group("id"))
        html = html[reply_line.end() :]
    if parent is None and wordpress:
        parent = 0  # WordPress marks every reply in its comment feeds; no mark means top level
    author = entry.get("author_detail") or {}
    post_match = _POST_ID.search(guid)
    return FeedItem(
        id=comment_id,
        page_url=page_url,
        link=link,
        parent_id=parent,
        author_name=" ".join(htmllib.unescape(str(author.get("name") or entry.get("author") or "")).split())
        or "Anonymous",
        author_url=str(author.get("href") or ""),
        created_at=created,
        html=html.strip(),
        title=" ".join(str(entry.get("title", "")).split()),
        guid_post_id=int(post_match.group(1)) if post_match else None,
    )


def _comment_id_in(url: str) -> int | None:
    """The comment id a permalink points at: #comment-N (WordPress), else the number ending its fragment."""
    match = _COMMENT_ID.search(url) or _TRAILING_NUMBER.search(url)
    return int(match.group(1)) if match else None


def _stable_id(value: str) -> int:
    return int.from_bytes(hashlib.sha256(value.encode()).digest()[:6], "big")


# -- the source -----------------------------------------------------------------------------


@dataclass
class _PageInfo:
    page: Page
    known_ids: frozenset[int]  # comment ids the last read of the page showed (empty: not read for its tree)
    parents: dict[int, int]


class FeedSource:
    """A site read from its comment feed(s), optionally with pages for the tree (module docstring)."""

    def __init__(
        self, name: str, settings: FeedSite, fetcher: PoliteFetcher | None = None, policy: AddressPolicy | None = None
    ) -> None:
        self.name = name
        self.settings = settings
        self.can_post = False
        self.fetcher = fetcher or PoliteFetcher(
            min_interval=settings.poll_interval * 0.9,
            timeout=settings.request_timeout,
            policy=policy or AddressPolicy.build([], [settings.url]),
        )
        self.profile = resolve(settings.profile)
        self.reader = PageReader(name, self.fetcher, self.profile, settings.max_comment_pages)
        self.combined = bool(settings.pages)
        self.feeds: dict[str, ParsedFeed] = {}
        self.reads: dict[str, PageRead] = {}  # combined mode: configured page → last complete read
        self.pages: dict[str, _PageInfo] = {}  # feed alone: post base URL → what its page said
        self.current: dict[int, Comment] = {}  # what the last listing reported
        self.page_reads = 0
        self._full_read_at: float | None = None
        self._newest: datetime | None = None
        self._reread_for: set[int] = set()  # feed items whose page was re-read for their parent

    @property
    def requests_made(self) -> int:
        return self.fetcher.stats.requests

    @requests_made.setter
    def requests_made(self, value: int) -> None:
        self.fetcher.stats.requests = value

    async def start(self) -> None:
        await self.fetcher.start()

    async def close(self) -> None:
        await self.fetcher.close()

    # -- reading -----------------------------------------------------------------------

    async def read_feeds(self) -> tuple[list[FeedItem], bool]:
        """Every item of every feed (newest first, each id once) and whether any feed changed."""
        changed = False
        for url in self.settings.feed_urls:
            fetched = await self.fetcher.get(url, accept=FEED_ACCEPT)
            if fetched.fresh or url not in self.feeds:
                self.feeds[url] = parse_feed(fetched.body, url)
                changed = True
        items: dict[int, FeedItem] = {}
        for feed in self.feeds.values():
            for item in feed.items:
                items.setdefault(item.id, item)
        return sorted(items.values(), key=lambda i: (i.created_at, i.id), reverse=True), changed

    def _may_have_overflowed(self, items: list[FeedItem]) -> bool:
        """Did more comments arrive than the feed holds since the last read (some never shown)?"""
        oldest = min((i.created_at for i in items), default=None)
        overflowed = self._newest is not None and oldest is not None and oldest > self._newest
        self._newest = max([i.created_at for i in items] + ([self._newest] if self._newest else []), default=None)
        return overflowed

    async def list_comments(self, after: datetime | None) -> list[Comment]:
        items, changed = await self.read_feeds()
        overflowed = changed and self._may_have_overflowed(items)
        if self.combined:
            comments = await self._from_pages(items, changed, overflowed)
            return [c for c in comments if after is None or c.created_at > after]
        if overflowed:
            log.warning(
                "%s: more comments arrived than the feed shows since the last poll; some were never seen "
                "(poll more often, or list pages: to read them)",
                self.name,
            )
        # Everything the feed shows, whatever `after` says: the feed is a short window and, with no
        # edit window, this is how a poll never misses a comment and notices edits while it lasts.
        return await self._from_feed(items)

    async def _from_feed(self, items: list[FeedItem]) -> list[Comment]:
        comments: list[Comment] = []
        for item in items:
            info = await self._page_info(item)
            parent = item.parent_id
            if parent is None:
                if item.id not in info.known_ids and item.id not in self._reread_for:
                    self._reread_for.add(item.id)  # once: a page that does not show it will not later
                    info = await self._page_info(item, reread=True)
                parent = info.parents.get(item.id, 0)
            comments.append(
                Comment(
                    site=self.name,
                    id=item.id,
                    post_id=info.page.id,
                    parent_id=parent,
                    author_name=item.author_name,
                    created_at=item.created_at,
                    html=item.html,
                    link=item.link,
                    author_url=item.author_url,
                )
            )
        self.current = {c.id: c for c in comments}
        return sorted(comments, key=lambda c: (c.created_at, c.id))

    async def _page_info(self, item: FeedItem, reread: bool = False) -> _PageInfo:
        """The page a feed item is on: read once for its post id and title (and tree, when asked)."""
        key = post_base(item.page_url)
        known = self.pages.get(key)
        if known is not None and not reread:
            return known
        try:
            fetched = await self.fetcher.get(item.page_url, accept=HTML_ACCEPT)
        except SourceError as exc:
            if exc.transient:
                raise
            log.warning("%s: cannot read %s for its post id and title (%s)", self.name, item.page_url, exc)
            info = self._guess_page(item) if known is None else known
            self.pages[key] = info
            return info
        self.page_reads += fetched.requested
        facts = page_facts(fetched.body, fetched.final_url, self.profile)
        post_id = facts.post_id or item.guid_post_id or synthetic_post_id(item.page_url)
        parents: dict[int, int] = {}
        try:
            parsed = parse_comment_page(fetched.body, fetched.final_url, self.profile)
            parents = {c.id: c.parent_id for c in parsed.comments}
        except MarkupError as exc:
            log.debug("%s: the tree of %s is not readable (%s)", self.name, item.page_url, exc)
        page = Page(
            site=self.name,
            id=post_id,
            url=strip_comment_page(facts.url),
            title=facts.title or self._title_from_item(item) or f"Page {post_id}",
            excerpt=facts.excerpt,
        )
        info = _PageInfo(page, frozenset(parents), parents)
        self.pages[key] = info
        return info

    def _guess_page(self, item: FeedItem) -> _PageInfo:
        post_id = item.guid_post_id or synthetic_post_id(item.page_url)
        title = self._title_from_item(item) or f"Page {post_id}"
        return _PageInfo(Page(site=self.name, id=post_id, url=item.page_url, title=title), frozenset(), {})

    def _title_from_item(self, item: FeedItem) -> str:
        match = _COMMENT_ON.match(item.title)
        if match:
            return match.group("title")
        for feed in self.feeds.values():
            if item in feed.items and feed.title.startswith("Comments on: "):
                return feed.title.removeprefix("Comments on: ")
        return ""

    async def _from_pages(self, items: list[FeedItem], changed: bool, overflowed: bool) -> list[Comment]:
        """Combined mode: re-read the watched pages the feed says changed (or all, now and then)."""
        now = time.monotonic()
        due = self._full_read_at is None or now - self._full_read_at >= self.settings.recheck_interval
        stale: list[str] = []
        if due or overflowed or any(url not in self.reads for url in self.settings.pages):
            stale = list(self.settings.pages)
        elif changed:
            by_base = {post_base(read.page.url): url for url, read in self.reads.items()}
            by_base.update({post_base(url): url for url in self.settings.pages})
            for item in items:
                url = by_base.get(post_base(item.page_url))
                if url is not None and url not in stale and self.reads[url].comment(item.id) is None:
                    stale.append(url)
        fresh = {url: await self.reader.read(url) for url in stale}
        check_unique_ids([*fresh.values(), *(r for u, r in self.reads.items() if u not in fresh)])
        self.reads.update(fresh)
        self.page_reads += len(fresh)
        if len(stale) == len(self.settings.pages):
            self._full_read_at = now
        comments: dict[int, Comment] = {}
        for read in self.reads.values():
            for comment in read.comments:
                comments.setdefault(comment.id, comment)
        self.current = comments
        return sorted(comments.values(), key=lambda c: (c.created_at, c.id))

    async def list_page_comments(self, post_id: int) -> list[Comment]:
        if not self.current:
            await self.list_comments(None)
        return sorted((c for c in self.current.values() if c.post_id == post_id), key=lambda c: (c.created_at, c.id))

    def _known_page(self, post_id: int) -> Page | None:
        known = [read.page for read in self.reads.values()] + [info.page for info in self.pages.values()]
        return next((page for page in known if page.id == post_id), None)

    async def get_page(self, post_id: int) -> Page:
        page = self._known_page(post_id)
        if page is None and not self.current:
            await self.list_comments(None)
            page = self._known_page(post_id)
        return page or self._placeholder(post_id)

    def _placeholder(self, post_id: int) -> Page:
        return Page(site=self.name, id=post_id, url=self.settings.url, title=f"Post {post_id}")

    async def get_comment(self, comment_id: int) -> Comment | None:
        return self.current.get(comment_id)

    async def post_reply(self, post_id: int, parent_id: int, author_name: str, html: str, status: str) -> Comment:
        raise read_only(self.name, "feed")

    async def find_reply(self, post_id: int, parent_id: int, author_name: str, html: str) -> Comment | None:
        raise read_only(self.name, "feed")

    async def edit_reply(self, comment_id: int, html: str) -> Comment:
        raise read_only(self.name, "feed")

    async def trash_reply(self, comment_id: int) -> None:
        raise read_only(self.name, "feed")
