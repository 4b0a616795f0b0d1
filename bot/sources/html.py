"""Comments read from the HTML of the pages themselves, for sites without the REST API. Read-only.

Each configured page is read (with its `/comment-page-N/` pages) every poll, politely (see
`bot/sources/http.py`), and parsed with a profile (`bot/sources/profiles.py`): WordPress's block
theme and classic themes are recognized by themselves, other sites are described in the config.

What a page yields matches the REST API: ids are the site's comment ids (`li#comment-N`),
parents come from the nesting, times are UTC, `html` is the comment content's inner HTML and
`link` is the page URL + `#comment-N`. Reading is all or nothing: a page that cannot be trusted
(an error answer, a login wall, no recognizable markup, a comment without an id, nesting that
contradicts the theme's `depth-K` classes or a comment count that does not add up) raises a
`SourceError` naming the page, and nothing from that poll is mirrored. This matters because the
poller takes a comment missing from a listing as deleted.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from bot.config import HtmlSite
from bot.convert import excerpt, html_to_text
from bot.models import Comment, Page
from bot.sources.base import SourceError
from bot.sources.guard import AddressPolicy
from bot.sources.http import HTML_ACCEPT, Fetched, PoliteFetcher
from bot.sources.profiles import BLOCK, CLASSIC, Profile, resolve

log = logging.getLogger(__name__)

SYNTHETIC_POST_BASE = 10**12  # page ids made up for pages without a WordPress post id stay clear of real ones
_COMMENT_PAGE = re.compile(r"/comment-page-(\d+)/?$")
_NUMBER = re.compile(r"\d[\d,.\u00a0\u202f ]*")


class MarkupError(SourceError):
    """A page whose comments cannot be read reliably; never retried on its own."""

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=False)


@dataclass(frozen=True)
class ParsedComment:
    id: int
    parent_id: int
    anchor: str  # the element id the comment's link points at (WordPress: comment-N)
    author_name: str
    author_url: str
    avatar_url: str
    created_at: datetime
    html: str


@dataclass(frozen=True)
class ParsedPage:
    """One HTML page (one comment page of a post)."""

    url: str  # the page's own address (its canonical URL), without fragment
    post_id: int | None  # WordPress's post id, when the page shows it
    title: str
    excerpt: str
    profile: str
    comments: tuple[ParsedComment, ...]
    comment_pages: tuple[str, ...]  # the other comment pages of the same post
    page_numbers: frozenset[int]  # which comment page this is (when the page shows it)
    claimed_count: int | None  # "10 comments": how many the page says the post has
    counted_ids: frozenset[str]  # element ids of what that number counts (comments, pingbacks)


# -- parsing (pure) -------------------------------------------------------------------------


def parse_comment_page(document: str | bytes, url: str, profile: Profile | None = None) -> ParsedPage:
    """Parse one page; `profile=None` recognizes WordPress's block or classic theme markup.

    Raises MarkupError (with the page's URL and what to do) instead of returning a doubtful tree.
    """
    tree = LexborHTMLParser(document)
    chosen, lists = _find_lists(tree, profile)
    facts = _facts(tree, url, chosen)
    if not lists:
        _refuse_unlisted_comments(tree, url, chosen)
        if not (chosen.area and tree.css_first(chosen.area)):
            _refuse_walls(tree, url)
            raise MarkupError(_no_markup_message(url, profile))
        comments: tuple[ParsedComment, ...] = ()
        counted: frozenset[str] = frozenset()
    else:
        comments = tuple(_parse_items(lists, chosen, url))
        counted = frozenset(
            str(node.attributes.get(chosen.id) or "") for node in _unique(lists, chosen.item_or_counted)
        )
    links, own = _comment_page_links(tree, url, facts.url, {c.anchor for c in comments})
    return ParsedPage(
        url=facts.url,
        post_id=facts.post_id,
        title=facts.title,
        excerpt=facts.excerpt,
        profile=chosen.name,
        comments=comments,
        comment_pages=tuple(links),
        page_numbers=frozenset(own),
        claimed_count=_claimed_count(tree, chosen),
        counted_ids=counted,
    )


@dataclass(frozen=True)
class PageFacts:
    """What a page says about itself, whatever its comment markup."""

    url: str  # canonical, without fragment
    post_id: int | None
    title: str
    excerpt: str


def page_facts(document: str | bytes, url: str, profile: Profile | None = None) -> PageFacts:
    return _facts(LexborHTMLParser(document), url, profile)


def _facts(tree: LexborHTMLParser, url: str, profile: Profile | None = None) -> PageFacts:
    return PageFacts(_canonical(tree, url), _post_id(tree), _title(tree, profile), _excerpt(tree))


def _find_lists(tree: LexborHTMLParser, profile: Profile | None) -> tuple[Profile, list[LexborNode]]:
    candidates = [profile] if profile is not None else [BLOCK, CLASSIC]
    for candidate in candidates:
        lists = tree.css(candidate.list_)
        if lists:
            return candidate, lists
    for candidate in candidates:  # no comments yet: the comment area is there, the list is not
        if candidate.area and tree.css_first(candidate.area) is not None:
            return candidate, []
    return candidates[0], []


def _refuse_walls(tree: LexborHTMLParser, url: str) -> None:
    if tree.css_first("form.post-password-form") is not None:
        raise MarkupError(
            f"{url} is password-protected: its comments are hidden; fix: watch a page without a password"
        )
    if tree.css_first("form#loginform, form[action*='wp-login.php'], input[type=password]") is not None:
        raise MarkupError(
            f"{url} shows a login form instead of its comments: the bot reads public pages only; "
            "fix: watch a page anyone can read"
        )


def _refuse_unlisted_comments(tree: LexborHTMLParser, url: str, profile: Profile) -> None:
    """An empty comment area must really be empty: comments outside the list mean a wrong profile."""
    stray = [
        node.attributes.get("id") or ""
        for node in tree.css("[id^='comment-']")
        if re.fullmatch(r"comment-\d+", node.attributes.get("id") or "")
    ]
    if stray or tree.css_first(profile.item) is not None:
        shown = ", ".join(stray[:3]) or profile.item
        raise MarkupError(
            f"{url} shows comments ({shown}) but the {profile.name} profile finds no comment list "
            f"({profile.list_!r}); nothing was read from the page; fix: set profile: to match the page's markup"
        )


def _no_markup_message(url: str, profile: Profile | None) -> str:
    if profile is None:
        return (
            f"{url}: no comment markup recognized (neither WordPress's block theme "
            "'ol.wp-block-comment-template' nor a classic theme's 'ol.comment-list'), and no comment area "
            "either; fix: describe the page's markup with profile: in the config "
            "(thread-mirror check --online shows what it finds), or check the address"
        )
    return (
        f"{url}: no element matches the profile's list selector {profile.list_!r}"
        + (f" nor its area selector {profile.area!r}" if profile.area else "")
        + "; fix: correct profile.list (or set profile.area to an element that is there even with no comments)"
    )


def _unique(roots: Iterable[LexborNode], selector: str) -> list[LexborNode]:
    seen: set[int] = set()
    found: list[LexborNode] = []
    for root in roots:
        for node in root.css(selector):
            if node.mem_id not in seen:
                seen.add(node.mem_id)
                found.append(node)
    return found


def _parse_items(lists: list[LexborNode], profile: Profile, url: str) -> list[ParsedComment]:
    items = _unique(lists, profile.item)
    index = {node.mem_id: position for position, node in enumerate(items)}
    id_pattern = re.compile(profile.id_pattern)
    depth_pattern = re.compile(profile.depth_pattern) if profile.depth_pattern else None

    def owner(node: LexborNode | None) -> int | None:
        """Position of the item that `node` belongs to (itself, or the nearest item around it)."""
        while node is not None:
            if node.mem_id in index:
                return index[node.mem_id]
            node = node.parent
        return None

    def own(item: LexborNode, position: int, selector: str | None) -> LexborNode | None:
        """The first match of `selector` inside this item but not inside one of its replies."""
        if selector is None:
            return None
        for match in item.css(selector):
            if owner(match) == position:
                return match
        return None

    def where(position: int, raw_id: str | None = None) -> str:
        return f"{url}: comment {raw_id!r}" if raw_id else f"{url}: comment #{position + 1} in the list"

    ids: list[int] = []
    raw_ids: list[str] = []
    for position, item in enumerate(items):
        raw = (item.attributes.get(profile.id) or "").strip()
        if not raw:
            raise MarkupError(
                f"{where(position)} has no {profile.id!r} attribute, so it has no id; nothing was read from the page "
                "(fix: check the page's markup, or profile.id)"
            )
        match = id_pattern.search(raw)
        if match is None:
            raise MarkupError(
                f"{where(position, raw)}: its id does not match {profile.id_pattern!r}; fix: adjust profile.id_pattern"
            )
        ids.append(_as_int(match.group(1)))
        raw_ids.append(raw)
    seen: dict[int, str] = {}
    for comment_id, raw in zip(ids, raw_ids, strict=True):
        if comment_id in seen:
            raise MarkupError(f"{url}: two comments have the id {comment_id} ({seen[comment_id]!r} and {raw!r})")
        seen[comment_id] = raw

    parents = [owner(item.parent) for item in items]

    parsed: list[ParsedComment] = []
    depths: list[int] = []
    for position, item in enumerate(items):
        raw = raw_ids[position]
        parent_position = parents[position]
        if profile.parent is not None:
            parent_id = _parent_from_attribute(item, profile, id_pattern)
        else:
            parent_id = ids[parent_position] if parent_position is not None else 0
        depth = 1 if parent_position is None else depths[parent_position] + 1
        depths.append(depth)
        if depth_pattern is not None:
            declared = depth_pattern.search(item.attributes.get("class") or "")
            if declared is not None and int(declared.group(1)) != depth:
                raise MarkupError(
                    f"{where(position, raw)} is marked depth {declared.group(1)} but sits at depth {depth}: "
                    "the markup is broken (an unclosed or stray tag?); nothing was read from the page"
                )
        parent_item = items[parent_position] if parent_position is not None else None
        if profile.children and parent_item is not None and not _inside(item, parent_item, profile.children):
            raise MarkupError(
                f"{where(position, raw)} sits inside comment {raw_ids[parent_position or 0]!r} but not in its "
                f"{profile.children!r} replies list: the markup is broken (an unclosed tag?); "
                "nothing was read from the page"
            )
        content = own(item, position, profile.content)
        if content is None:
            raise MarkupError(
                f"{where(position, raw)} has no content ({profile.content!r}); fix: check profile.content"
            )
        if content.css_first(profile.item) is not None:
            raise MarkupError(
                f"{where(position, raw)}: its content contains another comment: the markup is broken "
                "(an unclosed tag?); nothing was read from the page"
            )
        author = own(item, position, profile.author)
        if author is None:
            raise MarkupError(f"{where(position, raw)} has no author ({profile.author!r}); fix: check profile.author")
        time_node = own(item, position, profile.time)
        if time_node is None:
            raise MarkupError(f"{where(position, raw)} has no time ({profile.time!r}); fix: check profile.time")
        stamp = time_node.attributes.get(profile.time_attribute) if profile.time_attribute else None
        stamp = stamp or time_node.text(strip=True)
        try:
            created = parse_time(stamp, profile)
        except ValueError:
            raise MarkupError(
                f"{where(position, raw)}: cannot read its time {stamp!r}; fix: set profile.time_format "
                "(a strptime format) or profile.time_attribute"
            ) from None
        author_link = own(item, position, profile.author_url)
        avatar = own(item, position, profile.avatar)
        parsed.append(
            ParsedComment(
                id=ids[position],
                parent_id=parent_id,
                anchor=item.attributes.get("id") or raw,
                author_name=_clean_text(author.text()) or "Anonymous",
                author_url=(author_link.attributes.get("href") or "") if author_link else "",
                avatar_url=(avatar.attributes.get("src") or "") if avatar else "",
                created_at=created,
                html=(content.inner_html or "").strip(),
            )
        )
    return parsed


def _parent_from_attribute(item: LexborNode, profile: Profile, id_pattern: re.Pattern[str]) -> int:
    assert profile.parent is not None
    raw = (item.attributes.get(profile.parent) or "").strip()
    if not raw or raw == "0":
        return 0
    match = id_pattern.search(raw) or re.search(r"(\d+)", raw)
    return _as_int(match.group(1)) if match else _as_int(raw)


def _inside(item: LexborNode, parent: LexborNode, selector: str) -> bool:
    node = item.parent
    while node is not None and node.mem_id != parent.mem_id:
        if node.css_matches(selector):
            return True
        node = node.parent
    return False


def parse_time(value: str, profile: Profile) -> datetime:
    """A comment time as UTC; times without an offset are in the profile's time zone."""
    value = value.strip()
    if profile.time_format:
        moment = datetime.strptime(value, profile.time_format)
    else:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=profile.zone)
    return moment.astimezone(UTC)


