"""A polite HTTP reader for sources that read pages and feeds meant for people.

- Conditional GET: the ETag / Last-Modified of every URL is kept with its body; a 304 gives the
  body back without a download (WordPress's feeds answer 304; its pages usually send no validators).
- At most one request per URL per `min_interval` (the site's poll interval): asking again sooner
  gives the last answer, so a poll and the look-ups around it never hit a page twice.
- A User-Agent that names the bot, no cookies.
- robots.txt is read per origin (kept a day) and obeyed, including `Crawl-delay` between requests.

Failures become `SourceError`s worded for an admin: server errors and timeouts are transient
(the poller retries with backoff); a refusal, a login wall or robots.txt are not.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

import aiohttp

from bot.sources.base import SourceError
from bot.sources.guard import AddressPolicy, guarded_session, unreachable
from bot.sources.wordpress import USER_AGENT

log = logging.getLogger(__name__)

ROBOTS_TTL = 24 * 3600.0
MAX_BYTES = 8 * 1024 * 1024
HTML_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"
FEED_ACCEPT = "application/rss+xml,application/atom+xml,application/xml;q=0.9,text/xml;q=0.9,*/*;q=0.5"


@dataclass(frozen=True)
class Fetched:
    """One URL's current body."""

    url: str  # what was asked for
    final_url: str  # after redirects
    body: bytes
    content_type: str
    charset: str | None
    link_header: tuple[str, ...] = ()
    fresh: bool = True  # False: the same body as last time (a 304, or not asked again this interval)
    requested: bool = True  # a request went out for this answer

    def text(self) -> str:
        return self.body.decode(self.charset or "utf-8", errors="replace")


@dataclass
class _Entry:
    fetched: Fetched
    etag: str | None
    last_modified: str | None
    at: float  # monotonic time of the last request


@dataclass
class _Robots:
    parser: RobotFileParser | None  # None: no robots.txt (everything allowed)
    at: float
    delay: float = 0.0


@dataclass
class FetchStats:
    requests: int = 0
    not_modified: int = 0
    reused: int = 0
    by_url: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))


class PoliteFetcher:
    def __init__(
        self,
        *,
        min_interval: float,
        timeout: float = 20.0,
        session: aiohttp.ClientSession | None = None,
        user_agent: str = USER_AGENT,
        max_bytes: int = MAX_BYTES,
        policy: AddressPolicy | None = None,
    ) -> None:
        self.min_interval = min_interval
        self.timeout = timeout
        self.user_agent = user_agent
        self.max_bytes = max_bytes
        self.policy = policy or AddressPolicy()  # nothing internal, unless the caller allows it
        self.stats = FetchStats()
        self._session = session
        self._owns_session = session is None
        self._cache: dict[str, _Entry] = {}
        self._robots: dict[str, _Robots] = {}
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._last_request: dict[str, float] = {}  # origin → monotonic time, for Crawl-delay

    async def start(self) -> None:
        if self._session is None:
            self._session = guarded_session(
                self.policy,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers={"User-Agent": self.user_agent},
                cookie_jar=aiohttp.DummyCookieJar(),
            )
            self._owns_session = True

    async def close(self) -> None:
        if self._session is not None and self._owns_session:
            await self._session.close()
        self._session = None

    @property
    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("PoliteFetcher.start() was not called")
        return self._session

    def has_validators(self, url: str) -> bool:
        """Did the last answer for `url` carry an ETag or Last-Modified (so polls can get a 304)?"""
        entry = self._cache.get(url)
        return entry is not None and bool(entry.etag or entry.last_modified)

    def forget(self, url: str) -> None:
        """Drop what is known of a URL (its next read is a full download)."""
        self._cache.pop(url, None)

    # -- the one public read -------------------------------------------------------------

    async def get(self, url: str, *, accept: str = HTML_ACCEPT, fresh: bool = False) -> Fetched:
        """The body of `url`: the network's answer, or the last one when it is recent or unchanged.

        `fresh=True` skips the once-per-interval rule (for `thread-mirror check`), never robots.txt.
        """
        async with self._locks[url]:
            entry = self._cache.get(url)
            now = time.monotonic()
            if entry is not None and not fresh and now - entry.at < self.min_interval:
                self.stats.reused += 1
                return _replace(entry.fetched, fresh=False, requested=False)
            await self._obey_robots(url)
            headers = {"Accept": accept}
            if entry is not None:
                if entry.etag:
                    headers["If-None-Match"] = entry.etag
                if entry.last_modified:
                    headers["If-Modified-Since"] = entry.last_modified
            return await self._request(url, headers, entry)

    async def _request(self, url: str, headers: dict[str, str], entry: _Entry | None) -> Fetched:
        await self._space_out(url)
        self.stats.requests += 1
        self.stats.by_url[url] += 1
        try:
            async with self._http.get(url, headers=headers, allow_redirects=True) as response:
                final_url = str(response.url)
                if response.status == 304 and entry is not None:
                    self.stats.not_modified += 1
                    entry.at = time.monotonic()
                    return _replace(entry.fetched, fresh=False, requested=True)
                if response.status >= 400 or response.status == 304:
                    raise http_error(url, response.status, response.headers.get("Retry-After"))
                if final_url != url and _is_login_url(final_url):
                    raise SourceError(
                        f"{url} redirects to a login page ({_short(final_url)}): the bot reads public pages only; "
                        "fix: watch a page anyone can read",
                        transient=False,
                        status=response.status,
                    )
                body = await _read_body(response, self.max_bytes, url)
                fetched = Fetched(
                    url=url,
                    final_url=final_url,
                    body=body,
                    content_type=response.content_type,
                    charset=response.charset,
                    link_header=tuple(response.headers.getall("Link", [])),
                )
                etag, modified = response.headers.get("ETag"), response.headers.get("Last-Modified")
                if modified and _just_modified(modified, response.headers.get("Date")):
                    # A Last-Modified within a second or two of now is a weak validator: another change in
                    # the same second would keep it (and WordPress's ETag, made from it). Ask in full next time.
                    etag = modified = None
                self._cache[url] = _Entry(fetched, etag, modified, time.monotonic())
                return fetched
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise unreachable(url, exc) from exc

    # -- robots.txt ----------------------------------------------------------------------

    async def _obey_robots(self, url: str) -> None:
        robots = await self._robots_for(url)
        if robots.parser is not None and not robots.parser.can_fetch(self.user_agent, url):
            raise SourceError(
                f"robots.txt of {_origin(url)} does not let {self.user_agent.split('/')[0]} read {_short(url)}; "
                "fix: ask the site to allow it, or stop watching that page",
                transient=False,
            )

    async def _robots_for(self, url: str) -> _Robots:
        origin = _origin(url)
        known = self._robots.get(origin)
        if known is not None and time.monotonic() - known.at < ROBOTS_TTL:
            return known
        robots_url = origin + "/robots.txt"
        async with self._locks[robots_url]:
            known = self._robots.get(origin)
            if known is not None and time.monotonic() - known.at < ROBOTS_TTL:
                return known
            self.stats.requests += 1
            self.stats.by_url[robots_url] += 1
            try:
                async with self._http.get(robots_url, allow_redirects=True) as response:
                    status = response.status
                    text = (await _read_body(response, 512 * 1024, robots_url)).decode("utf-8", errors="replace")
            except (aiohttp.ClientError, TimeoutError) as exc:
                if known is not None:  # keep obeying the last one we read
                    return known
                raise unreachable(robots_url, exc) from exc
            if status >= 500:
                # RFC 9309: an unreachable robots.txt means "do not crawl" until it answers.
                if known is not None:
                    return known
                raise SourceError(f"{robots_url} answered {status}; waiting for it", transient=True, status=status)
            if status >= 400:
                robots = _Robots(None, time.monotonic())  # no robots.txt: everything is allowed
            else:
                parser = RobotFileParser(robots_url)
                parser.parse(text.splitlines())
                delay = parser.crawl_delay(self.user_agent)
                robots = _Robots(parser, time.monotonic(), float(delay or 0))
            self._robots[origin] = robots
            return robots

    async def _space_out(self, url: str) -> None:
        """Honour a Crawl-delay between requests to one origin."""
        origin = _origin(url)
        robots = self._robots.get(origin)
        delay = robots.delay if robots else 0.0
        last = self._last_request.get(origin)
        if delay and last is not None:
            wait = last + delay - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        self._last_request[origin] = time.monotonic()


