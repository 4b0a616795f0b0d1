"""What a URL offers the bot, for `thread-mirror check --online`: the WordPress REST API (the only
kind that can also post replies), comment feeds, and comment markup the HTML source recognizes;
and the config to use for it.

A handful of polite requests (robots.txt obeyed): the page, the REST comments route, up to
three feeds.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser

from bot.sources.base import SourceError
from bot.sources.feed import parse_feed
from bot.sources.guard import AddressPolicy
from bot.sources.html import MarkupError, parse_comment_page
from bot.sources.http import FEED_ACCEPT, HTML_ACCEPT, PoliteFetcher

API_REL = "https://api.w.org/"
MAX_FEEDS = 3


@dataclass
class Detection:
    url: str
    site_url: str
    rest_api: str | None = None  # the API root the site announces
    rest_comments: bool = False  # its comments route answers anonymously with a list
    feeds: list[str] = field(default_factory=list)  # comment feeds that parse
    feed_items: dict[str, int] = field(default_factory=dict)
    conditional: dict[str, bool] = field(default_factory=dict)  # feed → sends ETag/Last-Modified
    markup: str | None = None  # the profile that recognized the page's comments
    markup_comments: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def kinds(self) -> list[str]:
        kinds = []
        if self.rest_comments:
            kinds.append("wordpress")
        if self.markup:
            kinds.append("html")
        if self.feeds:
            kinds.append("feed")
        return kinds

    @property
    def best_kind(self) -> str | None:
        if self.rest_comments:
            return "wordpress"
        if self.markup and self.feeds:
            return "feed+pages"
        if self.markup:
            return "html"
        if self.feeds:
            return "feed"
        return None

    def summary(self) -> list[str]:
        if self.rest_api and self.rest_comments:
            rest = f"found at {self.rest_api}, comments readable"
        elif self.rest_api:
            rest = f"announced at {self.rest_api}, but its comments route does not answer (disabled?)"
        else:
            rest = "not found"
        feeds = (
            ", ".join(
                f"{url} ({self.feed_items.get(url, 0)} items"
                + (", conditional GET" if self.conditional.get(url) else "")
                + ")"
                for url in self.feeds
            )
            or "none found"
        )
        markup = (
            f"recognized ({self.markup} profile, {self.markup_comments} comments on this page)"
            if self.markup
            else "not recognized"
        )
        lines = [f"REST API: {rest}", f"comment feeds: {feeds}", f"comment markup: {markup}"]
        return lines + [f"note: {note}" for note in self.notes]

    def suggestion(self, name: str) -> str:
        """A `sites:` entry for this URL, as YAML."""
        kind = self.best_kind
        head = f"sites:\n  {name}:\n"
        if kind == "wordpress":
            return head + (
                f"    url: {self.site_url}\n"
                "    # add username + app_password (an Editor's application password) to relay replies\n"
            )
        if kind == "feed+pages":
            return head + (
                f"    kind: feed\n    url: {self.site_url}\n    feeds: [{self.feeds[0]}]\n    pages: [{self.url}]\n"
                "    # mirrors of a read-only site need relay: off\n"
            )
        if kind == "html":
            return head + (
                f"    kind: html\n    url: {self.site_url}\n    pages: [{self.url}]\n"
                "    # mirrors of a read-only site need relay: off\n"
            )
        if kind == "feed":
            return head + (
                f"    kind: feed\n    url: {self.site_url}\n    feeds: [{self.feeds[0]}]\n"
                "    # a feed alone notices new comments, not deletions; mirrors need relay: off\n"
            )
        return head + (
            f"    kind: html\n    url: {self.site_url}\n    pages: [{self.url}]\n"
            "    profile:   # nothing was recognized: describe the page's comment markup\n"
            "      list: ol.comments\n      item: li.comment\n      author: .author\n"
            "      time: time\n      content: .text\n"
        )


async def detect(url: str, fetcher: PoliteFetcher | None = None) -> Detection:
    """Probe `url` (a post page, ideally one with comments)."""
    own = fetcher is None
    fetcher = fetcher or PoliteFetcher(min_interval=0, policy=AddressPolicy.build([], [url]))
    parts = urlsplit(url)
    found = Detection(url=url, site_url=f"{parts.scheme}://{parts.netloc}/")
    await fetcher.start()
    try:
        try:
            page = await fetcher.get(url, accept=HTML_ACCEPT, fresh=True)
        except SourceError as exc:
            found.notes.append(f"cannot read {url}: {exc}")
            return found
        tree = LexborHTMLParser(page.body)
        await _probe_rest(found, fetcher, page.final_url, page.link_header, tree)
        await _probe_feeds(found, fetcher, page.final_url, tree)
        try:
            parsed = parse_comment_page(page.body, page.final_url)
            found.markup, found.markup_comments = parsed.profile, len(parsed.comments)
        except MarkupError as exc:
            found.notes.append(str(exc))
        return found
    finally:
        if own:
            await fetcher.close()


async def _probe_rest(
    found: Detection, fetcher: PoliteFetcher, url: str, link_header: tuple[str, ...], tree: LexborHTMLParser
) -> None:
    root = None
    for header in link_header:
        match = re.search(r'<([^>]+)>\s*;\s*rel="?' + re.escape(API_REL), header)
        if match:
            root = match.group(1)
    node = tree.css_first(f'link[rel="{API_REL}"][href]')
    if root is None and node is not None:
        root = node.attributes.get("href")
    if root:
        found.rest_api = root
        if root.endswith("/wp-json/"):
            found.site_url = root.removesuffix("wp-json/")
        probe = (
            root.rstrip("/") + "/wp/v2/comments?per_page=1"
            if "rest_route=" not in root
            else root.split("?", 1)[0] + "?rest_route=/wp/v2/comments&per_page=1"
        )
    else:
        probe = urljoin(found.site_url, "?rest_route=/wp/v2/comments&per_page=1")
    try:
        answer = await fetcher.get(probe, accept="application/json", fresh=True)
        data = json.loads(answer.body)
        found.rest_comments = isinstance(data, list)
        if found.rest_comments and root is None:
            found.rest_api = urljoin(found.site_url, "?rest_route=/")
    except (SourceError, ValueError) as exc:
        if root:
            found.notes.append(f"the REST comments route did not answer: {exc}")


async def _probe_feeds(found: Detection, fetcher: PoliteFetcher, url: str, tree: LexborHTMLParser) -> None:
    candidates: list[str] = []
    for node in tree.css("link[rel=alternate][href]"):
        kind = node.attributes.get("type") or ""
        href = urljoin(url, node.attributes.get("href") or "")
        label = (node.attributes.get("title") or "") + " " + href
        if kind in ("application/rss+xml", "application/atom+xml") and "comment" in label.lower():
            candidates.append(href)
    # The site's comment feed first: one request covers every page of the site.
    candidates.sort(key=lambda href: not href.rstrip("/").endswith("/comments/feed"))
    if not candidates:
        candidates.append(urljoin(found.site_url, "comments/feed/"))
    for href in dict.fromkeys(candidates):
        if len(found.feeds) >= MAX_FEEDS:
            break
        try:
            answer = await fetcher.get(href, accept=FEED_ACCEPT, fresh=True)
            parsed = parse_feed(answer.body, href)
        except SourceError as exc:
            found.notes.append(f"feed {href}: {exc}")
            continue
        found.feeds.append(href)
        found.feed_items[href] = len(parsed.items)
        found.conditional[href] = fetcher.has_validators(href)