def _as_int(value: str) -> int:
    """A comment id: its number, or for ids that are not numbers a stable 48-bit one."""
    if value.isdigit():
        return int(value)
    return int.from_bytes(hashlib.sha256(value.encode()).digest()[:6], "big")


def _clean_text(value: str) -> str:
    return " ".join(value.split())


def _canonical(tree: LexborHTMLParser, url: str) -> str:
    link = tree.css_first("link[rel=canonical][href]")
    href = link.attributes.get("href") if link is not None else None
    return urljoin(url, href or url).split("#", 1)[0]


def _post_id(tree: LexborHTMLParser) -> int | None:
    body = tree.css_first("body")
    classes = (body.attributes.get("class") or "") if body is not None else ""
    match = re.search(r"\b(?:postid|page-id)-(\d+)\b", classes)
    if match:
        return int(match.group(1))
    field_node = tree.css_first("input[name=comment_post_ID][value]")
    if field_node is not None and (field_node.attributes.get("value") or "").isdigit():
        return int(field_node.attributes.get("value") or 0)
    for node in tree.css("link[rel=shortlink][href], link[rel=alternate][type='application/json'][href]"):
        match = re.search(r"[?&](?:p|page_id)=(\d+)|/wp/v2/(?:posts|pages)/(\d+)", node.attributes.get("href") or "")
        if match:
            return int(match.group(1) or match.group(2))
    return None