async def _read_body(response: aiohttp.ClientResponse, limit: int, url: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise SourceError(f"{_short(url)} is larger than {limit // 1024} KiB; not reading it", transient=False)
        chunks.append(chunk)
    return b"".join(chunks)


def http_error(url: str, status: int, retry_after: str | None = None) -> SourceError:
    """An error answer, worded for an admin."""
    if status in (401, 403):
        return SourceError(
            f"{_short(url)} answered {status}: the site wants a login there, or refuses the bot; "
            "fix: watch a public page (and check the site does not block the bot's User-Agent)",
            transient=False,
            status=status,
        )
    if status in (404, 410):
        return SourceError(
            f"{_short(url)} answered {status} (not found); fix: check the address in the config",
            transient=False,
            status=status,
        )
    if status == 429 or status >= 500:
        wait = f", asks to wait {retry_after}s" if retry_after else ""
        return SourceError(f"{_short(url)} answered {status}{wait}", transient=True, status=status)
    return SourceError(f"{_short(url)} refused the request ({status})", transient=False, status=status)


def _just_modified(last_modified: str, date: str | None) -> bool:
    try:
        modified = parsedate_to_datetime(last_modified)
        now = parsedate_to_datetime(date) if date else datetime.now(UTC)
    except (TypeError, ValueError):
        return False
    if modified.tzinfo is None:
        modified = modified.replace(tzinfo=UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now - modified < timedelta(seconds=2)


def _replace(fetched: Fetched, *, fresh: bool, requested: bool) -> Fetched:
    return Fetched(
        fetched.url,
        fetched.final_url,
        fetched.body,
        fetched.content_type,
        fetched.charset,
        fetched.link_header,
        fresh,
        requested,
    )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _short(url: str) -> str:
    return url if len(url) <= 120 else url[:117] + "..."


_LOGIN_SEGMENTS = {"wp-login.php", "login", "signin", "sign-in", "log-in", "wp-admin"}


def _is_login_url(url: str) -> bool:
    """Is this where a redirect for a login lands (WordPress's wp-login.php, a /login/ page)?"""
    segments = [s for s in urlsplit(url).path.lower().split("/") if s]
    return any(s in _LOGIN_SEGMENTS for s in segments)
