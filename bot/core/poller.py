"""Polls one site: lists its comments, plans deliveries, records both in one transaction.

Each cycle is one listing of the whole site (plus pages of 100):
- normally the comments created since the newest one seen, minus an overlap;
- every `recheck_interval`, everything created within `edit_window_hours`, to notice
  edits (content hash) and removals (set difference);
- once for each new or resumed mirror, its backfill window.
A failing site is retried with exponential backoff and jitter, never in a tight loop.

Push notifications (bot/web/) name comments that changed; `notify` collects them and
`run_pushes` fetches each burst in one request and plans it like a listing of just those
comments (so edits, trashing and deletion of comments older than the edit window are seen too).
Polls and push fetches take turns, so an older answer never overwrites a newer one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta

from bot.config import WordPressSite
from bot.core.mirrors import MirrorSpec
from bot.core.site2chat import PollPlan, plan_poll
from bot.models import Comment
from bot.sources.base import CommentsById, SiteSource, SourceError
from bot.store import Store

log = logging.getLogger(__name__)

OVERLAP = timedelta(minutes=2)  # comments can be stored with a time a little before the newest we saw
# Polls closer together than this (a short poll_interval, polls on demand) re-read the whole OVERLAP only
# this often; in between they list from the newest comment's second on (`after` is strict, times are
# whole seconds). At 100 comments/s a 2-minute overlap is 120 pages of 100 on every poll.
OVERLAP_EVERY = 30.0
SAME_SECOND = timedelta(seconds=1)
MAX_BACKOFF = 1800.0
PUSH_BATCH = 100  # comment ids fetched per request (WordPress's page size)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def choose_window(
    mirrors: list[MirrorSpec],
    newest_gmt: str | None,
    last_recheck_at: float | None,
    settings: WordPressSite,
    now: datetime,
    force_recheck: bool = False,
    overlap: timedelta = OVERLAP,
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
    return datetime.fromisoformat(newest_gmt) - overlap, False


def poll_backoff(failures: int, interval: float) -> float:
    """Seconds until the next poll after `failures` failed ones in a row: doubling from the poll
    interval up to MAX_BACKOFF (a site gone for a day is asked about twice an hour), ±25 % jitter."""
    return min(MAX_BACKOFF, interval * 2.0 ** min(failures, 12)) * random.uniform(0.75, 1.25)


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
        self._overlap_read_at = -OVERLAP_EVERY  # time.monotonic() of the last poll that read the whole OVERLAP
        self._recent: dict[int, Comment] = {}  # the last listing's comments of its newest second
        self._cycle = asyncio.Lock()  # one fetch-and-record at a time: polls and push fetches
        self._pushed: set[int] = set()
        self._push_ready = asyncio.Event()

    def poll_soon(self, recheck: bool = False) -> None:
        """Poll now instead of at the next interval (push notifications, commands)."""
        self._force_recheck = self._force_recheck or recheck
        self._trigger.set()

    async def _connect(self) -> None:
        if not self.connected:
            await self.source.start()
            self.connected = True

    async def poll_once(self, force_recheck: bool = False) -> PollPlan:
        async with self._cycle:
            return await self._poll_once(force_recheck)

    async def _poll_once(self, force_recheck: bool) -> PollPlan:
        mirrors = [m for m in await self.store.mirrors() if m.site == self.name]
        if not any(not m.paused for m in mirrors):
            return PollPlan()
        await self._connect()
        cursor = await self.store.get_cursor(self.name)
        now = datetime.now(UTC)
        started = time.monotonic()
        overlap = OVERLAP if started - self._overlap_read_at >= OVERLAP_EVERY else SAME_SECOND
        after, full = choose_window(
            mirrors,
            cursor.newest_gmt if cursor else None,
            cursor.last_recheck_at if cursor else None,
            self.settings,
            now,
            force_recheck,
            overlap,
        )
        listed = await self.source.list_comments(after)
        # The newest second is listed again by every poll: what is as the last listing showed it is
        # in the store already and needs no planning (a full window re-plans everything).
        fetched = listed if full else [c for c in listed if self._recent.get(c.id) != c]
        async with self.lock:
            plan = await self._plan_and_record(fetched, mirrors, (after or EPOCH) if full else None)
        if full or overlap == OVERLAP:
            self._overlap_read_at = started
        newest = max((c.created_at for c in listed), default=None)
        self._recent = {
            c.id: c for c in listed if newest and c.created_at > newest - SAME_SECOND and not c.bot_author
        }  # (the bot's own comments may be held back while a relay is unresolved: never skipped)
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

    # -- push notifications ----------------------------------------------------------

    def notify(self, comment_id: int) -> None:
        """A push said this comment changed: fetch it soon (a burst is fetched together)."""
        self._pushed.add(comment_id)
        self._push_ready.set()

    async def run_pushes(self) -> None:
        """Fetch what pushes named, forever; a failure leaves it to the next poll (the safety net)."""
        while True:
            await self._push_ready.wait()
            self._push_ready.clear()
            ids, self._pushed = self._pushed, set()
            try:
                await self.poll_comments(ids)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not isinstance(exc, SourceError):
                    log.exception("%s: fetching pushed comments crashed", self.name)
                log.warning("%s: fetching %d pushed comment(s) failed (%s); polling instead", self.name, len(ids), exc)
                self.poll_soon()

    async def poll_comments(self, ids: Collection[int]) -> PollPlan:
        """Fetch these comments (never trusting what a push said about them) and plan what changed."""
        async with self._cycle:
            mirrors = [m for m in await self.store.mirrors() if m.site == self.name]
            if not any(not m.paused for m in mirrors):
                return PollPlan()
            if not isinstance(self.source, CommentsById) or any(not m.backfilled and not m.paused for m in mirrors):
                self.poll_soon()  # a backfill keeps history in order; other kinds cannot fetch by id
                return PollPlan()
            await self._connect()
            wanted = sorted(ids)
            fetched: list[Comment] = []
            for start in range(0, len(wanted), PUSH_BATCH):
                fetched += await self.source.list_comments_by_id(wanted[start : start + PUSH_BATCH])
            async with self.lock:
                plan = await self._record_pushed(set(wanted), fetched, mirrors)
        if plan.jobs and self.on_planned is not None:
            self.on_planned()
        log.info(
            "%s: push for %d comment(s): %d new, %d edited, %d removed",
            self.name,
            len(wanted),
            plan.new,
            plan.edited,
            plan.removed,
        )
        return plan

    async def _record_pushed(self, ids: set[int], fetched: list[Comment], mirrors: list[MirrorSpec]) -> PollPlan:
        """Plan as a listing of exactly `ids` would: a named comment missing from the answer is gone."""
        self._recent.clear()  # the store may now differ from what the last listing showed
        known = await self.store.get_comments(self.name, ids)
        if await self.store.unresolved_relays(self.name):  # as in _plan_and_record: never echo a relay
            fetched = [c for c in fetched if not c.bot_author]
            known = {i: s for i, s in known.items() if not s.comment.bot_author}
        parents = await self._ancestors(fetched)
        mapped = await self.store.mapped_targets(self.name, ids)
        plan = plan_poll(fetched, known, mirrors, mapped, EPOCH, parents, now=datetime.now(UTC))
        await self.store.apply_poll(self.name, plan.upserts, plan.jobs, None, False, touch_cursor=False)
        return plan

    async def _plan_and_record(
        self, fetched: list[Comment], mirrors: list[MirrorSpec], window_start: datetime | None
    ) -> PollPlan:
        held_back = bool(await self.store.unresolved_relays(self.name))
        if held_back:
            # A relay may have reached the site without its chat link being recorded yet; plan the
            # bot's own comments on a later re-read, once the link exists, so they never echo back.
            fetched = [c for c in fetched if not c.bot_author]
        ids = [c.id for c in fetched]
        known = await self.store.get_comments(self.name, ids)
        if window_start is not None:
            known.update(await self.store.comments_since(self.name, window_start.isoformat()))
        if held_back:  # held back, not gone: missing from this listing must not mean deleted
            known = {cid: stored for cid, stored in known.items() if not stored.comment.bot_author}
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
                delay = poll_backoff(failures, self.settings.poll_interval)
                log.warning(
                    "%s: poll failed (%s%s); next try in %.0fs",
                    self.name,
                    reason,
                    "" if transient else ", needs an admin",
                    delay,
                )
            self._trigger.clear()
            with contextlib.suppress(TimeoutError):  # not wait_for: see Outbox.run
                async with asyncio.timeout(delay):
                    await self._trigger.wait()