def _title(tree: LexborHTMLParser, profile: Profile | None) -> str:
    for selector in (profile.title if profile else None, "h1.entry-title", "h1.wp-block-post-title"):
        node = tree.css_first(selector) if selector else None
        if node is not None and node.text(strip=True):
            return _clean_text(node.text())
    meta = tree.css_first("meta[property='og:title'][content]")
    if meta is not None and meta.attributes.get("content"):
        return _clean_text(meta.attributes.get("content") or "")
    node = tree.css_first("title")
    return _clean_text(node.text()) if node is not None else ""


def _excerpt(tree: LexborHTMLParser) -> str:
    meta = tree.css_first("meta[name=description][content], meta[property='og:description'][content]")
    if meta is not None and meta.attributes.get("content"):
        return excerpt(_clean_text(meta.attributes.get("content") or ""), 200)
    node = tree.css_first(".entry-content p, .wp-block-post-content p")
    return excerpt(html_to_text(node.html or ""), 200) if node is not None else ""


def _claimed_count(tree: LexborHTMLParser, profile: Profile) -> int | None:
    node = tree.css_first(profile.count) if profile.count else None
    if node is None:
        return None
    match = _NUMBER.search(node.text())
    digits = re.sub(r"\D", "", match.group(0)) if match else ""
    return int(digits) if digits else None


