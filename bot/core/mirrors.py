"""What a mirror is, and which pages it covers (pure)."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from bot.config import Mirror


@dataclass(frozen=True)
class Target:
    chat: str
    channel: str

    def __str__(self) -> str:
        return f"{self.chat}:{self.channel}"


@dataclass(frozen=True)
class MirrorSpec:
    name: str
    site: str
    targets: tuple[Target, ...]
    pages: str | tuple[int | str, ...] = "all"
    url_pattern: str | None = None
    thread_per: str = "page"
    relay: str = "approved"
    backfill_days: float | None = None
    origin: str = "config"
    created_by: str = ""
    paused: bool = False
    backfilled: bool = False
    _page_urls: frozenset[str] = field(default=frozenset(), compare=False, repr=False)
    _page_ids: frozenset[int] = field(default=frozenset(), compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.pages != "all":
            ids = {p for p in self.pages if isinstance(p, int) or (isinstance(p, str) and p.isdigit())}
            object.__setattr__(self, "_page_ids", frozenset(int(p) for p in ids))
            urls = {normalize_url(p) for p in self.pages if isinstance(p, str) and not p.isdigit()}
            object.__setattr__(self, "_page_urls", frozenset(urls))

    @classmethod
    def from_config(cls, mirror: Mirror) -> MirrorSpec:
        return cls(
            name=mirror.name,
            site=mirror.site,
            targets=tuple(Target(t.chat, t.channel) for t in mirror.targets),
            pages=mirror.pages if mirror.pages == "all" else tuple(mirror.pages),
            url_pattern=mirror.url_pattern,
            thread_per=mirror.thread_per,
            relay=mirror.relay,
            backfill_days=mirror.backfill_days,
        )

    def covers(self, post_id: int, page_url: str) -> bool:
        """Does this mirror watch the page with this id and permalink?"""
        if self.url_pattern and not fnmatch.fnmatch(normalize_url(page_url), normalize_url(self.url_pattern)):
            return False
        if self.pages == "all":
            return True
        return post_id in self._page_ids or normalize_url(page_url) in self._page_urls

    def describe(self) -> str:
        pages = "all pages" if self.pages == "all" else ", ".join(str(p) for p in self.pages)
        if self.url_pattern:
            pages += f" matching {self.url_pattern}"
        targets = ", ".join(str(t) for t in self.targets)
        state = " [paused]" if self.paused else ""
        return (
            f"{self.name}{state}: {self.site} ({pages}) → {targets}; thread per {self.thread_per}, relay {self.relay}"
        )


def normalize_url(url: str) -> str:
    """Compare page URLs loosely: no fragment, no comment paging, no trailing slash, lowercase host."""
    parts = urlsplit(url.strip())
    path = parts.path
    if "/comment-page-" in path:
        path = path[: path.index("/comment-page-")]
    path = path.rstrip("/")
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, parts.query, ""))
