"""The summarizer a running bot keeps: cache, per-user rate limit, LLM with offline fallback.

Both the cache and the rate limit live in memory: a restart forgets them, which costs at most one
recomputed summary per thread and gives everybody a fresh allowance. The cache key is the thread's
content hash with the length and how it was made, so any new, edited or deleted comment makes a new
summary. An offline summary that stood in for a failed LLM is kept only briefly, so the LLM is tried
again soon.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from bot.config import SummarizeSettings
from bot.summarize.extractive import Length, build_digest
from bot.summarize.llm import LLMClient, LLMError, llm_answer
from bot.summarize.render import DEFAULT_LIMIT, render_answer, render_digest
from bot.summarize.thread import Thread

log = logging.getLogger(__name__)

FALLBACK_TTL = 120.0  # seconds an offline stand-in for a failed LLM answer is reused


@dataclass(frozen=True)
class Summary:
    text: str
    made_by: str  # "offline", "llm" or "fallback"
    cached: bool = False


class RateLimited(Exception):
    def __init__(self, retry_after: float, limit: int, window: float) -> None:
        self.retry_after, self.limit, self.window = retry_after, limit, window
        super().__init__(
            f"you have asked for {limit} summar{'y' if limit == 1 else 'ies'} in the last {_minutes(window)}; "
            f"try again in {_minutes(retry_after)}"
        )


def _minutes(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, math.ceil(seconds))} s"
    return f"{math.ceil(seconds / 60)} min"


class RateLimiter:
    """At most `limit` summaries per `window` seconds per user (a sliding window, in memory)."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self._seen: dict[str, deque[float]] = {}

    def check(self, user: str) -> None:
        """Raise RateLimited when `user` has used up the allowance (does not use any of it)."""
        if self.limit <= 0:
            return
        now = self.clock()
        times = self._seen.get(user)
        if times is None:
            return
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._seen[user]
        elif len(times) >= self.limit:
            raise RateLimited(times[0] + self.window - now, self.limit, self.window)

    def spend(self, user: str) -> None:
        if self.limit > 0:
            self._seen.setdefault(user, deque()).append(self.clock())
            if len(self._seen) > 10_000:  # forget the quietest users rather than grow without end
                for key in list(self._seen)[:1000]:
                    del self._seen[key]


class SummaryCache:
    """Least recently used summaries by key; entries may expire."""

    def __init__(self, size: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.size, self.clock = size, clock
        self._entries: OrderedDict[tuple[str, ...], tuple[str, str, float]] = OrderedDict()

    def get(self, key: tuple[str, ...]) -> tuple[str, str] | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        text, made_by, expires = entry
        if expires < self.clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return text, made_by

    def put(self, key: tuple[str, ...], text: str, made_by: str, ttl: float = math.inf) -> None:
        if self.size <= 0:
            return
        self._entries[key] = (text, made_by, self.clock() + ttl)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)


class Summarizer:
    def __init__(
        self,
        settings: SummarizeSettings | None = None,
        clock: Callable[[], float] = time.monotonic,
        limit: int = DEFAULT_LIMIT,
    ) -> None:
        self.settings = settings or SummarizeSettings()
        self.limit = limit
        self.cache = SummaryCache(self.settings.cache_size, clock)
        self.limiter = RateLimiter(self.settings.rate_limit, self.settings.rate_window, clock)
        self.client = LLMClient(self.settings.llm) if self.settings.llm is not None else None
        self._inflight: dict[tuple[str, ...], asyncio.Future[Summary]] = {}

    async def summarize(
        self, thread: Thread, length: Length = "short", user: str = "", limit: int | None = None
    ) -> Summary:
        """The summary of a thread as one chat message of at most `limit` characters (default: the
        summarizer's). Raises RateLimited; an answer from the cache is free."""
        limit = self.limit if limit is None else limit
        how = f"llm:{self.client.settings.model}" if self.client else "offline"
        key = (thread.content_hash(), length, how, str(limit))
        hit = self.cache.get(key)
        if hit is not None:
            return Summary(hit[0], hit[1], cached=True)
        self.limiter.check(user)
        running = self._inflight.get(key)
        if running is not None:  # somebody asked for the same a moment ago: share that answer
            return await asyncio.shield(running)
        self.limiter.spend(user)
        future: asyncio.Future[Summary] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            summary = await self._make(thread, length, limit)
            ttl = FALLBACK_TTL if summary.made_by == "fallback" else math.inf
            self.cache.put(key, summary.text, summary.made_by, ttl)
            future.set_result(summary)
            return summary
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody shared it
            raise
        finally:
            del self._inflight[key]

    async def _make(self, thread: Thread, length: Length, limit: int) -> Summary:
        # The text maths takes a CPU core for a moment (and imports scikit-learn the first time):
        # off the event loop, so chats keep flowing meanwhile.
        digest = await asyncio.to_thread(build_digest, thread, length)
        if self.client is None or digest.facts.comments < 2:
            return Summary(render_digest(digest, "offline summary", length, limit), "offline")
        try:
            answer = await llm_answer(self.client, digest, thread.items, length)
        except LLMError as exc:
            log.warning("summary by %s failed, offline instead: %s", self.client.settings.model, exc)
            footer = f"offline summary (the model {exc.reason})"
            return Summary(render_digest(digest, footer, length, limit), "fallback")
        items = {item.key: item for item in thread.items}
        footer = f"via {self.client.settings.model}"
        return Summary(render_answer(digest, answer, items, footer, length, limit), "llm")