def post_base(url: str) -> str:
    """The post a (comment) page belongs to: no fragment, no /comment-page-N/, no cpage=, lowercase host."""
    parts = urlsplit(url)
    path = _COMMENT_PAGE.sub("/", parts.path)
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "cpage"])
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path.rstrip("/") or "/", query, ""))


def strip_comment_page(url: str) -> str:
    """The post's own address for one of its comment pages."""
    parts = urlsplit(url)
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "cpage"])
    return urlunsplit((parts.scheme, parts.netloc, _COMMENT_PAGE.sub("/", parts.path), query, ""))


def _page_number(url: str) -> int | None:
    parts = urlsplit(url)
    match = _COMMENT_PAGE.search(parts.path)
    if match:
        return int(match.group(1))
    cpage = dict(parse_qsl(parts.query)).get("cpage", "")
    return int(cpage) if cpage.isdigit() else None


def _comment_page_links(
    tree: LexborHTMLParser, url: str, page_url: str, anchors: set[str]
) -> tuple[list[str], set[int]]:
    """The other comment pages of this post linked from this one (pagination, comment permalinks),
    and this page's own number where it shows (its address, the current page marker, or a link
    to one of its own comments)."""
    base = post_base(page_url)
    found: dict[int, str] = {}
    own = {n for n in (_page_number(url), _page_number(page_url), _current_page_number(tree)) if n is not None}
    for anchor in tree.css("a[href]"):
        href, _, fragment = urljoin(url, anchor.attributes.get("href") or "").partition("#")
        number = _page_number(href)
        if number is not None and post_base(href) == base:
            found.setdefault(number, href)
            if fragment in anchors:  # a link to a comment shown here: this page is that number
                own.add(number)
    return [href for number, href in sorted(found.items()) if number not in own], own


