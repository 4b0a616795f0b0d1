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
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from bot.config import SummarizeSettings
from bot.ratelimit import RateLimiter
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


def _asked_for(n: int) -> str:
    return f"asked for {n} summar{'y' if n == 1 else 'ies'}"


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
        self.limiter = RateLimiter(self.settings.rate_limit, self.settings.rate_window, clock, _asked_for)
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
