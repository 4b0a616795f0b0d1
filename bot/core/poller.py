"""Polls one site: lists its comments, plans deliveries, records both in one transaction.

Each cycle is one listing of the whole site (plus pages of 100):
- normally the comments created since the newest one seen, minus an overlap;
- every `recheck_interval`, everything created within `edit_window_hours`, to notice
  edits (content hash) and removals (set difference);
- once for each new or resumed mirror, its backfill window.
A failing site is retried with exponential backoff and jitter, never in a tight loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.config import WordPressSite
from bot.core.mirrors import MirrorSpec
from bot.core.site2chat import PollPlan, plan_poll
from bot.models import Comment
from bot.sources.base import SiteSource, SourceError
from bot.store import Store

log = logging.getLogger(__name__)

OVERLAP = timedelta(minutes=2)  # comments can be stored with a time a little before the newest we saw
MAX_BACKOFF = 1800.0
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def choose_window(
    mirrors: list[MirrorSpec],
    newest_gmt: str | None,
    last_recheck_at: float | None,
    settings: WordPressSite,
    now: datetime,
    force_recheck: bool = False,
) -> tuple[datetime | None, bool]:
    """(list comments created after this time, is it a full re-read of that window?)"""
    backfill = [m for m in mirrors if not m.backfilled and not m.paused]
    if backfill:
        cutoffs = [None if m.backfill_days is None else now - timedelta(days=m.backfill_days) for m in backfill]
        if any(c is None for c in cutoffs):
            return None, True
        return min(c for c in cutoffs if c is not None), True
    recheck_due = last_recheck_at is None or time.time() - last_recheck_at >= settings.recheck_interval
    if newest_gmt is None or recheck_due or force_recheck:
        return now - timedelta(hours=settings.edit_window_hours), True
    return datetime.fromisoformat(newest_gmt) - OVERLAP, False


class SitePoller:
    def __init__(
        self,
        name: str,
        source: SiteSource,
        settings: WordPressSite,
        store: Store,
        lock: asyncio.Lock,
        on_planned: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self.source = source
        self.settings = settings
        self.store = store
        self.lock = lock
        self.on_planned = on_planned
        self.connected = False
        self.cycles = 0
        self._trigger = asyncio.Event()
        self._force_recheck = False

    def poll_soon(self, recheck: bool = False) -> None:
        """Poll now instead of at the next interval (push notifications, commands)."""
        self._force_recheck = self._force_recheck or recheck
        self._trigger.set()

    async def poll_once(self, force_recheck: bool = False) -> PollPlan:
        mirrors = [m for m in await self.store.mirrors() if m.site == self.name]
        if not any(not m.paused for m in mirrors):
            return PollPlan()
        if not self.connected:
            await self.source.start()
            self.connected = True
        cursor = await self.store.get_cursor(self.name)
        now = datetime.now(UTC)
        after, full = choose_window(
            mirrors,
            cursor.newest_gmt if cursor else None,
            cursor.last_recheck_at if cursor else None,
            self.settings,
            now,
            force_recheck,
        )
        fetched = await self.source.list_comments(after)
        async with self.lock:
            plan = await self._plan_and_record(fetched, mirrors, (after or EPOCH) if full else None)
        for mirror in mirrors:
            if not mirror.backfilled and not mirror.paused:
                await self.store.set_mirror_flag(mirror.name, "backfilled", True)
        self.cycles += 1
        if plan.jobs and self.on_planned is not None:
            self.on_planned()
        if plan.new or plan.edited or plan.removed:
            log.info(
                "%s: %d new, %d edited, %d removed comments; %d deliveries planned",
                self.name,
                plan.new,
                plan.edited,
                plan.removed,
                len(plan.jobs),
            )
        return plan

    async def _plan_and_record(
        self, fetched: list[Comment], mirrors: list[MirrorSpec], window_start: datetime | None
    ) -> PollPlan:
        if await self.store.unresolved_relays(self.name):
            # A relay may have reached the site without its chat link being recorded yet; plan the
            # bot's own comments on a later re-read, once the link exists, so they never echo back.
            fetched = [c for c in fetched if not c.bot_author]
        ids = [c.id for c in fetched]
        known = await self.store.get_comments(self.name, ids)
        if window_start is not None:
            known.update(await self.store.comments_since(self.name, window_start.isoformat()))
        parents = await self._ancestors(fetched)
        mapped = await self.store.mapped_targets(self.name, list(known) + ids)
        plan = plan_poll(fetched, known, mirrors, mapped, window_start, parents, now=datetime.now(UTC))
        newest = max((c.created_at for c in fetched), default=None)
        await self.store.apply_poll(
            self.name,
            plan.upserts,
            plan.jobs,
            newest.isoformat() if newest else None,
            window_start is not None,
        )
        return plan

    async def _ancestors(self, fetched: list[Comment]) -> dict[int, int]:
        """comment id → parent id for the stored ancestors of what was fetched (for thread roots)."""
        parents: dict[int, int] = {c.id: c.parent_id for c in fetched}
        missing = {c.parent_id for c in fetched if c.parent_id} - parents.keys()
        for _ in range(50):
            if not missing:
                break
            found = await self.store.get_comments(self.name, missing)
            parents.update({cid: s.comment.parent_id for cid, s in found.items()})
            missing = {s.comment.parent_id for s in found.values() if s.comment.parent_id} - parents.keys()
        return parents

    async def run(self) -> None:
        """Poll forever; back off (with jitter) while the site fails."""
        failures = 0
        while True:
            delay = self.settings.poll_interval
            try:
                force, self._force_recheck = self._force_recheck, False
                await self.poll_once(force)
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                transient = not isinstance(exc, SourceError) or exc.transient
                reason = str(exc) if isinstance(exc, SourceError) else f"unexpected: {exc!r}"
                if not isinstance(exc, SourceError):
                    log.exception("%s: poll crashed", self.name)
                await self.store.record_poll_failure(self.name, reason)
                delay = min(MAX_BACKOFF, self.settings.poll_interval * 2 ** min(failures, 12))
                delay *= random.uniform(0.75, 1.25)
                log.warning(
                    "%s: poll failed (%s%s); next try in %.0fs",
                    self.name,
                    reason,
                    "" if transient else ", needs an admin",
                    delay,
                )
            self._trigger.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._trigger.wait(), timeout=delay)