def _current_page_number(tree: LexborHTMLParser) -> int | None:
    """On a post's default page, which comment page it shows (its pagination marks it current)."""
    node = tree.css_first(".page-numbers.current, .page-numbers[aria-current=page]")
    text = node.text(strip=True) if node is not None else ""
    return int(text) if text.isdigit() else None


def synthetic_post_id(url: str) -> int:
    """A stable id for a page that names no WordPress post id."""
    digest = hashlib.sha256(post_base(url).encode()).digest()
    return SYNTHETIC_POST_BASE + int.from_bytes(digest[:4], "big")


# -- reading pages over HTTP ---------------------------------------------------------------------


@dataclass
class PageRead:
    """Everything one watched page (all its comment pages) showed at one read."""

    url: str  # as configured
    page: Page
    comments: list[Comment]
    read_at: float = field(default_factory=time.time)

    def comment(self, comment_id: int) -> Comment | None:
        return next((c for c in self.comments if c.id == comment_id), None)


class PageReader:
    """Reads one page with its comment pages into Comments, all or nothing."""

    def __init__(self, site: str, fetcher: PoliteFetcher, profile: Profile | None, max_comment_pages: int) -> None:
        self.site = site
        self.fetcher = fetcher
        self.profile = profile
        self.max_comment_pages = max_comment_pages
        self.parse_seconds = 0.0
        self.pages_parsed = 0
        self._parsed: dict[str, tuple[bytes, ParsedPage]] = {}

    def parse(self, fetched: Fetched) -> ParsedPage:
        digest = hashlib.sha256(fetched.body).digest()
        cached = self._parsed.get(fetched.url)
        if cached is not None and cached[0] == digest:
            return cached[1]
        if fetched.content_type not in ("text/html", "application/xhtml+xml", "application/octet-stream", ""):
            raise MarkupError(f"{fetched.url} is not an HTML page (it is {fetched.content_type})")
        started = time.perf_counter()
        parsed = parse_comment_page(fetched.text(), fetched.final_url, self.profile)
        self.parse_seconds += time.perf_counter() - started
        self.pages_parsed += 1
        self._parsed[fetched.url] = (digest, parsed)
        return parsed

    async def read(self, url: str) -> PageRead:
        queue = [url]
        seen = {url.split("#", 1)[0]}
        numbers: set[int] = set()  # comment pages read (the default page is one of them, unnamed)
        pages: list[ParsedPage] = []
        while queue:
            current = queue.pop(0)
            parsed = self.parse(await self.fetcher.get(current, accept=HTML_ACCEPT))
            pages.append(parsed)
            seen.add(parsed.url)
            numbers |= parsed.page_numbers
            for link in parsed.comment_pages:
                if link not in seen and _page_number(link) not in numbers:
                    seen.add(link)
                    queue.append(link)
            if len(pages) + len(queue) > self.max_comment_pages:
                raise MarkupError(
                    f"{url} has more than {self.max_comment_pages} comment pages; "
                    "fix: raise max_comment_pages for this site"
                )
        return self._combine(url, pages)

    def _combine(self, url: str, pages: list[ParsedPage]) -> PageRead:
        main = pages[0]
        post_id = next((p.post_id for p in pages if p.post_id is not None), None)
        if post_id is None:
            post_id = synthetic_post_id(main.url)
        claimed = next((p.claimed_count for p in pages if p.claimed_count is not None), None)
        counted = frozenset().union(*(p.counted_ids for p in pages))
        if claimed is not None and claimed != len(counted):
            raise MarkupError(
                f"{url} says it has {claimed} comments but {len(counted)} were found on its "
                f"{len(pages)} comment page(s): the markup looks broken or cut off; nothing was read from it"
            )
        comments: dict[int, Comment] = {}
        for parsed in pages:
            for item in parsed.comments:
                comments.setdefault(
                    item.id,
                    Comment(
                        site=self.site,
                        id=item.id,
                        post_id=post_id,
                        parent_id=item.parent_id,
                        author_name=item.author_name,
                        created_at=item.created_at,
                        html=item.html,
                        link=f"{parsed.url}#{item.anchor}",
                        author_url=item.author_url,
                        avatar_url=item.avatar_url,
                    ),
                )
        page = Page(
            site=self.site,
            id=post_id,
            url=strip_comment_page(main.url),
            title=main.title or f"Page {post_id}",
            excerpt=main.excerpt,
        )
        ordered = sorted(comments.values(), key=lambda c: (c.created_at, c.id))
        return PageRead(url=url, page=page, comments=ordered)


def read_only(site: str, kind: str) -> SourceError:
    return SourceError(
        f"site {site} is read-only (kind: {kind}): it cannot post, edit or delete comments", transient=False
    )


class HtmlSource:
    """A site read from its pages' HTML (see the module docstring)."""

    def __init__(
        self, name: str, settings: HtmlSite, fetcher: PoliteFetcher | None = None, policy: AddressPolicy | None = None
    ) -> None:
        self.name = name
        self.settings = settings
        self.can_post = False
        self.fetcher = fetcher or PoliteFetcher(
            min_interval=settings.poll_interval * 0.9,
            timeout=settings.request_timeout,
            policy=policy or AddressPolicy.build([], [settings.url]),
        )
        self.reader = PageReader(name, self.fetcher, resolve(settings.profile), settings.max_comment_pages)
        self.reads: dict[str, PageRead] = {}

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

    async def read_all(self) -> list[PageRead]:
        """Read every configured page; any failure fails the whole read."""
        reads = [await self.reader.read(url) for url in self.settings.pages]
        check_unique_ids(reads)
        for read in reads:
            self.reads[read.url] = read
        return reads

    async def list_comments(self, after: datetime | None) -> list[Comment]:
        comments: dict[int, Comment] = {}
        for read in await self.read_all():
            for comment in read.comments:
                comments.setdefault(comment.id, comment)
        return sorted(
            (c for c in comments.values() if after is None or c.created_at > after),
            key=lambda c: (c.created_at, c.id),
        )

    async def _read_for_post(self, post_id: int) -> PageRead | None:
        for url, read in list(self.reads.items()):
            if read.page.id == post_id:
                self.reads[url] = await self.reader.read(url)
                return self.reads[url]
        for read in await self.read_all():
            if read.page.id == post_id:
                return read
        return None

    async def list_page_comments(self, post_id: int) -> list[Comment]:
        read = await self._read_for_post(post_id)
        return list(read.comments) if read is not None else []

    async def get_page(self, post_id: int) -> Page:
        known = next((read.page for read in self.reads.values() if read.page.id == post_id), None)
        if known is not None:
            return known
        fresh = await self._read_for_post(post_id)
        if fresh is not None:
            return fresh.page
        return Page(site=self.name, id=post_id, url=self.settings.url, title=f"Post {post_id}")

    async def get_comment(self, comment_id: int) -> Comment | None:
        for url, read in list(self.reads.items()):
            if read.comment(comment_id) is not None:
                self.reads[url] = await self.reader.read(url)
                return self.reads[url].comment(comment_id)
        return None

    async def post_reply(self, post_id: int, parent_id: int, author_name: str, html: str, status: str) -> Comment:
        raise read_only(self.name, "html")

    async def find_reply(self, post_id: int, parent_id: int, author_name: str, html: str) -> Comment | None:
        raise read_only(self.name, "html")

    async def edit_reply(self, comment_id: int, html: str) -> Comment:
        raise read_only(self.name, "html")

    async def trash_reply(self, comment_id: int) -> None:
        raise read_only(self.name, "html")


def check_unique_ids(reads: Iterable[PageRead]) -> None:
    """One comment id on two different posts means the ids are not the site's comment ids."""
    owners: dict[int, Page] = {}
    for read in reads:
        for comment in read.comments:
            other = owners.setdefault(comment.id, read.page)
            if other.id != read.page.id:
                raise MarkupError(
                    f"comment id {comment.id} appears on two pages ({other.url} and {read.page.url}): "
                    "ids must be unique across the site; fix: check profile.id and profile.id_pattern"
                )
